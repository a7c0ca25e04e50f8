//! `ccops backup [list|verify|push|prune|schedule]`.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::backup::{create, layout, prune, schedule, verify};
use crate::cli::{BackupArgs, BackupCommand, BackupCreateArgs};
use crate::lock::Lock;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: BackupArgs) -> Result<ExitStatus> {
    match args.command {
        None => take(ctx, args.create).await,
        Some(BackupCommand::List { remote }) => {
            no_remote_yet(remote.as_deref())?;
            list(ctx)
        }
        Some(BackupCommand::Verify { id, remote }) => {
            no_remote_yet(remote.as_deref())?;
            verify(ctx, &id).await
        }
        Some(BackupCommand::Push { remote, .. }) => {
            no_remote_yet(Some(&remote))?;
            Ok(ExitStatus::Usage)
        }
        Some(BackupCommand::Prune { remote, dry_run }) => {
            no_remote_yet(remote.as_deref())?;
            let s = ctx.settings(None)?;
            let _lock = Lock::acquire(&s.state_dir, "backup prune", Duration::ZERO).await?;
            let out = prune::prune(&s, dry_run.dry_run)?;
            if output::json_mode() {
                output::json(&serde_json::to_value(&out)?);
            }
            Ok(ExitStatus::Success)
        }
        Some(BackupCommand::Schedule { cron, remove, print, dry_run }) => {
            let s = ctx.settings(None)?;
            schedule::schedule(&s, &cron, remove, print, dry_run.dry_run).await
        }
    }
}

/// Remote storage is the next step of the roadmap; say so plainly (exit 2).
fn no_remote_yet(remote: Option<&str>) -> Result<()> {
    match remote {
        Some(r) => Err(crate::usage!(
            "remote `{r}`: uploads to and reads from remotes are not available yet in this version; backups are kept locally"
        )),
        None => Ok(()),
    }
}

async fn take(ctx: &Ctx, a: BackupCreateArgs) -> Result<ExitStatus> {
    no_remote_yet(a.upload.as_deref())?;
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    let project = Project::open(s).await?;
    let s = &project.settings;
    if a.dry_run.dry_run {
        create::create(&project, &create::Options { only: a.only, tags: a.tag, dry_run: true }).await?;
        return Ok(ExitStatus::Success);
    }
    let _lock = Lock::acquire(&s.state_dir, "backup", Duration::ZERO).await?;
    let m = create::create(&project, &create::Options { only: a.only, tags: a.tag, dry_run: false }).await?;
    if !a.no_prune {
        prune::prune(s, false)?;
    }
    if let (Some(m), true) = (m, output::json_mode()) {
        output::json(&serde_json::to_value(&m)?);
    }
    Ok(ExitStatus::Success)
}

fn list(ctx: &Ctx) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let sets = layout::list(&s.backup_dir)?;
    if output::json_mode() {
        let rows: Vec<serde_json::Value> = sets
            .iter()
            .map(|x| {
                serde_json::json!({
                    "id": x.id,
                    "created": x.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "environment": x.manifest.as_ref().map(|m| m.environment.clone()),
                    "tags": x.manifest.as_ref().map(|m| m.tags.clone()).unwrap_or_default(),
                    "bytes": x.bytes(),
                    "components": components(x),
                    "complete": x.complete,
                    "layout": if x.legacy.is_some() { "legacy" } else { "ccops" },
                    "where": ["local"],
                })
            })
            .collect();
        output::json(&serde_json::Value::Array(rows));
        return Ok(ExitStatus::Success);
    }
    let mut t = output::table(&["ID", "CREATED (UTC)", "ENV", "TAGS", "SIZE", "COMPONENTS", "STATE", "WHERE"]);
    for x in &sets {
        let state = match (x.complete, x.legacy.is_some()) {
            (_, true) => "legacy",
            (true, false) => "complete",
            (false, false) => "incomplete",
        };
        t.add_row(vec![
            x.id.clone(),
            x.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            x.manifest.as_ref().map(|m| m.environment.clone()).unwrap_or_default(),
            x.manifest.as_ref().map(|m| m.tags.join(",")).unwrap_or_default(),
            crate::util::human_bytes(x.bytes()),
            components(x).join(", "),
            state.to_string(),
            "local".to_string(),
        ]);
    }
    if sets.is_empty() {
        output::status(format!("no backups in {}", s.backup_dir.display()));
    } else {
        output::data(t.to_string());
    }
    Ok(ExitStatus::Success)
}

fn components(x: &layout::LocalSet) -> Vec<String> {
    match (&x.manifest, &x.legacy) {
        (Some(m), _) => m.components.iter().map(|c| format!("{}:{}", c.kind.word(), c.name)).collect(),
        (None, Some(l)) => l
            .postgres
            .iter()
            .map(|(d, _)| format!("postgres:{d}"))
            .chain(l.volumes.iter().map(|(v, _)| format!("volume:{v}")))
            .chain(l.redis.iter().map(|_| "redis".to_string()))
            .collect(),
        _ => vec![],
    }
}

async fn verify(ctx: &Ctx, id: &str) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let sets = layout::list(&s.backup_dir)?;
    let set = layout::resolve(&sets, id)?.clone();
    // pg_restore --list runs in the postgres service when it is up.
    let project = Project::open(s).await?;
    let mut pg = None;
    if let (Ok(engine), Some(t)) = (project.engine(), project.settings.file.backup.postgres.first()) {
        pg = engine.running_container(&project.settings.project, &t.service).await.ok().map(|c| c.id);
    }
    let checks = verify::verify(&set, project.engine().ok(), pg.as_deref()).await;
    let failed: Vec<&verify::FileCheck> = checks.iter().filter(|c| !c.ok).collect();
    if output::json_mode() {
        output::json(&serde_json::json!({ "id": set.id, "ok": failed.is_empty(), "files": checks }));
    } else {
        let mut t = output::table(&["FILE", "KIND", "RESULT", "DETAIL"]);
        for c in &checks {
            t.add_row(vec![c.file.clone(), c.kind.clone(), if c.ok { "OK" } else { "FAIL" }.to_string(), c.detail.clone()]);
        }
        output::data(t.to_string());
    }
    if failed.is_empty() {
        output::status(format!("backup {}: all {} files verified", set.id, checks.len()));
        Ok(ExitStatus::Success)
    } else {
        for c in &failed {
            output::error(format!("backup {}: `{}` failed verification: {}", set.id, c.file, c.detail));
        }
        Ok(ExitStatus::Failure)
    }
}
