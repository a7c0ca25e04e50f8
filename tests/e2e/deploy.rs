//! `ccops deploy`, `rollback`, `releases`, `scale` and `migrate` on examples/commandcenter
//! running for real: releases v1.0.0 and v1.1.0 (one more migration), the deliberately
//! broken v1.2.0 and the unbuildable v9.9.9, behind the nginx proxy, on Compose v2 and v1.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::notify::{Hook, field, parse_prometheus, value};
use crate::stack::{Flavour, Stack};
use crate::support::{Background, Dir};

const PASSWORD: &str = "k8Jq2vX0pLm3Zr7wQ4tY";

/// A client that asks the proxy for /health every 50 ms and remembers every failure.
struct Poller {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Polled>,
}

#[derive(Debug, Default)]
struct Polled {
    requests: usize,
    failures: Vec<String>,
    versions: BTreeMap<String, usize>,
}

fn get_health(port: u16) -> Result<(u16, String), String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| format!("send: {e}"))?;
    let mut text = String::new();
    c.read_to_string(&mut text).map_err(|e| format!("read: {e}"))?;
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {text:?}"))?;
    Ok((code, text.split("\r\n\r\n").nth(1).unwrap_or("").to_string()))
}

fn version_in(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["version"].as_str().map(String::from)
}

