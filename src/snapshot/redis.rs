//! Redis: a finished BGSAVE (not `sleep 5` and hope), then the RDB file streamed out;
//! restore replaces the RDB file while Redis is stopped and reads DBSIZE back.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use tokio::io::AsyncWrite;

use super::env_value;
use crate::docker::Engine;
use crate::state::{self, Entry, RdbSide};

/// redis-cli environment: the container's REDIS_PASSWORD, if any, as REDISCLI_AUTH.
async fn cli_env(engine: &Engine, container: &str) -> Result<Vec<String>> {
    let env = engine.container_env(container).await?;
    Ok(env_value(&env, "REDIS_PASSWORD").map(|pw| vec![format!("REDISCLI_AUTH={pw}")]).unwrap_or_default())
}

/// Commands in one `redis-cli` run (fed on its stdin, one a line): each exec costs a
/// round trip through the engine, a few of them per backup add up. Without a terminal
/// redis-cli prints raw replies (`1`, not `(integer) 1`): the reply lines; an error reply
/// fails the whole script.
async fn script(engine: &Engine, container: &str, env: &[String], commands: &[&str]) -> Result<Vec<String>> {
    let input = std::io::Cursor::new(commands.iter().map(|c| format!("{c}\n")).collect::<String>().into_bytes());
    let mut out = Vec::new();
    let o = engine.exec_stream(container, &["redis-cli"], env, &mut out, Some(input)).await?;
    let out = String::from_utf8_lossy(&out);
    let lines: Vec<String> = out.lines().map(|l| l.trim().to_string()).collect();
    let refused =
        lines.iter().find(|l| ["ERR", "NOAUTH", "WRONGPASS", "LOADING", "(error)"].iter().any(|p| l.starts_with(p)));
    if o.exit_code != 0 || refused.is_some() {
        let why = refused.cloned().unwrap_or_else(|| o.stderr.clone());
        bail!("`redis-cli {}` failed: {why}", commands.join("; "));
    }
    Ok(lines)
}

/// The `n`th reply line of a script as a number.
fn number_at(lines: &[String], n: usize, what: &str) -> Result<u64> {
    let line = lines.get(n).map(String::as_str).unwrap_or("");
    line.parse().map_err(|_| anyhow!("`redis-cli {what}` answered `{line}`, not a number"))
}

/// The value of a `CONFIG GET` reply (key line, value line) starting at line `n`.
fn config_at(lines: &[String], n: usize, key: &str) -> Result<String> {
    match (lines.get(n), lines.get(n + 1)) {
        (Some(k), Some(v)) if k == key && !v.is_empty() => Ok(v.clone()),
        _ => bail!("cannot read the server's `{key}` setting (CONFIG GET {key} answered `{}`)", lines.join(" ")),
    }
}

fn info_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.trim().strip_prefix(key).and_then(|r| r.strip_prefix(':')))
}

