//! Point-in-time recovery, the producing side: base backups (`pgbase` components of a
//! set) and the WAL archive `ccops wal stream` keeps, on the example's real PostgreSQL.

use std::time::{Duration, Instant};

use crate::remote::{S3, with_s3};
use crate::stack::{Flavour, Stack};
use crate::support::Background;

/// The example with `pitr` enabled for its database; `pitr` holds its settings.
fn with_pitr(tag: &str, pitr: &str) -> Stack {
    let s = Stack::new(tag, Flavour::V2);
    s.edit("ccops.yaml", "      user: commandcenter\n", &format!("      user: commandcenter\n      pitr:\n{pitr}"));
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
    let s = with_pitr("pgbase", "        user: postgres\n");
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

/// As postgres, the superuser (trusted on the container's unix socket).
fn superuser(s: &Stack, sql: &str) -> String {
    s.exec("postgres", &["psql", "-X", "-U", "postgres", "-d", "commandcenter", "-tAq", "-c", sql]).trim().to_string()
}

/// A position `X/Y` as a number.
fn lsn(text: &str) -> u64 {
    let (hi, lo) = text.trim().split_once('/').unwrap_or_else(|| panic!("not an LSN: {text}"));
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// Poll `what` until it holds, for at most `secs` (a generous bound, not a timing claim).
#[track_caller]
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("not within {secs}s: {what}");
}

fn wal_dir(s: &Stack) -> std::path::PathBuf {
    s.path().join("backups/wal/postgres")
}

/// `last_lsn` of stream.json, 0 while there is none.
fn stored_lsn(s: &Stack) -> u64 {
    let text = std::fs::read_to_string(wal_dir(s).join("stream.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["last_lsn"].as_str().map(lsn).unwrap_or(0)
}

/// The archive's file names, sorted (no staging, no stream.json).
fn local_names(s: &Stack) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(wal_dir(s))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".gz"))
        .collect();
    v.sort();
    v
}

fn bucket_names(s3: &S3) -> Vec<String> {
    s3.objects().iter().filter_map(|k| k.strip_prefix("commandcenter/wal/postgres/")).map(String::from).collect()
}

fn stream(s: &Stack, s3: &S3) -> Background {
    let mut cmd = s.ccops_cmd(&["wal", "stream", "--upload", "s3"]);
    cmd.envs(with_s3(s3, &[]));
    Background::spawn(cmd)
}

/// Insert a row, and return the server's WAL position after it.
fn insert(s: &Stack, n: u32) -> u64 {
    s.psql(&format!("INSERT INTO pitr_rows VALUES ({n}, now())"));
    lsn(&superuser(s, "SELECT pg_current_wal_lsn()"))
}

