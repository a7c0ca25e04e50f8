//! Point-in-time recovery, the producing side: base backups (`pgbase` components of a
//! set) and the WAL archive `ccops wal stream` keeps, on the example's real PostgreSQL.

use crate::stack::{Flavour, Stack};

/// The example with `pitr` enabled for its database, streaming as `role`.
fn with_pitr(tag: &str, extra: &str) -> Stack {
    let s = Stack::new(tag, Flavour::V2);
    s.edit(
        "ccops.yaml",
        "      user: commandcenter\n",
        &format!("      user: commandcenter\n      pitr:\n        user: postgres\n{extra}"),
    );
    s.start();
    s
}

fn manifest_of(s: &Stack, id: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(s.path().join("backups").join(id).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn backup_id(stderr: &str) -> String {
    let at = stderr.find("backup 2").expect("a backup ID") + "backup ".len();
    stderr[at..at + 15].to_string()
}

#[test]
fn a_set_holds_a_base_backup_when_due_and_a_plain_restore_leaves_it_alone() {
    let s = with_pitr("pgbase", "");
    s.psql("CREATE TABLE IF NOT EXISTS pitr_t (n int); INSERT INTO pitr_t VALUES (1)");
    let first = s.ccops(&["backup"]);
    first.code(0).stderr_has("pgbase-postgres.tar.gz");
    let id = backup_id(&first.stderr);
    let m = manifest_of(&s, &id);
    let base = m["components"].as_array().unwrap().iter().find(|c| c["kind"] == "pgbase").expect("a pgbase component");
    assert_eq!(base["name"], "postgres");
    assert_eq!(base["file"], "pgbase-postgres.tar.gz");
    assert_eq!(base["timeline"], 1);
    let sysid =
        s.exec("postgres", &["psql", "-U", "postgres", "-tAc", "SELECT system_identifier FROM pg_control_system()"]);
    assert_eq!(base["system_identifier"], sysid.trim());
    for f in ["start_lsn", "end_lsn", "end_time"] {
        assert!(base[f].as_str().is_some_and(|v| !v.is_empty()), "{f} in {base}");
    }
    // The set reads back: the base backup's tar is whole.
    s.ccops(&["backup", "verify", &id]).code(0);

    // Not due again within pitr.base_backup (24h): the next set has none, and says why.
    let second = s.ccops(&["backup"]);
    second.code(0).stderr_has("skipping postgres base backup").stderr_has("pitr.base_backup");
    let m2 = manifest_of(&s, &backup_id(&second.stderr));
    assert!(m2["components"].as_array().unwrap().iter().all(|c| c["kind"] != "pgbase"));
    // --only takes it anyway.
    s.ccops(&["backup", "--only", "pgbase"]).code(0).stderr_has("pgbase-postgres.tar.gz");

    // A plain restore puts the pg_dump back and leaves the base backup alone.
    s.psql("INSERT INTO pitr_t VALUES (2)");
    s.ccops(&["restore", &id, "--yes"]).code(0).stderr_has("leaving `pgbase-postgres.tar.gz` alone");
    assert_eq!(s.psql("SELECT count(*) FROM pitr_t"), "1");
}
