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
    let mut settled = None;
    let result = print_release(run::deploy(&project, &o, &mut settled).await);
    observe(&project, "deploy", settled.or(o.version), o.dry_run, started, &result).await;
    result
}

/// Print a recorded release as `--json` asks.
pub(super) fn print_release<T: serde::Serialize>(r: Result<Option<T>>) -> Result<ExitStatus> {
    if let Some(rel) = r? {
        if output::json_mode() {
            output::json(&serde_json::to_value(&rel)?);
        }
    }
    Ok(ExitStatus::Success)
}

/// Monitoring hears of every real deploy or rollback: metrics and the webhook. Neither
/// can fail the operation. `version` is the one the command settled on (the version
/// variable's value for a bare `deploy ENV`, the release before for a bare
/// `rollback ENV`), else the one asked for.
pub(super) async fn observe(
    project: &Project,
    command: &'static str,
    version: Option<String>,
    dry_run: bool,
    started: std::time::Instant,
    result: &Result<ExitStatus>,
) {
    if dry_run {
        return;
    }
    let s = &project.settings;
    let outcome = crate::metrics::DeployOutcome::of(result);
    crate::metrics::record_deploy(s, command, version.as_deref().unwrap_or_default(), outcome, started.elapsed());
    let event = crate::notify::Event { command, version, duration: started.elapsed(), ..Default::default() };
    crate::notify::after(s, &event, result).await;
}
