//! `ccops scale ENV SERVICE=N...`: `compose up -d --no-recreate --scale` (see `rollout::up`), with
//! the images of the live release (not whatever the env file says), then a wait until the
//! new replicas are healthy. The counts are saved for the environment: deploys and
//! `ccops health` use them from then on. On Swarm: `docker service scale` (`swarm::scale`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use super::plan::{Shape, cannot_replicate};
use super::{compose_for, live_version, wait};
use crate::config::closest;
use crate::lock::Lock;
use crate::output;
use crate::project::Project;

/// `backend=3 worker=8` -> [(backend, 3), (worker, 8)]; bad syntax is a usage error.
pub fn parse(args: &[String]) -> Result<Vec<(String, u32)>> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for a in args {
        let Some((svc, n)) = a.split_once('=') else {
            return Err(crate::usage!("`{a}` is not SERVICE=N (e.g. backend=3)"));
        };
        let svc = svc.trim();
        let n: u32 =
            n.trim().parse().map_err(|_| crate::usage!("`{a}`: `{n}` is not a number of replicas (0 or more)"))?;
        if svc.is_empty() {
            return Err(crate::usage!("`{a}` names no service"));
        }
        if out.iter().any(|(s, _)| s == svc) {
            return Err(crate::usage!("service `{svc}` is given twice"));
        }
        out.push((svc.to_string(), n));
    }
    Ok(out)
}

pub async fn scale(
    p: &Project,
    wanted: &[(String, u32)],
    dry_run: bool,
    lock_wait: Duration,
) -> Result<BTreeMap<String, u32>> {
    crate::util::cleanup_aware();
    let s = &p.settings;
    for (svc, n) in wanted {
        if !p.model.services.contains_key(svc) {
            let hint = match closest(svc, p.model.services.keys().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`?"),
                None => {
                    format!("its services are: {}", p.model.services.keys().cloned().collect::<Vec<_>>().join(", "))
                }
            };
            return Err(crate::usage!(
                "the compose project of environment `{}` has no service `{svc}`; {hint}",
                s.env_name
            ));
        }
        if *n > 1 {
            if let Some(why) = cannot_replicate(&Shape::of(&p.model, svc)) {
                return Err(crate::usage!(
                    "service `{svc}` cannot have {n} replicas: {why}; remove that from its compose definition (put a proxy in front for ports) to scale it"
                ));
            }
        }
    }
    let lock = if dry_run {
        None
    } else {
        Some(Lock::acquire(&s.state_dir, &format!("scale {}", s.env_name), lock_wait).await?)
    };
    let engine = p.engine()?;
    if lock.is_some() {
        crate::snapshot::recover(engine, &s.state_dir).await?;
        super::history::History::load(s)?.mark_abandoned()?;
    }
    let live = live_version(s)?;
    let compose = compose_for(&p.compose, s, live.as_deref());
    if let Some(v) = &live {
        output::status(format!("scaling `{}` with the images of the live release {v}", s.env_name));
    }
    for (svc, n) in wanted {
        let running = super::containers(engine, &s.project, Some(svc)).await?.iter().filter(|c| c.is_running()).count();
        output::status(format!("  {svc}: {running} running -> {n}"));
    }
    let mut desired = crate::state::desired_scale(s);
    if dry_run {
        output::status("dry run: nothing was changed");
        desired.extend(wanted.iter().cloned());
        return Ok(desired);
    }
    if engine.is_swarm() {
        engine.check_swarm_manager().await?;
        super::swarm::scale(&compose, engine, wanted, s.file.deploy.timeout).await?;
        desired.extend(wanted.iter().cloned());
        crate::state::save_desired_scale(s, &desired)?;
        for (svc, n) in wanted {
            output::status(format!("  {svc}: {n} ready"));
        }
        return Ok(desired);
    }
    // Compose would stop a scale-down's surplus all at once; drained one at a time, a
    // proxy in front loses no request (see `drain`).
    for (svc, n) in wanted {
        super::drain::scale_down(engine, &s.project, svc, *n, s.file.deploy.drain).await?;
    }
    let mut args = vec!["--no-recreate".to_string()];
    for (svc, n) in wanted {
        args.push("--scale".into());
        args.push(format!("{svc}={n}"));
    }
    args.extend(wanted.iter().map(|(svc, _)| svc.clone()));
    super::rollout::up(&compose, &args).await?;
    // The containers exist now: the count is what the environment wants from here on.
    desired.extend(wanted.iter().cloned());
    crate::state::save_desired_scale(s, &desired)?;
    for (svc, n) in wanted {
        wait::ready(engine, &s.project, svc, None, *n as usize, s.file.deploy.timeout).await?;
        output::status(format!("  {svc}: {n} ready"));
    }
    Ok(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_pairs_and_refuses_the_rest() {
        assert_eq!(
            parse(&args(&["backend=3", "worker=0"])).unwrap(),
            [("backend".to_string(), 3), ("worker".to_string(), 0)]
        );
        for bad in [&["backend"][..], &["backend=x"], &["=2"], &["backend=-1"], &["a=1", "a=2"]] {
            let e = parse(&args(bad)).unwrap_err();
            assert_eq!(crate::error::classify(&e), crate::status::ExitStatus::Usage, "{bad:?}");
        }
    }
}
