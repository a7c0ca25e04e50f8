//! The WAL receiver: a sidecar container from the Postgres service's own image, in that
//! container's network namespace (so `127.0.0.1` is the server), running
//! `pg_receivewal --synchronous` into a bind-mounted staging folder. The replication
//! slot is created first (`--create-slot --if-not-exists`), so the server keeps WAL
//! the receiver has not yet confirmed, across its restarts and ccops' own.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use futures_util::StreamExt;

use super::pgbase::Login;
use crate::docker::{Engine, short_err};

/// Where the staging folder appears in the sidecar.
const MOUNT: &str = "/wal";

/// Create the slot if missing, then stream into the staging folder until the
/// connection ends (`--no-loop`: the caller restarts it, and knows it happened).
const SCRIPT: &str = r#"slot=$1; shift
pg_receivewal "$@" --slot="$slot" --create-slot --if-not-exists || exit 3
exec pg_receivewal "$@" --slot="$slot" --directory=/wal --synchronous --no-loop"#;

/// What the sidecar is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Running,
    /// It ended: the exit code and its last lines of output.
    Exited(i64, String),
    Gone,
}

/// The sidecar's container name for a project's service.
pub fn name(project: &str, service: &str) -> String {
    let clean =
        |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>();
    format!("{}-ccops-wal-{}", clean(project), clean(service))
}

/// Start the receiver for the server in `postgres` (a container ID), replacing one a
/// killed ccops left. Runs as this process' user, so ccops owns what it writes.
pub async fn start(
    engine: &Engine,
    name: &str,
    image: &str,
    postgres: &str,
    staging: &Path,
    login: &Login,
    slot: &str,
) -> Result<String> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    remove(engine, name).await;
    let mut cmd: Vec<String> = vec!["-c".into(), SCRIPT.into(), "sh".into(), slot.into()];
    cmd.extend(login.args());
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let labels = HashMap::from([("ccops.wal-receiver".to_string(), name.to_string())]);
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["sh".into()]),
        cmd: Some(cmd),
        env: Some(login.env()),
        user: Some(format!("{uid}:{gid}")),
        labels: Some(labels),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{}:{MOUNT}", staging.display())]),
            network_mode: Some(format!("container:{postgres}")),
            ..Default::default()
        }),
        ..Default::default()
    };
    let opts = bollard::query_parameters::CreateContainerOptionsBuilder::default().name(name).build();
    let id = engine
        .api()
        .create_container(Some(opts), body)
        .await
        .map_err(|e| anyhow!("cannot create the WAL receiver from image `{image}`: {}", short_err(&e)))?
        .id;
    if let Err(e) = engine.start(&id).await {
        engine.remove(&id).await.ok();
        return Err(e.context("the WAL receiver does not start"));
    }
    Ok(id)
}

/// Whether the sidecar still runs; when it ended, how.
pub async fn state(engine: &Engine, id: &str) -> State {
    let Ok(info) = engine.api().inspect_container(id, None).await else { return State::Gone };
    let st = info.state.unwrap_or_default();
    if st.running == Some(true) {
        return State::Running;
    }
    State::Exited(st.exit_code.unwrap_or(-1), last_output(engine, id).await)
}

/// The sidecar's last lines of output, for a message.
async fn last_output(engine: &Engine, id: &str) -> String {
    let opts = bollard::query_parameters::LogsOptionsBuilder::default().stdout(true).stderr(true).tail("5").build();
    let mut logs = engine.api().logs(id, Some(opts));
    let mut text = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        text.push_str(&chunk.to_string());
    }
    super::last_lines(&text)
}

/// Stop and remove the sidecar called `name`, if there is one.
pub async fn remove(engine: &Engine, name: &str) {
    let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
    if let Err(e) = engine.api().remove_container(name, Some(opts)).await {
        let missing = matches!(&e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. });
        if !missing {
            crate::output::debug(format!("removing the WAL receiver `{name}`: {}", short_err(&e)));
        }
    }
}

/// The slot's `restart_lsn` (what the receiver confirmed flushed), read in the server's
/// container over a replication connection (`READ_REPLICATION_SLOT`, PostgreSQL 15).
pub async fn confirmed(engine: &Engine, postgres: &str, login: &Login, slot: &str) -> Option<String> {
    let mut cmd: Vec<String> = vec!["psql".into(), "-X".into(), "-tA".into()];
    cmd.extend(login.args());
    cmd.extend(["--dbname".into(), "replication=true".into(), "-c".into(), format!("READ_REPLICATION_SLOT {slot}")]);
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let (code, out, _) = engine.exec_capture(postgres, &argv, &login.env()).await.ok()?;
    let lsn = out.trim().split('|').nth(1)?.trim().to_string();
    (code == 0 && crate::backup::wal::layout::parse_lsn(&lsn).is_some()).then_some(lsn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sidecar_name_is_a_container_name() {
        assert_eq!(name("cc1", "postgres"), "cc1-ccops-wal-postgres");
        assert_eq!(name("a.b", "db 1"), "a_b-ccops-wal-db_1");
    }
}
