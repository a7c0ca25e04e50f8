//! `ccops deploy ENV [VERSION]`: the fixed sequence, each step announced and recorded:
//!  1 lock, 2 preflight, 3 pre_deploy hooks, 4 backup, 5 images, 6 migrations,
//!  7 rollout, 8 wait until healthy, 9 health suite, 10 post_deploy hooks.
//! A failure at 5-9 leaves the previous release serving: before the rollout nothing was
//! replaced; from the rollout on, `auto_rollback` puts the previous release back.
//! The release is written to the history when it starts and again when it ends.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::history::History;
use super::inputs::Plan;
use super::migrate::{self, Mode};
use super::record::{Action, AutoRollback, Outcome, Release, first_line};
use super::steps::Steps;
use super::{compose_for, hooks, images, model_of, preflight, revert, rollout, swarm, wait};
use crate::error::{RolledBack, classify};
use crate::lock::Lock;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub struct Options {
    pub version: Option<String>,
    pub allow_weak_secrets: bool,
    pub lock_wait: Duration,
    pub dry_run: bool,
}

const TOTAL: usize = 10;

/// What a deploy works with once the preflight passed.
/// The version to deploy: the argument, else the version variable's value now.
fn version_of(p: &Project, given: Option<&str>) -> Result<String> {
    let s = &p.settings;
    if let Some(v) = given {
        if v.trim().is_empty() || v.chars().any(char::is_whitespace) {
            return Err(crate::usage!("`{v}` is not a version"));
        }
        if s.env.version_variable.is_none() {
            output::warn(format!(
                "environment `{}` has no `version_variable`: {v} is only recorded, the compose files decide the images",
                s.env_name
            ));
        }
        return Ok(v.to_string());
    }
    match s.env.version_variable.as_deref().and_then(|var| s.vars.get(var).filter(|v| !v.is_empty()).map(|v| (var, v)))
    {
        Some((var, v)) => {
            output::status(format!("no VERSION given: deploying {v}, the value of {var}"));
            Ok(v.to_string())
        }
        None => Err(crate::usage!("give the version to deploy: `ccops deploy {} VERSION`", s.env_name)),
    }
}

/// Run a deploy. Dry runs return None. `settled` gets the version deployed (the
/// argument, else the version variable's value) once known, failed run or not.
pub async fn deploy(p: &Project, o: &Options, settled: &mut Option<String>) -> Result<Option<Release>> {
    crate::util::cleanup_aware();
    let s = &p.settings;
    let version = version_of(p, o.version.as_deref())?;
    *settled = Some(version.clone());
    output::log_field("version", version.clone());
    let mut steps = Steps::new(TOTAL);
    steps.begin("lock", "project lock");
    let lock = if o.dry_run {
        output::status("  dry run: no lock taken, nothing is changed");
        None
    } else {
        Some(Lock::acquire(&s.state_dir, &format!("deploy {} {version}", s.env_name), o.lock_wait).await?)
    };
    steps.begin("preflight", "preflight: config, variables, engine, compose");
    let engine = p.engine()?;
    let mut history = super::history_put_right(p, lock.is_some()).await?;
    preflight::check(s, o.allow_weak_secrets)?;
    let compose = compose_for(&p.compose, s, Some(&version));
    let model = model_of(&compose, s).await?;
    let migrate = if s.file.deploy.migrate { migrate::mode(s)? } else { None };
    if engine.is_swarm() {
        engine.check_swarm_manager().await?;
    }
    let (services, deps) = super::layout(&compose, engine, &model).await?;
    let replicas = super::replicas(s, &model, &services);
    let previous = history.current().cloned();
    output::status(format!(
        "  {} -> {version} in `{}` (project `{}`, {:?} compose); services: {}",
        previous.as_ref().map_or("nothing live".to_string(), |r| r.label()),
        s.env_name,
        s.project,
        compose.flavour,
        services.join(", ")
    ));
    let plan = Plan { p, version, compose, model, services, deps, replicas, migrate, previous };
    if o.dry_run {
        steps.ok("");
        super::dry_run::show(&plan).await?;
        return Ok(None);
    }

    let mut rel = Release::start(
        history.next_id(),
        Action::Deploy,
        &plan.version,
        plan.previous.as_ref().map(|r| r.version.as_str()),
        s,
    );
    rel.replicas = plan.replicas.clone();
    output::log_field("release", rel.id.to_string());
    steps.ok("");
    rel.steps = steps.records.clone();
    history.put(&rel)?;
    let started = Instant::now();
    let mut touched = Vec::new();
    let result = sequence(&plan, &mut steps, &mut rel, &mut history, &mut touched).await;
    let Err(e) = result else {
        rel.steps = steps.records.clone();
        rel.finish(Outcome::Success, None, started.elapsed());
        history.put(&rel)?;
        output::status(format!(
            "deployed {} to `{}` in {}",
            rel.label(),
            s.env_name,
            crate::util::human_duration(started.elapsed())
        ));
        return Ok(Some(rel));
    };

    // Failure: record where and why, and put the previous release back when it helps.
    let at = steps.open().unwrap_or("deploy").to_string();
    steps.fail(&e);
    let interrupted = classify(&e) == ExitStatus::Interrupted;
    let reason = format!("{at}: {}", first_line(&e));
    rel.steps = steps.records.clone();
    let live = plan.previous.as_ref().map_or("what ran before".into(), |r| r.label());
    if interrupted {
        rel.finish(Outcome::Interrupted, Some(reason), started.elapsed());
        history.put(&rel)?;
        if touched.is_empty() {
            output::warn(format!(
                "deploy of {} interrupted during `{at}`; no container was replaced: {live} is still serving",
                plan.version
            ));
        } else {
            output::warn(format!(
                "deploy of {} interrupted during `{at}` after replacing {}; check with `ccops health`, then deploy again or `ccops rollback {}`",
                plan.version,
                touched.join(", "),
                s.env_name
            ));
        }
        print_json(&rel);
        return Err(e.context(format!("deploy of {} to `{}` was interrupted", plan.version, s.env_name)));
    }
    if at == "post_deploy" {
        // Everything before it passed: the release is live, only its hook failed.
        rel.finish(Outcome::Success, Some(reason), started.elapsed());
        history.put(&rel)?;
        print_json(&rel);
        return Err(e.context(format!("{} is live in `{}`, but its post_deploy hook failed", rel.label(), s.env_name)));
    }
    if matches!(at.as_str(), "images" | "migrate" | "rollout" | "healthy" | "health") {
        if touched.is_empty() {
            output::status(format!("no container was replaced: {live} is still serving"));
        } else {
            auto_rollback(&plan, &mut rel, &mut history).await;
        }
    }
    rel.finish(Outcome::Failed, Some(reason), started.elapsed());
    history.put(&rel)?;
    print_json(&rel);
    let failed = format!("deploy of {} to `{}` failed at step `{at}`", plan.version, s.env_name);
    Err(match &rel.auto_rollback {
        Some(a) if a.outcome == Outcome::Success => {
            e.context(RolledBack(format!("{failed}; rolled back to {} (release #{})", a.to_version, a.to_release)))
        }
        Some(a) => e.context(format!("{failed}; the rollback to {} failed too", a.to_version)),
        None if touched.is_empty() => e.context(format!("{failed}; {live} is still serving")),
        None => e.context(failed),
    })
}

