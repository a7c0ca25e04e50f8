//! Dead-man's-switch pings and what monitoring hears of a deploy's own steps, end to end:
//! a listener in this test process stands for healthchecks.io (and the webhook) and
//! records every request; a small Compose project (one service, one volume) is backed
//! up, deployed and rolled back for real; the metrics textfile is read with the
//! Prometheus text format rules.

use std::process::Command;

use crate::notify::{Hook, Received, field, parse_prometheus, value};
use crate::support::{Dir, Run};

/// A check's ping URL path, as healthchecks.io hands them out: the UUID is its secret.
const CHECK: &str = "/ping/5f1c9a7e-2b4d-4c8e-9a31-7d2e6b0c4f15";

/// A one-service Compose project whose volume `files` is backed up without stopping
/// anything; taken down (containers, volume) when dropped.
struct Light {
    dir: Dir,
    project: String,
}

impl Light {
    /// The project, with `notify` (indented under `notify:`) and a metrics textfile.
    fn new(tag: &str, notify: &str) -> Light {
        let dir = Dir::new();
        let project = format!("ccops-e2e-{tag}-{}", std::process::id());
        dir.write(
            "docker-compose.yml",
            "services:\n  app:\n    image: ccops-test/base:latest\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]\n    environment:\n      API_TOKEN: ${API_TOKEN}\n    volumes: [\"files:/files\"]\nvolumes:\n  files: {}\n",
        )
        .write(".env", "API_TOKEN=Vq8n2LwT5xR7cJ0pZ3mK\n")
        .write(
            "ccops.yaml",
            &format!(
                "project: {project}\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml]\n    env_file: .env\nbackup:\n  volumes:\n    - name: files\n      stop_services: []\nremotes:\n  s3:\n    bucket: ccops-pings\n    region: us-east-1\n    endpoint: http://127.0.0.1:${{S3_PORT:-9}}\n    path_style: true\nnotify:\n{notify}metrics:\n  textfile: metrics/ccops.prom\n"
            ),
        );
        std::fs::create_dir(dir.join("metrics")).unwrap();
        Light { dir, project }
    }

    fn compose(&self, args: &[&str]) {
        let out = Command::new("docker")
            .args(["compose", "-p", &self.project])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "compose {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn run(&self, args: &[&str]) -> Run {
        self.dir.run_env(args, &[("CCOPS_COMPOSE", "docker compose")])
    }

    fn sets(&self) -> usize {
        std::fs::read_dir(self.dir.join("backups")).map(|d| d.count()).unwrap_or(0)
    }

    fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        parse_prometheus(&std::fs::read_to_string(self.dir.join("metrics/ccops.prom")).unwrap()).unwrap()
    }

    /// Hold the project lock, as another ccops run would, until the file is dropped.
    fn hold_lock(&self) -> std::fs::File {
        let state = self.dir.join(".ccops");
        std::fs::create_dir_all(&state).unwrap();
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(state.join("lock")).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor this function owns; closing it unlocks.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
        f
    }
}

impl Drop for Light {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["compose", "-p", &self.project, "down", "-v", "-t", "1"])
            .current_dir(self.dir.path())
            .output();
    }
}

/// The pings among `got` (the webhook's messages left out), as (method, path without
/// the run ID, run ID, body).
fn pings(got: &[Received]) -> Vec<(String, String, String, String)> {
    got.iter()
        .filter(|r| r.path.starts_with("/ping/"))
        .map(|r| {
            let (path, rid) = r.path.split_once("?rid=").unwrap_or((&r.path, ""));
            (r.method.clone(), path.to_string(), rid.to_string(), r.text.clone())
        })
        .collect()
}

