//! `ccops backup`: one set for the whole project, written to `<ID>.partial/`, each file
//! streamed, hashed and checked, `manifest.json` last, fsynced, then renamed into place.
//! A failure or an interrupt removes the partial set and restarts what it stopped.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use super::layout::{self, PARTIAL};
use super::manifest::{self, Component, Manifest};
use super::sink::{Encoding, Sink, Written};
use super::{compress, plan};
use crate::config::Compression;
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

pub struct Options {
    pub only: Vec<String>,
    pub tags: Vec<String>,
    pub dry_run: bool,
}

/// A backup that failed after its set ID was chosen: the message says what was kept, and
/// the ID is there for monitoring (see [`failed_id`]).
#[derive(Debug)]
pub struct Failed {
    pub id: String,
    message: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The ID of the set a failed backup had chosen, when it got that far.
pub fn failed_id(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<Failed>().map(|f| f.id.clone())
}

/// Take a backup set. The caller holds the project lock.
pub async fn create(p: &Project, opts: &Options) -> Result<Option<Manifest>> {
    create_in_window(p, opts, &[]).await
}

/// Take a backup set while the caller holds `held` stopped (a restore's one stop
/// window): a volume's `stop_services` among them are neither stopped nor started here,
/// so each service is stopped once and started once, by the caller.
pub async fn create_in_window(p: &Project, opts: &Options, held: &[String]) -> Result<Option<Manifest>> {
    let s = &p.settings;
    let items = plan::select(s, &p.model, &opts.only)?;
    let compression = s.file.backup.compression;
    if opts.dry_run {
        output::status(format!("would write a backup set of project `{}` to {}:", s.project, s.backup_dir.display()));
        let age = if super::crypto::encrypting() { ".age" } else { "" };
        for i in &items {
            output::status(format!("  {}{age}  {}{}", i.file_name(compression), i.describe(), i.stop_note()));
        }
        if output::json_mode() {
            let files: Vec<serde_json::Value> = items
                .iter()
                .map(|i| serde_json::json!({ "kind": i.kind().word(), "name": i.name(), "file": i.file_name(compression) }))
                .collect();
            output::json(&serde_json::json!({ "dry_run": true, "directory": s.backup_dir, "components": files }));
        }
        return Ok(None);
    }
    // Decrypting a protected key takes seconds and may fail: do it before a byte is written.
    let signing_key = s.signing.signing_key()?;
    let engine = p.engine()?;
    // Everything that must run is running, before a byte is written.
    for i in &items {
        if let Some(svc) = i.exec_service() {
            engine.running_container(&s.project, svc).await?;
        }
    }
    crate::util::create_private_dir(&s.backup_dir)?;
    let dir = &s.backup_dir;
    let id =
        layout::new_id(chrono::Utc::now(), |id| dir.join(id).exists() || dir.join(format!("{id}{PARTIAL}")).exists());
    output::log_field("backup_id", id.clone());
    let partial = dir.join(format!("{id}{PARTIAL}"));
    crate::util::create_private_dir(&partial)?;
    let started = Instant::now();
    output::status(format!("backup {id}: {} component(s) of project `{}`", items.len(), s.project));

    let result = write_components(p, engine, &items, &partial, compression, held).await;
    let components = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e.context(Failed {
                message: format!("backup {id} failed; nothing was kept (the partial set was removed)"),
                id,
            }));
        }
    };
    let m = Manifest {
        format: manifest::FORMAT,
        id: id.clone(),
        created_at: layout::parse_id(&id)
            .unwrap_or_else(chrono::Utc::now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        project: s.project.clone(),
        environment: s.env_name.clone(),
        ccops_version: env!("CARGO_PKG_VERSION").to_string(),
        tags: opts.tags.clone(),
        partial: !opts.only.iter().all(|t| t.trim().is_empty()),
        components,
    };
    let sealed = seal(&partial, &dir.join(&id), &m, signing_key.as_ref());
    if let Err(e) = sealed {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e.context(Failed { message: format!("backup {id} failed while sealing; nothing was kept"), id }));
    }
    output::status(format!(
        "backup {id} complete: {} in {}",
        crate::util::human_bytes(m.total_bytes()),
        crate::util::human_duration(started.elapsed())
    ));
    Ok(Some(m))
}