fn print_json(rel: &Release) {
    if output::json_mode() {
        output::json(&serde_json::to_value(rel).unwrap_or_default());
    }
}

/// Steps 3 to 10.
async fn sequence(
    plan: &Plan<'_>,
    steps: &mut Steps,
    rel: &mut Release,
    history: &mut History,
    touched: &mut Vec<String>,
) -> Result<()> {
    let p = plan.p;
    let s = &p.settings;
    let engine = p.engine()?;
    let d = &s.file.deploy;
    let prev = plan.previous.as_ref().map(|r| r.version.as_str());

    if d.hooks.pre_deploy.is_empty() {
        steps.skip("pre_deploy", "pre_deploy hooks", "none configured");
    } else {
        steps.begin("pre_deploy", format!("pre_deploy hooks ({})", d.hooks.pre_deploy.len()));
        hooks::run(s, "pre_deploy", &d.hooks.pre_deploy, &plan.version, prev).await?;
    }
    crate::util::check_interrupt()?;

    if !d.backup_before {
        steps.skip("backup", "backup before deploy", "deploy.backup_before is off");
    } else {
        steps.begin("backup", format!("backup (tags pre-deploy, {})", plan.version));
        rel.backup_id = super::pre_backup::take(p, &plan.version).await?;
    }
    checkpoint(steps, rel, history)?;

    steps.begin("images", format!("images of {}", plan.version));
    images::build_and_pull(&plan.compose, engine, &plan.model, &plan.services).await?;
    rel.images = images::current(&plan.compose, engine, &plan.model, &plan.services).await?;
    for (svc, i) in &rel.images {
        output::debug(format!("  {svc}: {} ({})", i.image, images::short(&i.id)));
    }
    checkpoint(steps, rel, history)?;

    match &plan.migrate {
        None => {
            let why = if s.file.deploy.migrate { "no `migrate` section" } else { "deploy.migrate is off" };
            steps.skip("migrate", "migrations", why);
        }
        Some(mode) => {
            steps.begin("migrate", format!("migrations: {}", mode.describe()));
            start_needed(plan, mode).await?;
            let rec = migrate::apply(&plan.compose, engine, mode).await;
            match rec {
                Ok(r) => rel.migrations = Some(r),
                Err(e) => {
                    // What applied before the failure is part of the record.
                    if let Ok(st) = migrate::status(&plan.compose, engine, mode).await {
                        rel.migrations = Some(super::record::MigrationRecord {
                            mode: mode.word().into(),
                            after: st.marker,
                            ..Default::default()
                        });
                    }
                    return Err(e);
                }
            }
        }
    }
    checkpoint(steps, rel, history)?;

    steps.begin("rollout", "roll out");
    // The tags may have moved since the build (another build of the same tag): what runs
    // must be what was built and recorded.
    images::put_back(&plan.compose, engine, &plan.model, &rel.images, &plan.services).await?;
    if engine.is_swarm() {
        swarm::roll_out(&plan.compose, engine, &plan.services, &plan.replicas, d.timeout, touched).await?;
    } else {
        let cx =
            rollout::Ctx { compose: &plan.compose, engine, model: &plan.model, timeout: d.timeout, drain: d.drain };
        let plans = rollout::plan(&cx, &plan.services, &plan.replicas, &mut rel.images, true).await?;
        rollout::show(&plans);
        rollout::apply(&cx, &plans, touched).await?;
    }
    if touched.is_empty() {
        output::status("  every service already runs this release");
    }

    steps.begin("healthy", "wait until every service is healthy");
    for svc in &plan.services {
        let n = plan.replicas.get(svc).copied().unwrap_or(1) as usize;
        wait::ready(engine, &s.project, svc, None, n, d.timeout).await?;
    }
    output::status(format!("  {} service(s) ready", plan.services.len()));

    steps.begin("health", "health checks");
    wait::health_suite(p, d.timeout).await?;

    if d.hooks.post_deploy.is_empty() {
        steps.skip("post_deploy", "post_deploy hooks", "none configured");
    } else {
        steps.begin("post_deploy", format!("post_deploy hooks ({})", d.hooks.post_deploy.len()));
        hooks::run(s, "post_deploy", &d.hooks.post_deploy, &plan.version, prev).await?;
        steps.ok("");
    }
    Ok(())
}

