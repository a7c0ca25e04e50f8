//! `command` mode: the application's own tool (alembic, dbmate, a manage.py...) run in a
//! fresh one-off container of the image being deployed, `compose run --rm --no-deps`,
//! never by exec into a running container of the old version.

use anyhow::{Result, bail};

use crate::compose::Compose;
use crate::deploy::proc::{self, OnSignal, Show};

fn args<'a>(service: &'a str, command: &'a [String]) -> Vec<&'a str> {
    let mut a = vec!["run", "--rm", "--no-deps", "-T", service];
    a.extend(command.iter().map(String::as_str));
    a
}

/// Run the migration command; its output is shown as it comes.
pub async fn apply(compose: &Compose, service: &str, command: &[String]) -> Result<()> {
    let label = format!("the migration command `{}`", command.join(" "));
    let done = proc::run(compose.command(&args(service, command)), &label, Show::Tool, OnSignal::Stop).await?;
    if done.code != 0 {
        bail!("{label} failed in a new `{service}` container (exit {})", done.code);
    }
    Ok(())
}

/// Run the status command: its exit code and output lines (shown only with --verbose).
pub async fn status(compose: &Compose, service: &str, command: &[String]) -> Result<(i32, Vec<String>)> {
    let label = format!("the migration status command `{}`", command.join(" "));
    let done = proc::run(compose.command(&args(service, command)), &label, Show::Debug, OnSignal::Stop).await?;
    // Compose's own chatter (v1 prints "Creating ... done") is not the tool's output.
    let lines = done.lines.into_iter().filter(|l| !proc::is_compose_chatter(l)).collect();
    Ok((done.code, lines))
}
