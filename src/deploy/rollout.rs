//! The rollout: compare what runs with what is wanted (Compose's config hash and the
//! image per container), then replace each changed service in dependency order.
//!
//! Start-first with plain Compose (both v1 and v2 accept each call):
//!   1. `up -d --no-build --no-recreate --scale svc=OLD+N svc` starts N new containers
//!      beside the OLD ones, which keep serving;
//!   2. wait until the new ones are healthy (a failure removes them: the old ones never
//!      stopped);
//!   3. drain the old ones away by container ID, one at a time, `deploy.drain` apart
//!      (stop signal, grace period, removal: see `drain`);
//!   4. `up ... --scale svc=N svc` to confirm the count (nothing left to do normally).
//!
//! New containers that never turn healthy go the same way (they are in the service's
//! DNS name as soon as they run). A scale-down drains the surplus first, so Compose
//! does not stop them all at once.
//!
//! Stop-first is `up -d --no-build --force-recreate --scale svc=N svc`.
//! The image comparison is by content (`images::fingerprint`), not by ID.
//!
//! `--no-deps`: on v1 always (without it, v1 applies --force-recreate to the
//! dependencies too). Not on v2: v2 leaves unchanged dependencies alone by itself, and
//! `--no-deps` drops `depends_on` from the config it hashes, so containers made with it
//! carry another config hash than `compose config --hash` (and a plain `compose up`)
//! expect, and would look changed to every later deploy.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::images::short;
use super::plan::{self, Facts, ServicePlan, Shape, Strategy};
use super::proc::{self, OnSignal, Show};
use super::record::ImageRecord;
use super::wait;
use crate::compose::{Compose, Model};
use crate::docker::Engine;
use crate::output;

/// What a rollout works with: Compose with the release's variables, its model, the engine.
pub struct Ctx<'a> {
    pub compose: &'a Compose,
    pub engine: &'a Engine,
    pub model: &'a Model,
    /// Per wait for healthy containers (`deploy.timeout`).
    pub timeout: Duration,
    /// Between two replicas leaving (`deploy.drain`).
    pub drain: Duration,
}

/// The plan for `services` (already in dependency order): each with its wanted replicas
/// and image compared with what runs.
///
/// With `keep_running`, a wanted image that has the same content as the one a service
/// runs (a rebuild that only changed labels) is replaced, tag and record, by the running
/// one first: Compose compares image IDs (v2 for dependencies, v1 in its config hash) and
/// would otherwise recreate containers that run exactly that software.
pub async fn plan(
    cx: &Ctx<'_>,
    services: &[String],
    replicas: &BTreeMap<String, u32>,
    images: &mut BTreeMap<String, ImageRecord>,
    keep_running: bool,
) -> Result<Vec<ServicePlan>> {
    let mut prints = Prints::default();
    if keep_running {
        for name in services {
            let Some(img) = images.get_mut(name) else { continue };
            for c in
                super::containers(cx.engine, &cx.compose.project, Some(name)).await?.iter().filter(|c| c.is_running())
            {
                let Ok(info) = cx.engine.api().inspect_container(&c.id, None).await else { continue };
                let have = info.image.unwrap_or_default();
                if have != img.id && prints.same(cx.engine, &have, &img.id).await {
                    output::debug(format!(
                        "  {name}: keeping the running image {} (same content as {})",
                        short(&have),
                        short(&img.id)
                    ));
                    super::images::point(cx.engine, &img.image, &have).await?;
                    img.id = have;
                    break;
                }
            }
        }
    }
    let hashes = config_hashes(cx.compose).await?;
    let mut out = Vec::new();
    for name in services {
        let want = replicas.get(name).copied().unwrap_or(1);
        let facts = facts(cx, name, hashes.get(name).map(String::as_str), images.get(name), &mut prints).await?;
        out.push(plan::decide(name, &Shape::of(cx.model, name), want, &facts));
    }
    Ok(out)
}

/// `compose config --hash '*'`: service -> the hash Compose labels its containers with.
async fn config_hashes(compose: &Compose) -> Result<BTreeMap<String, String>> {
    let text =
        compose.run(&["config", "--hash", "*"]).await.context("cannot read the config hashes of the services")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, h)| (s.trim().to_string(), h.trim().to_string()))
        .collect())
}

