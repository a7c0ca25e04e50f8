//! `ccops restore`: verify everything, confirm, take a safety backup, stop the services
//! that use the data, restore, start exactly what was running before (also on failure),
//! and finish with the health checks.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;

use super::create::{self, interruptible, start_again, stop_services};
use super::layout::LocalSet;
use super::manifest::Kind;
use super::verify;
use crate::config::PostgresTarget;
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

pub struct Options {
    pub only: Vec<String>,
    pub safety_backup: bool,
    pub dry_run: bool,
    pub yes: bool,
    /// How long to wait for health after the restore; `None`: `deploy.timeout`.
    pub timeout: Option<std::time::Duration>,
}

/// One thing to put back.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Postgres { target: PostgresTarget, file: PathBuf, sql: bool },
    Redis { service: String, file: PathBuf, legacy: bool, keys: Option<u64> },
    Volume { key: String, engine_name: String, file: PathBuf, stop: Vec<String> },
}

impl Step {
    fn kind(&self) -> Kind {
        match self {
            Step::Postgres { .. } => Kind::Postgres,
            Step::Redis { .. } => Kind::Redis,
            Step::Volume { .. } => Kind::Volume,
        }
    }

    fn describe(&self) -> String {
        match self {
            Step::Postgres { target, .. } => {
                format!("postgres database `{}` of service `{}` (replaced whole)", target.database, target.service)
            }
            Step::Redis { service, keys, .. } => match keys {
                Some(k) => format!("redis service `{service}` ({k} keys; the current data is replaced)"),
                None => format!("redis service `{service}` (the current data is replaced)"),
            },
            Step::Volume { key, .. } => format!("volume `{key}` (its contents are replaced)"),
        }
    }

    fn matches(&self, t: &str) -> bool {
        t == self.kind().word()
            || match self {
                Step::Postgres { target, .. } => {
                    t == target.service
                        || t == target.database
                        || t == format!("{}-{}", target.service, target.database)
                }
                Step::Redis { service, .. } => t == service,
                Step::Volume { key, engine_name, .. } => t == key || t == engine_name,
            }
    }
}

