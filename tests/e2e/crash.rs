//! A restore killed with SIGKILL at each destructive phase, then recovered by the next run.
//! `CCOPS_FAILPOINT` makes the real binary kill itself at the named point; the next
//! `ccops health` must say so, and the next `ccops backup` or `ccops restore` must put the
//! old data back (or finish a swap whose new data was complete) and start the services.

use std::os::unix::process::ExitStatusExt;

use crate::stack::{Flavour, Stack};

fn rows(s: &Stack) -> String {
    s.psql("SELECT count(*) || ':' || md5(string_agg(id || '=' || name, ',' ORDER BY id)) FROM items")
}

fn keys(s: &Stack) -> String {
    let mut keys: Vec<String> = s.redis(&["--scan", "--pattern", "seed:*"]).lines().map(String::from).collect();
    keys.sort();
    keys.iter().map(|k| format!("{k}={}", s.redis(&["GET", k]))).collect::<Vec<_>>().join(",")
}

fn files(s: &Stack) -> String {
    s.exec("backend", &["sh", "-c", "cd /app/storage && find . -printf '%p %m %y\\n' | sort && cat docs/a.txt"])
}

/// Postgres rows, Redis keys and volume files, as one comparable value.
fn data(s: &Stack) -> (String, String, String) {
    (rows(s), keys(s), files(s))
}

/// The state a backup is taken of.
fn seed(s: &Stack) {
    s.psql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)");
    s.psql("INSERT INTO items (name) SELECT 'backup ' || g FROM generate_series(1, 300) g");
    for i in 0..10 {
        s.redis(&["SET", &format!("seed:{i}"), &format!("backup {i}")]);
    }
    s.exec("backend", &["sh", "-c", "mkdir -p /app/storage/docs/sub && echo backup > /app/storage/docs/a.txt && echo b > /app/storage/docs/sub/b.txt && echo hidden > /app/storage/.dot"]);
}

/// The live state a killed restore must leave as it was: different in every component.
fn change(s: &Stack) {
    s.psql("UPDATE items SET name = 'live ' || id WHERE id <= 50; INSERT INTO items (name) VALUES ('live extra')");
    for i in 0..10 {
        s.redis(&["SET", &format!("seed:{i}"), &format!("live {i}")]);
    }
    s.redis(&["SET", "seed:extra", "live"]);
    s.exec(
        "backend",
        &[
            "sh",
            "-c",
            "echo live > /app/storage/docs/a.txt && rm -r /app/storage/docs/sub && echo new > /app/storage/live.txt",
        ],
    );
}

/// Run a restore that kills itself at `point`; panics unless it died by SIGKILL.
fn killed_restore(s: &Stack, id: &str, point: &str, only: Option<&str>) {
    let mut args = vec!["restore", id, "--yes", "--no-safety-backup"];
    if let Some(o) = only {
        args.extend(["--only", o]);
    }
    let out = s.ccops_cmd(&args).env("CCOPS_FAILPOINT", point).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(9), "restore was not killed at `{point}` ({:?}):\n{stderr}", out.status);
    assert!(stderr.contains(&format!("failpoint `{point}`")), "{stderr}");
}

fn is_running(s: &Stack, service: &str) -> bool {
    s.docker(&["inspect", "-f", "{{.State.Running}}", &s.container(service)]).trim() == "true"
}

/// Nothing of the killed run is left: no journal, no helper on the volume, no side
/// databases, every service running.
fn nothing_left(s: &Stack, point: &str) {
    assert!(!s.path().join(".ccops/journal.json").exists(), "{point}: the journal is still there");
    let helpers = s.docker(&["ps", "-aq", "--filter", &format!("label=ccops.volume={}_rag_storage", s.project)]);
    assert_eq!(helpers.trim(), "", "{point}: helper containers left");
    let side = s.psql("SELECT coalesce(string_agg(datname, ','), '') FROM pg_database WHERE datname LIKE '%ccops%'");
    assert_eq!(side, "", "{point}: side databases left");
    for svc in ["backend", "worker", "redis", "postgres", "proxy"] {
        assert!(is_running(s, svc), "{point}: `{svc}` is not running");
    }
}

/// `ccops health` reports the killed run and names the commands that put it right.
fn health_reports_it(s: &Stack, point: &str) {
    let r = s.ccops(&["health"]);
    r.code(1)
        .stdout_has("ccops-journal")
        .stderr_has("killed before it finished")
        .stderr_has("`ccops restore` or `ccops backup`");
    assert!(s.path().join(".ccops/journal.json").exists(), "{point}: health changed the journal");
}

