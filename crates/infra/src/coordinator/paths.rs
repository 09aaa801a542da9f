//! OpenMLDB's ZooKeeper layout for the sync feature, as functions of the root
//! path (`--zk_root_path` / `zookeeper.root_path`, e.g. `/openmldb`).

/// Parent of the collectors' ephemeral nodes: `/<root>/sync_tool/collector`.
pub fn collectors_dir(root: &str) -> String {
    format!("{}/sync_tool/collector", trim_root(root))
}

/// A collector's ephemeral node: `/<root>/sync_tool/collector/<ip:port>`.
pub fn collector_node(root: &str, endpoint: &str) -> String {
    format!("{}/{endpoint}", collectors_dir(root))
}

/// Parent of the SyncTools' ephemeral worker nodes (added next to
/// OpenMLDB's `collector` directory): `/<root>/sync_tool/worker`.
pub fn workers_dir(root: &str) -> String {
    format!("{}/sync_tool/worker", trim_root(root))
}

/// A SyncTool's worker node: `/<root>/sync_tool/worker/<ip:port>`.
pub fn worker_node(root: &str, endpoint: &str) -> String {
    format!("{}/{endpoint}", workers_dir(root))
}

/// Where the SyncTools elect their coordinator (ephemeral sequential
/// candidates, see `sync_core::election`): `/<root>/sync_tool/election`.
pub fn election_dir(root: &str) -> String {
    format!("{}/sync_tool/election", trim_root(root))
}

/// Parent of the partition tasks' ownership records:
/// `/<root>/sync_tool/part`.
pub fn parts_dir(root: &str) -> String {
    format!("{}/sync_tool/part", trim_root(root))
}

/// A partition task's ownership record: `/<root>/sync_tool/part/<tid>_<pid>`
/// (named like the tablet's partition directories).
pub fn part_node(root: &str, tid: u32, pid: u32) -> String {
    format!("{}/{tid}_{pid}", parts_dir(root))
}

/// `(tid, pid)` of a record's name `<tid>_<pid>`; `None` for other names.
pub fn parse_part_name(name: &str) -> Option<(u32, u32)> {
    let (tid, pid) = name.split_once('_')?;
    Some((tid.parse().ok()?, pid.parse().ok()?))
}

/// Parent of the tables' metadata: `/<root>/table/db_table_data`.
pub fn tables_dir(root: &str) -> String {
    format!("{}/table/db_table_data", trim_root(root))
}

/// A table's `TableInfo`: `/<root>/table/db_table_data/<tid>`.
pub fn table_node(root: &str, tid: u32) -> String {
    format!("{}/{tid}", tables_dir(root))
}

/// `/openmldb/` and `/openmldb` name the same root.
fn trim_root(root: &str) -> &str {
    root.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_openmldb() {
        assert_eq!(collectors_dir("/openmldb"), "/openmldb/sync_tool/collector");
        assert_eq!(
            collector_node("/openmldb/", "10.0.0.1:8888"),
            "/openmldb/sync_tool/collector/10.0.0.1:8888"
        );
        assert_eq!(
            worker_node("/openmldb/", "10.0.0.2:8848"),
            "/openmldb/sync_tool/worker/10.0.0.2:8848"
        );
        assert_eq!(election_dir("/openmldb"), "/openmldb/sync_tool/election");
        assert_eq!(
            part_node("/openmldb", 3, 12),
            "/openmldb/sync_tool/part/3_12"
        );
        assert_eq!(parse_part_name("3_12"), Some((3, 12)));
        assert_eq!(parse_part_name("3-12"), None);
        assert_eq!(parse_part_name("x_1"), None);
        assert_eq!(
            table_node("/openmldb", 7),
            "/openmldb/table/db_table_data/7"
        );
    }
}
