//! `ccops deploy ENV [VERSION] [--allow-weak-secrets] [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::DeployArgs;
use crate::deploy::run::{self, Options};
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: DeployArgs) -> Result<ExitStatus> {
    let project = Project::open(ctx.settings(Some(&a.env))?).await?;
    let o = Options {
        version: a.version,
        allow_weak_secrets: a.allow_weak_secrets,
        lock_wait: a.lock_wait.map(Into::into).unwrap_or_default(),
        dry_run: a.dry_run.dry_run,
    };
    if let Some(rel) = run::deploy(&project, &o).await? {
        if output::json_mode() {
            output::json(&serde_json::to_value(&rel)?);
        }
    }
    Ok(ExitStatus::Success)
}