#[test]
fn a_restore_killed_at_each_destructive_phase_is_undone_by_the_next_run() {
    let s = Stack::up("crash", Flavour::V2);
    seed(&s);
    s.ccops(&["backup"]).code(0);
    let id = s.ccops(&["--json", "backup", "list"]).json()[0]["id"].as_str().unwrap().to_string();
    let backup = data(&s);
    change(&s);
    let live = data(&s);
    assert_ne!(live.0, backup.0);
    assert_ne!(live.1, backup.1);
    assert_ne!(live.2, backup.2);

    // Each point, with the component it is in, and what the next run says it did.
    let cases = [
        ("services-stopped", "volume", "did not start it again (it was killed); started it"),
        ("volume-moved-aside", "volume", "has its previous contents back"),
        ("volume-extracted", "volume", "has its previous contents back"),
        ("postgres-loaded", "postgres", "has its previous data back"),
        ("postgres-old-renamed", "postgres", "has its previous data back"),
        ("redis-rdb-replaced", "redis", "has its previous RDB file back"),
    ];
    for (point, only, said) in cases {
        killed_restore(&s, &id, point, Some(only));
        health_reports_it(&s, point);
        let r = s.ccops(&["backup", "--no-prune"]);
        r.code(0).stderr_has("was killed before it finished").stderr_has("recovered:").stderr_has(said);
        nothing_left(&s, point);
        assert_eq!(data(&s), live, "{point}: the killed restore changed the data\n{}", r.stderr);
        s.ccops(&["health"]).code(0);
    }

    // All three steps at once, killed while the database is renamed aside: the database
    // is put back; the volume and Redis each hold either the old or the restored data
    // (their steps may have finished), never a mix, and nothing is left half done.
    killed_restore(&s, &id, "postgres-old-renamed", None);
    s.ccops(&["backup", "--no-prune"]).code(0).stderr_has("database `commandcenter` has its previous data back");
    nothing_left(&s, "all steps");
    assert_eq!(rows(&s), live.0);
    let k = keys(&s);
    assert!(k == live.1 || k == backup.1, "redis is neither old nor restored: {k}");
    let f = files(&s);
    assert!(f == live.2 || f == backup.2, "the volume is neither old nor restored:\n{f}");

    // Killed once the restored data was complete: the next run finishes instead.
    killed_restore(&s, &id, "postgres-swapped", Some("postgres"));
    s.ccops(&["backup", "--no-prune"]).code(0).stderr_has("keeps its restored data (it was complete)");
    nothing_left(&s, "postgres-swapped");
    assert_eq!(rows(&s), backup.0, "a complete database restore was not finished");
    killed_restore(&s, &id, "volume-restored", Some("volume"));
    s.ccops(&["backup", "--no-prune"]).code(0).stderr_has("keeps its restored contents (they were complete)");
    nothing_left(&s, "volume-restored");
    assert_eq!(files(&s), backup.2, "a complete volume restore was not finished");

    // One command after a kill: `ccops restore` puts things right, then restores whole.
    change(&s);
    killed_restore(&s, &id, "volume-extracted", None);
    let r = s.ccops(&["restore", &id, "--yes", "--no-safety-backup"]);
    r.code(0).stderr_has("has its previous contents back").stderr_has("restored backup");
    nothing_left(&s, "restore after a kill");
    assert_eq!(data(&s), backup, "the restore after a kill did not restore the backup");
}

#[test]
fn a_prune_killed_mid_delete_leaves_no_set_that_looks_complete() {
    let s = Stack::up("crashprune", Flavour::V2);
    // Only `days` and `keep_last: 1`: an old set is due, the newest is kept.
    s.edit(
        "ccops.yaml",
        "    keep_last: 3\n    keep_daily: 7\n    keep_weekly: 4\n    keep_monthly: 6\n",
        "    keep_last: 1\n",
    );
    s.ccops(&["backup"]).code(0);
    let id = s.ccops(&["--json", "backup", "list"]).json()[0]["id"].as_str().unwrap().to_string();
    let (from, old) = (s.path().join("backups").join(&id), s.path().join("backups/20200101_000000"));
    std::fs::create_dir(&old).unwrap();
    for e in std::fs::read_dir(&from).unwrap().flatten() {
        std::fs::copy(e.path(), old.join(e.file_name())).unwrap();
    }
    let m = old.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    manifest["id"] = "20200101_000000".into();
    manifest["created_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&m, manifest.to_string()).unwrap();
    s.ccops(&["backup", "list"]).code(0).stdout_has("20200101_000000");

    let out = s.ccops_cmd(&["backup", "prune"]).env("CCOPS_FAILPOINT", "prune-manifest-deleted").output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", String::from_utf8_lossy(&out.stderr));
    // Killed after the manifest went: the files left are an incomplete set, never one
    // that `restore` would take for whole.
    assert!(old.is_dir() && !m.exists());
    let listed = s.ccops(&["--json", "backup", "list"]).json();
    let entry = listed.as_array().unwrap().iter().find(|x| x["id"] == "20200101_000000").cloned().unwrap();
    assert_eq!(entry["complete"], false, "{entry}");
    s.ccops(&["restore", "20200101_000000", "--yes"]).code(2).stderr_has("incomplete");
    s.ccops(&["backup", "prune"]).code(0).stderr_has("deleted 20200101_000000");
    assert!(!old.exists());
    assert!(from.join("manifest.json").exists(), "prune deleted the newest set");

    // A backup killed while a helper container reads a volume through the engine: the
    // helper and the stopped services are in the journal, and the next run clears both.
    let out = s
        .ccops_cmd(&["backup", "--only", "rag_storage"])
        .env("CCOPS_VOLUME_READ", "engine")
        .env("CCOPS_FAILPOINT", "volume-helper-created")
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", String::from_utf8_lossy(&out.stderr));
    let journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join(".ccops/journal.json")).unwrap()).unwrap();
    let helper = journal
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phase"] == "helper")
        .and_then(|e| e["container"].as_str())
        .unwrap_or_else(|| panic!("no helper in the journal: {journal}"))
        .to_string();
    assert_eq!(s.docker(&["ps", "-aq", "--no-trunc", "--filter", &format!("id={helper}")]).trim(), helper);
    assert!(!is_running(&s, "backend"), "backend should be stopped by the killed backup");
    s.ccops(&["health"]).code(1).stdout_has("ccops-journal");
    s.ccops(&["backup"]).code(0).stderr_has("removed helper container");
    assert_eq!(s.docker(&["ps", "-aq", "--filter", &format!("id={helper}")]).trim(), "", "the helper is still there");
    assert!(is_running(&s, "backend") && is_running(&s, "worker"));
    assert!(!s.path().join(".ccops/journal.json").exists());
}
