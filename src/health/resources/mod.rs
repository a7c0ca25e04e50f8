//! `health.resources`: per compose service, memory against the container's limit, CPU
//! against its CPU limit, and restarts and OOM kills, from one stats sample and the
//! inspect data of each container (sample.rs). Three checks a service:
//!
//! - `memory:<service>`: the busiest replica's memory against its limit; a service
//!   without a memory limit warns, its figure taken against the host's memory.
//! - `cpu:<service>`: the busiest replica's CPUs against `cpus:` (else the host's CPUs).
//! - `restarts:<service>`: restarts within the restart window (a restart loop fails),
//!   OOM kills, and how long the containers have been up.
//!
//! Waiting does not relieve pressure, so `health --wait` does not wait on these checks
//! ([`keeps_waiting`]); their verdict still counts in the report. Deploy's health wait and
//! restore do not run them at all (`Scope::Readiness`).

mod sample;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;

use super::{CheckResult, Outcome, Report, Status, finish};
use crate::compose::Model;
use crate::config::{Resources, Settings};
use crate::docker::Engine;
use sample::{Sample, Usage};

/// The kinds of the resource checks.
pub const KINDS: [&str; 3] = ["memory", "cpu", "restarts"];

/// Whether `--wait` should poll again: a check other than the resource checks fails.
pub fn keeps_waiting(r: &Report) -> bool {
    r.checks.iter().any(|c| c.status == Status::Fail && !KINDS.contains(&c.kind))
}

/// The resource checks of every service that has containers; none without an engine
/// (the container checks report that).
pub async fn check(settings: &Settings, engine: &Result<Engine, String>, model: &Model) -> Vec<CheckResult> {
    let cfg = &settings.file.health.resources;
    let Ok(engine) = engine else { return vec![] };
    if !cfg.enabled {
        return vec![];
    }
    let t = Instant::now();
    let samples = match sample::take(engine, &settings.project, cfg.restarts_fail.within, cfg.sample_timeout).await {
        Ok(s) => s,
        Err(e) => return vec![finish("resources", "memory", t, Outcome::new(Status::Warn, format!("{e:#}")))],
    };
    let mut by_service: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples.iter().filter(|s| model.services.contains_key(&s.service)) {
        by_service.entry(s.service.as_str()).or_default().push(s);
    }
    let mut out = Vec::new();
    for (service, mine) in by_service {
        let running: Vec<&Sample> = mine.iter().copied().filter(|s| s.running).collect();
        if !running.is_empty() {
            out.push(finish(&format!("memory:{service}"), "memory", t, memory(cfg, &running)));
            out.push(finish(&format!("cpu:{service}"), "cpu", t, cpu(cfg, &running)));
        }
        out.push(finish(&format!("restarts:{service}"), "restarts", t, restarts(cfg, &mine)));
    }
    out
}

/// The replica with the highest ratio, or why none was sampled.
fn busiest<'a>(running: &[&'a Sample], of: impl Fn(&Sample) -> Option<Usage>) -> Result<(&'a Sample, Usage), String> {
    running
        .iter()
        .filter_map(|s| of(s).map(|u| (*s, u)))
        .max_by(|a, b| a.1.ratio().total_cmp(&b.1.ratio()))
        .ok_or_else(|| running.iter().find_map(|s| s.unsampled.clone()).unwrap_or_default())
}

fn replica(running: &[&Sample], s: &Sample) -> String {
    if running.len() > 1 { format!(" ({} of {} replicas)", s.name, running.len()) } else { String::new() }
}

fn level(pct: f64, warn: f64, fail: Option<f64>) -> Status {
    match fail {
        Some(f) if pct >= f => Status::Fail,
        _ if pct >= warn => Status::Warn,
        _ => Status::Ok,
    }
}

pub fn memory(cfg: &Resources, running: &[&Sample]) -> Outcome {
    let (s, u) = match busiest(running, |s| s.memory) {
        Ok(x) => x,
        Err(why) if why.is_empty() => return Outcome::new(Status::Ok, "no memory reading"),
        Err(why) => return Outcome::new(Status::Warn, why),
    };
    let pct = u.ratio() * 100.0;
    let (warn, fail) = (cfg.memory_warn.0, cfg.memory_fail.0);
    let mut status = level(pct, warn, Some(fail));
    let detail = if u.limited {
        format!("{} of {} limit ({pct:.1}%){}", mib(u.used), mib(u.limit), replica(running, s))
    } else {
        status = status.max(Status::Warn);
        format!(
            "no memory limit: {} of {} host memory ({pct:.1}%){}; set one (deploy.resources.limits.memory or mem_limit)",
            mib(u.used),
            mib(u.limit),
            replica(running, s)
        )
    };
    Outcome::new(status, detail)
        .metric("mem", pct, "%")
        .metric("mem_warn", warn, "")
        .metric("mem_crit", fail, "")
        .metric("mem_used", u.used, "B")
        .metric("mem_limit", u.limit, "B")
}

pub fn cpu(cfg: &Resources, running: &[&Sample]) -> Outcome {
    let (s, u) = match busiest(running, |s| s.cpu) {
        Ok(x) => x,
        // A container that (re)started within the sample has one reading, not two.
        Err(why) if why.is_empty() => return Outcome::new(Status::Ok, "no CPU reading yet (just started)"),
        Err(why) => return Outcome::new(Status::Warn, why),
    };
    let pct = u.ratio() * 100.0;
    let fail = cfg.cpu_fail.map(|p| p.0);
    let of = if u.limited { "limit" } else { "host CPUs, no CPU limit" };
    let detail = format!("{:.2} of {} CPUs {of} ({pct:.1}%){}", u.used, trim(u.limit), replica(running, s));
    let mut o = Outcome::new(level(pct, cfg.cpu_warn.0, fail), detail).metric("cpu", pct, "%").metric(
        "cpu_warn",
        cfg.cpu_warn.0,
        "",
    );
    if let Some(f) = fail {
        o = o.metric("cpu_crit", f, "");
    }
    o
}

