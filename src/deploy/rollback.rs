//! `ccops rollback ENV [--to VERSION] [--with-data]`: back to the previous live release
//! (or the one named) by the images recorded for it, with a warning when the database
//! schema is newer than that release; `--with-data` also restores the backup taken
//! before the first release being undone (through `restore`, with its safety backup),
//! reported to the restore metrics and the webhook as a restore of its own.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::history::History;
use super::record::{Action, MigrationRecord, Outcome, Release};
use super::steps::Steps;
use super::{compose_for, migrate, revert};
use crate::backup::layout::{self, LocalSet};
use crate::error::classify;
use crate::lock::Lock;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub struct Options {
    pub to: Option<String>,
    pub with_data: bool,
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub yes: bool,
}

/// Go back to an earlier release. Dry runs return None. `settled` gets the version
/// rolled back to once known, failed run or not.
pub async fn rollback(p: &Project, o: &Options, settled: &mut Option<String>) -> Result<Option<Release>> {
    crate::util::cleanup_aware();
    let s = &p.settings;
    let mut steps = Steps::new(if o.with_data { 5 } else { 4 });
    steps.begin("lock", "project lock");
    let lock = if o.dry_run {
        None
    } else {
        Some(Lock::acquire(&s.state_dir, &format!("rollback {}", s.env_name), o.lock_wait).await?)
    };
    steps.begin("plan", "what to go back to");
    p.engine()?; // no engine, no rollback: say so before anything is read
    let mut history = super::history_put_right(p, lock.is_some()).await?;
    let current = history.current().cloned();
    let target = history.rollback_target(o.to.as_deref())?.clone();
    *settled = Some(target.version.clone());
    output::log_field("version", target.version.clone());
    match &current {
        Some(c) if c.version == target.version => {
            output::status(format!("  {} is live already; putting its recorded images back anyway", target.label()))
        }
        Some(c) => output::status(format!("  {} -> {} in `{}`", c.label(), target.label(), s.env_name)),
        None => output::status(format!("  -> {} in `{}`", target.label(), s.env_name)),
    }
    let data = if o.with_data { Some(data_set(&history, &target, &s.backup_dir)?) } else { None };
    schema_warning(p, current.as_ref(), &target, data.is_some()).await;
    if let Some((set, undone)) = &data {
        output::status(format!("  data: backup {} taken before {} (its current data is saved first)", set.id, undone));
    }
    if o.dry_run {
        for (svc, i) in &target.images {
            output::status(format!("  {svc}: {} ({})", i.image, super::images::short(&i.id)));
        }
        output::status("dry run: nothing was changed");
        return Ok(None);
    }
    if let Some((set, _)) = &data {
        crate::ask::confirm(
            o.yes,
            &format!("Roll back and replace the live data with backup {}?", set.id),
            "--with-data replaces the live data",
            "rollback",
        )?;
    }
    steps.ok("");

    let mut rel = Release::start(
        history.next_id(),
        Action::Rollback,
        &target.version,
        current.as_ref().map(|c| c.version.as_str()),
        s,
    );
    output::log_field("release", rel.id.to_string());
    rel.steps = steps.records.clone();
    history.put(&rel)?;
    let started = Instant::now();
    let timeout = s.file.deploy.timeout;
    let result: Result<()> = async {
        steps.begin("rollout", format!("roll out {} (recorded images)", target.version));
        let r = revert::to_release(p, &target, timeout).await?;
        rel.images = r.images;
        rel.replicas = r.replicas;
        if let Some((set, _)) = &data {
            steps.begin("data", format!("restore backup {}", set.id));
            let opts = crate::backup::restore::Options {
                only: vec![],
                safety_backup: true,
                dry_run: false,
                yes: true,
                timeout: Some(timeout),
            };
            restore_observed(p, set, &opts, &target.version).await?;
            rel.backup_id = Some(set.id.clone());
        }
        steps.begin("health", "health checks");
        super::wait::health_suite(p, timeout).await?;
        steps.ok("");
        Ok(())
    }
    .await;
    rel.migrations = schema_now(p, &target.version).await;
    match result {
        Ok(()) => {
            rel.steps = steps.records.clone();
            rel.finish(Outcome::Success, None, started.elapsed());
            history.put(&rel)?;
            output::status(format!(
                "rolled back `{}` to {} in {}",
                s.env_name,
                target.label(),
                crate::util::human_duration(started.elapsed())
            ));
            Ok(Some(rel))
        }
        Err(e) => {
            let at = steps.open().unwrap_or("rollback").to_string();
            steps.fail(&e);
            rel.steps = steps.records.clone();
            let outcome = if classify(&e) == ExitStatus::Interrupted { Outcome::Interrupted } else { Outcome::Failed };
            rel.finish(outcome, Some(format!("{at}: {}", super::record::first_line(&e))), started.elapsed());
            history.put(&rel)?;
            if output::json_mode() {
                output::json(&serde_json::to_value(&rel).unwrap_or_default());
            }
            Err(e.context(format!(
                "rollback of `{}` to {} {} at step `{at}`",
                s.env_name,
                target.version,
                outcome.word()
            )))
        }
    }
}

