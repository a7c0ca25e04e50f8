//! `ccops restore --to-time` / `--to-latest` on the real engine and S3: rows written every
//! ~50 ms with their times, a base backup (`ccops backup`, kind `pgbase`) taken mid-way,
//! the WAL shipped into the archive's layout, the database volume destroyed; the rows
//! that come back are exactly those committed by the target. The WAL is received here
//! by `pg_receivewal` in the service's container and stored as the contract says
//! (gzip, `<segment>[.partial].gz`), so these tests read the archive the way
//! `ccops wal stream` writes it without depending on it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::remote::{self, S3};
use crate::stack::{Flavour, Stack};

/// Where pg_receivewal writes inside the postgres container (a tmpfs in production).
const RECEIVED: &str = "/tmp/ccops-test-wal";

/// The example with PITR on for its postgres service (`pitr`: its settings), started,
/// with the table `ticks` and a procedure writing a row every ~50 ms.
fn pitr_stack(tag: &str, pitr: &str) -> Stack {
    let s = Stack::new(tag, Flavour::V2);
    s.edit("ccops.yaml", "      user: commandcenter\n", &format!("      user: commandcenter\n      pitr:\n{pitr}"));
    s.start();
    s.psql("CREATE TABLE ticks(n serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    s.psql(
        "CREATE PROCEDURE tick(k int) LANGUAGE plpgsql AS $$ BEGIN FOR i IN 1..k LOOP \
         INSERT INTO ticks DEFAULT VALUES; COMMIT; PERFORM pg_sleep(0.05); END LOOP; END $$",
    );
    s
}

