//! `ccops health` on resource pressure: a compose project whose services fill their
//! memory limit, get OOM-killed, restart in a loop and spin under `cpus: 0.5`, on the
//! real engine; the figures in the table, JSON, nagios and Prometheus outputs.

use std::time::{Duration, Instant};

use crate::support::{Dir, Run};

const COMPOSE: &str = r#"services:
  fat:
    image: ccops-test/base:latest
    command: sh -c 'head -c 60m /dev/zero > /dev/shm/fill; sleep infinity'
    mem_limit: 64m
    memswap_limit: 64m
    shm_size: 100m
  oom:
    image: ccops-test/base:latest
    command: sh -c 'head -c 100m /dev/zero | tail -c 90m > /dev/null; sleep infinity'
    mem_limit: 32m
    memswap_limit: 32m
  loop:
    image: ccops-test/base:latest
    command: sh -c 'sleep 1; exit 3'
    restart: always
    mem_limit: 64m
  busy:
    image: ccops-test/base:latest
    command: sh -c 'while :; do :; done'
    cpus: 0.5
    mem_limit: 64m
  idle:
    image: ccops-test/base:latest
    command: sleep infinity
"#;

/// A compose project under pressure, taken down when the test ends.
struct Pressure {
    dir: Dir,
    project: String,
}

impl Pressure {
    fn up(tag: &str, compose: &str) -> Pressure {
        let dir = Dir::new();
        let project = format!("ccres{tag}{}", std::process::id());
        dir.write("docker-compose.yml", compose);
        dir.write("ccops.yaml", &format!("project: {project}\n"));
        let p = Pressure { dir, project };
        let up = std::process::Command::new("docker")
            .args(["compose", "-p", &p.project, "up", "-d"])
            .current_dir(p.dir.path())
            .output()
            .unwrap();
        assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
        p
    }

    /// `health --json` until `done` holds for it (the pressures take seconds to build up).
    fn json_until(&self, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let doc = self.dir.run(&["health", "--json"]).json();
            if done(&doc) || Instant::now() >= deadline {
                return doc;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.dir.run(args)
    }
}

impl Drop for Pressure {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["compose", "-p", &self.project, "down", "-v", "-t", "1"])
            .current_dir(self.dir.path())
            .output();
    }
}

fn check(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).cloned().unwrap_or_default()
}

fn detail(c: &serde_json::Value) -> &str {
    c["detail"].as_str().unwrap_or_default()
}

/// The MiB figure a memory check's detail opens with (`60.7 MiB of 64.0 MiB limit …`).
fn mib(c: &serde_json::Value) -> f64 {
    detail(c).split(" MiB").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap_or(-1.0)
}

