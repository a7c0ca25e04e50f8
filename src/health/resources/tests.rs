use super::*;
use crate::config::values::{Percent, RestartLoop};

fn cfg() -> Resources {
    Resources::default()
}

fn running(memory: Option<Usage>, cpu: Option<Usage>) -> Sample {
    Sample { name: "p-api-1".into(), service: "api".into(), running: true, memory, cpu, ..Sample::default() }
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn memory_against_the_limit() {
    let s = running(Some(Usage { used: 60.0 * MIB, limit: 64.0 * MIB, limited: true }), None);
    let o = memory(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Fail);
    assert_eq!(o.detail, "60.0 MiB of 64.0 MiB limit (93.8%)");
    assert!(o.metrics.contains(&("mem_crit".into(), 90.0, "")), "{:?}", o.metrics);
    let s = running(Some(Usage { used: 52.0 * MIB, limit: 64.0 * MIB, limited: true }), None);
    assert_eq!(memory(&cfg(), &[&s]).status, Status::Warn);
    let s = running(Some(Usage { used: 10.0 * MIB, limit: 64.0 * MIB, limited: true }), None);
    assert_eq!(memory(&cfg(), &[&s]).status, Status::Ok);
}

#[test]
fn no_memory_limit_warns_and_says_so() {
    let s = running(Some(Usage { used: 10.0 * MIB, limit: 8192.0 * MIB, limited: false }), None);
    let o = memory(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Warn);
    assert!(o.detail.starts_with("no memory limit: 10.0 MiB of 8.0 GiB host memory (0.1%)"), "{}", o.detail);
}

#[test]
fn the_busiest_replica_speaks_for_the_service() {
    let a = running(Some(Usage { used: 1.0, limit: 10.0, limited: true }), None);
    let mut b = running(Some(Usage { used: 9.5, limit: 10.0, limited: true }), None);
    b.name = "p-api-2".into();
    let o = memory(&cfg(), &[&a, &b]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.detail.ends_with("(p-api-2 of 2 replicas)"), "{}", o.detail);
}

#[test]
fn cpu_warns_by_default_and_fails_only_when_asked() {
    let s = running(None, Some(Usage { used: 0.49, limit: 0.5, limited: true }));
    let o = cpu(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Warn);
    assert_eq!(o.detail, "0.49 of 0.5 CPUs limit (98.0%)");
    let c = Resources { cpu_fail: Some(Percent(95.0)), ..cfg() };
    assert_eq!(cpu(&c, &[&s]).status, Status::Fail);
    let idle = running(None, Some(Usage { used: 0.01, limit: 2.0, limited: false }));
    let o = cpu(&cfg(), &[&idle]);
    assert_eq!((o.status, o.detail.as_str()), (Status::Ok, "0.01 of 2 CPUs host CPUs, no CPU limit (0.5%)"));
    let unsampled = Sample { unsampled: Some("no stats sample within 5s".into()), ..running(None, None) };
    assert_eq!(cpu(&cfg(), &[&unsampled]).detail, "no stats sample within 5s");
}

#[test]
fn restart_loops_fail_and_old_restarts_do_not() {
    let young = Sample { restart_count: 3, created: Some(Utc::now()), ..running(None, None) };
    let o = restarts(&cfg(), &[&young]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.detail.starts_with("3 restarts in the last 10m (3 in all), a restart loop"), "{}", o.detail);
    // Restarted five times last week, once in the window (one `die` event).
    let old = Sample {
        restart_count: 5,
        die_events: 1,
        created: Some(Utc::now() - chrono::Duration::days(7)),
        ..running(None, None)
    };
    let o = restarts(&cfg(), &[&old]);
    assert_eq!(o.status, Status::Ok);
    assert!(o.detail.starts_with("1 restarts in the last 10m (5 in all)"), "{}", o.detail);
    let tight =
        Resources { restarts_fail: RestartLoop { count: 1, within: std::time::Duration::from_secs(60) }, ..cfg() };
    assert_eq!(restarts(&tight, &[&old]).status, Status::Fail);
}

#[test]
fn oom_kills_are_counted() {
    // Killed and restarted: the new cgroup counted none, the engine's events tell.
    let s = Sample { oom_events: 2, ..running(None, None) };
    let o = restarts(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.detail.contains("OOM-killed 2 times in the last 10m"), "{}", o.detail);
    assert!(o.metrics.contains(&("oom_kills".into(), 2.0, "c")), "{:?}", o.metrics);
    // One kill the cgroup counted, with three events the engine sent for it: one kill.
    let s = Sample { oom_events: 3, oom_cgroup: 1, ..running(None, None) };
    let o = restarts(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.detail.contains("OOM-killed 1 time in the last 10m"), "{}", o.detail);
    assert!(o.metrics.contains(&("oom_kills".into(), 1.0, "c")), "{:?}", o.metrics);
    // The engine's events are gone; the cgroup counted one kill since a start 5 minutes ago.
    let s = Sample { oom_cgroup: 1, started: Some(Utc::now() - chrono::Duration::minutes(5)), ..running(None, None) };
    let o = restarts(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Fail);
    assert!(o.detail.contains("OOM-killed 1 time in the last 10m"), "{}", o.detail);
    // Up for two days: the kill may be old.
    let s = Sample { oom_cgroup: 3, started: Some(Utc::now() - chrono::Duration::days(2)), ..running(None, None) };
    let o = restarts(&cfg(), &[&s]);
    assert_eq!(o.status, Status::Warn);
    assert!(o.detail.contains("OOM-killed 3 times before that"), "{}", o.detail);
}

#[test]
fn oom_kill_is_read_from_either_cgroup_file() {
    assert_eq!(sample::oom_kill_line("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), 2);
    assert_eq!(sample::oom_kill_line("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"), 1);
    assert_eq!(sample::oom_kill_line(""), 0);
}

#[test]
fn restart_loop_reads_n_in_duration() {
    let r: RestartLoop = "5 in 30m".parse().unwrap();
    assert_eq!((r.count, r.within), (5, std::time::Duration::from_secs(1800)));
    for bad in ["5", "0 in 10m", "x in 10m", "3 in soon"] {
        assert!(bad.parse::<RestartLoop>().is_err(), "{bad}");
    }
}