/// Write the signature (with a signing key), the manifest last, fsync, and rename the
/// folder into place.
fn seal(partial: &Path, fin: &Path, m: &Manifest, key: Option<&super::signing::SigningKey>) -> Result<()> {
    crate::util::check_interrupt()?;
    let json = m.to_json();
    // Signed just before the manifest is written: a set with a manifest is a signed set.
    if let Some(key) = key {
        let sig = super::signing::sign(json.as_bytes(), key, &m.project, &m.id)?;
        crate::util::write_atomic(&partial.join(super::signing::SIGNATURE_FILE), &sig, 0o600)?;
    }
    crate::util::write_atomic(&partial.join(manifest::FILE), json.as_bytes(), 0o600)?;
    crate::util::fsync_dir(partial)
        .map_err(|e| anyhow::anyhow!("cannot sync `{}`: {}", partial.display(), crate::util::io_reason(&e)))?;
    std::fs::rename(partial, fin)
        .map_err(|e| anyhow::anyhow!("cannot rename `{}`: {}", partial.display(), crate::util::io_reason(&e)))?;
    if let Some(parent) = fin.parent() {
        crate::util::fsync_dir(parent).ok();
    }
    Ok(())
}

async fn write_components(
    p: &Project,
    engine: &Engine,
    items: &[plan::Item],
    dir: &Path,
    c: Compression,
    held: &[String],
) -> Result<Vec<Component>> {
    let mut out = Vec::new();
    for item in items {
        crate::util::check_interrupt()?;
        let t = Instant::now();
        let comp = write_one(p, engine, item, dir, c, held).await?;
        output::status(format!(
            "  {:<40} {:>10}  {}",
            comp.file,
            crate::util::human_bytes(comp.bytes),
            crate::util::human_duration(t.elapsed())
        ));
        out.push(comp);
    }
    Ok(out)
}

/// Race a future against Ctrl-C / SIGTERM.
pub async fn interruptible<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = crate::util::wait_interrupt() => Err(crate::error::Interrupted.into()),
    }
}

async fn write_one(
    p: &Project,
    engine: &Engine,
    item: &plan::Item,
    dir: &Path,
    c: Compression,
    held: &[String],
) -> Result<Component> {
    let s = &p.settings;
    let encrypted = super::crypto::encrypting();
    // Reading a file back (the tar listing, the RDB header) needs the private key when it
    // is encrypted; a host with the public keys only skips that, and relies on the dump
    // tools' exit status and the sizes. A Postgres dump is listed as it streams instead.
    let read_back = !encrypted || super::crypto::can_decrypt();
    if !read_back && !matches!(item, plan::Item::Postgres(_)) {
        output::debug(format!("{}: encrypted without a private key here; not read back", item.name()));
    }
    let file = item.file_name(c) + if encrypted { ".age" } else { "" };
    let path = dir.join(&file);
    let mut keys = None;
    let (written, compression) = match item {
        plan::Item::Postgres(t) => {
            let ctr = engine.running_container(&s.project, &t.service).await?;
            let t0 = Instant::now();
            let mut sink = Sink::create(&path, Encoding::Raw)?;
            let both = interruptible(async {
                Ok(snapshot::postgres::dump_listed(engine, &ctr.id, t, &mut sink.writer).await)
            })
            .await;
            // A file that cannot be written (a full disk) breaks the dump's pipe: its own
            // error is the cause to report.
            let written = sink.finish().await?;
            let (dumped, listed) = both?;
            dumped?;
            output::debug(format!(
                "pg_dump streamed {} in {}",
                crate::util::human_bytes(written.bytes),
                crate::util::human_duration(t0.elapsed())
            ));
            check_nonempty(&path, &written, b"PGDMP", "a pg_dump archive")?;
            let entries = listed?;
            output::debug(format!("pg_restore --list read {entries} entries from the stream of {file}"));
            (written, "none".to_string())
        }
        plan::Item::Redis(t) => {
            let ctr = engine.running_container(&s.project, &t.service).await?;
            let mut sink = Sink::create(&path, Encoding::Compressed(c))?;
            let dumped = interruptible(snapshot::redis::dump(engine, &ctr.id, &t.service, &mut sink.writer)).await;
            let written = sink.finish().await?;
            keys = Some(dumped?);
            let mut head = [0u8; 9];
            let n = if read_back {
                compress::open_decoded(&path).and_then(|mut r| r.read(&mut head)).unwrap_or(0)
            } else {
                0
            };
            if read_back && !snapshot::redis::is_rdb_header(&head[..n]) {
                bail!(
                    "the Redis snapshot `{file}` is not an RDB file (it starts with {:?})",
                    String::from_utf8_lossy(&head[..n])
                );
            }
            (written, compress::word(c).to_string())
        }
        plan::Item::Volume(v, engine_name) => {
            let source = volume_source(p, engine, &v.name, engine_name).await?;
            let writers: Vec<String> = p
                .model
                .services_using_volume(&v.name)
                .into_iter()
                .filter(|u| !v.stop_services.contains(u) && !held.contains(u))
                .collect();
            if !writers.is_empty() {
                output::debug(format!(
                    "volume `{}` is copied while {} keep running (not in stop_services)",
                    v.name,
                    writers.join(", ")
                ));
            }
            // Those the caller holds stopped stay stopped: the caller starts them.
            let to_stop: Vec<String> = v.stop_services.iter().filter(|u| !held.contains(u)).cloned().collect();
            let stopped = stop_services(engine, &s.project, &to_stop, &s.state_dir, &p.model).await?;
            let mut sink = Sink::create(&path, Encoding::Compressed(c))?;
            // volume::dump handles a signal itself, so its helper container is always removed.
            let dumped = snapshot::volume::dump(engine, &source, engine_name, &mut sink.writer, &s.state_dir).await;
            // The volume has been read: the stopped services start again while the
            // last chunks are compressed and synced, and the archive is read back.
            let store_and_check = async {
                let written = sink.finish().await?;
                if dumped.is_err() || !read_back {
                    return Ok((written, None));
                }
                let path = path.clone();
                let check = tokio::task::spawn_blocking(move || {
                    snapshot::volume::check_archive(compress::open_decoded(&path)?)
                });
                Ok::<_, anyhow::Error>((written, Some(check.await??)))
            };
            let (stored, restarted) =
                tokio::join!(store_and_check, start_again(engine, &stopped, &s.state_dir, &p.model));
            // A full disk breaks the dump's pipe: the file's own error is the cause.
            let (written, entries) = stored?;
            dumped?;
            restarted?;
            if let Some(entries) = entries {
                output::debug(format!("{file}: {entries} entries"));
            }
            (written, compress::word(c).to_string())
        }
    };
    Ok(Component {
        kind: item.kind(),
        name: item.name(),
        file,
        bytes: written.bytes,
        sha256: written.sha256,
        compression,
        encrypted,
        service: item.service().map(String::from),
        database: match item {
            plan::Item::Postgres(t) => Some(t.database.clone()),
            _ => None,
        },
        keys,
    })
}