/// The data restore of `--with-data`, which monitoring hears of as of any restore: the
/// restore metrics and the webhook (which says whose step it was).
async fn restore_observed(p: &Project, set: &LocalSet, opts: &crate::backup::restore::Options, to: &str) -> Result<()> {
    let s = &p.settings;
    let started = Instant::now();
    let result = crate::backup::restore::restore(p, set, opts).await.map(|()| ExitStatus::Success);
    crate::metrics::record_restore(s, result.is_ok(), started.elapsed());
    let event = crate::notify::Event {
        command: "restore",
        backup_id: Some(set.id.clone()),
        duration: started.elapsed(),
        part_of: Some(format!("the rollback to {to}")),
        ..Default::default()
    };
    crate::notify::after(s, &event, &result).await;
    result.map(|_| ())
}

/// The backup to restore with `--with-data`: the one taken before the first release that
/// moved away from the target (the first successful one after it with another version);
/// it holds the data as the target left it.
fn data_set(history: &History, target: &Release, backup_dir: &std::path::Path) -> Result<(LocalSet, String)> {
    let undone = history
        .releases
        .iter()
        .filter(|r| r.id > target.id && r.outcome == Outcome::Success && r.version != target.version)
        .min_by_key(|r| r.id);
    let Some(undone) = undone else {
        return Err(crate::usage!(
            "--with-data: no release after {} changed the version; there is no data to undo",
            target.label()
        ));
    };
    let Some(id) = &undone.backup_id else {
        return Err(crate::usage!(
            "--with-data: {} has no pre-deploy backup (backup_before was off, or it was the first deploy); roll back without --with-data, or restore a backup with `ccops restore`",
            undone.label()
        ));
    };
    let sets = layout::list(backup_dir)?;
    let set = layout::resolve(&sets, id)
        .map_err(|e| e.context(format!("the backup taken before {} is not usable", undone.label())))?;
    Ok((set.clone(), undone.label()))
}

/// Warn when the database has migrations the target release did not know.
async fn schema_warning(p: &Project, current: Option<&Release>, target: &Release, with_data: bool) {
    let Ok(Some(mode)) = migrate::mode(&p.settings) else { return };
    let Some(then) = &target.migrations else { return };
    let Ok(engine) = p.engine() else { return };
    let compose = compose_for(&p.compose, &p.settings, current.map(|c| c.version.as_str()));
    match migrate::status(&compose, engine, &mode).await {
        Ok(now) => {
            if let Some(why) = migrate::newer_than(&now, then) {
                if with_data {
                    output::status(format!("  schema: {why}; the backup restored below puts the older schema back"));
                } else {
                    output::warn(format!(
                        "{} is older than the database schema: {why}. It may not work with it; `--with-data` also restores the data from before",
                        target.version
                    ));
                }
            }
        }
        Err(e) => output::warn(format!("cannot compare the database schema with {}: {e:#}", target.version)),
    }
}

/// The schema marker after a rollback, so a later rollback can compare with it.
async fn schema_now(p: &Project, version: &str) -> Option<MigrationRecord> {
    let mode = migrate::mode(&p.settings).ok()??;
    let engine = p.engine().ok()?;
    let compose = compose_for(&p.compose, &p.settings, Some(version));
    let st = migrate::status(&compose, engine, &mode).await.ok()?;
    Some(MigrationRecord { mode: mode.word().into(), before: None, after: st.marker, applied: vec![] })
}
