//! A PostgreSQL server recovered to a point apart from the live one: a scratch volume
//! holding a physical base backup (a `pg_basebackup -Ft` tar), `recovery.signal` and the
//! recovery settings, and a temporary server of the service's own image on it (no
//! network, the staged WAL read-only at `/wal`) that replays WAL until it promotes.
//! Knows a server and its files, nothing of backup sets; the swap into the live volume
//! is volume/'s `restore`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;

use super::last_lines;
use crate::docker::Engine;

/// Where the helper and the recovery server mount the scratch volume's staged WAL.
const WAL_MOUNT: &str = "/wal";
/// A copy of the base's own `postgresql.auto.conf`, put back after the recovery.
const AUTO_CONF_SAVED: &str = "postgresql.auto.conf.ccops-before-recovery";
/// PostgreSQL's words when the WAL ran out before the target time.
const TARGET_NOT_REACHED: &str = "recovery ended before configured recovery target was reached";

/// The recovery stopped because the stored WAL ends before the target: the caller knows
/// which segment is missing.
#[derive(Debug)]
pub struct TargetNotReached(pub String);

impl std::fmt::Display for TargetNotReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetNotReached {}

/// The live server's container as a recovery copies it: image, environment, command,
/// user, and where its data volume is mounted.
#[derive(Debug, Clone)]
pub struct Server {
    pub image: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    /// The live data volume's engine name.
    pub volume: String,
    /// Where it is mounted.
    pub mount: String,
    /// PGDATA: the mount or a folder below it.
    pub pgdata: String,
}

impl Server {
    /// Read from the service's container (running or not): its data volume is the named
    /// volume mounted at PGDATA or above it.
    pub async fn of(engine: &Engine, container: &str) -> Result<Server> {
        let info = engine.api().inspect_container(container, None).await.map_err(|e| {
            anyhow!("cannot inspect container {}: {}", crate::docker::short_id(container), crate::docker::short_err(&e))
        })?;
        let config = info.config.unwrap_or_default();
        let env = config.env.unwrap_or_default();
        let pgdata =
            super::env_value(&env, "PGDATA").unwrap_or("/var/lib/postgresql/data").trim_end_matches('/').to_string();
        let mount = crate::docker::volume_mount_at(info.mounts.as_deref().unwrap_or_default(), &pgdata);
        let Some((volume, mount)) = mount else {
            bail!(
                "its PGDATA `{pgdata}` is on no named volume; point-in-time recovery replaces a named volume's contents"
            );
        };
        Ok(Server {
            image: config.image.or(info.image).unwrap_or_default(),
            env,
            cmd: config.cmd,
            user: config.user.filter(|u| !u.is_empty()),
            volume,
            mount,
            pgdata,
        })
    }
}

/// The settings a recovery runs with.
#[derive(Debug, Clone)]
pub struct Target {
    /// `recovery_target_time` as PostgreSQL reads it; None: replay everything stored.
    pub time: Option<String>,
    /// A role and database to ask `SELECT pg_is_in_recovery()` on the local socket.
    pub user: String,
    pub database: String,
}

/// The labels of everything a recovery creates: found again by them after a kill.
pub fn labels(scratch: &str) -> HashMap<String, String> {
    HashMap::from([("ccops.helper".to_string(), "true".to_string()), ("ccops.pitr".to_string(), scratch.to_string())])
}

/// Create the scratch volume `name`.
pub async fn create_volume(engine: &Engine, name: &str) -> Result<()> {
    let req = bollard::models::VolumeCreateRequest {
        name: Some(name.to_string()),
        labels: Some(labels(name)),
        ..Default::default()
    };
    engine
        .api()
        .create_volume(req)
        .await
        .map_err(|e| anyhow!("cannot create the scratch volume `{name}`: {}", crate::docker::short_err(&e)))?;
    Ok(())
}

/// Remove the scratch volume and every container that a recovery into it created.
pub async fn remove_scratch(engine: &Engine, name: &str) -> Result<()> {
    engine.remove_labelled(vec![format!("ccops.pitr={name}")]).await?;
    let opts = bollard::query_parameters::RemoveVolumeOptions { force: true };
    match engine.api().remove_volume(name, Some(opts)).await {
        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
        Err(e) => Err(anyhow!("cannot remove the scratch volume `{name}`: {}", crate::docker::short_err(&e))),
    }
}