/// Wait for the `n`-th ping and return the pings so far.
fn wait_pings(hook: &Hook, n: usize) -> Vec<(String, String, String, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let p = pings(&hook.received());
        if p.len() >= n || std::time::Instant::now() > deadline {
            return p;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A start ping and its end ping of one run: same run ID, the expected paths.
#[track_caller]
fn assert_run(start: &(String, String, String, String), end: &(String, String, String, String), end_path: &str) {
    assert_check_run(CHECK, start, end, end_path);
}

/// The same for the check at `check`.
#[track_caller]
fn assert_check_run(
    check: &str,
    start: &(String, String, String, String),
    end: &(String, String, String, String),
    end_path: &str,
) {
    assert_eq!((start.0.as_str(), start.1.as_str()), ("POST", format!("{check}/start").as_str()), "{start:?}");
    assert_eq!((end.0.as_str(), end.1.as_str()), ("POST", end_path), "{end:?}");
    assert!(start.2.len() == 36 && start.2 == end.2, "one run ID for both: {start:?} {end:?}");
}

#[test]
fn a_backup_pings_start_then_success_or_fail_with_the_error() {
    let hook = Hook::start();
    let l = Light::new("pingbackup", &format!("  ping_url: {}\n", hook.url(CHECK)));
    l.compose(&["up", "-d"]);

    // A backup that works: /start, then the check's own URL, one run ID.
    let r = l.run(&["backup"]);
    r.code(0);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let p = wait_pings(&hook, 2);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_run(&p[0], &p[1], CHECK);
    assert!(p[0].3.contains(&format!("ccops backup started for project `{}`, environment `prod`", l.project)), "{p:?}");
    assert!(p[1].3.starts_with("ccops backup succeeded (backup 2") && p[1].3.contains("(exit status 0)"), "{p:?}");

    // S3 down: the set is written and kept, the upload fails: /start, then /fail whose
    // body says what failed and why.
    let r = l.dir.run_env(
        &["backup", "--upload", "s3"],
        &[("AWS_ACCESS_KEY_ID", "ccops-test"), ("AWS_SECRET_ACCESS_KEY", "ccops-test-secret")],
    );
    r.code(1).stderr_has("upload pending");
    let p = wait_pings(&hook, 4);
    assert_eq!(p.len(), 4, "{p:?}");
    assert_run(&p[2], &p[3], &format!("{CHECK}/fail"));
    assert_ne!(p[0].2, p[2].2, "each run has its own run ID");
    let body = &p[3].3;
    assert!(body.starts_with("ccops backup FAILED (backup 2") && body.contains("(exit status 1)"), "{body}");
    assert!(body.contains("its upload to `s3` failed; it is marked upload pending\n  caused by: "), "{body}");
    // The cause names the endpoint that could not be reached (its wording is the errors').
    assert!(body.lines().last().unwrap().contains("127.0.0.1:9"), "{body}");
    assert!(body.contains("connection refused"), "{body}");
    for debug in ["DispatchFailure", "Some(", "Error {", " { "] {
        assert!(!body.contains(debug), "`{debug}` in {body}");
    }
    assert_eq!(l.sets(), 2);

    // Refused (another run holds the lock): nothing is tried, the check hears /fail.
    let lock = l.hold_lock();
    l.run(&["backup"]).code(1).stderr_has("holds the project lock");
    drop(lock);
    let p = wait_pings(&hook, 6);
    assert_run(&p[4], &p[5], &format!("{CHECK}/fail"));
    assert!(
        p[5].3.starts_with("ccops backup was REFUSED for project") && p[5].3.contains("; nothing was changed"),
        "{p:?}"
    );
    assert!(p[5].3.contains("another ccops operation holds the project lock"), "{p:?}");
    let m = l.metrics();
    // Both sets were written (the second's upload failed): two successful backups.
    assert_eq!(value(&m, "ccops_backup_runs_total", &[("outcome", "success")]), Some(2.0), "{m:?}");
    assert_eq!(value(&m, "ccops_backup_runs_total", &[("outcome", "failure")]), None, "{m:?}");
    assert_eq!(value(&m, "ccops_backup_runs_total", &[("outcome", "refused")]), Some(1.0), "{m:?}");
    assert_eq!(value(&m, "ccops_backup_last_status", &[]), Some(1.0), "the refusal is not the last backup: {m:?}");

    // A dry run pings nothing.
    l.run(&["backup", "--dry-run"]).code(0);
    assert_eq!(pings(&hook.received()).len(), 6);
}

#[test]
fn a_ping_host_that_is_down_changes_nothing_but_one_warning() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}{CHECK}");
    let l = Light::new("pingdown", &format!("  ping_url: {url}\n"));
    l.compose(&["up", "-d"]);
    let r = l.run(&["backup"]);
    r.code(0).stderr_has(&format!("could not ping the monitor at 127.0.0.1:{closed} (cannot connect"));
    r.stderr_has("the start ping failed too").stderr_has("the backup itself ended as success");
    assert_eq!(r.stderr.matches("warning").count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("5f1c9a7e"), "the ping URL's secret was printed:\n{}", r.stderr);
    assert_eq!(l.sets(), 1);
    let m = l.metrics();
    assert_eq!(value(&m, "ccops_backup_last_status", &[]), Some(1.0), "{m:?}");
    // `config show` masks the URL.
    let shown = l.run(&["config", "show"]);
    assert!(!shown.stdout.contains("5f1c9a7e") && shown.stdout.contains("ping_url"), "{}", shown.stdout);
}