pub async fn restore(p: &Project, set: &LocalSet, opts: &Options) -> Result<()> {
    let s = &p.settings;
    // The manifest acted on is the one whose signature was just checked.
    let set = &super::trust::signed_local(s, set)?;
    let mut steps = steps_of(p, set)?;
    let only: Vec<&String> = opts.only.iter().filter(|t| !t.trim().is_empty()).collect();
    for t in &only {
        if !steps.iter().any(|st| st.matches(t)) {
            bail!(crate::usage!("--only `{t}` matches nothing in backup {}", set.id));
        }
    }
    if !only.is_empty() {
        steps.retain(|st| only.iter().any(|t| st.matches(t)));
    }
    let engine = p.engine()?;

    // 1. Verify every file before anything is touched (encrypted files decrypt too).
    let files: Vec<PathBuf> = steps
        .iter()
        .map(|st| match st {
            Step::Postgres { file, .. } | Step::Redis { file, .. } | Step::Volume { file, .. } => file.clone(),
        })
        .collect();
    super::crypto::check_can_decrypt(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>())
        .map_err(|e| e.context(format!("backup {} cannot be restored, nothing was changed", set.id)))?;
    let pg_ctr = match steps.iter().find_map(|st| match st {
        Step::Postgres { target, .. } => Some(target.service.clone()),
        _ => None,
    }) {
        Some(svc) => Some(engine.running_container(&s.project, &svc).await?.id),
        None => None,
    };
    output::status(format!("verifying backup {} ...", set.id));
    let checks = interruptible(async { Ok(verify::verify(set, Some(engine), pg_ctr.as_deref()).await) }).await?;
    let wanted: Vec<String> = steps.iter().map(step_file).collect();
    let bad: Vec<&verify::FileCheck> = checks.iter().filter(|c| !c.ok && wanted.contains(&c.file)).collect();
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().map(|c| format!("`{}`: {}", c.file, c.detail)).collect();
        bail!("backup {} failed verification, nothing was restored:\n  {}", set.id, list.join("\n  "));
    }

    // 2. The plan, and the operator's word.
    let to_stop = services_to_stop(p, &steps);
    for st in &steps {
        let svc = match st {
            Step::Postgres { target, .. } => &target.service,
            Step::Redis { service, .. } => service,
            Step::Volume { .. } => continue,
        };
        if to_stop.contains(svc) {
            return Err(crate::usage!(
                "this restore would replace the data volume of service `{svc}` while restoring into `{svc}` itself; restore them one at a time with --only"
            ));
        }
    }
    output::status(format!(
        "restore backup {} (created {}) into project `{}`, environment `{}`:",
        set.id,
        set.created.format("%Y-%m-%d %H:%M:%S UTC"),
        s.project,
        s.env_name
    ));
    for st in &steps {
        output::status(format!("  {}", st.describe()));
    }
    if !to_stop.is_empty() {
        output::status(format!("  stopped meanwhile, then started again: {}", to_stop.join(", ")));
    }
    if opts.dry_run {
        output::status("dry run: nothing was changed");
        return Ok(());
    }
    confirm(opts.yes, &set.id)?;
    crate::util::check_interrupt()?;

    // 3. Health as it is now, everything running: what the health after the restore is
    // held to. Taken later, it would catch services still starting and excuse them.
    let before = crate::health::run(&s.clone(), &p.engine, &p.model).await;

    // 4. One stop window: stop, take the safety backup of exactly what is about to be
    // replaced (nothing writes to it meanwhile), restore, and start again whatever
    // happens. A volume's `stop_services` are in `to_stop`, so nothing stops twice.
    let stopped = stop_services(engine, &s.project, &to_stop, &s.state_dir, &p.model).await?;
    let result = async {
        if opts.safety_backup {
            safety_backup(p, set, &steps, &to_stop).await?;
        }
        run_steps(p, engine, &steps).await
    }
    .await;
    let restarted = start_again(engine, &stopped, &s.state_dir, &p.model).await;
    result?;
    restarted?;

    // 5. Health, waited for as deploy waits: the restarted containers ready, then every
    // check that passed before the restore passing again, all within `timeout`. What was
    // already failing (a service the operator had stopped) is reported, not blamed.
    let timeout = opts.timeout.unwrap_or(s.file.deploy.timeout);
    let deadline = std::time::Instant::now() + timeout;
    let not_ready = wait_ready(engine, &s.project, &stopped, &before, deadline).await?;
    let report = wait_healthy(p, &before, deadline).await?;
    // A service not ready is named once, with deploy's reason rather than the check's.
    let mut worse: Vec<String> = not_ready.iter().map(|(svc, why)| format!("{svc} ({why})")).collect();
    worse.extend(
        newly_failing(&before, &report)
            .into_iter()
            .filter(|(name, _)| !not_ready.iter().any(|(svc, _)| svc == name))
            .map(|(name, detail)| format!("{name} ({detail})")),
    );
    if !worse.is_empty() {
        bail!(
            "backup {} was restored, but within {} these did not become healthy again, although they were before: {}",
            set.id,
            humantime::format_duration(timeout),
            worse.join("; ")
        );
    }
    if report.status == crate::health::Status::Fail {
        output::warn(format!("still failing as before the restore: {}", crate::health::format::summary(&report)));
    }
    output::status(format!("restored backup {}; {}", set.id, crate::health::format::summary(&report)));
    Ok(())
}

pub(crate) fn step_file(st: &Step) -> String {
    let p = match st {
        Step::Postgres { file, .. } | Step::Redis { file, .. } | Step::Volume { file, .. } => file,
    };
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn step_only_token(st: &Step) -> String {
    match st {
        Step::Postgres { target, .. } => format!("{}-{}", target.service, target.database),
        Step::Redis { service, .. } => service.clone(),
        Step::Volume { key, .. } => key.clone(),
    }
}

fn confirm(yes: bool, id: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::usage!("restore replaces live data; pass --yes to confirm when stdin is not a terminal"));
    }
    let ok = dialoguer::Confirm::new()
        .with_prompt(format!("Replace the live data with backup {id}?"))
        .default(false)
        .interact()
        .map_err(|e| anyhow!("cannot ask for confirmation: {e}"))?;
    if !ok {
        return Err(crate::usage!("restore cancelled; nothing was changed"));
    }
    Ok(())
}

/// Refuse a set that would restore into anything ccops.yaml does not configure, before
/// anything is downloaded or touched.
pub fn check_targets(p: &Project, set: &LocalSet) -> Result<()> {
    steps_of(p, set).map(|_| ())
}