async fn sh(engine: &Engine, helper: &str, script: &str) -> Result<String> {
    let (code, out, err) = engine.exec_capture(helper, &["sh", "-c", script], &[]).await?;
    if code != 0 {
        bail!("{}", last_lines(&err));
    }
    Ok(out)
}

/// A running helper of the server's image with the scratch volume at the server's mount.
async fn helper(engine: &Engine, server: &Server, scratch: &str) -> Result<String> {
    engine.create_helper_running(&server.image, vec![format!("{scratch}:{}", server.mount)], labels(scratch)).await
}

/// Extract the base backup's tar into the scratch volume at PGDATA (owner postgres, mode
/// 700), and set it to recover to `target` from [`WAL_MOUNT`]. Returns the uid and gid
/// of the image's `postgres` user, which the staged WAL must be readable by.
pub async fn prepare<S>(engine: &Engine, server: &Server, scratch: &str, tar: S, target: &Target) -> Result<(u32, u32)>
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    let h = helper(engine, server, scratch).await?;
    let res = async {
        let pgdata = &server.pgdata;
        sh(engine, &h, &format!("mkdir -p '{pgdata}'")).await?;
        engine.upload(&h, pgdata, tar).await.map_err(|e| e.context("extracting the base backup failed"))?;
        let mut settings = vec![
            format!("restore_command = 'cp {WAL_MOUNT}/%f \"%p\"'"),
            "recovery_target_action = 'promote'".to_string(),
            "recovery_target_timeline = 'latest'".to_string(),
        ];
        if let Some(t) = &target.time {
            settings.push(format!("recovery_target_time = '{t}'"));
        }
        let lines: Vec<String> = settings.iter().map(|l| format!("echo \"{}\"", l.replace('"', "\\\""))).collect();
        let script = format!(
            "set -e; cd '{pgdata}'; [ -s PG_VERSION ] || {{ echo 'the base backup holds no PG_VERSION' >&2; exit 1; }}; \
             touch postgresql.auto.conf; cp -p postgresql.auto.conf {AUTO_CONF_SAVED}; \
             {{ echo; echo '# ccops restore to a point (removed after the recovery)'; {}; }} >> postgresql.auto.conf; \
             : > recovery.signal; rm -f standby.signal postmaster.pid; \
             chown -R postgres:postgres '{}'; chmod 700 '{pgdata}'; id -u postgres; id -g postgres",
            lines.join("; "),
            server.mount
        );
        let out = sh(engine, &h, &script).await.map_err(|e| e.context("preparing the base backup for recovery failed"))?;
        let ids: Vec<u32> = out.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        match ids[..] {
            [uid, gid] => Ok((uid, gid)),
            _ => bail!("the image `{}` has no `postgres` user", server.image),
        }
    }
    .await;
    engine.remove(&h).await.ok();
    res
}

/// Let a staged WAL folder be read by the server's `postgres` user (and nobody else).
pub fn give_wal(dir: &Path, (uid, gid): (u32, u32)) -> Result<()> {
    let own = |p: &Path| {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))
            .map_err(|e| anyhow!("cannot hand `{}` to the server: {}", p.display(), crate::util::io_reason(&e)))
    };
    own(dir)?;
    for e in std::fs::read_dir(dir).map_err(|e| anyhow!("cannot read `{}`: {e}", dir.display()))?.flatten() {
        own(&e.path())?;
    }
    Ok(())
}

/// What a finished recovery said.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// PostgreSQL's "last completed transaction was at log time ..." value, if it said.
    pub last_transaction: Option<String>,
}

