//! What the resource checks read from the engine: each container's inspect data (its
//! limits, `OOMKilled`, restart count, start and creation times), one stats sample and
//! the OOM kills its memory cgroup counted since it started (read through exec, as the
//! API has no such figure), all containers at once, each bounded by the sample timeout;
//! and the project's `oom` and `die` events of the restart window.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::{EventsOptions, StatsOptions};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::docker::{Container, Engine, LABEL_PROJECT};

/// The least time between the two stats readings of a container, for its CPU use.
const CPU_WINDOW: Duration = Duration::from_millis(200);

/// One container as the resource checks judge it.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub name: String,
    pub service: String,
    pub running: bool,
    /// Bytes in use (page cache that can be dropped left out) and the bytes it may use.
    pub memory: Option<Usage>,
    /// CPUs in use over the sample's window and the CPUs it may use.
    pub cpu: Option<Usage>,
    /// Why there is no stats sample of a running container.
    pub unsampled: Option<String>,
    pub oom_killed: bool,
    pub restart_count: i64,
    pub created: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
    /// `oom` and `die` events of this container within the restart window.
    pub oom_events: u32,
    /// OOM kills in the container since it started: its cgroup's `oom_kill` (v2
    /// `memory.events`, v1 `memory.oom_control`); none when the image has no `cat`.
    pub oom_cgroup: u32,
    pub die_events: u32,
}

/// A use against a limit; `limited` is false when the limit is the host's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub used: f64,
    pub limit: f64,
    pub limited: bool,
}

impl Usage {
    pub fn ratio(&self) -> f64 {
        if self.limit > 0.0 { self.used / self.limit } else { 0.0 }
    }
}

/// Sample every container of `project`, concurrently; events since `window` ago.
pub async fn take(engine: &Engine, project: &str, window: Duration, timeout: Duration) -> anyhow::Result<Vec<Sample>> {
    let containers = engine.containers(project, None).await?;
    let (mut samples, events) = tokio::join!(
        futures_util::future::join_all(containers.iter().map(|c| one(engine, c, timeout))),
        events(engine, project, window, timeout),
    );
    for (s, c) in samples.iter_mut().zip(&containers) {
        if let Some((oom, die)) = events.get(&c.id) {
            (s.oom_events, s.die_events) = (*oom, *die);
        }
    }
    Ok(samples)
}

async fn one(engine: &Engine, c: &Container, timeout: Duration) -> Sample {
    let mut s = Sample {
        name: c.name.clone(),
        service: c.service.clone(),
        running: c.is_running(),
        restart_count: c.restart_count,
        ..Sample::default()
    };
    let Ok(info) = engine.api().inspect_container(&c.id, None).await else {
        s.unsampled = Some("cannot inspect the container".into());
        return s;
    };
    let state = info.state.unwrap_or_default();
    s.oom_killed = state.oom_killed.unwrap_or(false);
    s.started = state.started_at.as_deref().and_then(time).filter(|_| s.running);
    s.created = info.created.as_deref().and_then(time);
    if !s.running {
        return s;
    }
    let host = info.host_config.unwrap_or_default();
    // Two one-shot readings at least CPU_WINDOW apart (the engine answers the second at
    // its collector's next round, within a second); its own two-reading sample
    // (`one-shot=false`) waits for two rounds, about 2 s.
    let shot = || async {
        let opts = StatsOptions { stream: false, one_shot: true };
        engine.api().stats(&c.id, Some(opts)).next().await
    };
    let readings = async {
        let first = shot().await;
        tokio::time::sleep(CPU_WINDOW).await;
        (first, shot().await)
    };
    let (readings, oom) = tokio::join!(tokio::time::timeout(timeout, readings), oom_kills(engine, &c.id, timeout));
    s.oom_cgroup = oom;
    let (before, stats) = match readings {
        Ok((Some(Ok(before)), Some(Ok(now)))) => (before, now),
        Ok((Some(Err(e)), _) | (_, Some(Err(e)))) => {
            s.unsampled = Some(format!("no stats: {}", crate::docker::short_err(&e)));
            return s;
        }
        Ok(_) => {
            s.unsampled = Some("no stats".into());
            return s;
        }
        Err(_) => {
            s.unsampled = Some(format!("no stats sample within {}", humantime::format_duration(timeout)));
            return s;
        }
    };
    s.memory = memory(&stats, host.memory.unwrap_or(0) > 0);
    let cpu_limit = match (host.nano_cpus.unwrap_or(0), host.cpu_quota.unwrap_or(0)) {
        (n, _) if n > 0 => Some(n as f64 / 1e9),
        (_, q) if q > 0 => Some(q as f64 / host.cpu_period.filter(|p| *p > 0).unwrap_or(100_000) as f64),
        _ => None,
    };
    s.cpu = cpu(&stats, &before, cpu_limit);
    s
}

