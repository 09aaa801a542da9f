//! A tablet host of its own: a Linux network namespace joined to this host
//! by a veth pair, in which the tablet and its collector run, so that a link
//! cut is a real one (packets vanish in the kernel, nobody gets a reset), made
//! and removed with `ip`.
//!
//! Addresses, in the `/29` of the namespace's index `k`:
//!
//! | address      | where            | what is reached there                      |
//! |--------------|------------------|--------------------------------------------|
//! | `10.231.k.1` | this host's veth | SyncTool (listening on all addresses)      |
//! | `10.231.k.2` | the namespace    | the tablet and the collector               |
//! | `10.231.k.3` | this host's veth | ZooKeeper (listening on all addresses)     |
//!
//! This host's own processes (the test, SyncTool) keep using loopback, so a
//! cut never hides SyncTool from the test.
//!
//! Cuts, each undone by [`Netns::heal`]:
//! * [`Cut::SyncTool`] / [`Cut::ZooKeeper`]: a policy rule on this host
//!   blackholes what that address sends to the tablet host: the collector
//!   and the tablet hear nothing from it (their packets arrive, the answers
//!   never come: a silent partition for them), while SyncTool's or
//!   ZooKeeper's own sends fail at once;
//! * [`Cut::Link`]: the veth goes down — the whole host is cut off.
//!
//! Everything is removed on drop (also when the test panics), and
//! [`Netns::create`] first removes what a killed earlier run left.

use std::process::Command;

use anyhow::{Context, bail};

/// What a cut separates from the tablet host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cut {
    /// SyncTool: what it sends to the tablet host vanishes.
    SyncTool,
    /// ZooKeeper: what it sends to the tablet host vanishes.
    ZooKeeper,
    /// Everything: the link is down.
    Link,
}

/// Where a deployment's processes listen and run: all on loopback
/// ([`Placement::default`]), or the tablet and its collector in a namespace
/// ([`Netns::placement`]).
#[derive(Debug, Clone)]
pub struct Placement {
    /// The tablet and the collector run in this namespace.
    pub netns: Option<String>,
    /// SyncTool listens on every address and advertises this one (`None`:
    /// it listens on loopback and advertises that).
    pub synctool_advertised_ip: Option<String>,
    /// The tablet's and the collector's address.
    pub tablet_host_ip: String,
    /// The address the collector reaches ZooKeeper at (`None`: as given).
    pub zookeeper_ip: Option<String>,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            netns: None,
            synctool_advertised_ip: None,
            tablet_host_ip: "127.0.0.1".into(),
            zookeeper_ip: None,
        }
    }
}

impl Placement {
    /// `cmd` run on the tablet host: as is, or inside its namespace (`ip
    /// netns exec`, which execs it: the child's pid is the command's own).
    pub fn on_tablet_host(&self, cmd: Command) -> Command {
        let Some(ns) = &self.netns else {
            return cmd;
        };
        let mut wrapped = Command::new("ip");
        wrapped
            .args(["netns", "exec", ns])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped
    }

    /// The ZooKeeper connection string `cluster` as the collector must use it.
    pub fn collector_zookeeper(&self, cluster: &str) -> String {
        match &self.zookeeper_ip {
            None => cluster.to_owned(),
            Some(ip) => cluster
                .split(',')
                .map(|server| match server.rsplit_once(':') {
                    Some((_, port)) => format!("{ip}:{port}"),
                    None => ip.clone(),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// A namespace with its veth pair and addresses.
pub struct Netns {
    name: String,
    host_if: String,
    index: u8,
    cuts: Vec<Cut>,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("cannot run `ip {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Policy-rule priorities (one per cut kind, so each is removed alone).
fn rule_priority(index: u8, cut: Cut) -> String {
    let kind = match cut {
        Cut::SyncTool => 1,
        Cut::ZooKeeper => 2,
        Cut::Link => 3,
    };
    (1000 + u32::from(index) * 10 + kind).to_string()
}

impl Netns {
    /// Makes namespace `<prefix><index>`; needs root and `ip`.
    pub fn create(prefix: &str, index: u8) -> anyhow::Result<Netns> {
        let ns = Netns {
            name: format!("{prefix}{index}"),
            host_if: format!("{prefix}h{index}"),
            index,
            cuts: Vec::new(),
        };
        ns.remove();
        let peer_if = format!("{prefix}n{index}");
        ip(&["netns", "add", &ns.name])?;
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ])?;
        ip(&["link", "set", &peer_if, "netns", &ns.name])?;
        for host in [1, 3] {
            ip(&["addr", "add", &ns.cidr(host), "dev", &ns.host_if])?;
        }
        ip(&["link", "set", &ns.host_if, "up"])?;
        ns.exec_ip(&["addr", "add", &ns.cidr(2), "dev", &peer_if])?;
        ns.exec_ip(&["link", "set", &peer_if, "up"])?;
        ns.exec_ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    fn cidr(&self, host: u8) -> String {
        format!("{}/29", self.addr(host))
    }

    fn addr(&self, host: u8) -> String {
        format!("10.231.{}.{host}", self.index)
    }

    fn exec_ip(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// The namespace's name (`ip netns exec <name> …`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where SyncTool listens, reachable from the namespace.
    pub fn synctool_ip(&self) -> String {
        self.addr(1)
    }

    /// The tablet's and the collector's address (inside the namespace).
    pub fn tablet_host_ip(&self) -> String {
        self.addr(2)
    }

    /// ZooKeeper's address as the namespace reaches it.
    pub fn zookeeper_ip(&self) -> String {
        self.addr(3)
    }

    /// Where the deployment's processes listen, for [`crate::ClusterBuilder::placement`].
    pub fn placement(&self) -> Placement {
        Placement {
            netns: Some(self.name.clone()),
            synctool_advertised_ip: Some(self.synctool_ip()),
            tablet_host_ip: self.tablet_host_ip(),
            zookeeper_ip: Some(self.zookeeper_ip()),
        }
    }

    /// Applies `cut` (a no-op if it is in place already).
    pub fn cut(&mut self, cut: Cut) -> anyhow::Result<()> {
        if self.cuts.contains(&cut) {
            return Ok(());
        }
        let priority = rule_priority(self.index, cut);
        match cut {
            Cut::SyncTool | Cut::ZooKeeper => {
                let from = match cut {
                    Cut::SyncTool => self.synctool_ip(),
                    _ => self.zookeeper_ip(),
                };
                ip(&[
                    "rule",
                    "add",
                    "from",
                    &from,
                    "to",
                    &self.tablet_host_ip(),
                    "blackhole",
                    "priority",
                    &priority,
                ])?
            }
            Cut::Link => ip(&["link", "set", &self.host_if, "down"])?,
        }
        self.cuts.push(cut);
        Ok(())
    }

    /// Undoes every cut.
    pub fn heal(&mut self) -> anyhow::Result<()> {
        for cut in std::mem::take(&mut self.cuts) {
            match cut {
                Cut::Link => ip(&["link", "set", &self.host_if, "up"])?,
                _ => ip(&["rule", "del", "priority", &rule_priority(self.index, cut)])?,
            }
        }
        Ok(())
    }

    /// Removes the namespace, the veth pair and the rules (what exists of them).
    fn remove(&self) {
        for cut in [Cut::SyncTool, Cut::ZooKeeper] {
            let _ = ip(&["rule", "del", "priority", &rule_priority(self.index, cut)]);
        }
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.remove();
    }
}