fn check_nonempty(path: &Path, w: &Written, magic: &[u8], what: &str) -> Result<()> {
    if w.bytes == 0 {
        bail!("`{}` is empty: the dump produced no data", path.display());
    }
    let mut head = vec![0u8; magic.len()];
    let n = if path.to_string_lossy().ends_with(".age") {
        // Encrypted: pg_restore --list read the dump's own bytes as they streamed.
        return Ok(());
    } else {
        std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0)
    };
    if n < magic.len() || head != magic {
        bail!("`{}` is not {what}", path.display());
    }
    Ok(())
}

/// Where to read a volume from: its folder on this machine where ccops may (see
/// `Engine::local_volume_dir`), GNU tar is there and CCOPS_VOLUME_READ does not say
/// `engine`, else the engine's archive API through a helper container.
async fn volume_source(p: &Project, engine: &Engine, key: &str, engine_name: &str) -> Result<snapshot::volume::Source> {
    if !p.settings.volume_read_engine
        && let Some(dir) = engine.local_volume_dir(engine_name).await
        && snapshot::volume::gnu_tar().await
    {
        output::debug(format!("volume `{key}` is read from {}", dir.display()));
        return Ok(snapshot::volume::Source::Host(dir));
    }
    output::debug(format!("volume `{key}` is read through the engine"));
    Ok(snapshot::volume::Source::Engine(helper_image(p, engine, key).await?))
}

/// An image to run the volume helper from: one of the project's own (present locally).
pub async fn helper_image(p: &Project, engine: &Engine, volume_key: &str) -> Result<String> {
    let users = p.model.services_using_volume(volume_key);
    let all = engine.containers(&p.settings.project, None).await?;
    let pick = all.iter().find(|c| users.contains(&c.service)).or_else(|| all.first());
    match pick {
        Some(c) => engine.container_image(&c.id).await,
        None => bail!("project `{}` has no container to take an image from; start it first", p.settings.project),
    }
}

/// A container stopped for a backup or restore, to start again.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub id: String,
    pub name: String,
    pub service: String,
}

