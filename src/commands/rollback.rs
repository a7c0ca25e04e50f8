//! `ccops rollback ENV [--to VERSION] [--with-data] [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::RollbackArgs;
use crate::deploy::rollback::{self, Options};
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: RollbackArgs) -> Result<ExitStatus> {
    let project = Project::open(ctx.settings(Some(&a.env))?).await?;
    let o = Options {
        to: a.to,
        with_data: a.with_data,
        dry_run: a.dry_run.dry_run,
        lock_wait: a.lock_wait.map(Into::into).unwrap_or_default(),
        yes: ctx.global.yes,
    };
    let started = std::time::Instant::now();
    let mut settled = None;
    let result = super::deploy::print_release(rollback::rollback(&project, &o, &mut settled).await);
    super::deploy::observe(&project, "rollback", settled.or(o.to), o.dry_run, started, &result).await;
    result
}
