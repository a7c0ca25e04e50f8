//! After a restore: the restarted containers waited for with deploy's readiness rule, and
//! the health checks polled until every check that passed before the restore passes
//! again. What was already failing is not blamed on the restore.

use anyhow::Result;

use crate::backup::window::Stopped;
use crate::docker::Engine;
use crate::project::Project;

/// The checks (name, detail) that fail now and did not before.
pub(super) fn newly_failing(before: &crate::health::Report, after: &crate::health::Report) -> Vec<(String, String)> {
    use crate::health::Status;
    after
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .filter(|c| before.checks.iter().any(|b| b.name == c.name && b.status != Status::Fail))
        .map(|c| (c.name.clone(), c.detail.clone()))
        .collect()
}

/// Wait, with deploy's readiness rule, for the containers started again to be ready,
/// each service at once. A service whose check failed before the restore is not waited
/// for. Returns the services that did not become ready, with why.
async fn wait_ready(
    engine: &Engine,
    project: &str,
    stopped: &[Stopped],
    before: &crate::health::Report,
    deadline: std::time::Instant,
) -> Result<Vec<(String, String)>> {
    use crate::health::Status;
    let mut services: Vec<&str> = stopped.iter().map(|c| c.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    services.retain(|svc| !before.checks.iter().any(|b| b.name == *svc && b.status == Status::Fail));
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    let results = futures_util::future::join_all(services.iter().map(|svc| async move {
        let ids: Vec<String> = stopped.iter().filter(|c| c.service == *svc).map(|c| c.id.clone()).collect();
        // A Swarm service comes back as new tasks: any of its containers counts.
        let only = if engine.is_swarm() { None } else { Some(ids.as_slice()) };
        crate::deploy::wait::ready(engine, project, svc, only, ids.len(), left).await
    }))
    .await;
    let mut not_ready = Vec::new();
    for (svc, r) in services.iter().zip(results) {
        match r {
            Ok(()) => {}
            Err(e) if e.downcast_ref::<crate::error::Interrupted>().is_some() => return Err(e),
            Err(e) => not_ready.push((svc.to_string(), format!("{e:#}"))),
        }
    }
    Ok(not_ready)
}

/// After a restore's restart: the restarted containers waited for ([`wait_ready`]), then
/// the checks ([`wait_healthy`]), all within `timeout`. Returns the last report and what
/// did not become healthy again although it was before, each named once (a service not
/// ready with deploy's reason rather than its check's).
pub(super) async fn settle(
    p: &Project,
    stopped: &[Stopped],
    before: &crate::health::Report,
    timeout: std::time::Duration,
) -> Result<(crate::health::Report, Vec<String>)> {
    let deadline = std::time::Instant::now() + timeout;
    let not_ready = wait_ready(p.engine()?, &p.settings.project, stopped, before, deadline).await?;
    let report = wait_healthy(p, before, deadline).await?;
    let mut worse: Vec<String> = not_ready.iter().map(|(svc, why)| format!("{svc} ({why})")).collect();
    worse.extend(
        newly_failing(before, &report)
            .into_iter()
            .filter(|(name, _)| !not_ready.iter().any(|(svc, _)| svc == name))
            .map(|(name, detail)| format!("{name} ({detail})")),
    );
    Ok((report, worse))
}

/// Poll the health checks until every check that passed before the restore passes
/// again, or `deadline`; the last report.
async fn wait_healthy(
    p: &Project,
    before: &crate::health::Report,
    deadline: std::time::Instant,
) -> Result<crate::health::Report> {
    loop {
        let r = crate::health::run(&p.settings, &p.engine, &p.model, crate::health::Scope::Readiness).await;
        if newly_failing(before, &r).is_empty() || std::time::Instant::now() >= deadline {
            return Ok(r);
        }
        tokio::select! {
            // The containers are ready by now: what is left is an app's own warm-up.
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {},
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{CheckResult, Report, Status};

    fn report(checks: &[(&str, Status)]) -> Report {
        Report {
            project: "p".into(),
            environment: "e".into(),
            status: checks.iter().map(|c| c.1).max().unwrap_or(Status::Ok),
            checked_at: String::new(),
            duration: std::time::Duration::ZERO,
            checks: checks
                .iter()
                .map(|(name, status)| CheckResult {
                    name: name.to_string(),
                    kind: "service",
                    status: *status,
                    detail: format!("{name} {}", status.word()),
                    duration: std::time::Duration::ZERO,
                    metrics: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn only_what_passed_before_is_held_against_the_restore() {
        let before = report(&[("api", Status::Ok), ("worker", Status::Warn), ("cron", Status::Fail)]);
        // Still starting (warn) is not failing; what failed before is not blamed.
        let after = report(&[("api", Status::Warn), ("worker", Status::Ok), ("cron", Status::Fail)]);
        assert!(newly_failing(&before, &after).is_empty());
        let after = report(&[("api", Status::Fail), ("worker", Status::Fail), ("cron", Status::Fail)]);
        let worse: Vec<String> = newly_failing(&before, &after).into_iter().map(|(n, _)| n).collect();
        assert_eq!(worse, ["api", "worker"]);
    }
}
