//! `ccops restore [ID|latest]`.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::backup::{layout, restore};
use crate::cli::RestoreArgs;
use crate::lock::Lock;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: RestoreArgs) -> Result<ExitStatus> {
    if let Some(r) = &a.from {
        return Err(crate::usage!("remote `{r}`: restoring from remotes is not available yet in this version"));
    }
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    let sets = layout::list(&s.backup_dir)?;
    let set = layout::resolve(&sets, &a.id)?.clone();
    crate::output::set_context("backup_id", set.id.clone());
    let project = Project::open(s).await?;
    let _lock = if a.dry_run.dry_run {
        None
    } else {
        Some(Lock::acquire(&project.settings.state_dir, "restore", Duration::ZERO).await?)
    };
    let opts = restore::Options { only: a.only, safety_backup: !a.no_safety_backup, dry_run: a.dry_run.dry_run, yes: ctx.global.yes };
    restore::restore(&project, &set, &opts).await?;
    Ok(ExitStatus::Success)
}