/// Start receiving WAL in the postgres container (from the current segment on).
fn receive_wal(s: &Stack) {
    let ctr = s.container("postgres");
    s.docker(&["exec", "-u", "postgres", &ctr, "mkdir", "-p", RECEIVED]);
    s.docker(&[
        "exec",
        "-d",
        "-u",
        "postgres",
        &ctr,
        "pg_receivewal",
        "-D",
        RECEIVED,
        "-U",
        "postgres",
        "--no-password",
    ]);
    // Streaming before anything else happens.
    for _ in 0..50 {
        if !s.exec("postgres", &["ls", RECEIVED]).trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pg_receivewal wrote nothing");
}

/// Store what pg_receivewal received as the archive stores it, into `dir`.
fn ship_wal(s: &Stack, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("docker")
        .args(["exec", &s.container("postgres"), "tar", "-C", RECEIVED, "-cf", "-", "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tar = tmp.path().join("wal.tar");
    std::fs::write(&tar, &out.stdout).unwrap();
    let ok = Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(tmp.path()).status().unwrap();
    assert!(ok.success());
    for e in std::fs::read_dir(tmp.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "wal.tar" {
            continue;
        }
        let gz = Command::new("gzip").arg("-c").arg(e.path()).output().unwrap();
        std::fs::write(dir.join(format!("{name}.gz")), gz.stdout).unwrap();
    }
}

/// Every row: (n, commit-side time as RFC 3339 UTC with microseconds).
fn ticks(s: &Stack) -> Vec<(i64, String)> {
    let out = s.psql(
        "SELECT n || ' ' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM ticks ORDER BY n",
    );
    out.lines().filter_map(|l| l.split_once(' ')).map(|(n, t)| (n.parse().unwrap(), t.to_string())).collect()
}

/// A moment between two rows' times.
fn between(a: &str, b: &str) -> String {
    let a = chrono::DateTime::parse_from_rfc3339(a).unwrap();
    let b = chrono::DateTime::parse_from_rfc3339(b).unwrap();
    (a + (b - a) / 2).to_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Destroy the database: its container and volume gone, a new empty one started.
fn destroy_database(s: &Stack) {
    s.compose(&["rm", "-sf", "postgres"]);
    s.docker(&["volume", "rm", &format!("{}_postgres_data", s.project)]);
    s.compose(&["up", "-d", "postgres"]);
    // The database answering is enough: the application may still be reconnecting (a
    // restore holds only what was healthy before it against itself).
    for _ in 0..300 {
        if s.try_exec("postgres", &["psql", "-U", "commandcenter", "-d", "commandcenter", "-tAqc", "SELECT 1"]).trim()
            == "1"
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.psql("SELECT to_regclass('ticks') IS NULL"), "t");
}

#[test]
fn restore_to_a_time_brings_back_exactly_the_rows_committed_by_then() {
    let s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    // The superuser takes the base backup over the socket (the app role has no REPLICATION).
    let s = pitr_stack("pitrr", "        user: postgres\n        wal_max_delay: 2s\n");
    receive_wal(&s);
    let mut writer = Command::new("docker")
        .args(["exec", &s.container("postgres")])
        .args(["psql", "-U", "commandcenter", "-d", "commandcenter", "-qc", "CALL tick(300)"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    remote::run(&s, &s3, &["backup", "--upload", "s3"]).code(0).stderr_has("pgbase-postgres.tar");
    assert!(writer.wait().unwrap().success());
    std::thread::sleep(Duration::from_secs(1));
    let wal = s.path().join("backups/wal/postgres");
    ship_wal(&s, &wal);
    let written = ticks(&s);
    assert!(written.len() == 300, "{}", written.len());

    // Three quarters in: well after the base backup ended.
    let k = written.len() * 3 / 4;
    let t = between(&written[k - 1].1, &written[k].1);
    destroy_database(&s);
    s.ccops(&["restore", "--to-time", &t, "--yes"]).code(0).stderr_has("restored service `postgres` to the point");
    assert_eq!(ticks(&s), written[..k], "rows up to {t}");

    // Past the end of the stored WAL: refused, the live data as it was.
    let late = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    s.ccops(&["restore", "--to-time", &late, "--yes"])
        .code(1)
        .stderr_has("the stored WAL ends before")
        .stderr_has("nothing was changed");
    assert_eq!(ticks(&s), written[..k]);
    // Ctrl-C during the recovery: exit 130, the live data as it was, no scratch left.
    let bg = crate::support::Background::spawn(s.ccops_cmd(&["restore", "--to-time", &t, "--yes"]));
    bg.wait_for("recovering into scratch volume", 60);
    bg.signal("INT");
    let (code, err) = bg.finish();
    assert_eq!(code, 130, "{err}");
    assert_eq!(ticks(&s), written[..k]);
    let left = s.docker(&["volume", "ls", "-q", "--filter", "label=ccops.pitr"]);
    assert!(!left.contains(&s.project), "{left}");

    // In the future, before every base: refused before anything is read.
    s.ccops(&["restore", "--to-time", "2999-01-01 00:00:00Z", "--yes"]).code(2).stderr_has("is in the future");
    s.ccops(&["restore", "--to-time", "2001-01-01 00:00:00Z", "--yes"])
        .code(2)
        .stderr_has("before the oldest base backup");

    // A drill recovers the same point beside the live service and leaves it alone.
    s.ccops(&["backup", "drill", "--to-time", &t]).code(0).stderr_has("drill to a point of service `postgres` passed");
    assert_eq!(ticks(&s), written[..k]);

    // The newest WAL stored, its .partial included: every row (the writer had ended).
    s.ccops(&["restore", "--to-latest", "--yes"]).code(0);
    assert_eq!(ticks(&s), written);

    // A new server: nothing local, the set and the WAL on S3 only.
    let (ok, out) = s3.aws(&[
        "s3",
        "cp",
        "--recursive",
        &wal.display().to_string(),
        "s3://commandcenter-backups/commandcenter/wal/postgres/",
    ]);
    assert!(ok, "{out}");
    std::fs::remove_dir_all(s.path().join("backups")).unwrap();
    destroy_database(&s);
    remote::run(&s, &s3, &["restore", "--from", "s3", "--to-time", &t, "--yes"]).code(0);
    assert_eq!(ticks(&s), written[..k]);
}

/// The receiver sidecar of `ccops wal stream`, removed with the test whatever happens.
struct Sidecar(String);

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn restore_to_latest_from_what_wal_stream_shipped_to_s3() {
    let s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    // The stream's receiver connects over TCP: the app role, with a password and
    // REPLICATION (docs/pitr.md).
    let s = pitr_stack("pitrlatest", "        password_variable: DB_PASSWORD\n        wal_max_delay: 2s\n");
    s.exec("postgres", &["psql", "-U", "postgres", "-qc", "ALTER ROLE commandcenter REPLICATION"]);
    let _sidecar = Sidecar(format!("{}-ccops-wal-postgres", s.project));
    let mut cmd = s.ccops_cmd(&["wal", "stream", "--upload", "s3"]);
    cmd.envs(remote::with_s3(&s3, &[]));
    let stream = crate::support::Background::spawn(cmd);
    stream.wait_for("receiving WAL of service `postgres`", 90);
    let psql = ["psql", "-U", "commandcenter", "-d", "commandcenter", "-qc", "CALL tick(200)"];
    let mut writer = Command::new("docker").args(["exec", &s.container("postgres")]).args(psql).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // The dump runs in the service's container, not in the receiver made from its image.
    remote::run(&s, &s3, &["backup", "--upload", "s3"]).code(0);
    assert!(writer.wait().unwrap().success());
    let written = ticks(&s);
    // wal_max_delay is 2s: by then the stream has shipped the partial segment.
    std::thread::sleep(Duration::from_secs(4));
    stream.signal("TERM");
    stream.finish();

    // A new server: the bucket alone.
    std::fs::remove_dir_all(s.path().join("backups")).unwrap();
    destroy_database(&s);
    remote::run(&s, &s3, &["restore", "--from", "s3", "--to-latest", "--yes"])
        .code(0)
        .stderr_has("restored service `postgres` to the point");
    assert_eq!(ticks(&s), written);
}
