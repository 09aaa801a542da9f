//! The schedule's faults applied to the simulation, their follow-ups (restart,
//! session expiry, repair, release) and healing.

use std::collections::BTreeMap;

use sync_core::point::Point;

use std::path::PathBuf;

use super::links::Ident;
use super::{Act, World};
use crate::scenario::{Fault, Who};
use crate::synctool_host;
use crate::tables::tablet_endpoint;

impl World<'_> {
    pub(super) fn act(&mut self, act: Act) -> Result<(), String> {
        match act {
            Act::Fault(_) if self.healed => {}
            Act::Fault(fault) => self.fault(fault)?,
            Act::Bounce { host, generation } => {
                if self.down.get(&host) == Some(&generation) && !self.lost.contains(&host) {
                    self.down.remove(&host);
                    self.sim.bounce(host.clone());
                    self.log(format!("restart {host}"));
                }
            }
            Act::Expire { who, generation } => {
                if self.down.get(&who.host()) == Some(&generation) {
                    self.cluster.unregister(&who.endpoint());
                    self.log(format!("session of {} expired", who.endpoint()));
                }
            }
            Act::Register { who } => {
                let host = who.host();
                if !self.down.contains_key(&host) && !self.lost.contains(&host) {
                    self.cluster.register(&who.endpoint());
                    self.log(format!("{} registered again", who.endpoint()));
                }
            }
            Act::Repair { host } => {
                if self.partitioned.remove(&host) {
                    self.sim.repair(host.clone(), synctool_host::HOST);
                    self.log(format!("repair {host} <-> synctool"));
                }
            }
            Act::Release { host } => {
                if self.held.remove(&host) {
                    self.sim.release(host.clone(), synctool_host::HOST);
                    self.log(format!("release {host} <-> synctool"));
                }
            }
            Act::EndOutage => {
                self.control.set_outage(false);
                self.log("the offline store is back");
            }
        }
        Ok(())
    }

    fn fault(&mut self, fault: Fault) -> Result<(), String> {
        let now = self.now();
        match fault {
            Fault::CrashCollector { who, down_ms } => {
                let host = who.host();
                if !self.collectors.contains(&who)
                    || self.down.contains_key(&host)
                    || self.lost.contains(&host)
                {
                    return Ok(());
                }
                self.sim.crash(host.clone());
                self.generation += 1;
                let generation = self.generation;
                self.down.insert(host.clone(), generation);
                self.log(format!("crash {host} for {down_ms}ms"));
                self.schedule(now + down_ms, Act::Bounce { host, generation });
                self.schedule(now + self.scn.session_ms, Act::Expire { who, generation });
            }
            Fault::LoseCollector { tablet } => {
                let who = Who::primary(tablet);
                let standby = Who {
                    tablet,
                    standby: true,
                };
                let host = who.host();
                if !self.collectors.contains(&standby) || self.lost.contains(&host) {
                    return Ok(());
                }
                self.sim.crash(host.clone());
                self.generation += 1;
                let generation = self.generation;
                self.down.insert(host.clone(), generation);
                self.lost.insert(host.clone());
                self.log(format!("lose {host} for good"));
                self.schedule(now + self.scn.session_ms, Act::Expire { who, generation });
            }
            Fault::CrashSyncTool { down_ms } => self.crash_synctool(down_ms),
            Fault::CrashSyncToolAt { point, down_ms } => {
                if !self.down.contains_key(synctool_host::HOST) && self.control.armed().is_none() {
                    self.control.arm(point);
                    self.armed_down_ms = Some(down_ms);
                    self.log(format!("arm SyncTool crash at {point:?}"));
                }
            }
            Fault::CrashSyncToolWhen { status, down_ms } => {
                self.log(format!("SyncTool will crash once a part shows {status}"));
                self.crash_when.push_back((status, down_ms));
            }
            Fault::Partition { who, ms } => {
                let host = who.host();
                if self.collectors.contains(&who) && self.partitioned.insert(host.clone()) {
                    self.sim.partition(host.clone(), synctool_host::HOST);
                    self.log(format!("partition {host} <-> synctool for {ms}ms"));
                    self.schedule(now + ms, Act::Repair { host });
                }
            }
            Fault::Hold { who, ms } => {
                let host = who.host();
                if self.collectors.contains(&who) && self.held.insert(host.clone()) {
                    self.sim.hold(host.clone(), synctool_host::HOST);
                    self.log(format!("hold {host} <-> synctool for {ms}ms"));
                    self.schedule(now + ms, Act::Release { host });
                }
            }
            Fault::SessionExpiry { who, ms } => {
                let host = who.host();
                if self.collectors.contains(&who)
                    && !self.down.contains_key(&host)
                    && !self.lost.contains(&host)
                {
                    self.cluster.unregister(&who.endpoint());
                    self.log(format!("session of {} expires for {ms}ms", who.endpoint()));
                    self.schedule(now + ms, Act::Register { who });
                }
            }
            Fault::Snapshot { table } => {
                if let Some(t) = self.tables.get_mut(table) {
                    t.snapshot()?;
                    let tid = t.spec.tid;
                    self.log(format!("new snapshot of table {tid}"));
                }
            }
            Fault::GcBinlog { table } => self.gc_binlog(table)?,
            Fault::SinkOutage { ms } => {
                self.control.set_outage(true);
                self.log(format!("the offline store is down for {ms}ms"));
                self.schedule(now + ms, Act::EndOutage);
            }
            Fault::SecondSyncTool => self.start_second_synctool()?,
            Fault::MoveLeader { table } => {
                if self.scn.tablets < 2 || table >= self.tables.len() {
                    return Ok(());
                }
                let from = self.tables[table].leader;
                let to = (from + 1) % self.scn.tablets;
                let (from_dir, to_dir) =
                    (self.tablet_dirs[from].clone(), self.tablet_dirs[to].clone());
                let t = &mut self.tables[table];
                t.move_leader(&from_dir, to, &to_dir)?;
                let mut first: BTreeMap<u32, u64> = BTreeMap::new();
                for (pid, _, f, _) in t.binlog_files(&to_dir)? {
                    let e = first.entry(pid).or_insert(f);
                    *e = (*e).min(f);
                }
                for (pid, f) in first {
                    self.links.moved(to, t.spec.tid, pid, f);
                }
                let info = t.table_info()?;
                let tid = t.spec.tid;
                self.cluster.put_table(info);
                self.log(format!(
                    "table {tid}: leader moves to {}",
                    tablet_endpoint(to)
                ));
            }
        }
        Ok(())
    }

    /// A new snapshot, then the tablet deletes the binlog files it covers;
    /// each deleted file is judged against what every live part still needs.
    fn gc_binlog(&mut self, table: usize) -> Result<(), String> {
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        let tid = t.spec.tid;
        let root = self.tablet_dirs[t.leader].clone();
        t.snapshot()?;
        // The tablet's files as they are now, in the history, before any goes.
        let places = self.places()?;
        self.links.sample(self.now(), &places);
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        let before: Vec<(u32, PathBuf, Ident, u64)> = t
            .binlog_files(&root)?
            .into_iter()
            .filter_map(|(pid, path, _, last)| {
                super::links::ident_of(&path).map(|id| (pid, path, id, last))
            })
            .collect();
        let n = t.gc_binlog()?;
        self.log(format!(
            "new snapshot of table {tid}, {n} old binlog file(s) deleted"
        ));
        // A task that finished (or was deleted) needs nothing any more, nor
        // does a mode-0 part whose end is committed (SUCCESS, persisted before
        // its collector is told to remove its links).
        let live = self.unfinished_parts(tid);
        if live.is_empty() {
            return Ok(());
        }
        let committed = self.committed_points(tid)?;
        let lost = self.lost.clone();
        for (pid, path, id, last) in before
            .iter()
            .filter(|(pid, p, _, _)| !p.exists() && live.contains(pid))
        {
            let point = committed.get(pid).cloned().unwrap_or_else(Point::start);
            let places = self.places()?;
            if let Some(why) = self.links.judge_deletion(id, *last, &point, &places, &lost) {
                self.log(format!(
                    "t{tid}/p{pid}: released early: {why} ({})",
                    path.display()
                ));
                self.released_early.entry((tid, *pid)).or_insert(why);
            }
        }
        Ok(())
    }

    /// Whether some SyncTool's persisted state still holds table `tid`'s task.
    /// The parts of `tid`'s persisted task (in any SyncTool's state) that
    /// are not SUCCESS.
    fn unfinished_parts(&self, tid: u32) -> std::collections::BTreeSet<u32> {
        let mut dirs = vec![self.sync_spec.progress_dir.clone()];
        if self.second.is_some() {
            dirs.push(self._tmp.path().join("synctool2"));
        }
        dirs.iter()
            .filter_map(|dir| {
                synctool::daemon::startup::read_state(&sync_infra::store::FsStore, dir)
                    .ok()
                    .flatten()
            })
            .flat_map(|state| state.tables.into_iter().filter(|t| t.tid == tid))
            .flat_map(|t| t.partitions)
            .filter(|p| p.status != sync_core::task::Status::Success.as_str())
            .map(|p| p.pid)
            .collect()
    }

    /// Each partition's committed point in the sink (its newest task's).
    pub(super) fn committed_points(&self, tid: u32) -> Result<BTreeMap<u32, Point>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| format!("a runtime to read the store: {e}"))?;
        let sink = self.durable.sink();
        let dest = self.durable.dest(tid);
        let progress = runtime
            .block_on(sync_sinks::Sink::committed(&sink, &dest, Some(tid)))
            .map_err(|e| format!("{dest}: {e}"))?;
        let mut newest: BTreeMap<u32, (u64, Point)> = BTreeMap::new();
        for p in progress {
            if newest.get(&p.pid).is_none_or(|(task, _)| p.task_id > *task) {
                newest.insert(p.pid, (p.task_id, p.end));
            }
        }
        Ok(newest
            .into_iter()
            .map(|(pid, (_, end))| (pid, end))
            .collect())
    }

    pub(super) fn crash_synctool(&mut self, down_ms: u64) {
        let host = synctool_host::HOST.to_string();
        if self.down.contains_key(&host) {
            return;
        }
        self.sim.crash(host.clone());
        self.generation += 1;
        let generation = self.generation;
        self.down.insert(host.clone(), generation);
        self.log(format!("crash synctool for {down_ms}ms"));
        let now = self.now();
        self.schedule(now + down_ms, Act::Bounce { host, generation });
    }

    pub(super) fn crash_on_status(&mut self) {
        let Some((want, down_ms)) = self.crash_when.front().cloned() else {
            return;
        };
        if self.down.contains_key(synctool_host::HOST) {
            return;
        }
        let hit = self.admin.lock().status.as_ref().and_then(|(_, status)| {
            status
                .task
                .iter()
                .find(|t| t.status() == want)
                .and_then(|t| t.progress.as_ref())
                .map(|p| (p.tid(), p.pid()))
        });
        if let Some((tid, pid)) = hit {
            self.crash_when.pop_front();
            // The status is old: a fresh one is needed after the restart.
            self.admin.lock().status = None;
            self.log(format!("t{tid}/p{pid} is {want}: crash SyncTool"));
            self.crash_synctool(down_ms);
        }
    }

    pub(super) fn heal(&mut self) {
        self.healed = true;
        self.crash_when.clear();
        self.control.disarm();
        self.control.set_outage(false);
        self.armed_down_ms = None;
        let down: Vec<String> = self.down.keys().cloned().collect();
        for host in down {
            if !self.lost.contains(&host) {
                self.sim.bounce(host.clone());
                self.down.remove(&host);
            }
        }
        for host in std::mem::take(&mut self.partitioned) {
            self.sim.repair(host, synctool_host::HOST);
        }
        for host in std::mem::take(&mut self.held) {
            self.sim.release(host, synctool_host::HOST);
        }
        for who in self.collectors.clone() {
            if self.lost.contains(&who.host()) {
                self.cluster.unregister(&who.endpoint());
            } else {
                self.cluster.register(&who.endpoint());
            }
        }
        self.log("heal: hosts restarted, links repaired, sessions restored");
    }
}
