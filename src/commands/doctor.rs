//! `ccops doctor`: preflight of engine, compose, config, services, tools, disk, remotes, cron.

use anyhow::Result;

use super::Ctx;
use crate::doctor::{self, Level};
use crate::output;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let settings = ctx.settings(None);
    // Without a config, the engine the Docker CLI would use (a config that loads says
    // which itself; one that does not load reports a broken context).
    let endpoint = crate::config::engine_endpoint(None, &ctx.penv).ok().flatten();
    let report = doctor::run(settings, endpoint).await;
    if output::json_mode() {
        output::json(&serde_json::to_value(&report)?);
    } else {
        output::data(doctor::render(&report));
    }
    let line = doctor::summary(&report);
    if report.status == Level::Fail {
        output::error(line);
        Ok(ExitStatus::Failure)
    } else {
        output::status(line);
        Ok(ExitStatus::Success)
    }
}
