//! `bin/start.sh start|stop|restart|status synctool` (and data_collector) as
//! an operator runs it:
//! pid file, log file, clear messages for "already running" and "not
//! running", a stale pid file, and no process left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use e2e::config::{CollectorConf, SyncToolConf};
use e2e::ports::free_port;
use e2e::process::{Signal, pid_alive, signal};
use e2e::status::{collector_status, synctool_status};
use e2e::wait::{Check, wait_until};
use e2e::workspace_bin;

struct Package {
    dir: tempfile::TempDir,
    bin_dir: PathBuf,
}

impl Package {
    fn run(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bin/start.sh");
        Command::new(&script)
            .args(args)
            .env("SYNC_HOME", self.dir.path())
            .env("SYNC_BIN_DIR", &self.bin_dir)
            .env("SYNC_STOP_TIMEOUT", "10")
            .env("SYNC_START_TIMEOUT", "20")
            .output()
            .expect("run bin/start.sh")
    }

    fn pid_file(&self) -> PathBuf {
        self.pid_file_of("synctool")
    }

    fn pid_file_of(&self, component: &str) -> PathBuf {
        self.dir.path().join(format!("run/{component}.pid"))
    }

    fn pid(&self) -> Option<u32> {
        self.pid_of("synctool")
    }

    fn pid_of(&self, component: &str) -> Option<u32> {
        std::fs::read_to_string(self.pid_file_of(component))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

impl Drop for Package {
    fn drop(&mut self) {
        // Never leave a daemon behind, even when an assertion failed.
        for component in ["synctool", "data_collector"] {
            if let Some(pid) = self.pid_of(component) {
                let _ = signal(pid, Signal::Kill);
            }
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn gone(pid: u32) -> bool {
    // A killed daemon may stay a zombie until init reaps it.
    !pid_alive(pid)
        || std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'))
            })
            .unwrap_or(true)
}

#[test]
fn start_stop_restart_synctool() {
    let synctool = workspace_bin("synctool").expect("synctool built");
    let pkg = Package {
        dir: tempfile::tempdir().expect("temp dir"),
        bin_dir: synctool.parent().expect("bin dir").to_path_buf(),
    };
    let home = pkg.dir.path();
    std::fs::create_dir_all(home.join("conf")).expect("conf dir");
    std::fs::create_dir_all(home.join("metadata")).expect("metadata dir");
    let port = free_port().expect("port");
    let mut conf = SyncToolConf::new(port, &home.join("progress"));
    conf.metadata_dir = Some(home.join("metadata"));
    conf.standalone_collectors = vec!["127.0.0.1:1".into()];
    conf.write(&home.join("conf/synctool.properties"))
        .expect("write properties");
    let endpoint = conf.endpoint();

    // Not running yet.
    let out = pkg.run(&["status", "synctool"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("not running"), "{}", text(&out));
    let out = pkg.run(&["stop", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("synctool is not running"),
        "{}",
        text(&out)
    );

    // Start: pid file, log file, serving.
    let out = pkg.run(&["start", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("synctool started"), "{}", text(&out));
    let pid = pkg.pid().expect("pid file written");
    assert!(pid_alive(pid));
    synctool_status(&endpoint).expect("synctool answers after start");
    assert!(home.join("logs/synctool.log").is_file());

    // Start again: already running, same process.
    let out = pkg.run(&["start", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("already running (pid {pid})")),
        "{}",
        text(&out)
    );
    assert_eq!(pkg.pid(), Some(pid));
    let out = pkg.run(&["status", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));

    // Restart: a new process serves.
    let out = pkg.run(&["restart", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));
    let pid2 = pkg.pid().expect("pid file after restart");
    assert_ne!(pid, pid2);
    assert!(gone(pid), "the old process is gone");
    synctool_status(&endpoint).expect("synctool answers after restart");

    // Stop: process and pid file gone.
    let out = pkg.run(&["stop", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("synctool stopped"), "{}", text(&out));
    wait_until("synctool to exit", Duration::from_secs(5), || {
        Ok(if gone(pid2) {
            Check::Done(())
        } else {
            Check::NotYet(format!("pid {pid2} alive"))
        })
    })
    .expect("stopped");
    assert!(!pkg.pid_file().exists());
    // SIGTERM is a clean stop, not a kill.
    let log = std::fs::read_to_string(home.join("logs/synctool.log")).expect("log");
    assert!(log.contains("stopping"), "{log}");

    // A stale pid file (a pid that is not synctool) is noticed and replaced.
    std::fs::write(pkg.pid_file(), format!("{}\n", std::process::id())).expect("stale pid");
    let out = pkg.run(&["start", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stale pid file"), "{}", text(&out));
    let pid3 = pkg.pid().expect("pid file");
    assert_ne!(pid3, std::process::id());
    let out = pkg.run(&["stop", "synctool"]);
    assert!(out.status.success(), "{}", text(&out));

    // A process whose command line merely names the daemon (here `sleep`
    // running as `synctool_helper`) is not the daemon: its executable decides.
    let mut impostor = std::process::Command::new("bash")
        .args(["-c", "exec -a synctool_helper sleep 60"])
        .spawn()
        .expect("spawn impostor");
    std::fs::write(pkg.pid_file(), format!("{}\n", impostor.id())).expect("impostor pid");
    let out = pkg.run(&["status", "synctool"]);
    let _ = impostor.kill();
    let _ = impostor.wait();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("stale pid file"), "{}", text(&out));

    // Bad usage and a missing config are clear errors.
    let out = pkg.run(&["start", "nameserver"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("unknown component"), "{}", text(&out));
    std::fs::remove_file(home.join("conf/synctool.properties")).expect("rm conf");
    let out = pkg.run(&["start", "synctool"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not found"), "{}", text(&out));

    // A config the daemon refuses: start fails and says why.
    std::fs::write(
        home.join("conf/synctool.properties"),
        "server.port=1\nbogus.key=1\n",
    )
    .expect("bad conf");
    let out = pkg.run(&["start", "synctool"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("failed to start"), "{}", text(&out));
    assert!(text(&out).contains("bogus.key"), "{}", text(&out));
    assert!(!pkg.pid_file().exists());
}

#[test]
fn start_stop_data_collector() {
    let collector = workspace_bin("data_collector").expect("data_collector built");
    let pkg = Package {
        dir: tempfile::tempdir().expect("temp dir"),
        bin_dir: collector.parent().expect("bin dir").to_path_buf(),
    };
    let home = pkg.dir.path();
    std::fs::create_dir_all(home.join("conf")).expect("conf dir");
    let endpoint = format!("127.0.0.1:{}", free_port().expect("port"));
    CollectorConf::new(&endpoint, &home.join("collector"))
        .write(&home.join("conf/data_collector.flags"))
        .expect("write flags");

    let out = pkg.run(&["start", "data_collector"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("listening on {endpoint}")),
        "{}",
        text(&out)
    );
    let pid = pkg.pid_of("data_collector").expect("pid file");
    collector_status(&endpoint).expect("collector answers");
    let out = pkg.run(&["start", "data_collector"]);
    assert!(text(&out).contains("already running"), "{}", text(&out));
    let out = pkg.run(&["stop", "data_collector"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(gone(pid));
    assert!(!pkg.pid_file_of("data_collector").exists());
    let out = pkg.run(&["status", "data_collector"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}
