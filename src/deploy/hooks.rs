//! `deploy.hooks`: host shell commands run before and after a deploy, in the config's
//! folder, with CCOPS_ENV, CCOPS_VERSION, CCOPS_PREVIOUS_VERSION and CCOPS_PROJECT set.

use anyhow::{Result, bail};

use super::proc::{self, OnSignal, Show};
use crate::config::Settings;
use crate::output;

/// Run each command of a hook list in order; the first that fails stops the rest.
pub async fn run(s: &Settings, phase: &str, commands: &[String], version: &str, previous: Option<&str>) -> Result<()> {
    for (i, c) in commands.iter().enumerate() {
        output::status(format!("  {phase} hook {}/{}: {c}", i + 1, commands.len()));
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(c)
            .current_dir(&s.base_dir)
            .env("CCOPS_ENV", &s.env_name)
            .env("CCOPS_VERSION", version)
            .env("CCOPS_PREVIOUS_VERSION", previous.unwrap_or(""))
            .env("CCOPS_PROJECT", &s.project);
        let done = proc::run(cmd, &format!("the {phase} hook `{c}`"), Show::Status, OnSignal::Stop).await?;
        if done.code != 0 {
            bail!("the {phase} hook `{c}` failed (exit {})", done.code);
        }
    }
    Ok(())
}