/// Wait until no BGSAVE runs and the last one ended after `since`; fail if it failed.
async fn wait_bgsave_done(engine: &Engine, c: &str, env: &[String], since: u64) -> Result<()> {
    let started = Instant::now();
    // A small data set is saved in milliseconds: look again soon, then less often.
    let mut pause = Duration::from_millis(10);
    loop {
        crate::util::check_interrupt()?;
        let r = script(engine, c, env, &["LASTSAVE", "INFO persistence"]).await?;
        let last = number_at(&r, 0, "LASTSAVE")?;
        let info = r[1..].join("\n");
        let running = info_field(&info, "rdb_bgsave_in_progress") == Some("1");
        if !running && last > since {
            if info_field(&info, "rdb_last_bgsave_status") != Some("ok") {
                bail!(
                    "Redis reports its background save failed (rdb_last_bgsave_status: {}); check the Redis log and free disk space in its data folder",
                    info_field(&info, "rdb_last_bgsave_status").unwrap_or("?")
                );
            }
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("Redis BGSAVE did not finish within an hour");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Take a fresh snapshot and stream the RDB file into `out`. Returns DBSIZE at the snapshot.
pub async fn dump<W: AsyncWrite + Unpin>(engine: &Engine, container: &str, service: &str, out: &mut W) -> Result<u64> {
    let env = cli_env(engine, container).await?;
    // One round trip for all the snapshot needs to know before it starts.
    let ask = ["LASTSAVE", "TIME", "DBSIZE", "CONFIG GET dir", "CONFIG GET dbfilename"];
    let r = script(engine, container, &env, &ask)
        .await
        .map_err(|e| e.context(format!("Redis service `{service}` does not answer")))?;
    let last = number_at(&r, 0, "LASTSAVE")?;
    let now = number_at(&r, 1, "TIME")?;
    let keys = number_at(&r, 3, "DBSIZE")?;
    let (dir, file) = (config_at(&r, 4, "dir")?, config_at(&r, 6, "dbfilename")?);
    // LASTSAVE has one-second resolution: make sure ours will read as newer.
    if now <= last {
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let mut answer = script(engine, container, &env, &["BGSAVE"]).await;
    if answer.as_ref().is_err_and(|e| e.to_string().contains("in progress")) {
        // A save already running: let it finish, ours must start after our request.
        crate::output::status(format!("redis `{service}`: a background save is already running; waiting for it"));
        wait_bgsave_done(engine, container, &env, last.saturating_sub(1)).await?;
        answer = script(engine, container, &env, &["BGSAVE"]).await;
    }
    let answer = answer?.join(" ");
    if !answer.contains("started") && !answer.contains("scheduled") {
        bail!("Redis refused BGSAVE: {answer}");
    }
    wait_bgsave_done(engine, container, &env, last).await?;
    let path = format!("{}/{}", dir.trim_end_matches('/'), file);
    let o = engine.exec_stream(container, &["cat", &path], &[], out, None::<tokio::io::Empty>).await?;
    if o.exit_code != 0 {
        bail!("cannot read `{path}` in Redis service `{service}`: {}", o.stderr);
    }
    Ok(keys)
}

/// Whether a file starts like an RDB file ("REDIS" and a 4-digit version).
pub fn is_rdb_header(head: &[u8]) -> bool {
    head.len() >= 9 && &head[..5] == b"REDIS" && head[5..9].iter().all(u8::is_ascii_digit)
}

/// Before anything is stopped: the server must load RDB at start (not AOF). Where it
/// keeps the file: (dir, dbfilename).
pub async fn preflight(engine: &Engine, container: &str, service: &str) -> Result<(String, String)> {
    let env = cli_env(engine, container).await?;
    let r =
        script(engine, container, &env, &["CONFIG GET appendonly", "CONFIG GET dir", "CONFIG GET dbfilename"]).await?;
    if config_at(&r, 0, "appendonly")? == "yes" {
        bail!(
            "Redis service `{service}` runs with `appendonly yes`: it would load its AOF, not the restored RDB; disable AOF for the restore or restore it by hand"
        );
    }
    Ok((config_at(&r, 2, "dir")?, config_at(&r, 4, "dbfilename")?))
}

/// Put `rdb` (a tar stream holding the file `file`, gzip allowed) in place while Redis is
/// stopped, start it, wait until it has loaded, and return DBSIZE. The previous file is
/// kept in `state_dir` meanwhile, and each phase is in its journal first, so a failed
/// copy or a killed ccops (put right by the next run, [`recover`]) leaves the old data.
///
/// In a Swarm stack the stopped task's container is not started again: its service is
/// scaled back and a new task loads the file from the data volume. The file is replaced
/// there, through a helper container that mounts the volume (made before anything stops,
/// so a Redis keeping its data in no volume is refused with nothing changed).
pub async fn replace_and_start<S>(
    engine: &Engine,
    container: &str,
    name: &str,
    dir: &str,
    file: &str,
    tar: S,
    state_dir: &std::path::Path,
) -> Result<u64>
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    let env = cli_env(engine, container).await?;
    let helper =
        if engine.is_swarm() { Some(volume_helper(engine, container, name, dir, state_dir).await?) } else { None };
    let holder = helper.clone().unwrap_or_else(|| container.to_string());
    // Journaled like every stop, so a killed ccops does not leave Redis down.
    let stopped = [(container.to_string(), name.to_string())];
    state::record_stopped(state_dir, &stopped)?;
    if let Err(e) = engine.stop(container, 30).await {
        state::clear_stopped(state_dir, &stopped);
        drop_helper(engine, helper.as_deref(), state_dir).await;
        return Err(e);
    }
    // Redis wrote its data on the way down: this file is the data to keep.
    let saved = match keep_rdb(engine, &holder, dir, file, state_dir).await {
        Ok(saved) => saved,
        Err(e) => {
            drop_helper(engine, helper.as_deref(), state_dir).await;
            let start = engine.start(container).await;
            state::clear_stopped(state_dir, &stopped);
            start?;
            return Err(e.context("nothing was changed"));
        }
    };
    let side = RdbSide {
        container: holder.clone(),
        name: name.to_string(),
        dir: dir.to_string(),
        file: file.to_string(),
        saved: saved.clone(),
        helper: helper.is_some(),
    };
    let replacing = Entry::RedisRdbReplaced(side.clone());
    state::journal_add(state_dir, std::slice::from_ref(&replacing))?;
    let upload = engine.upload(&holder, dir, tar).await;
    state::failpoint("redis-rdb-replaced");
    // A copy that failed part way may have cut the file short: the kept one goes back.
    let kept = if upload.is_err() { put_back(engine, &side).await } else { Ok(()) };
    if kept.is_ok() {
        state::journal_remove(state_dir, &[replacing])?;
        if let Some(p) = &saved {
            let _ = std::fs::remove_file(p);
        }
        drop_helper(engine, helper.as_deref(), state_dir).await;
    }
    let start = engine.start(container).await;
    if start.is_ok() {
        state::clear_stopped(state_dir, &stopped);
    }
    if let Err(e) = kept {
        return Err(upload.err().unwrap_or(e).context(format!(
            "restoring redis `{name}` failed, and putting its previous RDB file back failed too; the next ccops run tries again"
        )));
    }
    upload.map_err(|e| e.context(format!("restoring redis `{name}` failed; its previous RDB file was put back")))?;
    start?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    let mut live = helper.is_none().then(|| container.to_string());
    loop {
        if live.is_none() {
            live = engine.replacement_task(container).await;
        }
        // Refused while the server starts, LOADING while it reads the file.
        let answer = match &live {
            Some(c) => script(engine, c, &env, &["DBSIZE", "INFO persistence"]).await.ok(),
            None => None,
        };
        if let Some(r) = answer {
            if info_field(&r.join("\n"), "loading") == Some("0") {
                return number_at(&r, 0, "DBSIZE");
            }
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("Redis did not finish loading the restored data within 5 minutes");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// A helper container (created, never started) mounting the data volume of Redis task
/// container `container` where the task mounts it, journaled until it is removed.
async fn volume_helper(
    engine: &Engine,
    container: &str,
    name: &str,
    dir: &str,
    state_dir: &std::path::Path,
) -> Result<String> {
    let info = engine.api().inspect_container(container, None).await.map_err(|e| {
        anyhow!("cannot inspect container {}: {}", crate::docker::short_id(container), crate::docker::short_err(&e))
    })?;
    let Some((volume, mount)) = crate::docker::volume_mount_at(info.mounts.as_deref().unwrap_or_default(), dir) else {
        bail!(
            "Redis `{name}` keeps its data in `{dir}`, on no named volume: a new Swarm task would start without the restored file; nothing was changed (mount a volume there)"
        );
    };
    let image = info.config.and_then(|c| c.image).or(info.image).unwrap_or_default();
    let labels = std::collections::HashMap::from([("ccops.helper".to_string(), "true".to_string())]);
    let helper = engine.create_helper(&image, vec![format!("{volume}:{mount}")], labels).await?;
    let entry = Entry::Helper { container: helper.clone() };
    if let Err(e) = state::journal_add(state_dir, std::slice::from_ref(&entry)) {
        engine.remove(&helper).await.ok();
        return Err(e);
    }
    Ok(helper)
}

/// Remove the helper of [`volume_helper`] (when there is one) and forget it.
async fn drop_helper(engine: &Engine, helper: Option<&str>, state_dir: &std::path::Path) {
    let Some(id) = helper else { return };
    match engine.remove(id).await {
        Ok(()) => {
            let entry = Entry::Helper { container: id.to_string() };
            if let Err(e) = state::journal_remove(state_dir, &[entry]) {
                crate::output::warn(format!("{e:#}"));
            }
        }
        Err(e) => crate::output::warn(format!("{e:#}; the next ccops run removes it")),
    }
}

/// Copy the (stopped) container's RDB file, as the tar the engine hands out, into the
/// state directory, durably. `None` when there is no such file.
async fn keep_rdb(
    engine: &Engine,
    container: &str,
    dir: &str,
    file: &str,
    state_dir: &std::path::Path,
) -> Result<Option<std::path::PathBuf>> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    crate::util::create_private_dir(state_dir)?;
    let path = state_dir.join(format!("redis-{}-before-restore.tar", crate::docker::short_id(container)));
    let partial = path.with_extension("tar.partial");
    let mut stream = engine.download(container, &format!("{}/{file}", dir.trim_end_matches('/')));
    let mut out: Option<tokio::fs::File> = None;
    let failed = |e: std::io::Error| {
        anyhow!("cannot keep a copy of `{dir}/{file}` in `{}`: {}", partial.display(), crate::util::io_reason(&e))
    };
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) if out.is_none() => {
                return Ok(None);
            }
            Err(e) => bail!("cannot read `{dir}/{file}` of redis: {}", crate::docker::short_err(&e)),
        };
        if out.is_none() {
            use std::os::unix::fs::OpenOptionsExt;
            let f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial);
            out = Some(tokio::fs::File::from_std(f.map_err(failed)?));
        }
        if let Some(f) = out.as_mut() {
            f.write_all(&chunk).await.map_err(failed)?;
        }
    }
    let Some(f) = out else { return Ok(None) };
    f.sync_all().await.map_err(failed)?;
    std::fs::rename(&partial, &path).map_err(failed)?;
    crate::util::fsync_dir(state_dir).map_err(failed)?;
    Ok(Some(path))
}

/// Upload the RDB file kept by [`keep_rdb`] into the (stopped) container again.
async fn put_back(engine: &Engine, side: &RdbSide) -> Result<()> {
    use futures_util::StreamExt;
    let Some(saved) = &side.saved else { return Ok(()) };
    let f = tokio::fs::File::open(saved)
        .await
        .map_err(|e| anyhow!("cannot read the kept RDB file `{}`: {}", saved.display(), crate::util::io_reason(&e)))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20).filter_map(|r| async move { r.ok() });
    engine.upload(&side.container, &side.dir, stream).await
}

