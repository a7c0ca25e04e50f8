//! The stop window of a backup or restore: the services stopped while data is copied or
//! replaced, journaled first so even a SIGKILL cannot leave them down for good, and
//! started again in dependency order; and the race of a step against Ctrl-C / SIGTERM.

use std::path::Path;

use anyhow::{Result, bail};

use crate::docker::Engine;
use crate::output;

/// Race a future against Ctrl-C / SIGTERM.
pub async fn interruptible<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = crate::util::wait_interrupt() => Err(crate::error::Interrupted.into()),
    }
}

/// A container stopped for a backup or restore, to start again.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub id: String,
    pub name: String,
    pub service: String,
}

/// Stop the running containers of `services`; returns them to start again. They are
/// written to the state journal first, so even a SIGKILL cannot leave them down for good.
pub async fn stop_services(
    engine: &Engine,
    project: &str,
    services: &[String],
    state_dir: &Path,
    model: &crate::compose::Model,
) -> Result<Vec<Stopped>> {
    let mut running = Vec::new();
    for svc in services {
        running.extend(engine.containers(project, Some(svc)).await?.into_iter().filter(|c| c.is_running()));
    }
    let planned: Vec<(String, String)> = running.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    if !planned.is_empty() {
        crate::state::record_stopped(state_dir, &planned)?;
    }
    // All at once: each may take its whole grace period.
    let results = futures_util::future::join_all(running.iter().map(|c| async move {
        output::status(format!("  stopping {} ({})", c.name, c.service));
        engine.stop(&c.id, 30).await
    }))
    .await;
    let mut stopped = Vec::new();
    let mut failure = None;
    for (c, r) in running.into_iter().zip(results) {
        match r {
            Ok(()) => stopped.push(Stopped { id: c.id, name: c.name, service: c.service }),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    // Those that did not stop are not ours to start: only the stopped stay journaled.
    let not_stopped: Vec<(String, String)> =
        planned.into_iter().filter(|(id, _)| !stopped.iter().any(|c| &c.id == id)).collect();
    crate::state::clear_stopped(state_dir, &not_stopped);
    if let Some(e) = failure {
        start_again(engine, &stopped, state_dir, model).await.ok();
        return Err(e);
    }
    crate::state::failpoint("services-stopped");
    Ok(stopped)
}

/// Start what was stopped; every failure is reported. Containers start in the waves of
/// [`start_waves`]: a proxy after the API it resolves at start, the rest all at once.
pub async fn start_again(
    engine: &Engine,
    stopped: &[Stopped],
    state_dir: &Path,
    model: &crate::compose::Model,
) -> Result<()> {
    let mut failed: Vec<&Stopped> = Vec::new();
    for wave in start_waves(stopped, model) {
        let results = futures_util::future::join_all(wave.iter().map(|c| async move {
            output::status(format!("  starting {}", c.name));
            engine.start(&c.id).await
        }))
        .await;
        for (c, r) in wave.iter().zip(results) {
            if let Err(e) = r {
                output::error(format!("{e:#}"));
                failed.push(c);
            }
        }
    }
    // Those that did not start stay journaled: the next run tries again.
    let started: Vec<(String, String)> = stopped
        .iter()
        .filter(|c| !failed.iter().any(|f| f.id == c.id))
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    crate::state::clear_stopped(state_dir, &started);
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|c| c.name.as_str()).collect();
        // On an engine elsewhere, the command must name it: a bare `docker` drives this machine's.
        let docker = if engine.is_remote() { format!("docker -H {}", engine.host) } else { "docker".into() };
        bail!("could not start again: {}; start them by hand (`{docker} start {}`)", names.join(", "), names.join(" "));
    }
    Ok(())
}

/// The order to start stopped containers in: first, all at once, those whose service
/// depends (compose `depends_on`) on no other stopped service; then those that depended
/// on them; and so on. A dependency cycle is broken by starting its first-stopped member
/// alone.
fn start_waves<'a>(stopped: &'a [Stopped], model: &crate::compose::Model) -> Vec<Vec<&'a Stopped>> {
    let mut waves = Vec::new();
    let mut left: Vec<&Stopped> = stopped.iter().collect();
    while !left.is_empty() {
        let waits = |c: &Stopped| {
            let deps = model.services.get(&c.service).map(|s| s.depends_on.as_slice()).unwrap_or_default();
            left.iter().any(|o| o.service != c.service && deps.contains(&o.service))
        };
        let (wave, rest): (Vec<&Stopped>, Vec<&Stopped>) = left.iter().partition(|c| !waits(c));
        if wave.is_empty() {
            waves.push(vec![rest[0]]);
            left = rest[1..].to_vec();
        } else {
            waves.push(wave);
            left = rest;
        }
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Model;

    fn stopped(services: &[&str]) -> Vec<Stopped> {
        services
            .iter()
            .enumerate()
            .map(|(i, s)| Stopped { id: format!("id{i}"), name: format!("{s}-{i}"), service: s.to_string() })
            .collect()
    }

    fn model(deps: &[(&str, &[&str])]) -> Model {
        let mut m = Model::default();
        for (svc, on) in deps {
            m.services.entry(svc.to_string()).or_default().depends_on = on.iter().map(|d| d.to_string()).collect();
        }
        m
    }

    fn names(waves: &[Vec<&Stopped>]) -> Vec<Vec<String>> {
        waves.iter().map(|w| w.iter().map(|c| c.name.clone()).collect()).collect()
    }

    #[test]
    fn dependents_start_after_what_they_depend_on() {
        let all = stopped(&["proxy", "backend", "backend", "redis", "worker"]);
        let m = model(&[("proxy", &["backend"]), ("backend", &["redis", "postgres"]), ("worker", &["redis"])]);
        assert_eq!(
            names(&start_waves(&all, &m)),
            [vec!["redis-3"], vec!["backend-1", "backend-2", "worker-4"], vec!["proxy-0"]]
        );
    }

    #[test]
    fn a_dependency_that_was_not_stopped_does_not_hold_anything_back() {
        let all = stopped(&["backend", "worker"]);
        let m = model(&[("backend", &["postgres"]), ("worker", &["redis"])]);
        assert_eq!(names(&start_waves(&all, &m)), [vec!["backend-0", "worker-1"]]);
    }

    #[test]
    fn a_cycle_still_starts_everything_once() {
        let all = stopped(&["a", "b", "c"]);
        let m = model(&[("a", &["b"]), ("b", &["a"]), ("c", &["a"])]);
        // `a` goes first, alone; then nothing holds `b` or `c` back.
        assert_eq!(names(&start_waves(&all, &m)), [vec!["a-0"], vec!["b-1", "c-2"]]);
    }
}