impl Poller {
    fn start(port: u16) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut p = Polled::default();
            let t0 = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                p.requests += 1;
                match get_health(port) {
                    Ok((200, body)) => *p.versions.entry(version_in(&body).unwrap_or_default()).or_default() += 1,
                    Ok((code, body)) => p.failures.push(format!("{:?}: HTTP {code} {}", t0.elapsed(), body.trim())),
                    Err(e) => p.failures.push(format!("{:?}: {e}", t0.elapsed())),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            p
        });
        Poller { stop, handle }
    }

    fn finish(self) -> Polled {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

/// The version /health reports through the proxy.
fn live(s: &Stack) -> String {
    let (code, body) = s.proxy_http("/health");
    assert_eq!(code, 200, "/health through the proxy: {body}");
    version_in(&body).unwrap_or_default()
}

fn migrations(s: &Stack) -> String {
    s.psql("SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM schema_migrations")
}

/// Running and healthy containers of a service.
fn healthy(s: &Stack, service: &str) -> usize {
    s.containers_of(service).iter().filter(|(_, _, st)| st.starts_with("Up") && st.contains("(healthy)")).count()
}

fn releases(s: &Stack) -> serde_json::Value {
    let r = s.ccops(&["releases", "production", "--json"]);
    r.code(0);
    r.json()
}

fn stack(tag: &str, flavour: Flavour) -> Stack {
    let s = Stack::new(tag, flavour);
    s.set_env("DB_PASSWORD", PASSWORD);
    s
}

/// Deploys and rollbacks of `s` report to a webhook listener (every outcome) and to a
/// metrics textfile; the second value reads that file's series.
fn observed(s: &Stack) -> (Hook, impl Fn() -> BTreeMap<String, f64>) {
    let hook = Hook::start();
    let prom = s.path().join("ccops.prom");
    s.edit(
        "ccops.yaml",
        "state_directory: .ccops\n",
        &format!(
            "state_directory: .ccops\nnotify:\n  webhook_url: {}\n  on: [failure, success]\nmetrics:\n  textfile: {}\n",
            hook.url("/hooks/deploys"),
            prom.display()
        ),
    );
    (hook, move || parse_prometheus(&std::fs::read_to_string(&prom).unwrap()).unwrap())
}

/// The `n`-th (from 0) webhook message about a deploy or rollback itself: the backup a
/// deploy takes first sends one of its own.
fn deploy_message(hook: &Hook, n: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got: Vec<serde_json::Value> = hook
            .received()
            .into_iter()
            .map(|r| r.body)
            .filter(|b| b["ccops"]["command"] == "deploy" || b["ccops"]["command"] == "rollback")
            .collect();
        if let Some(b) = got.get(n) {
            return b.clone();
        }
        assert!(Instant::now() < deadline, "no deploy message #{n}: {:?}", hook.received());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn deploy_scale_fail_and_roll_back_without_downtime_v2() {
    let s = stack("deploy", Flavour::V2);
    s.start();

    // Refused before anything changes: an unknown environment, a weak secret.
    s.ccops(&["deploy", "prodution", "v1.0.0"])
        .code(2)
        .stderr_has("unknown environment `prodution`")
        .stderr_has("`production`");
    s.ccops_env(&["deploy", "production", "v1.0.0"], &[("DB_PASSWORD", "changeme")])
        .code(2)
        .stderr_has("weak or placeholder secret(s): DB_PASSWORD")
        .stderr_has("--allow-weak-secrets");
    let r = s.ccops(&["deploy", "production", "v1.1.0", "--dry-run"]);
    r.code(0).stderr_has("dry run: the plan").stderr_has("backend").stderr_has("nothing was changed");
    assert_eq!(releases(&s)["releases"].as_array().unwrap().len(), 0, "a dry run records nothing");

    // v1.0.0: the first release; its migration runs in a one-off container of the image.
    let r = s.ccops(&["deploy", "production", "v1.0.0"]);
    r.code(0)
        .stderr_has("[1/10] project lock")
        .stderr_has("[6/10] migrations")
        .stderr_has("applying 20240101000000_create_notes");
    r.stderr_has("[10/10] post_deploy hooks").stderr_has("deployed v1.0.0 (release #1)");
    assert_eq!(migrations(&s), "20240101000000");
    assert_eq!(live(&s), "v1.0.0");

    // Two replicas behind the proxy, kept by every deploy from now on.
    s.ccops(&["scale", "production", "backend=2"]).code(0).stderr_has("backend: 2 ready");
    assert_eq!(healthy(&s, "backend"), 2);

    // v1.1.0 start-first while a client polls through the proxy: not one failed request.
    let poll = Poller::start(s.proxy_port);
    std::thread::sleep(Duration::from_millis(500));
    let r = s.ccops(&["deploy", "production", "v1.1.0"]);
    std::thread::sleep(Duration::from_millis(500));
    let polled = poll.finish();
    r.code(0).stderr_has("start-first").stderr_has("applying 20240601000000_add_note_priority").stderr_has("backup 2");
    assert!(polled.failures.is_empty(), "failed requests during the deploy: {polled:?}\n{}", r.stderr);
    assert!(
        polled.requests > 40 && polled.versions.contains_key("v1.0.0") && polled.versions.contains_key("v1.1.0"),
        "{polled:?}"
    );
    assert_eq!(live(&s), "v1.1.0");
    assert_eq!(migrations(&s), "20240101000000,20240601000000");
    assert_eq!(healthy(&s, "backend"), 2);

    // v1.2.0 never turns healthy: exit 1, its containers go, v1.1.0 serves throughout.
    let poll = Poller::start(s.proxy_port);
    let r = s.ccops(&["deploy", "production", "v1.2.0"]);
    let polled = poll.finish();
    r.code(1).stderr_has("is unhealthy").stderr_has("503").stderr_has("v1.1.0 (release #2) is still serving");
    assert!(polled.failures.is_empty(), "failed requests during the failed deploy: {polled:?}");
    assert_eq!(polled.versions.keys().collect::<Vec<_>>(), ["v1.1.0"], "{polled:?}");
    assert_eq!(live(&s), "v1.1.0");
    assert_eq!(s.containers_of("backend").len(), 2, "{:?}", s.containers_of("backend"));

    // The history: all three, with outcomes, images, backups, schema.
    let doc = releases(&s);
    let rs = doc["releases"].as_array().unwrap();
    let summary: Vec<(&str, &str)> =
        rs.iter().map(|r| (r["version"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(summary, [("v1.0.0", "success"), ("v1.1.0", "success"), ("v1.2.0", "failed")]);
    assert_eq!(doc["live"], 2);
    assert!(rs[2]["reason"].as_str().unwrap().contains("unhealthy"), "{}", rs[2]);
    assert!(rs[1]["images"]["backend"]["id"].as_str().unwrap().starts_with("sha256:"), "{}", rs[1]);
    assert!(rs[1]["backup_id"].is_string() && rs[1]["operator"].as_str().unwrap().contains('@'), "{}", rs[1]);
    assert!(rs[1]["migrations"]["after"].as_str().unwrap().contains("20240601000000"), "{}", rs[1]);
    assert!(rs[1]["steps"].as_array().unwrap().len() == 10, "{}", rs[1]);
    s.ccops(&["releases", "production"])
        .code(0)
        .stdout_has("v1.1.0 (live)")
        .stdout_has("failed: ")
        .stdout_has("v1.0.0");

    // Back to v1.0.0: the schema is newer than it, so say so; --with-data puts the data
    // from before v1.1.0 back (the restore keeps a safety backup first).
    s.ccops(&["rollback", "production", "--dry-run"]).code(0).stderr_has("v1.0.0 is older than the database schema");
    let r = s.ccops(&["rollback", "production", "--with-data", "--yes"]);
    r.code(0).stderr_has("rolled back `production` to v1.0.0 (release #1)").stderr_has("safety backup");
    assert_eq!(live(&s), "v1.0.0");
    assert_eq!(migrations(&s), "20240101000000", "the restore brought the schema of v1.0.0 back");
    assert_eq!(releases(&s)["live"], 4);

    // Three replicas, kept by the next deploy.
    s.ccops(&["scale", "production", "backend=3"]).code(0);
    assert_eq!(healthy(&s, "backend"), 3);
    s.ccops(&["deploy", "production", "v1.1.0"]).code(0);
    assert_eq!(live(&s), "v1.1.0");
    assert_eq!(healthy(&s, "backend"), 3, "{:?}", s.containers_of("backend"));
    s.ccops(&["health"]).code(0);
    s.ccops(&["migrate", "production", "status"]).code(0).stdout_has("applied  20240601000000_add_note_priority");
}

#[test]
fn first_deploy_auto_rollback_lock_and_interrupt_v1() {
    let s = stack("deployv1", Flavour::V1);
    // Without the example's `order: start-first`, its one backend replica is replaced
    // stop-first: the path this test takes for the failed deploy below.
    s.edit("docker-compose.prod.yml", "      update_config:\n        order: start-first\n", "");
    let (hook, metrics) = observed(&s);
    // Nothing runs: the first deploy builds, starts the database for the migrations, then
    // everything else.
    let r = s.ccops(&["deploy", "production", "v1.0.0"]);
    r.code(0).stderr_has("nothing runs yet (first deploy)").stderr_has("starting postgres, redis first");
    assert_eq!(live(&s), "v1.0.0");
    assert_eq!(s.http("/health").0, 200, "BACKEND_PORT serves the API as before");
    let ok = deploy_message(&hook, 0);
    assert!(ok["text"].as_str().unwrap().contains("ccops deploy succeeded (version v1.0.0)"), "{ok}");
    assert_eq!(field(&ok, "environment").as_deref(), Some("production"));

    // A version that cannot be built changes nothing.
    let r = s.ccops(&["deploy", "production", "v9.9.9"]);
    r.code(1).stderr_has("cannot be built").stderr_has("unknown release").stderr_has("still serving");
    assert_eq!(live(&s), "v1.0.0");
    let failed = deploy_message(&hook, 1);
    assert!(failed["text"].as_str().unwrap().contains("ccops deploy FAILED (version v9.9.9)"), "{failed}");
    assert!(field(&failed, "error").unwrap().contains("cannot be built"), "{failed}");

    // One replica is replaced stop-first; when the new one never turns healthy, the
    // previous release comes back by its recorded image.
    let r = s.ccops(&["deploy", "production", "v1.2.0"]);
    r.code(1).stderr_has("stop-first").stderr_has("is unhealthy").stderr_has("[auto-rollback] going back to v1.0.0");
    r.stderr_has("[auto-rollback] done: backend").stderr_has("rolled back to v1.0.0 (release #1)");
    assert_eq!(live(&s), "v1.0.0");
    let last = &releases(&s)["releases"].as_array().unwrap().clone()[2];
    assert_eq!(last["auto_rollback"]["outcome"], "success", "{last}");
    // Monitoring tells the three apart: a success, a failure, a failure rolled back.
    let back = deploy_message(&hook, 2);
    assert!(field(&back, "error").unwrap().contains("rolled back to v1.0.0"), "{back}");
    assert_eq!(back["ccops"]["version"], "v1.2.0", "{back}");
    let m = metrics();
    for (outcome, n) in [("success", 1.0), ("failure", 1.0), ("rolled_back", 1.0)] {
        let labels = [("command", "deploy"), ("outcome", outcome)];
        assert_eq!(value(&m, "ccops_deploys_total", &labels), Some(n), "{outcome}: {m:?}");
    }
    assert_eq!(value(&m, "ccops_deploy_last_status", &[("environment", "production")]), Some(0.0));
    let info = [("version", "v1.2.0"), ("outcome", "rolled_back")];
    assert_eq!(value(&m, "ccops_deploy_last_info", &info), Some(1.0), "{m:?}");

    // Two deploys at once: the second names the first. Ctrl-C on the first (start-first,
    // waiting for its broken containers) removes them, records the release as
    // interrupted, releases the lock and exits 130.
    s.ccops(&["scale", "production", "backend=2"]).code(0);
    let bg = Background::spawn(s.ccops_cmd(&["deploy", "production", "v1.2.0"]));
    bg.wait_for("to be healthy", 180);
    s.ccops(&["deploy", "production", "v1.0.0"])
        .code(1)
        .stderr_has("another ccops operation holds the project lock")
        .stderr_has("`ccops deploy production v1.2.0`");
    bg.signal("INT");
    let (code, err) = bg.finish();
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains("removing them, the old ones keep serving")
            && err.contains("deploy of v1.2.0 interrupted during `rollout`"),
        "{err}"
    );
    assert_eq!(live(&s), "v1.0.0");
    assert_eq!(s.containers_of("backend").len(), 2, "{:?}", s.containers_of("backend"));
    let last = releases(&s)["releases"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["outcome"], "interrupted", "{last}");
    assert_eq!(last["steps"].as_array().unwrap().last().unwrap()["status"], "interrupted", "{last}");

    // The lock is free again; start-first to completion on v1 too.
    s.ccops(&["deploy", "production", "v1.1.0"])
        .code(0)
        .stderr_has("start-first")
        .stderr_has("draining the 2 old one(s) one at a time");
    assert_eq!(live(&s), "v1.1.0");
    assert_eq!(healthy(&s, "backend"), 2, "{:?}", s.containers_of("backend"));
    assert_eq!(migrations(&s), "20240101000000,20240601000000");
}

#[test]
fn sql_migrations_transactions_checksums_and_advisory_lock_v2() {
    let s = stack("migrate", Flavour::V2);
    s.edit(
        "ccops.yaml",
        "  service: backend\n  command: [python3, /app/migrate.py, up]\n  status_command: [python3, /app/migrate.py, status]\n",
        "  sql_directory: backend/migrations\n  database: { service: postgres, database: commandcenter, user: commandcenter }\n",
    );
    s.edit(
        "ccops.yaml",
        "  auto_rollback: true\n",
        "  auto_rollback: true\n  hooks:\n    pre_deploy: ['echo \"pre $$CCOPS_ENV $$CCOPS_VERSION\" >> hooks.log']\n    post_deploy: ['echo \"post $$CCOPS_VERSION\" >> hooks.log']\n",
    );
    let (hook, metrics) = observed(&s);
    s.start();
    s.ccops(&["migrate", "production", "status"]).code(1).stdout_has("20240101000000").stdout_has("pending");
    s.ccops(&["migrate", "production", "--dry-run"]).code(0).stderr_has("2 pending");
    assert_eq!(migrations_or_none(&s), "none");
    s.ccops(&["migrate", "production"]).code(0).stderr_has("applied 20240601000000_add_note_priority");
    assert_eq!(migrations(&s), "20240101000000,20240601000000");
    assert_eq!(s.psql("SELECT count(*) FROM ccops_schema_checksums WHERE length(sha256) = 64"), "2");
    let st = s.ccops(&["migrate", "production", "status", "--json"]);
    st.code(0);
    assert!(st.json()["rows"].as_array().unwrap().iter().all(|r| r["state"] == "applied"), "{}", st.stdout);

    // A migration that fails half-way: its transaction is rolled back, the deploy stops
    // before the rollout, the old version keeps serving.
    let bad = "backend/migrations/20240701000000_add_tags.sql";
    std::fs::write(
        s.path().join(bad),
        "-- migrate:up\nCREATE TABLE tags (id serial PRIMARY KEY, name text);\nINSERT INTO no_such_table VALUES (1);\n-- migrate:down\nDROP TABLE tags;\n",
    )
    .unwrap();
    let r = s.ccops(&["deploy", "production", "v1.1.0"]);
    r.code(1).stderr_has("migration `20240701000000_add_tags` failed and was rolled back").stderr_has("no_such_table");
    r.stderr_has("still serving");
    assert_eq!(s.psql("SELECT to_regclass('tags') IS NULL"), "t", "the failed migration left its table behind");
    assert_eq!(migrations(&s), "20240101000000,20240601000000");
    assert_eq!(live(&s), "v1.0.0");
    let last = releases(&s)["releases"].as_array().unwrap().last().unwrap().clone();
    assert!(last["outcome"] == "failed" && last["reason"].as_str().unwrap().starts_with("migrate:"), "{last}");
    // The migration's transaction was rolled back, the release was not: a plain failure.
    let m = metrics();
    assert_eq!(value(&m, "ccops_deploys_total", &[("outcome", "failure")]), Some(1.0), "{m:?}");
    assert_eq!(value(&m, "ccops_deploys_total", &[("outcome", "rolled_back")]), None, "{m:?}");

    // Fixed, it goes through; a second run waits for the advisory lock another holds.
    // No VERSION given: the version variable's value is deployed, and reported.
    std::fs::write(
        s.path().join(bad),
        "-- migrate:up\nCREATE TABLE tags (id serial PRIMARY KEY, name text);\n-- migrate:down\nDROP TABLE tags;\n",
    )
    .unwrap();
    s.set_env("APP_VERSION", "v1.1.0");
    s.ccops(&["deploy", "production"])
        .code(0)
        .stderr_has("no VERSION given: deploying v1.1.0")
        .stderr_has("applied 20240701000000_add_tags");
    assert_eq!(live(&s), "v1.1.0");
    let ok = deploy_message(&hook, 1);
    assert!(ok["text"].as_str().unwrap().contains("ccops deploy succeeded (version v1.1.0)"), "{ok}");
    let info = [("command", "deploy"), ("version", "v1.1.0"), ("outcome", "success")];
    assert_eq!(value(&metrics(), "ccops_deploy_last_info", &info), Some(1.0));
    let hooks = std::fs::read_to_string(s.path().join("hooks.log")).unwrap();
    assert_eq!(
        hooks, "pre production v1.1.0\npre production v1.1.0\npost v1.1.0\n",
        "hooks ran with their variables, post only after success"
    );
    std::fs::write(
        s.path().join("backend/migrations/20240801000000_more.sql"),
        "-- migrate:up\nALTER TABLE tags ADD COLUMN color text;\n",
    )
    .unwrap();
    let pg = s.container("postgres");
    let mut holder = std::process::Command::new("docker")
        .args(["exec", &pg, "psql", "-U", "commandcenter", "-d", "commandcenter", "-c"])
        .arg("SELECT pg_advisory_lock(426870009971), pg_sleep(5)")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    s.ccops(&["migrate", "production"])
        .code(0)
        .stderr_has("another migration run holds the lock")
        .stderr_has("applied 20240801000000_more");
    assert!(t.elapsed() > Duration::from_secs(2), "did not wait for the lock");
    holder.wait().unwrap();

    // An applied file that changed is refused, and `status` shows it.
    let first = s.path().join("backend/migrations/20240101000000_create_notes.sql");
    let text = std::fs::read_to_string(&first).unwrap();
    std::fs::write(&first, text + "-- edited after the fact\n").unwrap();
    s.ccops(&["migrate", "production"]).code(1).stderr_has("was changed after it was applied");
    s.ccops(&["migrate", "production", "status"]).code(1).stdout_has("changed");
}

fn migrations_or_none(s: &Stack) -> String {
    let t = s.psql("SELECT to_regclass('schema_migrations') IS NULL");
    if t == "t" { "none".into() } else { migrations(s) }
}

#[test]
fn scale_and_rollback_refuse_what_they_cannot_do() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  named:\n    image: ccops-test/base:latest\n    container_name: ccops-e2e-named\n  ported:\n    image: ccops-test/base:latest\n    ports: ['127.0.0.1:18999:80']\n  free:\n    image: ccops-test/base:latest\n",
    );
    d.write("ccops.yaml", "project: ccopsscalerefuse\nenvironments:\n  staging:\n    compose_files: [compose.yaml]\n");
    d.run(&["scale", "staging", "named=2"])
        .code(2)
        .stderr_has("service `named` cannot have 2 replicas")
        .stderr_has("container_name");
    d.run(&["scale", "staging", "ported=3"]).code(2).stderr_has("fixed host port(s) 18999");
    d.run(&["scale", "staging", "fre=2"]).code(2).stderr_has("no service `fre`").stderr_has("did you mean `free`?");
    d.run(&["scale", "staging", "free=two"]).code(2).stderr_has("not a number");
    d.run(&["deploy", "nowhere", "v1"]).code(2).stderr_has("unknown environment `nowhere`");
    d.run(&["releases", "staging"]).code(0).stderr_has("no release");
    d.run(&["rollback", "staging"]).code(2).stderr_has("nothing to roll back to");
    d.run(&["migrate", "staging", "status"]).code(2).stderr_has("no `migrate` section");
}