/// Close the open step as ok and write the release as it stands.
fn checkpoint(steps: &mut Steps, rel: &mut Release, history: &mut History) -> Result<()> {
    steps.ok("");
    rel.steps = steps.records.clone();
    history.put(rel)?;
    crate::util::check_interrupt()
}

/// The services the migrations need (the database), started first when nothing runs yet.
async fn start_needed(plan: &Plan<'_>, mode: &Mode) -> Result<()> {
    let engine = plan.p.engine()?;
    let needed: Vec<String> = match mode {
        Mode::Sql { db, .. } => vec![db.service.clone()],
        Mode::Command { service, .. } => plan.deps.get(service).cloned().unwrap_or_default(),
    };
    let mut down = Vec::new();
    for svc in needed {
        if !super::containers(engine, &plan.compose.project, Some(&svc)).await?.iter().any(|c| c.is_running()) {
            down.push(svc);
        }
    }
    if down.is_empty() {
        return Ok(());
    }
    output::status(format!(
        "  starting {} first: the migrations need {}",
        down.join(", "),
        if down.len() == 1 { "it" } else { "them" }
    ));
    let timeout = plan.p.settings.file.deploy.timeout;
    if engine.is_swarm() {
        return swarm::start_services(&plan.compose, engine, &down, &plan.replicas, timeout).await;
    }
    let mut args = vec!["up", "-d", "--no-build", "--no-recreate"];
    args.extend(down.iter().map(String::as_str));
    let done = super::proc::run(
        plan.compose.command(&args),
        "compose up",
        super::proc::Show::Debug,
        super::proc::OnSignal::Finish,
    )
    .await?;
    if done.code != 0 {
        bail!("cannot start {}:\n  {}", down.join(", "), done.tail(8));
    }
    for svc in &down {
        wait::ready(engine, &plan.compose.project, svc, None, 1, timeout).await?;
    }
    Ok(())
}

/// After a failed rollout: the previous release back, when there is one and it is asked.
async fn auto_rollback(plan: &Plan<'_>, rel: &mut Release, history: &mut History) {
    let s = &plan.p.settings;
    let Some(prev) = plan.previous.as_ref() else {
        output::warn(format!("no earlier successful release to go back to: {} stays as far as it got", plan.version));
        return;
    };
    if !s.file.deploy.auto_rollback {
        output::warn(format!(
            "deploy.auto_rollback is off: run `ccops rollback {}` to go back to {}",
            s.env_name,
            prev.label()
        ));
        return;
    }
    output::status(format!("[auto-rollback] going back to {}", prev.label()));
    let _ = history.put(rel);
    let r = revert::to_release(plan.p, prev, s.file.deploy.timeout).await;
    let (outcome, reason) = match &r {
        Ok(rv) if rv.touched.is_empty() => {
            output::status(format!("[auto-rollback] done: every service still ran {}", prev.version));
            (Outcome::Success, None)
        }
        Ok(rv) => {
            output::status(format!("[auto-rollback] done: {} back at {}", rv.touched.join(", "), prev.version));
            (Outcome::Success, None)
        }
        Err(e) => {
            output::error(format!("[auto-rollback] failed: {e:#}"));
            (Outcome::Failed, Some(first_line(e)))
        }
    };
    rel.auto_rollback = Some(AutoRollback { to_version: prev.version.clone(), to_release: prev.id, outcome, reason });
}
