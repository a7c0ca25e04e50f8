//! `ccops backup [list|verify|push|prune|drill|schedule]`: arguments into options, the
//! ops of `backup` called, their results printed, monitoring told. Listing and
//! verifying are in list.rs, drills in drill.rs.

mod drill;
mod list;

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Ctx;
use crate::backup::remote::upload;
use crate::backup::{create, layout, prune, remote, schedule};
use crate::cli::{BackupArgs, BackupCommand, BackupCreateArgs};
use crate::lock::Lock;
use crate::notify::Ping;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: BackupArgs) -> Result<ExitStatus> {
    match args.command {
        None => take_observed(ctx, args.create).await,
        Some(BackupCommand::List { remote }) => list::list(ctx, remote.as_deref()).await,
        Some(BackupCommand::Verify { id, remote }) => list::verify(ctx, &id, remote.as_deref()).await,
        Some(BackupCommand::Push { id, remote }) => {
            let result = push(ctx, &id, &remote).await;
            if let Ok(s) = ctx.settings(None) {
                crate::metrics::record_upload(&s, &remote, matches!(result, Ok(ExitStatus::Success)));
            }
            result
        }
        Some(BackupCommand::Prune { remote, dry_run }) => prune(ctx, remote.as_deref(), dry_run.dry_run).await,
        Some(BackupCommand::Drill { id, from, to_time, to_latest, service }) if to_time.is_some() || to_latest => {
            drill::to_point(ctx, &id, from, to_time, service).await
        }
        Some(BackupCommand::Drill { id, from, .. }) => drill::run(ctx, id, from).await,
        Some(BackupCommand::Schedule { cron, upload, remove, print, drill, dry_run }) => {
            let s = ctx.settings(None)?;
            schedule::schedule(&s, &cron, upload.as_deref(), remove, print, dry_run.dry_run, drill).await
        }
    }
}

/// What a backup run got to: the ID of the set once it is chosen, and why its upload
/// failed (the run goes on to exit 1; the error was printed).
#[derive(Default)]
struct Taken {
    id: Option<String>,
    upload_error: Option<String>,
}

/// `backup`: take a set, upload it (and the sets pending before it) when asked, prune.
/// Returns the status and how far it got.
async fn take(ctx: &Ctx, a: BackupCreateArgs) -> (Result<ExitStatus>, Taken) {
    let mut taken = Taken::default();
    let result = take_set(ctx, a, &mut taken).await;
    if taken.id.is_none() {
        taken.id = result.as_ref().err().and_then(create::failed_id);
    }
    (result, taken)
}

async fn take_set(ctx: &Ctx, a: BackupCreateArgs, taken: &mut Taken) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    if let Some(r) = &a.upload {
        crate::storage::remote(&s, r)?;
    }
    let project = Project::open(s).await?;
    let s = &project.settings;
    let opts = create::Options { only: a.only, tags: a.tag, dry_run: a.dry_run.dry_run };
    if opts.dry_run {
        create::create(&project, &opts).await?;
        return Ok(ExitStatus::Success);
    }
    let _lock = Lock::acquire(&s.state_dir, "backup", Duration::ZERO).await?;
    // What a killed run left half done is put right before anything is read.
    if let Ok(engine) = project.engine() {
        crate::snapshot::recover(engine, &s.state_dir).await?;
    }
    let store = match &a.upload {
        Some(r) => Some(crate::storage::open(s, r).await?),
        None => None,
    };
    // Sets whose upload failed before go first.
    if let Some(store) = &store {
        upload::push_pending(s, &**store, super::report).await;
    }
    let m = create::create(&project, &opts).await?;
    taken.id = m.as_ref().map(|m| m.id.clone());
    let mut status = ExitStatus::Success;
    if let (Some(store), Some(m)) = (&store, &m) {
        let set = layout::resolve(&layout::list(&s.backup_dir)?, &m.id)?.clone();
        if let Err(e) = upload::upload(s, &**store, &set).await {
            // Ctrl-C during the upload: the set is kept and pending; exit 130, not 1.
            if e.chain().any(|c| c.is::<crate::error::Interrupted>()) {
                return Err(e);
            }
            super::report(&e);
            taken.upload_error = Some(crate::error::chain_text(&e));
            status = ExitStatus::Failure;
        }
    }
    if !a.no_prune {
        // The set is complete: a failing prune is worth a warning, not a failed backup.
        if let Err(e) = prune::prune(s, false) {
            output::warn(format!("backup done, but pruning old backups failed: {e:#}"));
        }
    }
    if let (Some(m), true) = (m, output::json_mode()) {
        output::json(&serde_json::to_value(&m)?);
    }
    Ok(status)
}

/// `backup` between its start and end pings, followed by its metrics and notification;
/// all are best-effort and never change the result.
async fn take_observed(ctx: &Ctx, a: BackupCreateArgs) -> Result<ExitStatus> {
    let (started, dry_run, upload) = (Instant::now(), a.dry_run.dry_run, a.upload.clone());
    let ping = match ctx.settings(None) {
        Ok(s) if !dry_run => Ping::start(&s, "backup").await,
        _ => None,
    };
    let (result, taken) = take(ctx, a).await;
    if dry_run {
        return result;
    }
    if let Ok(s) = ctx.settings(None) {
        let id = taken.id;
        let run = crate::metrics::BackupRun::of(&s, &result, id.as_deref(), started.elapsed(), upload.as_deref());
        crate::metrics::record_backup(&s, &run);
        let error = (run.ok && matches!(result, Ok(ExitStatus::Failure))).then(|| {
            let mut e = format!(
                "backup {} was written, but its upload to `{}` failed; it is marked upload pending",
                id.as_deref().unwrap_or("?"),
                upload.as_deref().unwrap_or("?")
            );
            if let Some(why) = &taken.upload_error {
                e.push_str(&format!("\n  caused by: {why}"));
            }
            e
        });
        let event = crate::notify::Event {
            command: "backup",
            backup_id: id,
            duration: started.elapsed(),
            error,
            ..Default::default()
        };
        if let Some(p) = ping {
            p.end(&s, &event, &result).await;
        }
        crate::notify::after(&s, &event, &result).await;
    }
    result
}

/// `backup push ID|all-pending --remote R`.
async fn push(ctx: &Ctx, id: &str, r: &str) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    let store = crate::storage::open(&s, r).await?;
    let _lock = Lock::acquire(&s.state_dir, "backup push", Duration::ZERO).await?;
    let all_ok = upload::push(&s, &*store, id, super::report).await?;
    Ok(if all_ok { ExitStatus::Success } else { ExitStatus::Failure })
}

/// `backup prune [--remote R] [--dry-run]`.
async fn prune(ctx: &Ctx, r: Option<&str>, dry_run: bool) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let _lock = Lock::acquire(&s.state_dir, "backup prune", Duration::ZERO).await?;
    if let Some(r) = r {
        let store = crate::storage::open(&s, r).await?;
        let deleted = remote::prune::prune(&*store, &s.file.backup.retention, Some(&s), dry_run).await?;
        if output::json_mode() {
            output::json(&serde_json::json!({ "remote": r, "deleted": deleted }));
        }
        return Ok(ExitStatus::Success);
    }
    let out = prune::prune(&s, dry_run)?;
    if output::json_mode() {
        output::json(&serde_json::to_value(&out)?);
    }
    Ok(ExitStatus::Success)
}
