//! Waiting until containers are ready: running and `healthy` by their own healthcheck
//! (Docker applies its start period and retries), or, without a healthcheck, running
//! for a few seconds without restarting. Unhealthy, exited or restarting is a failure at
//! once, not after the timeout; the timeout (`deploy.timeout`) bounds the whole wait.
//! Also the last wait of a deploy or rollback: until `ccops health`'s checks pass.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::docker::{Container, Engine};
use crate::output;
use crate::project::Project;

/// How long a container without a healthcheck must run to count as started.
const SETTLE: Duration = Duration::from_secs(3);
/// How often the containers are looked at: a few inspects a round are cheap, and every
/// wait (deploy, rollback, scale, restore) ends up to one poll later than it could.
const POLL: Duration = Duration::from_millis(250);

/// Wait for `expected` ready containers of `service` (only those in `only`, if given).
pub async fn ready(
    engine: &Engine,
    project: &str,
    service: &str,
    only: Option<&[String]>,
    expected: usize,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut since: HashMap<String, (Instant, i64)> = HashMap::new();
    loop {
        let all = super::containers(engine, project, Some(service)).await?;
        let mine: Vec<&Container> = all.iter().filter(|c| only.is_none_or(|ids| ids.contains(&c.id))).collect();
        let mut ready = 0;
        let mut waiting = Vec::new();
        for c in &mine {
            match (c.state.as_str(), c.health.as_deref()) {
                ("exited" | "dead", _) => {
                    bail!(
                        "container {} of service `{service}` exited (code {}){}",
                        c.name,
                        c.exit_code.unwrap_or(-1),
                        logs_hint(c)
                    )
                }
                ("restarting", _) => {
                    bail!("container {} of service `{service}` keeps restarting{}", c.name, logs_hint(c))
                }
                ("running", Some("unhealthy")) => {
                    bail!(
                        "container {} of service `{service}` is unhealthy: {}",
                        c.name,
                        health_detail(engine, &c.id).await
                    )
                }
                ("running", Some("healthy")) => ready += 1,
                ("running", None) => {
                    let (t, restarts) = *since.entry(c.id.clone()).or_insert((Instant::now(), c.restart_count));
                    if restarts != c.restart_count {
                        bail!("container {} of service `{service}` restarted{}", c.name, logs_hint(c));
                    }
                    if t.elapsed() >= SETTLE { ready += 1 } else { waiting.push(format!("{} starting", c.name)) }
                }
                (state, health) => waiting.push(format!("{} {}", c.name, health.unwrap_or(state))),
            }
        }
        if ready >= expected && waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let what = if waiting.is_empty() { format!("{ready} of {expected} ready") } else { waiting.join(", ") };
            bail!(
                "service `{service}` was not ready within {} ({what}); see `docker logs` of its containers",
                humantime::format_duration(timeout)
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {},
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        }
    }
}

fn logs_hint(c: &Container) -> String {
    format!("; see `docker logs {}`", c.name)
}

/// The last healthcheck output of a container, in one line.
async fn health_detail(engine: &Engine, id: &str) -> String {
    let Ok(info) = engine.api().inspect_container(id, None).await else { return "no detail".into() };
    let last = info.state.and_then(|s| s.health).and_then(|h| h.log).and_then(|l| l.into_iter().last());
    match last {
        Some(r) => {
            let out = r.output.unwrap_or_default();
            let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
            let out: String = out.chars().take(300).collect();
            format!(
                "healthcheck exit {}: {}",
                r.exit_code.unwrap_or(-1),
                if out.is_empty() { "no output".into() } else { out }
            )
        }
        None => "no healthcheck result yet".into(),
    }
}

/// The health checks of `ccops health` but the resource checks, polled until none fails
/// (warnings pass).
pub async fn health_suite(p: &Project, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let report = crate::health::run(&p.settings, &p.engine, &p.model, crate::health::Scope::Readiness).await;
        if report.status != crate::health::Status::Fail {
            for c in report.failing() {
                output::status(format!("  {} {}: {}", c.name, c.status.word(), c.detail));
            }
            output::status(format!("  {} checks pass", report.checks.len()));
            return Ok(());
        }
        if Instant::now() >= deadline {
            let bad: Vec<String> = report
                .checks
                .iter()
                .filter(|c| c.status == crate::health::Status::Fail)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            bail!("health checks still failing after {}: {}", humantime::format_duration(timeout), bad.join("; "));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {},
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        }
    }
}
