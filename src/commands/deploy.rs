//! `ccops deploy ENV [VERSION] [--allow-weak-secrets] [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::DeployArgs;
use crate::config::Settings;
use crate::deploy::run::{self, Options};
use crate::notify::Ping;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: DeployArgs) -> Result<ExitStatus> {
    let s = ctx.settings(Some(&a.env))?;
    let o = Options {
        version: a.version,
        allow_weak_secrets: a.allow_weak_secrets,
        lock_wait: a.lock_wait.map(Into::into).unwrap_or_default(),
        dry_run: a.dry_run.dry_run,
    };
    let ping = if o.dry_run { None } else { Ping::start(&s, "deploy").await };
    let started = std::time::Instant::now();
    let mut settled = None;
    let deployed = async { run::deploy(&Project::open(s.clone()).await?, &o, &mut settled).await }.await;
    let result = print_release(deployed);
    if !o.dry_run {
        observe(&s, "deploy", settled.or(o.version), ping, started, &result).await;
    }
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

/// Monitoring hears of every real deploy or rollback: metrics, the end ping and the
/// webhook. None can fail the operation. `version` is the one the command settled on
/// (the version variable's value for a bare `deploy ENV`, the release before for a bare
/// `rollback ENV`), else the one asked for.
pub(super) async fn observe(
    s: &Settings,
    command: &'static str,
    version: Option<String>,
    ping: Option<Ping>,
    started: std::time::Instant,
    result: &Result<ExitStatus>,
) {
    let outcome = crate::metrics::DeployOutcome::of(result);
    crate::metrics::record_deploy(s, command, version.as_deref().unwrap_or_default(), outcome, started.elapsed());
    let event = crate::notify::Event { command, version, duration: started.elapsed(), ..Default::default() };
    if let Some(p) = ping {
        p.end(s, &event, result).await;
    }
    crate::notify::after(s, &event, result).await;
}