/// The receiver sidecar a killed ccops left is removed with the stack.
struct Sidecar(String);

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn wal_stream_keeps_the_archive_whole_through_restarts_and_an_outage() {
    let s = with_pitr("walstream", "        password_variable: DB_PASSWORD\n        wal_max_delay: 5s\n");
    let _sidecar = Sidecar(format!("{}-ccops-wal-postgres", s.project));
    let hook = crate::notify::Hook::start();
    std::fs::create_dir_all(s.path().join("metrics")).unwrap();
    let cfg = s.path().join("ccops.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let extra = format!(
        "notify:\n  webhook_url: {}\n  on: [failure]\nmetrics:\n  textfile: metrics/ccops.prom\n",
        hook.url("/hooks/wal")
    );
    std::fs::write(&cfg, format!("{text}\n{extra}")).unwrap();
    // What docs/pitr.md asks of an existing cluster: the role may replicate.
    superuser(&s, "ALTER ROLE commandcenter REPLICATION");
    s.psql("CREATE TABLE pitr_rows (n int, at timestamptz)");
    let mut s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    crate::remote::run(&s, &s3, &["backup", "--only", "pgbase"]).code(0);

    let bg = stream(&s, &s3);
    bg.wait_for("receiving WAL of service `postgres`", 90);
    // Rows written continuously reach the archive within wal_max_delay (bound: generous).
    for n in 0..5 {
        let after = insert(&s, n);
        eventually(30, "stream.json reaches the last insert", || stored_lsn(&s) >= after);
    }
    eventually(30, "the partial segment is in the bucket", || {
        bucket_names(&s3).iter().any(|n| n.contains(".partial."))
    });

    // Whole segments: the partial is replaced by the segment, locally and remotely.
    superuser(&s, "SELECT pg_switch_wal()");
    let after = insert(&s, 10);
    eventually(30, "the next segment is stored", || stored_lsn(&s) >= after);

    // PostgreSQL restarts: the receiver is started again.
    s.compose(&["restart", "postgres"]);
    bg.wait_for("the WAL receiver stopped", 60);
    s.ccops(&["health", "--wait", "--timeout", "120s"]).code(0);
    let after = insert(&s, 20);
    eventually(90, "WAL after the restart is stored", || stored_lsn(&s) >= after);

    // ccops killed: the server keeps the WAL for the slot; a new run takes over.
    bg.signal("KILL");
    bg.finish();
    superuser(&s, "SELECT pg_switch_wal()");
    insert(&s, 30);
    let bg = stream(&s, &s3);
    bg.wait_for("receiving WAL", 90);
    let after = insert(&s, 31);
    eventually(60, "WAL written while ccops was down is stored", || stored_lsn(&s) >= after);

    // S3 down (moto forgets everything): local storage goes on; back up, it gets it all.
    s3.kill();
    superuser(&s, "SELECT pg_switch_wal()");
    let after = insert(&s, 40);
    eventually(60, "WAL is stored locally while S3 is down", || stored_lsn(&s) >= after);
    bg.wait_for("uploading WAL to", 60);
    s3.restart();
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    bg.wait_for("work again", 90);

    // Idle: the record stays fresh while the receiver runs (wal_max_delay 5s; bound generous).
    std::thread::sleep(Duration::from_secs(15));
    let text = std::fs::read_to_string(wal_dir(&s).join("stream.json")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(rec["last_shipped_at"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - at.to_utc()).num_seconds() < 12, "{text}");

    // SIGTERM: what is complete is stored, the receiver removed, exit 0.
    bg.signal("TERM");
    let (code, log) = bg.finish();
    assert_eq!(code, 0, "{log}");
    let gone = std::process::Command::new("docker").args(["inspect", &_sidecar.0]).output().unwrap();
    assert!(!gone.status.success(), "the receiver was left running");

    s.ccops(&["wal", "verify"]).code(0).stdout_has("no gap");
    crate::remote::run(&s, &s3, &["wal", "verify", "--remote", "s3"]).code(0).stdout_has("no gap");
    let local = local_names(&s);
    assert!(local.iter().filter(|n| !n.contains("partial")).count() >= 3, "{local:?}");
    eventually(30, "the bucket has every file", || bucket_names(&s3) == local_names(&s));

    // A segment lost in the middle is a named gap.
    let whole: Vec<&String> = local.iter().filter(|n| !n.contains("partial")).collect();
    let victim = whole[whole.len() / 2].clone();
    std::fs::remove_file(wal_dir(&s).join(&victim)).unwrap();
    s.ccops(&["wal", "verify"]).code(1).stderr_has(&victim[..24]);

    // The metrics followed; a stream that starts on a gap says so and notifies.
    let prom = std::fs::read_to_string(s.path().join("metrics/ccops.prom")).unwrap();
    let series = crate::notify::parse_prometheus(&prom).unwrap();
    let svc = [("service", "postgres")];
    assert!(crate::notify::value(&series, "ccops_wal_last_segment_timestamp_seconds", &svc).unwrap() > 0.0, "{prom}");
    assert!(crate::notify::value(&series, "ccops_wal_bytes_shipped_total", &svc).unwrap() > 0.0, "{prom}");
    let bg = stream(&s, &s3);
    bg.wait_for("has a gap", 60);
    let got = hook.wait_for(1);
    assert!(got.last().unwrap().text.contains(&victim[..24]), "{}", got.last().unwrap().text);
    bg.signal("TERM");
    assert_eq!(bg.finish().0, 0);
}

#[test]
fn doctor_health_and_prune_follow_the_base_backups() {
    let s = with_pitr("walprune", "        user: postgres\n        base_backup: 1s\n");
    s.edit(
        "ccops.yaml",
        "    days: 30\n    keep_last: 3\n    keep_daily: 7\n    keep_weekly: 4\n    keep_monthly: 6\n",
        "    keep_last: 1\n",
    );
    s.edit("ccops.yaml", "  backup_max_age: 26h\n", "  backup_max_age: 26h\n  wal_max_age: 1h\n");

    // doctor reads what the server allows and says what wal stream lacks.
    s.ccops(&["doctor"])
        .stdout_has("wal_level is replica")
        .stdout_has("opens a replication connection")
        .stdout_has("pitr.password_variable");

    // health: nothing streamed yet is a failure; a fresh stream.json passes. (Only this
    // check is judged: the others answer to the machine's load.)
    let wal_age = |s: &Stack| {
        let h = s.ccops(&["--json", "health"]).json();
        h["checks"].as_array().unwrap().iter().find(|c| c["name"] == "wal-age-postgres").cloned().unwrap()
    };
    let c = wal_age(&s);
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("no WAL stored yet"), "{c}");

    // Two base backups, WAL between and after them; prune keeps one set.
    let base = |s: &Stack| {
        let run = s.ccops(&["backup", "--no-prune"]);
        run.code(0).stderr_has("pgbase-postgres.tar.gz");
        let m = manifest_of(s, &backup_id(&run.stderr));
        let c = m["components"].as_array().unwrap().iter().find(|c| c["kind"] == "pgbase").unwrap().clone();
        lsn(c["start_lsn"].as_str().unwrap()) >> 24
    };
    let first = base(&s);
    for n in 0..3 {
        s.psql(&format!("CREATE TABLE t{n} (n int)"));
        superuser(&s, "SELECT pg_switch_wal()");
    }
    std::thread::sleep(Duration::from_millis(1100));
    let second = base(&s);
    assert!(second > first, "{first} {second}");
    let dir = wal_dir(&s);
    std::fs::create_dir_all(&dir).unwrap();
    for n in 1..=second + 1 {
        std::fs::write(dir.join(format!("{:08X}{:08X}{:08X}.gz", 1, n >> 8, n & 0xFF)), b"x").unwrap();
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    std::fs::write(
        dir.join("stream.json"),
        format!(
            r#"{{"system_identifier":"1","timeline":1,"last_lsn":"0/1","last_shipped_at":"{now}","bytes_shipped":1}}"#
        ),
    )
    .unwrap();
    assert_eq!(wal_age(&s)["status"], "ok");

    s.ccops(&["backup", "prune"]).code(0).stderr_has("WAL file(s) of service `postgres`");
    let left: Vec<u64> = local_names(&s).iter().map(|n| u64::from_str_radix(&n[8..24], 16).unwrap()).collect();
    let expected: Vec<u64> = (second..=second + 1).collect();
    assert_eq!(left, expected, "WAL before the kept base goes, the kept base's stays");
    s.ccops(&["wal", "verify"]).code(0).stdout_has("no gap");
}
