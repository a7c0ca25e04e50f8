//! `ccops wal stream|verify|status`: the WAL archive of point-in-time recovery.

use anyhow::Result;

use super::Ctx;
use crate::backup::wal::{check, stream};
use crate::cli::{WalArgs, WalCommand};
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: WalArgs) -> Result<ExitStatus> {
    match args.command {
        WalCommand::Stream { service, upload } => {
            crate::util::cleanup_aware();
            let s = ctx.settings(None)?;
            if let Some(r) = &upload {
                crate::storage::remote(&s, r)?;
            }
            let p = Project::open(s).await?;
            let store = match &upload {
                Some(r) => Some(crate::storage::open(&p.settings, r).await?),
                None => None,
            };
            stream::stream(&p, stream::Options { service, store }).await?;
            Ok(ExitStatus::Success)
        }
        WalCommand::Verify { service, remote } => {
            let report = report(ctx, service.as_deref(), remote.as_deref()).await?;
            Ok(if report.whole() { ExitStatus::Success } else { ExitStatus::Failure })
        }
        WalCommand::Status { service } => {
            report(ctx, service.as_deref(), None).await?;
            Ok(ExitStatus::Success)
        }
    }
}

async fn report(ctx: &Ctx, service: Option<&str>, remote: Option<&str>) -> Result<check::Report> {
    let p = Project::open(ctx.settings(None)?).await?;
    let store = match remote {
        Some(r) => Some(crate::storage::open(&p.settings, r).await?),
        None => None,
    };
    let report = check::check(&p, service, store.as_deref()).await?;
    if output::json_mode() {
        output::json(&report.json());
    } else {
        for l in report.lines() {
            if l.starts_with("gap:") { output::error(&l) } else { output::data(l) }
        }
    }
    Ok(report)
}
