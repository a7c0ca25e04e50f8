//! `ccops restore [ID|latest] [--from REMOTE]`.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::backup::{layout, remote, restore, trust};
use crate::cli::RestoreArgs;
use crate::config::Settings;
use crate::lock::Lock;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;
use crate::storage::s3::S3Store;

/// `restore` followed by its metrics and notification (best-effort, never change the result).
pub async fn run(ctx: &Ctx, a: RestoreArgs) -> Result<ExitStatus> {
    let (started, dry_run, wanted) = (std::time::Instant::now(), a.dry_run.dry_run, a.id.clone());
    let result = restore_set(ctx, a).await;
    if dry_run {
        return result;
    }
    if let Ok(s) = ctx.settings(None) {
        crate::metrics::record_restore(&s, matches!(result, Ok(ExitStatus::Success)), started.elapsed());
        let id = crate::notify::restored_id(&s, &wanted);
        let event = crate::notify::Event {
            command: "restore",
            backup_id: Some(id),
            duration: started.elapsed(),
            ..Default::default()
        };
        crate::notify::after(&s, &event, &result).await;
    }
    result
}

async fn restore_set(ctx: &Ctx, a: RestoreArgs) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    let source = pick(&s, &a.id, a.from.as_deref()).await?;
    let project = Project::open(s).await?;
    let s = &project.settings;
    let _lock =
        if a.dry_run.dry_run { None } else { Some(Lock::acquire(&s.state_dir, "restore", Duration::ZERO).await?) };
    // What a killed run left half done is put right before anything else happens.
    if let (Some(_), Ok(engine)) = (&_lock, project.engine()) {
        crate::snapshot::recover(engine, &s.state_dir).await?;
    }
    let set = match source {
        Source::Local(set) => set,
        Source::Remote(store, rs) if a.dry_run.dry_run => {
            output::status(format!(
                "would download backup {} from remote `{}` and check every file",
                rs.id, store.name
            ));
            layout::LocalSet {
                id: rs.id.clone(),
                created: rs.created,
                path: s.backup_dir.join(&rs.id),
                complete: true,
                manifest: rs.manifest,
                legacy: None,
                damaged: None,
                download: false,
            }
        }
        Source::Remote(store, rs) => {
            // The manifest is read again with its signature and checked; what it would
            // restore into is checked against ccops.yaml before a byte is downloaded.
            let rs = trust::signed_remote(s, &store, &rs).await?;
            let planned = layout::LocalSet {
                id: rs.id.clone(),
                created: rs.created,
                path: s.backup_dir.join(&rs.id),
                complete: true,
                manifest: rs.manifest.clone(),
                legacy: None,
                damaged: None,
                download: false,
            };
            restore::check_targets(&project, &planned)?;
            trust::check_encrypted(s, &planned, a.allow_unencrypted)?;
            output::status(format!("downloading backup {} from remote `{}` ...", rs.id, store.name));
            remote::fetch(&store, &rs, &s.backup_dir).await?
        }
    };
    output::set_context("backup_id", set.id.clone());
    trust::check_encrypted(s, &set, a.allow_unencrypted)?;
    if a.dry_run.dry_run && !set.path.is_dir() {
        return Ok(ExitStatus::Success);
    }
    let opts = restore::Options {
        only: a.only,
        safety_backup: !a.no_safety_backup,
        dry_run: a.dry_run.dry_run,
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

enum Source {
    Local(layout::LocalSet),
    Remote(S3Store, remote::RemoteSet),
}

/// Local first; `--from` or a set that is not local comes from a remote.
async fn pick(s: &Settings, id: &str, from: Option<&str>) -> Result<Source> {
    let local = layout::list(&s.backup_dir)?;
    if let Some(r) = from {
        let store = S3Store::connect(r, crate::storage::remote(s, r)?).await?;
        let sets = remote::list(&store).await?;
        let rs = remote::resolve(&sets, id, r)?.clone();
        // A local copy with the same manifest is the same set: no need to download it.
        if let Some(l) = local.iter().find(|l| l.id == rs.id && l.complete) {
            let same = |a: &crate::backup::manifest::Manifest, b: &crate::backup::manifest::Manifest| {
                a.components.iter().map(|c| &c.sha256).eq(b.components.iter().map(|c| &c.sha256))
            };
            if let (Some(lm), Some(rm)) = (&l.manifest, &rs.manifest) {
                if same(lm, rm) {
                    output::status(format!("backup {} is here already, identical to the copy on remote `{r}`", rs.id));
                    return Ok(Source::Local(l.clone()));
                }
            }
            return Err(crate::usage!(
                "backup {} exists locally and differs from the copy on remote `{r}`; move the local one away first",
                rs.id
            ));
        }
        return Ok(Source::Remote(store, rs));
    }
    match layout::resolve(&local, id) {
        Ok(set) => Ok(Source::Local(set.clone())),
        Err(local_err) => {
            // Not here: the remotes may have it (a new server restoring from off-site copies).
            for (name, r) in &s.file.remotes {
                let Ok(store) = S3Store::connect(name, r).await else { continue };
                let Ok(sets) = remote::list(&store).await else { continue };
                if let Ok(rs) = remote::resolve(&sets, id, name) {
                    output::status(format!("backup {} is not here; using the copy on remote `{name}`", rs.id));
                    let rs = rs.clone();
                    return Ok(Source::Remote(store, rs));
                }
            }
            Err(local_err)
        }
    }
}
