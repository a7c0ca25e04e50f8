//! `ccops health [ENV] [--wait] [--timeout] [--format]`.

use std::time::Instant;

use anyhow::Result;

use super::Ctx;
use crate::cli::{HealthArgs, HealthFormat};
use crate::health::{self, Status, format};
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: HealthArgs) -> Result<ExitStatus> {
    let format = if ctx.global.json { HealthFormat::Json } else { args.format };
    let project = match open(ctx, &args).await {
        Ok(p) => p,
        // A monitoring system reads UNKNOWN, not a usage error, when the check cannot run.
        Err(e) if format == HealthFormat::Nagios => {
            let msg = format!("{e:#}").replace('\n', " ");
            output::data(format!("CCOPS UNKNOWN - {}", output::redact(&msg)));
            return Ok(ExitStatus::Code(3));
        }
        Err(e) => return Err(e),
    };
    let deadline = Instant::now() + *args.timeout;
    let report = loop {
        let report = health::run(&project.settings, &project.engine, &project.model, health::Scope::All).await;
        // Warnings (no backup yet, a certificate inside warn_days) do not keep --wait waiting,
        // nor does resource pressure, which waiting does not relieve.
        if !args.wait || !health::resources::keeps_waiting(&report) || Instant::now() >= deadline {
            break report;
        }
        output::status(format!("waiting: {}", format::summary(&report)));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    let mut report = report;
    // A restore killed half way leaves data no check of a service would notice; health only
    // reports it (it holds no lock), naming the command that puts it right.
    if let Some(detail) = crate::state::unfinished(&project.settings.state_dir) {
        output::error(&detail);
        report.checks.push(health::CheckResult {
            name: "ccops-journal".into(),
            kind: "journal",
            status: Status::Fail,
            detail,
            duration: std::time::Duration::ZERO,
            metrics: vec![],
        });
        report.status = Status::Fail;
    }
    let exit = if report.status == Status::Fail { ExitStatus::Failure } else { ExitStatus::Success };
    crate::metrics::record_health(&project.settings, &report);
    match format {
        HealthFormat::Table => {
            output::data(format::table(&report));
            let line = format::summary(&report);
            if report.status == Status::Fail { output::error(line) } else { output::status(line) }
        }
        HealthFormat::Json => output::json(&format::json(&report)),
        HealthFormat::Prometheus => output::data(format::prometheus(&report)),
        HealthFormat::Nagios => {
            let (line, code) = format::nagios(&report);
            output::data(line);
            return Ok(ExitStatus::Code(code));
        }
    }
    Ok(exit)
}

async fn open(ctx: &Ctx, args: &HealthArgs) -> Result<Project> {
    let settings = ctx.settings(args.env.as_deref())?;
    Project::open(settings).await
}