/// The `oom_kill` count of the container's own memory cgroup, read from inside it.
async fn oom_kills(engine: &Engine, id: &str, timeout: Duration) -> u32 {
    let cmd = ["cat", "/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"];
    match tokio::time::timeout(timeout, engine.exec_capture(id, &cmd, &[])).await {
        Ok(Ok((_, out, _))) => oom_kill_line(&out),
        _ => 0,
    }
}

/// `oom_kill N` of a cgroup file; one of the two files is missing, so `cat` exits 1.
pub fn oom_kill_line(text: &str) -> u32 {
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .filter_map(|n| n.trim().parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)).filter(|t| t.timestamp() > 0)
}

/// Memory as `docker stats` shows it: usage less the inactive page cache (cgroup v1
/// `total_inactive_file`, v2 `inactive_file`), which the kernel drops before it kills.
pub fn memory(st: &ContainerStatsResponse, limited: bool) -> Option<Usage> {
    let m = st.memory_stats.as_ref()?;
    let usage = m.usage? as f64;
    let stats = m.stats.clone().unwrap_or_default();
    let cache = stats.get("total_inactive_file").or_else(|| stats.get("inactive_file")).copied().unwrap_or(0) as f64;
    let used = if cache < usage { usage - cache } else { usage };
    Some(Usage { used, limit: m.limit? as f64, limited })
}

/// CPUs in use between two readings, against `limit` CPUs, else the host's online CPUs.
pub fn cpu(now: &ContainerStatsResponse, before: &ContainerStatsResponse, limit: Option<f64>) -> Option<Usage> {
    let (now, before) = (now.cpu_stats.as_ref()?, before.cpu_stats.as_ref()?);
    let total = |c: &bollard::models::ContainerCpuStats| c.cpu_usage.as_ref().and_then(|u| u.total_usage);
    let (used_now, used_before) = (total(now)?, total(before)?);
    let (sys_now, sys_before) = (now.system_cpu_usage?, before.system_cpu_usage?);
    if sys_now <= sys_before || sys_before == 0 {
        return None;
    }
    let host = now
        .online_cpus
        .filter(|n| *n > 0)
        .map(f64::from)
        .or_else(|| now.cpu_usage.as_ref()?.percpu_usage.as_ref().map(|p| p.len() as f64))
        .filter(|n| *n > 0.0)?;
    let used = used_now.saturating_sub(used_before) as f64 / (sys_now - sys_before) as f64 * host;
    Some(Usage { used, limit: limit.unwrap_or(host), limited: limit.is_some() })
}

/// Per container id, its `oom` and `die` events since `window` ago. The engine keeps its
/// last events in memory only (256 on current engines), so on a busy engine this can
/// count fewer than happened; the checks also read the restart count and creation time.
async fn events(engine: &Engine, project: &str, window: Duration, timeout: Duration) -> HashMap<String, (u32, u32)> {
    let now = Utc::now().timestamp();
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![format!("{LABEL_PROJECT}={project}")]),
        ("event".to_string(), vec!["oom".to_string(), "die".to_string()]),
    ]);
    let opts = EventsOptions {
        since: Some((now - window.as_secs() as i64).to_string()),
        until: Some(now.to_string()),
        filters: Some(filters),
    };
    let mut out: HashMap<String, (u32, u32)> = HashMap::new();
    let read = engine.api().events(Some(opts)).for_each(|e| {
        if let Ok(e) = e
            && let Some(id) = e.actor.and_then(|a| a.id)
        {
            let counts = out.entry(id).or_default();
            match e.action.as_deref() {
                Some("oom") => counts.0 += 1,
                Some("die") => counts.1 += 1,
                _ => {}
            }
        }
        std::future::ready(())
    });
    // An engine that holds the stream open past `until` is cut off: counts so far stand.
    let _ = tokio::time::timeout(timeout, read).await;
    out
}