#[test]
fn a_drill_pings_its_own_check_and_fails_it_with_the_checks_that_failed() {
    let hook = Hook::start();
    let drill_check = "/ping/0a6c3e51-9d7f-4b2a-8e14-c5f0d2b7a963";
    let notify = format!("  ping_url: {}\n  ping:\n    drill: {}\n", hook.url(CHECK), hook.url(drill_check));
    let l = Light::new("pingdrill", &notify);
    let cfg = l.dir.join("ccops.yaml");
    let drill = "      stop_services: []\n  drill:\n    checks:\n      - name: report\n        file_exists: /files/report.txt\n        service: app\n";
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap().replace("      stop_services: []\n", drill)).unwrap();
    l.compose(&["up", "-d"]);
    l.compose(&["exec", "-T", "app", "sh", "-c", "echo quarterly > /files/report.txt"]);
    l.run(&["backup"]).code(0);

    // The drill pings its own check; the backup pinged `ping_url`.
    l.run(&["backup", "drill"]).code(0).stderr_has("passed");
    let p = wait_pings(&hook, 4);
    assert_eq!(p.len(), 4, "{p:?}");
    assert_run(&p[0], &p[1], CHECK);
    assert_check_run(drill_check, &p[2], &p[3], drill_check);
    assert!(p[3].3.starts_with("ccops backup drill succeeded (backup 2"), "{p:?}");

    // A check that fails: /fail, and the body names it.
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap().replace("/files/report.txt", "/files/missing.txt"))
        .unwrap();
    l.run(&["backup", "drill"]).code(1);
    let p = wait_pings(&hook, 6);
    assert_check_run(drill_check, &p[4], &p[5], &format!("{drill_check}/fail"));
    assert!(p[5].3.starts_with("ccops backup drill FAILED (backup 2"), "{p:?}");
    assert!(p[5].3.lines().nth(1).is_some_and(|l| l.contains("checks failed: report")), "{p:?}");
}

#[test]
fn the_line_backup_schedule_installs_pings_from_crons_bare_environment() {
    let hook = Hook::start();
    let l = Light::new("pingcron", &format!("  ping_url: {}\n", hook.url(CHECK)));
    l.compose(&["up", "-d"]);
    let r = l.run(&["backup", "schedule", "--print", "--cron", "17 3 * * *"]);
    r.code(0);
    let line = r.stdout.trim();
    // The line appends to the state folder's cron.log: `--print` made the folder.
    assert!(l.dir.join(".ccops").is_dir(), "{line}");
    // What cron runs: the line after its five time fields (the marker is a shell comment).
    let command = line.splitn(6, ' ').nth(5).unwrap();
    assert!(command.contains(" backup >> ") && !command.contains('%'), "{line}");
    // cron gives a job only HOME, LOGNAME, SHELL and PATH (set by the crontab's PATH=).
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap())
        .env("LOGNAME", "root")
        .env("SHELL", "/bin/sh")
        .env("PATH", std::env::var("PATH").unwrap())
        .current_dir("/")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(l.dir.join(".ccops/cron.log")).unwrap_or_default();
    assert!(out.status.success(), "{log}");
    let p = wait_pings(&hook, 2);
    assert_eq!(p.len(), 2, "{p:?}\n{log}");
    assert_run(&p[0], &p[1], CHECK);
    assert!(p[1].3.starts_with("ccops backup succeeded"), "{p:?}");
    assert_eq!(l.sets(), 1);
}

