//! `ccops health` against examples/commandcenter running for real, on Compose v2 and v1.

use std::time::{Duration, Instant};

use crate::stack::{Flavour, Stack};

#[test]
fn healthy_stack_then_postgres_stopped_v2() {
    let s = Stack::up("health", Flavour::V2);

    let r = s.ccops(&["health"]);
    r.code(0);
    for name in ["postgres", "redis", "backend", "worker", "api", "api-tcp", "disk", "backup-age"] {
        r.stdout_has(name);
    }
    r.stdout_has("no backup yet");

    let r = s.ccops(&["health", "--json"]);
    r.code(0);
    let doc = r.json();
    assert_eq!(doc["status"], "warn", "no backup yet is a warning: {doc}");
    let checks = doc["checks"].as_array().unwrap();
    assert!(checks.len() >= 8, "{doc}");
    for c in checks {
        for key in ["name", "status", "detail", "duration_ms"] {
            assert!(!c[key].is_null(), "check lacks {key}: {c}");
        }
    }

    let r = s.ccops(&["health", "--format", "prometheus"]);
    r.code(0).stdout_has("# TYPE ccops_health_check_up gauge");
    assert!(r.stdout.contains(&format!("ccops_health_check_up{{project=\"{}\",environment=\"production\",check=\"api\",kind=\"http\"}} 1", s.project)), "{}", r.stdout);

    s.docker(&["stop", "-t", "5", &s.container("postgres")]);
    let started = Instant::now();
    let r = s.ccops(&["health"]);
    let took = started.elapsed();
    r.code(1).stderr_has("unhealthy").stderr_has("postgres").stderr_has("api");
    r.stdout_has("degraded");
    assert!(took < Duration::from_secs(10), "health took {took:?}");

    let r = s.ccops(&["health", "--format", "nagios"]);
    r.code(2);
    assert_eq!(r.stdout.trim().lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("CCOPS CRITICAL - ") && r.stdout.contains("postgres fail") && r.stdout.contains(" | checks="), "{}", r.stdout);

    let r = s.ccops(&["health", "--json"]);
    r.code(1);
    let doc = r.json();
    let pg = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "postgres").unwrap().clone();
    assert_eq!(pg["status"], "fail", "{pg}");
    assert!(pg["detail"].as_str().unwrap().contains("exited"), "{pg}");

    // --wait polls until the stack is healthy again.
    s.docker(&["start", &s.container("postgres")]);
    s.ccops(&["health", "--wait", "--timeout", "90s"]).code(0);
}

#[test]
fn healthy_stack_v1() {
    let s = Stack::up("healthv1", Flavour::V1);
    let r = s.ccops(&["health", "--json"]);
    r.code(0);
    let doc = r.json();
    let names: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for n in ["postgres", "redis", "backend", "worker", "api"] {
        assert!(names.contains(&n), "{names:?}");
    }
    s.docker(&["stop", "-t", "5", &s.container("redis")]);
    s.ccops(&["health"]).code(1).stderr_has("redis");
}

#[test]
fn health_wait_gives_up_at_the_timeout() {
    let s = Stack::new("healthwait", Flavour::V2);
    // Nothing started: every service is missing, --wait must stop at its timeout.
    let started = Instant::now();
    let r = s.ccops(&["health", "--wait", "--timeout", "3s"]);
    r.code(1).stdout_has("no container");
    assert!(started.elapsed() < Duration::from_secs(15));
}
