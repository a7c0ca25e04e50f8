//! `ccops restore [ID|latest] [--from REMOTE]`: the set chosen
//! (`backup::remote::locate::pick`), downloaded when it is on a remote, restored, and
//! monitoring told.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::backup::remote::locate::{self, Source};
use crate::backup::remote::transfer;
use crate::backup::restore::{self, pitr};
use crate::backup::trust;
use crate::cli::RestoreArgs;
use crate::lock::Lock;
use crate::notify::{Outcome, Ping};
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

/// `restore` between its start and end pings, followed by its metrics and notification
/// (best-effort, never change the result).
pub async fn run(ctx: &Ctx, a: RestoreArgs) -> Result<ExitStatus> {
    let (started, dry_run, wanted) = (std::time::Instant::now(), a.dry_run.dry_run, a.id.clone());
    let ping = match ctx.settings(None) {
        Ok(s) if !dry_run => Ping::start(&s, "restore").await,
        _ => None,
    };
    let mut restored = None;
    let result = restore_set(ctx, a, &mut restored).await;
    if dry_run {
        return result;
    }
    if let Ok(s) = ctx.settings(None) {
        // A refused restore (lock held, not confirmed) replaced nothing: no record.
        if !result.as_ref().is_err_and(|e| Outcome::of_error(e) == Outcome::Refused) {
            crate::metrics::record_restore(&s, matches!(result, Ok(ExitStatus::Success)), started.elapsed());
        }
        let event = crate::notify::Event {
            command: "restore",
            // The set chosen; before anything was resolved, the ID asked for (`latest`).
            backup_id: Some(restored.unwrap_or(wanted)),
            duration: started.elapsed(),
            ..Default::default()
        };
        if let Some(p) = ping {
            p.end(&s, &event, &result).await;
        }
        crate::notify::after(&s, &event, &result).await;
    }
    result
}

/// Restore; `restored` gets the ID of the set once it is chosen.
async fn restore_set(ctx: &Ctx, a: RestoreArgs, restored: &mut Option<String>) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    if a.to_time.is_some() || a.to_latest {
        return to_point(ctx, a, restored).await;
    }
    let s = ctx.settings(None)?;
    let source = locate::pick(&s, &a.id, a.from.as_deref()).await?;
    *restored = Some(source.describe().0);
    let project = Project::open(s).await?;
    let s = &project.settings;
    let dry_run = a.dry_run.dry_run;
    let _lock = if dry_run { None } else { Some(Lock::acquire(&s.state_dir, "restore", Duration::ZERO).await?) };
    // What a killed run left half done is put right before anything else happens.
    if let (Some(_), Ok(engine)) = (&_lock, project.engine()) {
        crate::snapshot::recover(engine, &s.state_dir).await?;
    }
    let set = match source {
        Source::Local(set) => set,
        Source::Remote(store, rs) if dry_run => {
            output::status(format!(
                "would download backup {} from remote `{}` and check every file",
                rs.id,
                store.name()
            ));
            rs.planned(s.backup_dir.join(&rs.id))
        }
        Source::Remote(store, rs) => {
            let targets = |p: &_| restore::check_targets(&project, p);
            let rs = locate::vet(s, &*store, &rs, &s.backup_dir, a.allow_unencrypted, targets).await?;
            transfer::fetch(&*store, &rs, &s.backup_dir).await?
        }
    };
    output::log_field("backup_id", &set.id);
    trust::check_encrypted(s, &set, a.allow_unencrypted)?;
    if dry_run && !set.path.is_dir() {
        return Ok(ExitStatus::Success);
    }
    let opts = restore::Options {
        only: a.only,
        safety_backup: !a.no_safety_backup,
        dry_run,
        yes: ctx.global.yes,
        timeout: a.timeout.map(Into::into),
    };
    restore::restore(&project, &set, &opts).await?;
    if output::json_mode() {
        output::json(
            &serde_json::json!({ "restored": set.id, "dry_run": opts.dry_run, "project": s.project, "environment": s.env_name }),
        );
    }
    Ok(ExitStatus::Success)
}

/// `--to-time` / `--to-latest`: a PostgreSQL service recovered to a point.
async fn to_point(ctx: &Ctx, a: RestoreArgs, restored: &mut Option<String>) -> Result<ExitStatus> {
    if a.id != "latest" {
        return Err(crate::usage!(
            "--to-time and --to-latest choose their base backup themselves; drop the backup ID `{}`",
            a.id
        ));
    }
    let target = match &a.to_time {
        Some(t) => pitr::Target::Time(pitr::parse_time(t)?),
        None => pitr::Target::Latest,
    };
    let project = Project::open(ctx.settings(None)?).await?;
    let s = &project.settings;
    let dry_run = a.dry_run.dry_run;
    let _lock = if dry_run { None } else { Some(Lock::acquire(&s.state_dir, "restore", Duration::ZERO).await?) };
    if let (Some(_), Ok(engine)) = (&_lock, project.engine()) {
        crate::snapshot::recover(engine, &s.state_dir).await?;
    }
    let opts = pitr::Options {
        target,
        service: a.service,
        from: a.from,
        safety_backup: !a.no_safety_backup,
        dry_run,
        yes: ctx.global.yes,
        timeout: a.timeout.map(Into::into),
        allow_unencrypted: a.allow_unencrypted,
    };
    let Some(done) = pitr::restore(&project, &opts).await? else { return Ok(ExitStatus::Success) };
    *restored = Some(done.base_set.clone());
    if output::json_mode() {
        output::json(&serde_json::json!({
            "restored_service": done.service,
            "base_backup": done.base_set,
            "to_time": match target {
                pitr::Target::Time(t) => Some(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                pitr::Target::Latest => None,
            },
            "last_transaction": done.last_transaction,
            "project": s.project,
            "environment": s.env_name,
        }));
    }
    Ok(ExitStatus::Success)
}