/// Map the set's files to what ccops.yaml and the compose project know.
pub(crate) fn steps_of(p: &Project, set: &LocalSet) -> Result<Vec<Step>> {
    let s = &p.settings;
    let cfg = &s.file.backup;
    let pg_target = |service: Option<&str>, db: &str| -> Result<PostgresTarget> {
        cfg.postgres
            .iter()
            .find(|t| t.database == db && service.is_none_or(|sv| sv == t.service))
            .or_else(|| if cfg.postgres.len() == 1 { cfg.postgres.first() } else { None })
            .cloned()
            .ok_or_else(|| {
                crate::usage!(
                    "the backup holds database `{db}`, but `backup.postgres` in ccops.yaml has no entry for it; add one"
                )
            })
    };
    // A set names what it restores into, and a set may have been planted (a bucket
    // anyone with its keys can write): it may only reach what ccops.yaml configures for
    // backup, never another volume or service of the project.
    let volume = |name: &str| -> Result<(String, String)> {
        let (key, full) = match p.model.volume_name(name) {
            Some(full) => (name.to_string(), full.to_string()),
            None => p
                .model
                .volumes
                .iter()
                .find(|(_, full)| full.as_str() == name)
                .map(|(k, full)| (k.clone(), full.clone()))
                .ok_or_else(|| {
                    crate::usage!("backup {} holds volume `{name}`, which the compose project does not have", set.id)
                })?,
        };
        if !cfg.volumes.iter().any(|v| v.name == key) {
            bail!(
                "backup {} holds volume `{key}`, which `backup.volumes` in ccops.yaml does not configure; nothing was restored (add it there to restore it)",
                set.id
            );
        }
        Ok((key, full))
    };
    let redis = |service: String| -> Result<String> {
        if !cfg.redis.iter().any(|r| r.service == service) {
            bail!(
                "backup {} restores Redis into service `{service}`, which `backup.redis` in ccops.yaml does not configure; nothing was restored",
                set.id
            );
        }
        Ok(service)
    };
    let stop_of =
        |key: &str| cfg.volumes.iter().find(|v| v.name == key).map(|v| v.stop_services.clone()).unwrap_or_default();
    let mut steps = Vec::new();
    if let Some(m) = &set.manifest {
        for c in &m.components {
            let file = set.path.join(&c.file);
            steps.push(match c.kind {
                Kind::Postgres => {
                    let db = c.database.clone().unwrap_or_else(|| c.name.clone());
                    Step::Postgres { target: pg_target(c.service.as_deref(), &db)?, file, sql: false }
                }
                Kind::Redis => Step::Redis {
                    service: redis(c.service.clone().unwrap_or_else(|| c.name.clone()))?,
                    file,
                    legacy: false,
                    keys: c.keys,
                },
                Kind::Volume => {
                    let (key, engine_name) = volume(&c.name)?;
                    Step::Volume { stop: stop_of(&key), key, engine_name, file }
                }
            });
        }
    } else if let Some(l) = &set.legacy {
        for (db, file) in &l.postgres {
            steps.push(Step::Postgres { target: pg_target(None, db)?, file: file.clone(), sql: true });
        }
        if let Some(file) = &l.redis {
            let service = cfg.redis.first().map(|r| r.service.clone()).ok_or_else(|| {
                crate::usage!("the backup holds a Redis snapshot, but `backup.redis` in ccops.yaml is empty")
            })?;
            steps.push(Step::Redis { service, file: file.clone(), legacy: true, keys: None });
        }
        for (vol, file) in &l.volumes {
            let (key, engine_name) = volume(vol)?;
            steps.push(Step::Volume { stop: stop_of(&key), key, engine_name, file: file.clone() });
        }
    }
    for st in &steps {
        let svc = match st {
            Step::Postgres { target, .. } => Some(&target.service),
            Step::Redis { service, .. } => Some(service),
            Step::Volume { .. } => None,
        };
        if let Some(svc) = svc.filter(|svc| !p.model.services.contains_key(*svc)) {
            return Err(crate::usage!(
                "the backup restores into service `{svc}`, which the compose project does not have"
            ));
        }
    }
    Ok(steps)
}