/// Restarts within the window: the `die` events seen there (never more than the restart
/// count), or the whole restart count when the container was created within the window.
fn recent_restarts(s: &Sample, window: chrono::Duration) -> i64 {
    let by_events = i64::from(s.die_events).min(s.restart_count);
    let young = s.created.is_some_and(|c| Utc::now() - c <= window);
    if young { by_events.max(s.restart_count) } else { by_events }
}

pub fn restarts(cfg: &Resources, mine: &[&Sample]) -> Outcome {
    let rule = cfg.restarts_fail;
    let window = chrono::Duration::from_std(rule.within).unwrap_or(chrono::Duration::MAX);
    let total: i64 = mine.iter().map(|s| s.restart_count).sum();
    let recent: i64 = mine.iter().map(|s| recent_restarts(s, window)).sum();
    // OOM kills: each container's cgroup counts them since it started (with
    // `OOMKilled` of its last exit); when it counted none, as when the kill took the
    // container down, the engine's `oom` events of the window. The events are not the
    // count itself: an engine can send more than one for a single kill. A kill known
    // to be in the window (an event, or a start within it) fails.
    let now = Utc::now();
    let (mut oom_recent, mut oom_older) = (0u32, 0u32);
    for s in mine {
        let started_recently = s.started.is_some_and(|t| now - t <= window);
        let since_start = s.oom_cgroup.max(u32::from(s.oom_killed));
        let kills = if since_start > 0 { since_start } else { s.oom_events };
        if s.oom_events > 0 || started_recently {
            oom_recent += kills;
        } else {
            oom_older += kills;
        }
    }
    let ooms = oom_recent + oom_older;
    let within = humantime::format_duration(rule.within);
    let mut status = Status::Ok;
    let mut parts = vec![format!("{recent} restarts in the last {within} ({total} in all)")];
    if recent >= i64::from(rule.count) {
        status = Status::Fail;
        parts[0].push_str(&format!(", a restart loop (fails at {rule})"));
    }
    if oom_recent > 0 {
        status = Status::Fail;
        parts.push(format!("OOM-killed {oom_recent} {} in the last {within}", times(oom_recent)));
    }
    if oom_older > 0 {
        status = status.max(Status::Warn);
        parts.push(format!("OOM-killed {oom_older} {} before that", times(oom_older)));
    }
    let up = mine.iter().filter_map(|s| s.started).map(|t| (now - t).num_seconds().max(0)).min();
    if let Some(secs) = up {
        parts.push(format!("up {}", humantime::format_duration(std::time::Duration::from_secs(secs as u64))));
    }
    let mut o = Outcome::new(status, parts.join(", "))
        .metric("restarts", total as f64, "c")
        .metric("restarts_recent", recent as f64, "")
        .metric("restarts_recent_crit", f64::from(rule.count), "")
        .metric("oom_kills", f64::from(ooms), "c");
    if let Some(secs) = up {
        o = o.metric("uptime", secs as f64, "s");
    }
    o
}

fn times(n: u32) -> &'static str {
    if n == 1 { "time" } else { "times" }
}

fn mib(bytes: f64) -> String {
    let m = bytes / 1024.0 / 1024.0;
    if m >= 1024.0 { format!("{:.1} GiB", m / 1024.0) } else { format!("{m:.1} MiB") }
}

fn trim(n: f64) -> String {
    let s = format!("{n:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One per-service family of the Prometheus exposition: (service, value) rows.
pub struct Series {
    pub name: &'static str,
    pub help: &'static str,
    pub rows: Vec<(String, f64)>,
}

/// The per-service series of the Prometheus exposition, from the resource checks' metrics.
pub fn series(r: &Report) -> Vec<Series> {
    let rows = |kind: &str, metric: &str, scale: f64| -> Vec<(String, f64)> {
        r.checks
            .iter()
            .filter(|c| c.kind == kind)
            .filter_map(|c| {
                let service = c.name.split_once(':')?.1.to_string();
                let v = c.metrics.iter().find(|m| m.0 == metric)?.1;
                Some((service, v * scale))
            })
            .collect()
    };
    vec![
        Series {
            name: "ccops_container_memory_ratio",
            help: "Memory in use over the container's memory limit (the host's memory when it has none), busiest replica.",
            rows: rows("memory", "mem", 0.01),
        },
        Series {
            name: "ccops_container_cpu_ratio",
            help: "CPUs in use over the container's CPU limit (the host's CPUs when it has none), busiest replica.",
            rows: rows("cpu", "cpu", 0.01),
        },
        Series {
            name: "ccops_container_oom_kills_total",
            help: "OOM kills in the service's containers: their cgroups' count since they started, else the engine's events in the restart window.",
            rows: rows("restarts", "oom_kills", 1.0),
        },
        Series {
            name: "ccops_container_restarts_total",
            help: "Restarts of the service's current containers (Docker's restart count; recreating a container resets it).",
            rows: rows("restarts", "restarts", 1.0),
        },
    ]
}

#[cfg(test)]
mod tests;
