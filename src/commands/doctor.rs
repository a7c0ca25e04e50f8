//! `ccops doctor`: preflight of engine, compose, config, services, tools, disk, remotes, cron.

use anyhow::Result;

use super::Ctx;
use crate::doctor::{self, Level};
use crate::output;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let settings = ctx.settings(None);
    let docker_host = ctx.penv.get(crate::env_vars::DOCKER_HOST).map(String::from);
    let report = doctor::run(settings, docker_host).await;
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
