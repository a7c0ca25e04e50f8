//! `ccops rollback ENV [--to VERSION] [--with-data] [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::RollbackArgs;
use crate::deploy::rollback::{self, Options};
use crate::output;
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
    let (dry_run, version) = (o.dry_run, o.to.clone());
    let result: Result<ExitStatus> = async {
        if let Some(rel) = rollback::rollback(&project, &o).await? {
            if output::json_mode() {
                output::json(&serde_json::to_value(&rel)?);
            }
        }
        Ok(ExitStatus::Success)
    }
    .await;
    // Monitoring hears of every real rollback; neither call can fail it.
    if !dry_run {
        let s = &project.settings;
        let outcome = match &result {
            Ok(_) => crate::metrics::DeployOutcome::Success,
            Err(e) if format!("{e:#}").contains("rolled back") => crate::metrics::DeployOutcome::RolledBack,
            Err(_) => crate::metrics::DeployOutcome::Failure,
        };
        let v = version.clone().unwrap_or_default();
        crate::metrics::record_deploy(s, "rollback", &v, outcome, started.elapsed());
        let event =
            crate::notify::Event { command: "rollback", version, duration: started.elapsed(), ..Default::default() };
        crate::notify::after(s, &event, &result).await;
    }
    result
}