/// The value of one Prometheus series line that starts with `series`.
fn sample(text: &str, series: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn each_pressure_is_reported_with_its_figure_in_every_format() {
    let p = Pressure::up("all", COMPOSE);
    let doc = p.json_until(|d| {
        mib(&check(d, "memory:fat")) > 55.0
            && check(d, "restarts:loop")["status"] == "fail"
            && detail(&check(d, "restarts:oom")).contains("OOM-killed")
            && check(d, "cpu:busy")["status"] == "warn"
    });

    // 60 MiB written to tmpfs in a 64 MiB container: FAIL, with the figure.
    let fat = check(&doc, "memory:fat");
    assert_eq!(fat["status"], "fail", "{fat}");
    assert!(detail(&fat).contains("MiB of 64.0 MiB limit"), "{fat}");
    assert!((55.0..64.0).contains(&mib(&fat)), "{fat}");

    // A process of the container OOM-killed: the container runs on, the kill is counted.
    let oom = check(&doc, "restarts:oom");
    assert_eq!(oom["status"], "fail", "{oom}");
    let kills: u32 = detail(&oom)
        .split("OOM-killed ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // One process killed once: one kill, however many `oom` events the engine sent.
    assert!(kills == 1 && detail(&oom).contains(" in the last 10m"), "{oom}");
    assert_eq!(check(&doc, "oom")["status"], "ok", "the container itself runs: {doc}");

    // Exiting every second under `restart: always`: a restart loop.
    let lp = check(&doc, "restarts:loop");
    assert_eq!(lp["status"], "fail", "{lp}");
    assert!(detail(&lp).contains("a restart loop (fails at 3 in 10m)"), "{lp}");

    // A busy loop under `cpus: 0.5` warns (no cpu_fail by default), against the limit.
    let busy = check(&doc, "cpu:busy");
    assert_eq!(busy["status"], "warn", "{busy}");
    assert!(detail(&busy).contains("of 0.5 CPUs limit"), "{busy}");

    // No memory limit: a warning that says so; an idle limited service passes.
    let idle = check(&doc, "memory:idle");
    assert_eq!(idle["status"], "warn", "{idle}");
    assert!(detail(&idle).starts_with("no memory limit: "), "{idle}");
    assert_eq!(check(&doc, "memory:busy")["status"], "ok", "{doc}");
    assert_eq!(doc["status"], "fail", "{doc}");

    let r = p.run(&["health"]);
    r.code(1).stdout_has("memory:fat").stdout_has("MiB of 64.0 MiB limit").stdout_has("restart loop");
    r.stderr_has("unhealthy").stderr_has("memory:fat").stderr_has("restarts:loop").stderr_has("restarts:oom");

    // Nagios: the memory figure as perfdata with its warn and crit thresholds.
    let r = p.run(&["health", "--format", "nagios"]);
    r.code(2);
    let perf = r.stdout.split(" | ").nth(1).unwrap_or_default();
    let mem = perf.split(' ').find(|f| f.starts_with("'memory_fat_mem'=")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(mem.ends_with("%;80;90"), "{mem}");
    let pct: f64 = mem.trim_start_matches("'memory_fat_mem'=").split('%').next().unwrap().parse().unwrap();
    assert!((85.0..100.0).contains(&pct), "{mem}");
    // The kill counted again (a second look at a live engine: at least the one kill).
    let nagios_kills = perf.split(' ').find_map(|f| f.strip_prefix("'restarts_oom_oom_kills'="));
    let nagios_kills: f64 = nagios_kills.and_then(|k| k.trim_end_matches('c').parse().ok()).unwrap_or(0.0);
    assert!(nagios_kills >= 1.0, "{perf}");

    // Prometheus: one series per service for each pressure.
    let r = p.run(&["health", "--format", "prometheus"]);
    r.code(1).stdout_has("# TYPE ccops_container_memory_ratio gauge");
    let labels = |svc: &str| format!("{{project=\"{}\",environment=\"default\",service=\"{svc}\"}}", p.project);
    let text = &r.stdout;
    assert!(sample(text, &format!("ccops_container_memory_ratio{}", labels("fat"))) > 0.85, "{text}");
    // The busy loop's share is the machine's to give: its level was judged above; here,
    // that the series carries a figure.
    assert!(sample(text, &format!("ccops_container_cpu_ratio{}", labels("busy"))) > 0.0, "{text}");
    assert!(sample(text, &format!("ccops_container_oom_kills_total{}", labels("oom"))) >= 1.0, "{text}");
    assert!(sample(text, &format!("ccops_container_restarts_total{}", labels("loop"))) >= 3.0, "{text}");
    assert_eq!(sample(text, &format!("ccops_container_restarts_total{}", labels("idle"))), 0.0, "{text}");
}

#[test]
fn wait_does_not_wait_out_resource_pressure() {
    // Only the memory check fails: the containers run.
    let fat = COMPOSE.split("  oom:").next().unwrap();
    let p = Pressure::up("wait", fat);
    let doc = p.json_until(|d| mib(&check(d, "memory:fat")) > 55.0);
    assert_eq!(check(&doc, "fat")["status"], "ok", "{doc}");
    assert_eq!(check(&doc, "memory:fat")["status"], "fail", "{doc}");

    // The verdict comes at once (no `waiting:` line), still failing on the memory check.
    let r = p.run(&["health", "--wait", "--timeout", "60s"]);
    r.code(1).stderr_has("unhealthy: 1 of ").stderr_has("(memory:fat)");
    assert!(!r.stderr.contains("waiting:"), "{}", r.stderr);
}

#[test]
fn thresholds_are_configurable_and_checked_at_load() {
    let p = Pressure::up("cfg", COMPOSE);
    // Memory thresholds above what fat uses, a restart loop of 1000: those pass.
    let cfg = format!(
        "project: {}\nhealth:\n  resources:\n    memory_warn: 99%\n    memory_fail: 100%\n    restarts_fail: 1000 in 1h\n",
        p.project
    );
    p.dir.write("ccops.yaml", &cfg);
    let doc = p.json_until(|d| mib(&check(d, "memory:fat")) > 55.0);
    assert_eq!(check(&doc, "memory:fat")["status"], "ok", "{doc}");
    assert!(detail(&check(&doc, "restarts:loop")).contains("in the last 1h"), "{doc}");
    assert_ne!(check(&doc, "restarts:loop")["status"], "fail", "{doc}");

    p.dir.write("ccops.yaml", &format!("project: {}\nhealth:\n  resources:\n    restarts_fail: often\n", p.project));
    p.run(&["health"]).code(2).stderr_has("`often` is not a restart loop; write `N in DURATION`");
    p.dir.write("ccops.yaml", &format!("project: {}\nhealth:\n  resources:\n    enabled: false\n", p.project));
    let doc = p.run(&["health", "--json"]).json();
    assert!(doc["checks"].as_array().unwrap().iter().all(|c| !c["name"].as_str().unwrap().contains(':')), "{doc}");
}