/// Stop the running containers of `services`; returns them to start again. They are
/// written to the state journal first, so even a SIGKILL cannot leave them down for good.
pub async fn stop_services(
    engine: &Engine,
    project: &str,
    services: &[String],
    state_dir: &Path,
    model: &crate::compose::Model,
) -> Result<Vec<Stopped>> {
    let mut running = Vec::new();
    for svc in services {
        running.extend(engine.containers(project, Some(svc)).await?.into_iter().filter(|c| c.is_running()));
    }
    let planned: Vec<(String, String)> = running.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    if !planned.is_empty() {
        crate::state::record_stopped(state_dir, &planned)?;
    }
    // All at once: each may take its whole grace period.
    let results = futures_util::future::join_all(running.iter().map(|c| async move {
        output::status(format!("  stopping {} ({})", c.name, c.service));
        engine.stop(&c.id, 30).await
    }))
    .await;
    let mut stopped = Vec::new();
    let mut failure = None;
    for (c, r) in running.into_iter().zip(results) {
        match r {
            Ok(()) => stopped.push(Stopped { id: c.id, name: c.name, service: c.service }),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    // Those that did not stop are not ours to start: only the stopped stay journaled.
    let not_stopped: Vec<(String, String)> =
        planned.into_iter().filter(|(id, _)| !stopped.iter().any(|c| &c.id == id)).collect();
    crate::state::clear_stopped(state_dir, &not_stopped);
    if let Some(e) = failure {
        start_again(engine, &stopped, state_dir, model).await.ok();
        return Err(e);
    }
    crate::state::failpoint("services-stopped");
    Ok(stopped)
}

/// Start what was stopped; every failure is reported. Containers start in the waves of
/// [`start_waves`]: a proxy after the API it resolves at start, the rest all at once.
pub async fn start_again(
    engine: &Engine,
    stopped: &[Stopped],
    state_dir: &Path,
    model: &crate::compose::Model,
) -> Result<()> {
    let mut failed: Vec<&Stopped> = Vec::new();
    for wave in start_waves(stopped, model) {
        let results = futures_util::future::join_all(wave.iter().map(|c| async move {
            output::status(format!("  starting {}", c.name));
            engine.start(&c.id).await
        }))
        .await;
        for (c, r) in wave.iter().zip(results) {
            if let Err(e) = r {
                output::error(format!("{e:#}"));
                failed.push(c);
            }
        }
    }
    // Those that did not start stay journaled: the next run tries again.
    let started: Vec<(String, String)> = stopped
        .iter()
        .filter(|c| !failed.iter().any(|f| f.id == c.id))
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    crate::state::clear_stopped(state_dir, &started);
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|c| c.name.as_str()).collect();
        bail!("could not start again: {}; start them by hand (`docker start {}`)", names.join(", "), names.join(" "));
    }
    Ok(())
}

/// The order to start stopped containers in: first, all at once, those whose service
/// depends (compose `depends_on`) on no other stopped service; then those that depended
/// on them; and so on. A dependency cycle is broken by starting its first-stopped member
/// alone.
fn start_waves<'a>(stopped: &'a [Stopped], model: &crate::compose::Model) -> Vec<Vec<&'a Stopped>> {
    let mut waves = Vec::new();
    let mut left: Vec<&Stopped> = stopped.iter().collect();
    while !left.is_empty() {
        let waits = |c: &Stopped| {
            let deps = model.services.get(&c.service).map(|s| s.depends_on.as_slice()).unwrap_or_default();
            left.iter().any(|o| o.service != c.service && deps.contains(&o.service))
        };
        let (wave, rest): (Vec<&Stopped>, Vec<&Stopped>) = left.iter().partition(|c| !waits(c));
        if wave.is_empty() {
            waves.push(vec![rest[0]]);
            left = rest[1..].to_vec();
        } else {
            waves.push(wave);
            left = rest;
        }
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Model;

    fn stopped(services: &[&str]) -> Vec<Stopped> {
        services
            .iter()
            .enumerate()
            .map(|(i, s)| Stopped { id: format!("id{i}"), name: format!("{s}-{i}"), service: s.to_string() })
            .collect()
    }

    fn model(deps: &[(&str, &[&str])]) -> Model {
        let mut m = Model::default();
        for (svc, on) in deps {
            m.services.entry(svc.to_string()).or_default().depends_on = on.iter().map(|d| d.to_string()).collect();
        }
        m
    }

    fn names(waves: &[Vec<&Stopped>]) -> Vec<Vec<String>> {
        waves.iter().map(|w| w.iter().map(|c| c.name.clone()).collect()).collect()
    }

    #[test]
    fn dependents_start_after_what_they_depend_on() {
        let all = stopped(&["proxy", "backend", "backend", "redis", "worker"]);
        let m = model(&[("proxy", &["backend"]), ("backend", &["redis", "postgres"]), ("worker", &["redis"])]);
        assert_eq!(
            names(&start_waves(&all, &m)),
            [vec!["redis-3"], vec!["backend-1", "backend-2", "worker-4"], vec!["proxy-0"]]
        );
    }

    #[test]
    fn a_dependency_that_was_not_stopped_does_not_hold_anything_back() {
        let all = stopped(&["backend", "worker"]);
        let m = model(&[("backend", &["postgres"]), ("worker", &["redis"])]);
        assert_eq!(names(&start_waves(&all, &m)), [vec!["backend-0", "worker-1"]]);
    }

    #[test]
    fn a_cycle_still_starts_everything_once() {
        let all = stopped(&["a", "b", "c"]);
        let m = model(&[("a", &["b"]), ("b", &["a"]), ("c", &["a"])]);
        // `a` goes first, alone; then nothing holds `b` or `c` back.
        assert_eq!(names(&start_waves(&all, &m)), [vec!["a-0"], vec!["b-1", "c-2"]]);
    }
}