/// Image fingerprints already computed, by image ID.
#[derive(Default)]
struct Prints(std::collections::HashMap<String, Option<String>>);

impl Prints {
    async fn same(&mut self, engine: &Engine, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        for id in [a, b] {
            if !self.0.contains_key(id) {
                let f = super::images::fingerprint(engine, id).await;
                self.0.insert(id.to_string(), f);
            }
        }
        matches!((&self.0[a], &self.0[b]), (Some(x), Some(y)) if x == y)
    }
}

async fn facts(
    cx: &Ctx<'_>,
    service: &str,
    hash: Option<&str>,
    image: Option<&ImageRecord>,
    prints: &mut Prints,
) -> Result<Facts> {
    let mut f = Facts::default();
    let mut changes: Vec<String> = Vec::new();
    for c in super::containers(cx.engine, &cx.compose.project, Some(service)).await? {
        if c.is_running() {
            f.running += 1
        } else {
            f.stopped += 1
        }
        let Ok(info) = cx.engine.api().inspect_container(&c.id, None).await else { continue };
        let labels = info.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
        if let (Some(want), Some(have)) = (hash, labels.get(super::CONFIG_HASH)) {
            if want != have && !changes.iter().any(|x| x == "config changed") {
                changes.push("config changed".into());
            }
        }
        if let Some(img) = image {
            let have_id = info.image.clone().unwrap_or_default();
            if !prints.same(cx.engine, &have_id, &img.id).await {
                let was =
                    info.config.as_ref().and_then(|c| c.image.clone()).unwrap_or_else(|| short(&have_id).to_string());
                let change = if was == img.image {
                    format!("image `{}` rebuilt ({} -> {})", img.image, short(&have_id), short(&img.id))
                } else {
                    format!("image `{was}` -> `{}`", img.image)
                };
                if !changes.contains(&change) {
                    changes.push(change);
                }
            }
        }
    }
    f.stale = !changes.is_empty();
    f.change = changes.join(", ");
    Ok(f)
}

/// Print the plan, one line per service.
pub fn show(plans: &[ServicePlan]) {
    for p in plans {
        output::status(format!("  {:<12} {:<11} x{}  {}", p.service, p.strategy.word(), p.replicas, p.reason));
    }
}

/// Carry out the plans in order; the first failure stops the rollout. `touched` gets
/// every service whose containers changed, including one that failed half-way; a
/// start-first service that failed is not in it (its old containers never stopped).
pub async fn apply(cx: &Ctx<'_>, plans: &[ServicePlan], touched: &mut Vec<String>) -> Result<()> {
    for p in plans {
        if p.strategy == Strategy::Unchanged {
            continue;
        }
        crate::util::check_interrupt()?;
        if p.strategy != Strategy::StartFirst {
            touched.push(p.service.clone());
        }
        let r = match p.strategy {
            Strategy::Unchanged => Ok(()),
            Strategy::Scale | Strategy::Start => scale(cx, &[(p.service.clone(), p.replicas)]).await,
            Strategy::StopFirst => stop_first(cx, p).await,
            Strategy::StartFirst => start_first(cx, p, touched).await,
        };
        r.with_context(|| format!("rolling out service `{}` ({}) failed", p.service, p.strategy.word()))?;
    }
    Ok(())
}

/// `compose up -d --no-build` (and `--no-deps` on v1, see the module comment) with more
/// arguments.
pub async fn up(compose: &Compose, extra: &[String]) -> Result<()> {
    let mut args: Vec<&str> = vec!["up", "-d", "--no-build"];
    if compose.flavour == crate::compose::Flavour::V1 {
        args.push("--no-deps");
    }
    args.extend(extra.iter().map(String::as_str));
    let done = proc::run(compose.command(&args), "compose up", Show::Debug, OnSignal::Finish).await?;
    if done.code != 0 {
        bail!("`compose {}` failed:\n  {}", args.join(" "), done.tail(8));
    }
    Ok(())
}

