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
    let started = std::time::Instant::now();
    let (dry_run, version) = (o.dry_run, o.version.clone());
    let result: Result<ExitStatus> = async {
        if let Some(rel) = run::deploy(&project, &o).await? {
            if output::json_mode() {
                output::json(&serde_json::to_value(&rel)?);
            }
        }
        Ok(ExitStatus::Success)
    }
    .await;
    // Monitoring hears of every real deploy; neither call can fail it.
    if !dry_run {
        let s = &project.settings;
        let outcome = match &result {
            Ok(_) => crate::metrics::DeployOutcome::Success,
            Err(e) if format!("{e:#}").contains("rolled back") => crate::metrics::DeployOutcome::RolledBack,
            Err(_) => crate::metrics::DeployOutcome::Failure,
        };
        let v = version.clone().unwrap_or_default();
        crate::metrics::record_deploy(s, "deploy", &v, outcome, started.elapsed());
        let event =
            crate::notify::Event { command: "deploy", version, duration: started.elapsed(), ..Default::default() };
        crate::notify::after(s, &event, &result).await;
    }
    result
}
