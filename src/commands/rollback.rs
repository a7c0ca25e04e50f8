//! `ccops rollback ENV [--to VERSION] [--with-data] [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::RollbackArgs;
use crate::deploy::rollback::{self, Options};
use crate::notify::Ping;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: RollbackArgs) -> Result<ExitStatus> {
    let s = ctx.settings(Some(&a.env))?;
    let o = Options {
        to: a.to,
        with_data: a.with_data,
        dry_run: a.dry_run.dry_run,
        lock_wait: a.lock_wait.map(Into::into).unwrap_or_default(),
        yes: ctx.global.yes,
    };
    let ping = if o.dry_run { None } else { Ping::start(&s, "rollback").await };
    let started = std::time::Instant::now();
    let mut settled = None;
    let rolled = async { rollback::rollback(&Project::open(s.clone()).await?, &o, &mut settled).await }.await;
    let result = super::deploy::print_release(rolled);
    if !o.dry_run {
        super::deploy::observe(&s, "rollback", settled.or(o.to), ping, started, &result).await;
    }
    result
}
