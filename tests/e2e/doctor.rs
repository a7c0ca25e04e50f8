//! `ccops doctor`: FAIL and exit 1 for a stopped engine, a wrong bucket and a wrong
//! database; OK lines on the healthy example stack with its S3 remote (moto).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command};

use crate::stack::{Flavour, Stack};
use crate::support::{Dir, Run};

/// The status word of the line for check `name`, and the line.
pub fn line<'a>(r: &'a Run, name: &str) -> (&'a str, &'a str) {
    r.stdout
        .lines()
        .find_map(|l| {
            let (status, rest) = l.split_once(' ')?;
            let rest = rest.trim_start();
            (["OK", "WARN", "FAIL"].contains(&status) && rest.strip_prefix(name).is_some_and(|r| r.starts_with("  ")))
                .then_some((status, l))
        })
        .unwrap_or_else(|| panic!("no line for `{name}`\n--- stdout\n{}\n--- stderr\n{}", r.stdout, r.stderr))
}

#[test]
fn a_stopped_engine_and_a_broken_config_fail_with_a_fix() {
    let d = Dir::new();
    d.write("docker-compose.yml", "services:\n  db:\n    image: ccops-test/base:latest\n")
        .write("ccops.yaml", "environments:\n  prod:\n    compose_files: [docker-compose.yml]\nbackup:\n  postgres:\n    - { service: db, database: app, user: app }\n");
    let no_engine = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let r = d.run_env(&["doctor"], &no_engine);
    r.code(1).stderr_has("FAIL");
    let (status, l) = line(&r, "engine");
    assert_eq!(status, "FAIL", "{l}");
    assert!(l.contains("/nonexistent/docker.sock"), "{l}");
    assert_eq!(line(&r, "config").0, "OK");
    // Nothing forces a Compose: v2 is preferred when both are installed (the rig has both),
    // found by its plugin file and reported with its version; without the Docker CLI, v1.
    let (status, l) = line(&r, "compose");
    assert_eq!(status, "OK", "{l}");
    assert!(l.contains("Compose v2 (`docker compose`) 2."), "{l}");
    assert!(r.stdout.contains("fix: start the engine"), "{}", r.stdout);
    let r = d.run_env(&["doctor"], &[no_engine[0], ("CCOPS_DOCKER", "/nonexistent/docker")]);
    let (status, l) = line(&r, "compose");
    assert_eq!(status, "OK", "{l}");
    assert!(l.contains("Compose v1 (`docker-compose`) 1."), "{l}");

    let r = d.run_env(&["--json", "doctor"], &no_engine);
    r.code(1);
    let doc = r.json();
    assert_eq!(doc["status"], "fail");
    let engine = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "engine").unwrap();
    assert_eq!(engine["status"], "fail");
    assert!(engine["fix"].is_string());

    // Nothing reports a failed nightly backup: a warning; a dead-man's-switch ping does.
    let r = d.run_env(&["doctor"], &no_engine);
    let (status, l) = line(&r, "notify");
    assert_eq!(status, "WARN", "{l}");
    assert!(l.contains("notify.ping_url"), "{l}");
    d.write(
        "ccops.yaml",
        "environments:\n  prod:\n    compose_files: [docker-compose.yml]\nnotify:\n  ping_url: https://hc.example.test/0d4e-secret\n",
    );
    let r = d.run_env(&["doctor"], &no_engine);
    let (status, l) = line(&r, "notify");
    assert_eq!(status, "OK", "{l}");
    assert!(l.contains("the backup pings hc.example.test") && !r.stdout.contains("0d4e-secret"), "{}", r.stdout);

    d.write(
        "ccops.yaml",
        "environments:\n  prod:\n    compose_files: [docker-compose.yml]\nbackup:\n  retension: {}\n",
    );
    let r = d.run(&["doctor"]);
    r.code(1);
    let (status, l) = line(&r, "config");
    assert_eq!(status, "FAIL");
    assert!(l.contains("did you mean `retention`?"), "{l}");
}

/// A moto S3 server of this test's own, with the example's bucket.
struct S3 {
    child: Child,
    port: u16,
}