/// Set the number of containers of services (no container is recreated), then wait.
pub async fn scale(cx: &Ctx<'_>, wanted: &[(String, u32)]) -> Result<()> {
    let mut extra = vec!["--no-recreate".to_string()];
    for (s, n) in wanted {
        extra.push("--scale".into());
        extra.push(format!("{s}={n}"));
    }
    extra.extend(wanted.iter().map(|(s, _)| s.clone()));
    for (s, n) in wanted {
        output::status(format!("  {s}: scaling to {n}"));
        super::drain::scale_down(cx.engine, &cx.compose.project, s, *n, cx.drain).await?;
    }
    up(cx.compose, &extra).await?;
    for (s, n) in wanted {
        wait::ready(cx.engine, &cx.compose.project, s, None, *n as usize, cx.timeout).await?;
        output::status(format!("  {s}: {n} ready"));
    }
    Ok(())
}

async fn stop_first(cx: &Ctx<'_>, p: &ServicePlan) -> Result<()> {
    output::status(format!("  {}: replacing stop-first ({} container(s))", p.service, p.replicas));
    let extra =
        vec!["--force-recreate".into(), "--scale".into(), format!("{}={}", p.service, p.replicas), p.service.clone()];
    up(cx.compose, &extra).await?;
    wait::ready(cx.engine, &cx.compose.project, &p.service, None, p.replicas as usize, cx.timeout).await?;
    output::status(format!("  {}: {} new container(s) ready", p.service, p.replicas));
    Ok(())
}

async fn start_first(cx: &Ctx<'_>, p: &ServicePlan, touched: &mut Vec<String>) -> Result<()> {
    let project = &cx.compose.project;
    let svc = &p.service;
    let before = super::containers(cx.engine, project, Some(svc)).await?;
    // Stopped leftovers would be started again by the scale-up, with their old config.
    for c in before.iter().filter(|c| !c.is_running()) {
        output::status(format!("  {svc}: removing stopped container {}", c.name));
        cx.engine.remove(&c.id).await?;
    }
    let old: Vec<String> = before.iter().filter(|c| c.is_running()).map(|c| c.id.clone()).collect();
    let total = old.len() as u32 + p.replicas;
    output::status(format!(
        "  {svc}: starting {} new container(s) beside the {} running (start-first)",
        p.replicas,
        old.len()
    ));
    let scale_to = |n: u32| vec!["--no-recreate".to_string(), "--scale".into(), format!("{svc}={n}"), svc.clone()];
    let started = up(cx.compose, &scale_to(total)).await;
    let joined = std::time::Instant::now();
    let now = super::containers(cx.engine, project, Some(svc)).await?;
    let new: Vec<String> = now.iter().filter(|c| !old.contains(&c.id)).map(|c| c.id.clone()).collect();
    let names: Vec<String> = now.iter().filter(|c| new.contains(&c.id)).map(|c| c.name.clone()).collect();
    let ready = match started {
        Ok(()) => {
            output::status(format!("  {svc}: waiting for {} to be healthy", names.join(", ")));
            wait::ready(cx.engine, project, svc, Some(&new), p.replicas as usize, cx.timeout).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = ready {
        // The old containers never stopped: removing the new ones is the whole undo.
        let why = if crate::util::interrupted() { "interrupted" } else { "the new containers did not become healthy" };
        output::warn(format!("{svc}: {why}; removing them, the old ones keep serving"));
        // They ran, so they are in the service's name: drained like old ones, so that a
        // proxy never holds two vanished addresses; an interrupt does not wait.
        let failed: Vec<&crate::docker::Container> = now.iter().filter(|c| new.contains(&c.id)).collect();
        let pause = if crate::util::interrupted() { Duration::ZERO } else { cx.drain };
        if let Err(e) = super::drain::retire(cx.engine, &failed, pause, 10).await {
            output::error(format!("{e:#}"));
        }
        return Err(e);
    }
    super::drain::settle(joined, cx.drain).await;
    output::status(format!(
        "  {svc}: new containers healthy; draining the {} old one(s) one at a time ({} apart)",
        old.len(),
        crate::util::human_duration(cx.drain)
    ));
    touched.push(svc.clone());
    let retiring: Vec<&crate::docker::Container> = before.iter().filter(|c| old.contains(&c.id)).collect();
    super::drain::retire(cx.engine, &retiring, cx.drain, super::drain::GRACE_S).await?;
    up(cx.compose, &scale_to(p.replicas)).await?;
    wait::ready(cx.engine, project, svc, None, p.replicas as usize, cx.timeout).await?;
    output::status(format!("  {svc}: {} new container(s) serving", p.replicas));
    Ok(())
}