/// Run the recovery server on the scratch volume with `wal` at [`WAL_MOUNT`] until it
/// has left recovery and answers a query, then stop it cleanly (a shutdown checkpoint,
/// so the swapped-in data starts without replay) and put the base's own
/// `postgresql.auto.conf` back. A server that stops on its own, or a `deadline` passed,
/// is an error quoting the server's last lines; the WAL running out before the target is
/// [`TargetNotReached`].
pub async fn recover(
    engine: &Engine,
    server: &Server,
    scratch: &str,
    wal: &Path,
    target: &Target,
    deadline: Instant,
) -> Result<Recovered> {
    let id = start_server(engine, server, scratch, wal).await?;
    let res = async {
        let done = wait_promoted(engine, &id, target, deadline).await;
        let logs = logs(engine, &id).await;
        if let Err(e) = done {
            if logs.contains(TARGET_NOT_REACHED) {
                return Err(anyhow::Error::new(TargetNotReached(TARGET_NOT_REACHED.into())));
            }
            let tail: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(4)..].join(" / ");
            return Err(e.context(format!("the recovery server's last lines: {tail}")));
        }
        engine.stop(&id, 120).await?;
        let last = logs.lines().rev().find_map(|l| {
            l.split_once("last completed transaction was at log time ").map(|(_, t)| t.trim().to_string())
        });
        Ok(Recovered { last_transaction: last })
    }
    .await;
    engine.remove(&id).await.ok();
    let recovered = res?;
    let h = helper(engine, server, scratch).await?;
    let put_back = sh(
        engine,
        &h,
        &format!("cd '{}' && mv -f {AUTO_CONF_SAVED} postgresql.auto.conf && rm -f recovery.signal", server.pgdata),
    )
    .await;
    engine.remove(&h).await.ok();
    put_back.map_err(|e| e.context("cannot put the base's postgresql.auto.conf back"))?;
    Ok(recovered)
}

async fn start_server(engine: &Engine, server: &Server, scratch: &str, wal: &Path) -> Result<String> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    let body = ContainerCreateBody {
        image: Some(server.image.clone()),
        env: Some(server.env.clone()),
        cmd: server.cmd.clone(),
        user: server.user.clone(),
        labels: Some(labels(scratch)),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{scratch}:{}", server.mount), format!("{}:{WAL_MOUNT}:ro", wal.display())]),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = engine
        .api()
        .create_container(None::<bollard::query_parameters::CreateContainerOptions>, body)
        .await
        .map_err(|e| anyhow!("cannot create the recovery server: {}", crate::docker::short_err(&e)))?;
    if let Err(e) = engine.start(&r.id).await {
        engine.remove(&r.id).await.ok();
        return Err(e.context("the recovery server does not start"));
    }
    Ok(r.id)
}

/// Poll until the server is out of recovery and answers, it exits, or `deadline`.
async fn wait_promoted(engine: &Engine, id: &str, target: &Target, deadline: Instant) -> Result<()> {
    let sql = "SELECT pg_is_in_recovery()";
    let cmd = ["psql", "-X", "-At", "-U", &target.user, "-d", &target.database, "-c", sql];
    loop {
        let info = engine.api().inspect_container(id, None).await;
        let running = info.as_ref().ok().and_then(|i| i.state.as_ref()).and_then(|s| s.running).unwrap_or(false);
        if !running {
            bail!("the recovery server stopped before the recovery finished");
        }
        if let Ok((0, out, _)) = engine.exec_capture(id, &cmd, &[]).await {
            if out.trim() == "f" {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("the recovery did not finish in time");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(300)) => {},
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        }
    }
}

/// The server's last log lines.
async fn logs(engine: &Engine, id: &str) -> String {
    let opts = bollard::query_parameters::LogsOptionsBuilder::default().stdout(true).stderr(true).tail("200").build();
    let mut stream = engine.api().logs(id, Some(opts));
    let mut out = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    out
}

/// A tar stream of the scratch volume's whole contents, for the swap; a read that
/// breaks off ends in bytes no tar reader accepts, so a cut never passes for a whole.
/// The helper it reads through is returned, to remove when the stream is done.
pub async fn contents(
    engine: &Engine,
    server: &Server,
    scratch: &str,
) -> Result<(String, impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static)> {
    let h = engine.create_helper(&server.image, vec![format!("{scratch}:/ccops-volume:ro")], labels(scratch)).await?;
    let stream = engine.download(&h, "/ccops-volume/.").scan(false, |failed, chunk| {
        let next = match chunk {
            _ if *failed => None,
            Ok(b) => Some(b),
            Err(e) => {
                crate::output::error(format!("reading the recovered data failed: {}", crate::docker::short_err(&e)));
                *failed = true;
                Some(bytes::Bytes::from_static(&[0xff; 1024]))
            }
        };
        futures_util::future::ready(next)
    });
    Ok((h, stream))
}

/// The staging folder's path for the scratch volume `scratch` under `dir`.
pub fn staging_dir(dir: &Path, scratch: &str) -> PathBuf {
    dir.join(format!(".{scratch}"))
}
