//! `ccops restore`: verify everything, confirm, take a safety backup, stop the services
//! that use the data, restore, start exactly what was running before (also on failure),
//! and finish with the health checks. What each file of a set restores into, and the
//! steps: restore/steps.rs; waiting for health afterwards: restore/settle.rs.

pub mod pitr;
mod settle;
mod steps;

use std::path::Path;

use anyhow::{Result, bail};

use self::settle::settle;
use self::steps::services_to_stop;
pub(crate) use self::steps::{Step, check_server, run_steps, steps_of};
use super::create;
use super::layout::LocalSet;
use super::verify;
use super::window::{interruptible, start_again, stop_services};
use crate::output;
use crate::project::Project;

pub struct Options {
    pub only: Vec<String>,
    pub safety_backup: bool,
    pub dry_run: bool,
    pub yes: bool,
    /// How long to wait for health after the restore; `None`: `deploy.timeout`.
    pub timeout: Option<std::time::Duration>,
}

pub async fn restore(p: &Project, set: &LocalSet, opts: &Options) -> Result<()> {
    let s = &p.settings;
    // The manifest acted on is the one whose signature was just checked.
    let set = &super::trust::signed_local(s, set)?;
    let mut steps = steps_of(p, set)?;
    let only: Vec<&String> = opts.only.iter().filter(|t| !t.trim().is_empty()).collect();
    for t in &only {
        if !steps.iter().any(|st| st.matches(t)) {
            bail!(crate::usage!("--only `{t}` matches nothing in backup {}", set.id));
        }
    }
    if !only.is_empty() {
        steps.retain(|st| only.iter().any(|t| st.matches(t)));
    }
    let engine = p.engine()?;

    // 1. Verify every file before anything is touched (encrypted files decrypt too).
    let files: Vec<&Path> = steps.iter().map(|st| st.file.as_path()).collect();
    super::crypto::check_can_decrypt(&files)
        .map_err(|e| e.context(format!("backup {} cannot be restored, nothing was changed", set.id)))?;
    let server = match check_server(&steps) {
        Some(svc) => Some(engine.running_container(&s.project, svc).await?.id),
        None => None,
    };
    output::status(format!("verifying backup {} ...", set.id));
    let checks = interruptible(async { Ok(verify::verify(set, Some(engine), server.as_deref()).await) }).await?;
    let wanted: Vec<String> = steps.iter().map(Step::file_name).collect();
    let bad: Vec<&verify::FileCheck> = checks.iter().filter(|c| !c.ok && wanted.contains(&c.file)).collect();
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().map(|c| format!("`{}`: {}", c.file, c.detail)).collect();
        bail!("backup {} failed verification, nothing was restored:\n  {}", set.id, list.join("\n  "));
    }

    // 2. The plan, and the operator's word.
    let to_stop = services_to_stop(p, &steps);
    for svc in steps.iter().filter_map(|st| st.component.service()) {
        if to_stop.iter().any(|t| t == svc) {
            return Err(crate::usage!(
                "this restore would replace the data volume of service `{svc}` while restoring into `{svc}` itself; restore them one at a time with --only"
            ));
        }
    }
    output::status(format!(
        "restore backup {} (created {}) into project `{}`, environment `{}`:",
        set.id,
        set.created.format("%Y-%m-%d %H:%M:%S UTC"),
        s.project,
        s.env_name
    ));
    for st in &steps {
        output::status(format!("  {}", st.describe()));
    }
    if !to_stop.is_empty() {
        output::status(format!("  stopped meanwhile, then started again: {}", to_stop.join(", ")));
    }
    if opts.dry_run {
        output::status("dry run: nothing was changed");
        return Ok(());
    }
    crate::ask::confirm(
        opts.yes,
        &format!("Replace the live data with backup {}?", set.id),
        "restore replaces live data",
        "restore",
    )?;
    crate::util::check_interrupt()?;

    // 3. Health as it is now, everything running: what the health after the restore is
    // held to. Taken later, it would catch services still starting and excuse them.
    let before = crate::health::run(&s.clone(), &p.engine, &p.model, crate::health::Scope::Readiness).await;

    // 4. One stop window: stop, take the safety backup of exactly what is about to be
    // replaced (nothing writes to it meanwhile), restore, and start again whatever
    // happens. A volume's `stop_services` are in `to_stop`, so nothing stops twice.
    let stopped = stop_services(engine, &s.project, &to_stop, &s.state_dir, &p.model).await?;
    let result = async {
        if opts.safety_backup {
            safety_backup(p, set, &steps, &to_stop).await?;
        }
        run_steps(p, engine, &steps).await
    }
    .await;
    let restarted = start_again(engine, &stopped, &s.state_dir, &p.model).await;
    result?;
    restarted?;

    // 5. Health, waited for as deploy waits: the restarted containers ready, then every
    // check that passed before the restore passing again, all within `timeout`. What was
    // already failing (a service the operator had stopped) is reported, not blamed.
    let timeout = opts.timeout.unwrap_or(s.file.deploy.timeout);
    let (report, worse) = settle(p, &stopped, &before, timeout).await?;
    if !worse.is_empty() {
        bail!(
            "backup {} was restored, but within {} these did not become healthy again, although they were before: {}",
            set.id,
            humantime::format_duration(timeout),
            worse.join("; ")
        );
    }
    if report.status == crate::health::Status::Fail {
        output::warn(format!("still failing as before the restore: {}", crate::health::format::summary(&report)));
    }
    output::status(format!("restored backup {}; {}", set.id, crate::health::format::summary(&report)));
    Ok(())
}

/// Refuse a set that would restore into anything ccops.yaml does not configure, before
/// anything is downloaded or touched.
pub fn check_targets(p: &Project, set: &LocalSet) -> Result<()> {
    steps_of(p, set).map(|_| ())
}

/// The safety backup (tags `pre-restore`, `before-<ID>`) of what the steps replace,
/// taken inside the restore's stop window: `held` stay stopped throughout.
async fn safety_backup(p: &Project, set: &LocalSet, steps: &[Step], held: &[String]) -> Result<()> {
    output::status("taking a safety backup of the current data (tag pre-restore) ...");
    let o = create::Options {
        only: steps.iter().map(|st| st.component.name()).collect(),
        tags: vec!["pre-restore".into(), format!("before-{}", set.id)],
        dry_run: false,
    };
    create::create_in_window(p, &o, held)
        .await
        .map_err(|e| e.context("the safety backup failed, nothing was restored; fix it or pass --no-safety-backup"))?;
    // The safety backup set its own ID as log context; the lines after are the restore's.
    output::log_field("backup_id", set.id.clone());
    Ok(())
}