/// Services that use the data being restored: for a database or cache, every service
/// but the configured data services; for a volume, those that mount it and its
/// `stop_services`.
fn services_to_stop(p: &Project, steps: &[Step]) -> Vec<String> {
    let cfg = &p.settings.file.backup;
    let data: Vec<&str> =
        cfg.postgres.iter().map(|t| t.service.as_str()).chain(cfg.redis.iter().map(|r| r.service.as_str())).collect();
    let mut out: Vec<String> = Vec::new();
    if steps.iter().any(|st| matches!(st, Step::Postgres { .. } | Step::Redis { .. })) {
        out.extend(p.model.services.keys().filter(|n| !data.contains(&n.as_str())).cloned());
    }
    for st in steps {
        if let Step::Volume { key, stop, .. } = st {
            // Every service that mounts the volume, a database's own data volume included.
            out.extend(p.model.services_using_volume(key));
            out.extend(stop.iter().cloned());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// Run the steps at once: each has its own service or helper container (a volume used by
/// a database being restored is refused earlier), so PostgreSQL's pg_restore, the Redis
/// swap and the volume extraction overlap instead of adding up. Each step keeps its own
/// guarantee (a failed database or volume restore leaves that one as it was); when one
/// fails, the error names the steps that completed.
pub(crate) async fn run_steps(p: &Project, engine: &Engine, steps: &[Step]) -> Result<()> {
    crate::util::check_interrupt()?;
    for st in steps {
        output::status(format!("restoring {}", st.describe()));
    }
    let results = futures_util::future::join_all(steps.iter().map(|st| async move {
        let t = std::time::Instant::now();
        let r = run_step(p, engine, st).await;
        if r.is_ok() {
            output::status(format!("  done in {}: {}", crate::util::human_duration(t.elapsed()), st.describe()));
        }
        r
    }))
    .await;
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for (st, r) in steps.iter().zip(results) {
        match r {
            Ok(()) => done.push(st.describe()),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    if let Some(i) = failures.iter().position(|e| e.downcast_ref::<crate::error::Interrupted>().is_some()) {
        return Err(failures.swap_remove(i));
    }
    for e in failures.iter().skip(1) {
        output::error(format!("{e:#}"));
    }
    let first = failures.swap_remove(0);
    Err(if done.is_empty() { first } else { first.context(format!("restored nonetheless: {}", done.join("; "))) })
}

async fn run_step(p: &Project, engine: &Engine, st: &Step) -> Result<()> {
    let project = &p.settings.project;
    match st {
        Step::Postgres { target, file, sql } => {
            let ctr = engine.running_container(project, &target.service).await?;
            let src = if *sql {
                snapshot::postgres::Source::Sql(super::compress::decoded_async(file))
            } else {
                snapshot::postgres::Source::Custom(super::compress::decoded_async(file))
            };
            // Not cancelled on a signal: the input ends instead, and restore() drops its
            // staging copy; the live database is never half-replaced.
            snapshot::postgres::restore(engine, &ctr.id, target, src, project, &p.settings.state_dir).await?;
            let counts = snapshot::postgres::row_counts(engine, &ctr.id, target).await.unwrap_or_default();
            output::debug(format!("tables after restore: {counts}"));
        }
        Step::Redis { service, file, legacy, keys } => {
            let ctr = engine.running_container(project, service).await?;
            let (dir, dbfile) = snapshot::redis::preflight(engine, &ctr.id, service).await?;
            let (f, l) = (file.clone(), *legacy);
            let size = tokio::task::spawn_blocking(move || verify::rdb_size(&f, l)).await??;
            let tar = rdb_tar_stream(file.clone(), *legacy, dbfile.clone(), size);
            let got = snapshot::redis::replace_and_start(
                engine,
                &ctr.id,
                &ctr.name,
                &dir,
                &dbfile,
                tar,
                &p.settings.state_dir,
            )
            .await?;
            match keys {
                Some(k) if *k != got => output::warn(format!(
                    "redis `{service}` holds {got} keys after the restore; the snapshot recorded {k} (clients may have written meanwhile)"
                )),
                _ => output::status(format!("  redis `{service}`: {got} keys")),
            }
        }
        Step::Volume { key, engine_name, file, .. } => {
            let image = create::helper_image(p, engine, key).await?;
            snapshot::volume::restore(engine, &image, engine_name, tar_stream(file), &p.settings.state_dir).await?;
        }
    }
    Ok(())
}

/// A volume archive as a stream of plain tar bytes, decoded here on a thread: the engine
/// would read a `.tar.gz` itself, but on one core and at half the speed.
fn tar_stream(path: &Path) -> impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static {
    tokio_util::io::ReaderStream::with_capacity(super::compress::decoded_async(path), 1 << 20)
        .filter_map(|r| async move { r.ok() })
}

/// A tar holding one file `name` with the RDB bytes of a stored redis file.
fn rdb_tar_stream(
    path: PathBuf,
    legacy: bool,
    name: String,
    size: u64,
) -> impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static {
    let (w, r) = tokio::io::duplex(1 << 20);
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let mut out = tokio_util::io::SyncIoBridge::new_with_handle(w, handle);
        let res = (|| -> Result<()> {
            let (rdb, _) = verify::rdb_open(&path, legacy)?;
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(chrono::Utc::now().timestamp() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            let mut b = tar::Builder::new(&mut out);
            b.append_data(&mut h, &name, rdb.take(size))?;
            b.finish()?;
            Ok(())
        })();
        if let Err(e) = res {
            output::error(format!("cannot stream the Redis snapshot: {e:#}"));
        }
        let _ = out.flush();
        let _ = out.shutdown();
    });
    tokio_util::io::ReaderStream::with_capacity(r, 1 << 20).filter_map(|r| async move { r.ok() })
}

/// The checks (name, detail) that fail now and did not before.
fn newly_failing(before: &crate::health::Report, after: &crate::health::Report) -> Vec<(String, String)> {
    use crate::health::Status;
    after
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .filter(|c| before.checks.iter().any(|b| b.name == c.name && b.status != Status::Fail))
        .map(|c| (c.name.clone(), c.detail.clone()))
        .collect()
}

/// The safety backup (tags `pre-restore`, `before-<ID>`) of what the steps replace,
/// taken inside the restore's stop window: `held` stay stopped throughout.
async fn safety_backup(p: &Project, set: &LocalSet, steps: &[Step], held: &[String]) -> Result<()> {
    output::status("taking a safety backup of the current data (tag pre-restore) ...");
    let o = create::Options {
        only: steps.iter().map(step_only_token).collect(),
        tags: vec!["pre-restore".into(), format!("before-{}", set.id)],
        dry_run: false,
    };
    create::create_in_window(p, &o, held)
        .await
        .map_err(|e| e.context("the safety backup failed, nothing was restored; fix it or pass --no-safety-backup"))?;
    // The safety backup set its own ID as log context; the lines after are the restore's.
    output::log_field("backup_id", set.id.clone());
    Ok(())
}

/// Wait, with deploy's readiness rule, for the containers started again to be ready,
/// each service at once. A service whose check failed before the restore is not waited
/// for. Returns the services that did not become ready, with why.
async fn wait_ready(
    engine: &Engine,
    project: &str,
    stopped: &[create::Stopped],
    before: &crate::health::Report,
    deadline: std::time::Instant,
) -> Result<Vec<(String, String)>> {
    use crate::health::Status;
    let mut services: Vec<&str> = stopped.iter().map(|c| c.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    services.retain(|svc| !before.checks.iter().any(|b| b.name == *svc && b.status == Status::Fail));
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    let results = futures_util::future::join_all(services.iter().map(|svc| async move {
        let ids: Vec<String> = stopped.iter().filter(|c| c.service == *svc).map(|c| c.id.clone()).collect();
        crate::deploy::wait::ready(engine, project, svc, Some(&ids), ids.len(), left).await
    }))
    .await;
    let mut not_ready = Vec::new();
    for (svc, r) in services.iter().zip(results) {
        match r {
            Ok(()) => {}
            Err(e) if e.downcast_ref::<crate::error::Interrupted>().is_some() => return Err(e),
            Err(e) => not_ready.push((svc.to_string(), format!("{e:#}"))),
        }
    }
    Ok(not_ready)
}

/// Poll the health checks until every check that passed before the restore passes
/// again, or `deadline`; the last report.
async fn wait_healthy(
    p: &Project,
    before: &crate::health::Report,
    deadline: std::time::Instant,
) -> Result<crate::health::Report> {
    loop {
        let r = crate::health::run(&p.settings, &p.engine, &p.model).await;
        if newly_failing(before, &r).is_empty() || std::time::Instant::now() >= deadline {
            return Ok(r);
        }
        tokio::select! {
            // The containers are ready by now: what is left is an app's own warm-up.
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {},
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{CheckResult, Report, Status};

    fn report(checks: &[(&str, Status)]) -> Report {
        Report {
            project: "p".into(),
            environment: "e".into(),
            status: checks.iter().map(|c| c.1).max().unwrap_or(Status::Ok),
            checked_at: String::new(),
            duration: std::time::Duration::ZERO,
            checks: checks
                .iter()
                .map(|(name, status)| CheckResult {
                    name: name.to_string(),
                    kind: "service",
                    status: *status,
                    detail: format!("{name} {}", status.word()),
                    duration: std::time::Duration::ZERO,
                    metrics: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn only_what_passed_before_is_held_against_the_restore() {
        let before = report(&[("api", Status::Ok), ("worker", Status::Warn), ("cron", Status::Fail)]);
        // Still starting (warn) is not failing; what failed before is not blamed.
        let after = report(&[("api", Status::Warn), ("worker", Status::Ok), ("cron", Status::Fail)]);
        assert!(newly_failing(&before, &after).is_empty());
        let after = report(&[("api", Status::Fail), ("worker", Status::Fail), ("cron", Status::Fail)]);
        let worse: Vec<String> = newly_failing(&before, &after).into_iter().map(|(n, _)| n).collect();
        assert_eq!(worse, ["api", "worker"]);
    }
}
