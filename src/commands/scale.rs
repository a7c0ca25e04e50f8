//! `ccops scale ENV SERVICE=N... [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::ScaleArgs;
use crate::deploy::scale;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: ScaleArgs) -> Result<ExitStatus> {
    let wanted = scale::parse(&a.services)?;
    let project = Project::open(ctx.settings(Some(&a.env))?).await?;
    let lock_wait = a.lock_wait.map(Into::into).unwrap_or_default();
    let desired = scale::scale(&project, &wanted, a.dry_run.dry_run, lock_wait).await?;
    if output::json_mode() {
        output::json(&serde_json::json!({
            "environment": project.settings.env_name,
            "dry_run": a.dry_run.dry_run,
            "scaled": wanted.iter().map(|(s, n)| (s.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "desired": desired,
        }));
    }
    Ok(ExitStatus::Success)
}