impl S3 {
    fn start() -> S3 {
        let rig = PathBuf::from(std::env::var("CCOPS_RIG_HOME").unwrap_or_else(|_| "/opt/ccops-rig".into()));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(rig.join("s3env/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server from scripts/rig");
        let s3 = S3 { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let ok = Command::new(rig.join("bin/aws"))
                    .args(["--endpoint-url", &s3.endpoint(), "s3", "mb", "s3://commandcenter-backups"])
                    .envs(creds())
                    .env("AWS_DEFAULT_REGION", "us-east-1")
                    .output()
                    .unwrap();
                assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
                return s3;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto did not start");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn creds() -> [(&'static str, &'static str); 2] {
    [("AWS_ACCESS_KEY_ID", "ccops-test"), ("AWS_SECRET_ACCESS_KEY", "ccops-test-secret")]
}

#[test]
fn the_example_stack_is_ok_then_a_wrong_bucket_and_database_fail() {
    let s3 = S3::start();
    let s = Stack::up("doctor", Flavour::V2);
    // A `crontab` of this test's own holding the nightly line (the real crontab is the
    // schedule test's), found by its marker.
    let bin = tempfile::tempdir().unwrap();
    let config = s.path().join("ccops.yaml");
    let entry = format!(
        "0 2 * * * cd '{dir}' && ccops --config '{cfg}' --env 'production' --quiet backup --upload s3 >> '{dir}/.ccops/cron.log' 2>&1 # ccops-backup {cfg}",
        dir = s.path().display(),
        cfg = config.display()
    );
    let fake = bin.path().join("crontab");
    std::fs::write(&fake, format!("#!/bin/sh\n[ \"$1\" = -l ] && cat <<'EOF'\nMAILTO=ops\n{entry}\nEOF\n")).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let endpoint = s3.endpoint();
    let mut env: Vec<(&str, &str)> = creds().to_vec();
    env.extend([("S3_ENDPOINT", endpoint.as_str()), ("PATH", path.as_str())]);

    let r = s.ccops_env(&["doctor"], &env);
    r.code(0);
    for name in ["config", "engine", "compose", "services", "postgres postgres", "redis redis", "disk", "remote s3"] {
        let (status, l) = line(&r, name);
        assert_eq!(status, "OK", "{l}\n{}", r.stdout);
    }
    assert!(line(&r, "engine").1.contains("Docker "), "{}", r.stdout);
    assert!(line(&r, "postgres postgres").1.contains("pg_dump"), "{}", r.stdout);
    assert!(line(&r, "remote s3").1.contains("writable"), "{}", r.stdout);
    // OK, or WARN only when no cron daemon runs on the test machine.
    let (status, l) = line(&r, "cron");
    assert!(status == "OK" || l.contains("no cron daemon"), "{l}");
    assert_eq!(line(&r, "backups").0, "WARN", "no backup yet");
    // The probe object is gone again.
    let listed = Command::new(
        PathBuf::from(std::env::var("CCOPS_RIG_HOME").unwrap_or_else(|_| "/opt/ccops-rig".into())).join("bin/aws"),
    )
    .args(["--endpoint-url", &endpoint, "s3api", "list-objects-v2", "--bucket", "commandcenter-backups"])
    .envs(creds())
    .env("AWS_DEFAULT_REGION", "us-east-1")
    .output()
    .unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("Key"), "{}", String::from_utf8_lossy(&listed.stdout));

    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, original.replace("bucket: commandcenter-backups", "bucket: no-such-bucket")).unwrap();
    let r = s.ccops_env(&["doctor"], &env);
    r.code(1).stderr_has("FAIL");
    let (status, l) = line(&r, "remote s3");
    assert_eq!(status, "FAIL", "{l}");
    assert!(r.stdout.contains("fix: check `remotes.s3` (bucket `no-such-bucket`"), "{}", r.stdout);

    std::fs::write(&config, original.replacen("database: commandcenter", "database: no_such_db", 1)).unwrap();
    let r = s.ccops_env(&["doctor"], &env);
    r.code(1);
    let (status, l) = line(&r, "postgres postgres");
    assert_eq!(status, "FAIL", "{l}");
    assert!(l.contains("cannot connect to database `no_such_db`"), "{l}");
    assert!(r.stdout.contains("fix: correct `database` and `user` under backup.postgres"), "{}", r.stdout);
}