#[test]
fn a_deploys_backup_and_a_rollbacks_restore_are_counted_and_a_refused_deploy_is_not_a_failure() {
    let hook = Hook::start();
    let notify = format!(
        "  webhook_url: {}\n  on: [failure, success]\n  ping:\n    deploy: {}\n    rollback: 'off'\n",
        hook.url("/hooks/T000/secret"),
        hook.url(CHECK)
    );
    let l = Light::new("pingdeploy", &notify);
    let messages = || -> Vec<serde_json::Value> {
        hook.received().into_iter().filter(|r| r.path.starts_with("/hooks/")).map(|r| r.body).collect()
    };

    // v1 starts everything (nothing ran: no backup first); v2 backs the volume up first.
    l.run(&["deploy", "prod", "v1"]).code(0).stderr_has("nothing to back up");
    l.run(&["deploy", "prod", "v2"]).code(0);
    let m = l.metrics();
    assert_eq!(value(&m, "ccops_backup_runs_total", &[("outcome", "success")]), Some(1.0), "{m:?}");
    assert_eq!(value(&m, "ccops_backup_last_status", &[]), Some(1.0), "{m:?}");
    assert!(value(&m, "ccops_backup_last_size_bytes", &[]).is_some_and(|b| b > 0.0), "{m:?}");
    assert!(value(&m, "ccops_backup_last_success_timestamp_seconds", &[]).is_some(), "{m:?}");
    let pre = messages().into_iter().find(|b| b["ccops"]["command"] == "backup").expect("a backup message");
    assert!(pre["text"].as_str().unwrap().ends_with(", as part of the deploy of v2"), "{pre}");
    assert_eq!(pre["ccops"]["outcome"], "success");
    let id = field(&pre, "backup ID").unwrap();

    // Back to v1 with the data from before v2: the restore counts as a restore.
    l.run(&["rollback", "prod", "--with-data", "--yes"]).code(0).stderr_has("rolled back `prod` to v1");
    let m = l.metrics();
    assert_eq!(value(&m, "ccops_restore_last_status", &[]), Some(1.0), "{m:?}");
    assert!(value(&m, "ccops_restore_last_timestamp_seconds", &[]).is_some(), "{m:?}");
    let restore = messages().into_iter().find(|b| b["ccops"]["command"] == "restore").expect("a restore message");
    let text = restore["text"].as_str().unwrap();
    assert!(text.contains(&format!("ccops restore succeeded (backup {id})")), "{restore}");
    assert!(text.ends_with(", as part of the rollback to v1"), "{restore}");

    // Refused twice, before anything changed: the lock is held; a weak secret.
    let lock = l.hold_lock();
    l.run(&["deploy", "prod", "v3"]).code(1).stderr_has("holds the project lock");
    drop(lock);
    l.dir
        .run_env(&["deploy", "prod", "v3"], &[("CCOPS_COMPOSE", "docker compose"), ("API_TOKEN", "changeme")])
        .code(2)
        .stderr_has("weak or placeholder secret(s): API_TOKEN");
    let m = l.metrics();
    let deploys = |outcome| value(&m, "ccops_deploys_total", &[("command", "deploy"), ("outcome", outcome)]);
    assert_eq!((deploys("success"), deploys("refused"), deploys("failure")), (Some(2.0), Some(2.0), None), "{m:?}");
    let last = [("command", "rollback"), ("version", "v1"), ("outcome", "success")];
    assert_eq!(value(&m, "ccops_deploy_last_info", &last), Some(1.0), "a refusal is not the last deploy: {m:?}");
    assert_eq!(value(&m, "ccops_deploy_last_status", &[]), Some(1.0), "{m:?}");
    let refused: Vec<_> = messages().into_iter().filter(|b| b["ccops"]["outcome"] == "refused").collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0]["text"].as_str().unwrap().starts_with(":no_entry: ccops deploy was REFUSED (version v3)"));

    // Deploys ping their check (three runs: two that worked, two refused); the
    // rollback's pings are `off`.
    let p = wait_pings(&hook, 8);
    assert_eq!(p.len(), 8, "{p:?}");
    for (i, end) in
        [CHECK.to_string(), CHECK.into(), format!("{CHECK}/fail"), format!("{CHECK}/fail")].iter().enumerate()
    {
        assert_run(&p[2 * i], &p[2 * i + 1], end);
    }
    assert!(p[7].3.starts_with("ccops deploy was REFUSED (version v3) for project"), "{p:?}");
    assert!(p[7].3.contains("(exit status 2)") && p[7].3.contains("weak or placeholder secret"), "{p:?}");
}