/// Put right an RDB replacement a killed ccops left: Redis is stopped, gets its previous
/// file back and is started again. Returns what was done.
pub async fn recover(engine: &Engine, side: &RdbSide) -> Result<String> {
    if side.helper {
        // A Swarm task's volume: its service, still at 0 tasks, is scaled back after this,
        // and the helper removed by its own journal entry.
        put_back(engine, side).await?;
    } else {
        engine.stop(&side.container, 30).await.ok();
        put_back(engine, side).await?;
        state::start_if_stopped(engine, &side.container).await?;
    }
    if let Some(p) = &side.saved {
        let _ = std::fs::remove_file(p);
    }
    Ok(match side.saved {
        Some(_) => format!("redis `{}` has its previous RDB file back (the restore into it was killed)", side.name),
        None => {
            format!("redis `{}` had no RDB file before the restore; it starts from what the restore wrote", side.name)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_info_and_headers() {
        let info = "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:1\r\nrdb_last_bgsave_status:ok\r\n";
        assert_eq!(info_field(info, "rdb_bgsave_in_progress"), Some("1"));
        assert_eq!(info_field(info, "loading"), Some("0"));
        assert!(is_rdb_header(b"REDIS0011\xfa"));
        assert!(!is_rdb_header(b"REDIX0011"));
        assert!(!is_rdb_header(b"REDIS"));
    }
}
