//! `command` mode: the application's own tool (alembic, dbmate, a manage.py...) run in a
//! fresh one-off container of the image being deployed, `compose run --rm --no-deps`
//! (in a Swarm stack a one-off task, job.rs), never by exec into a running container of
//! the old version.

use anyhow::{Result, bail};

use crate::compose::Compose;
use crate::deploy::proc::{self, Finished, OnSignal, Show};
use crate::docker::Engine;

fn args<'a>(service: &'a str, command: &'a [String]) -> Vec<&'a str> {
    let mut a = vec!["run", "--rm", "--no-deps", "-T", service];
    a.extend(command.iter().map(String::as_str));
    a
}

/// Run `command` once from `service`'s image and definition.
async fn once(
    compose: &Compose,
    engine: &Engine,
    service: &str,
    command: &[String],
    label: &str,
    show: Show,
) -> Result<Finished> {
    if engine.is_swarm() {
        return super::job::run(compose, engine, service, command, show).await;
    }
    proc::run(compose.command(&args(service, command)), label, show, OnSignal::Stop).await
}

/// Run the migration command; its output is shown as it comes (in a Swarm stack, when
/// its task ended).
pub async fn apply(compose: &Compose, engine: &Engine, service: &str, command: &[String]) -> Result<()> {
    let label = format!("the migration command `{}`", command.join(" "));
    let done = once(compose, engine, service, command, &label, Show::Tool).await?;
    if done.code != 0 {
        bail!("{label} failed in a new `{service}` container (exit {})", done.code);
    }
    Ok(())
}

/// Run the status command: its exit code and output lines (shown only with --verbose).
pub async fn status(
    compose: &Compose,
    engine: &Engine,
    service: &str,
    command: &[String],
) -> Result<(i32, Vec<String>)> {
    let label = format!("the migration status command `{}`", command.join(" "));
    let done = once(compose, engine, service, command, &label, Show::Debug).await?;
    // Compose's own chatter (v1 prints "Creating ... done") is not the tool's output.
    let lines = done.lines.into_iter().filter(|l| !proc::is_compose_chatter(l)).collect();
    Ok((done.code, lines))
}
