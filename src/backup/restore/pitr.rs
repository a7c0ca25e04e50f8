//! `ccops restore --to-time T` / `--to-latest`: a PostgreSQL service put back as it was
//! at a moment. The newest base backup (kind `pgbase`) that ended by then, and the WAL
//! stored after it, are recovered into a scratch volume by a temporary server
//! (snapshot/pgrecover.rs); only once that server has promoted does the restore's one
//! stop window open: safety backup of the live database, the live volume's contents
//! replaced by the recovered ones (volume/'s journaled swap, put back when anything
//! fails), everything started again and health waited for. The live service is not
//! touched before that, whatever fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use crate::backup::layout::{self, LocalSet};
use crate::backup::manifest::{Base, Component};
use crate::backup::remote::{self, RemoteSet, locate, transfer};
use crate::backup::wal::layout::{self as wal_layout, Segment};
use crate::backup::wal::recover::{Archive, Plan};
use crate::backup::window::{start_again, stop_services};
use crate::backup::{create, trust};
use crate::config::{PostgresTarget, Settings};
use crate::output;
use crate::project::Project;
use crate::snapshot::pgrecover::{self, Server};
use crate::storage::Store;

/// The kind word of a base backup in a manifest.
const PGBASE: &str = "pgbase";
/// How long a recovery may replay WAL when no `--timeout` says.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where a restore to a point stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The moment given (the last transaction committed by then included).
    Time(DateTime<Utc>),
    /// Everything the WAL archive holds, its newest `.partial` included.
    Latest,
}

pub struct Options {
    pub target: Target,
    /// The `backup.postgres` service; None: the only one with `pitr`.
    pub service: Option<String>,
    /// A remote to read base backups and WAL from, instead of the local folder.
    pub from: Option<String>,
    pub safety_backup: bool,
    pub dry_run: bool,
    pub yes: bool,
    /// How long to wait for health after the swap; `None`: `deploy.timeout`.
    pub timeout: Option<Duration>,
    pub allow_unencrypted: bool,
}

/// What a restore to a point did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub service: String,
    /// The set holding the base backup used.
    pub base_set: String,
    /// PostgreSQL's time of the last transaction replayed, when it said.
    pub last_transaction: Option<String>,
}

/// A base backup found in a set, local or remote.
struct Candidate {
    set_id: String,
    local: Option<LocalSet>,
    remote: Option<RemoteSet>,
    base: Base,
}

/// What a recovery to a point starts from, all found before anything changes.
struct Found {
    target: PostgresTarget,
    chosen: Candidate,
    server: Server,
    archive: Archive,
    plan: Plan,
    place: String,
}

/// Restore `opts.service` to `opts.target`. Returns None after a dry run.
pub async fn restore(p: &Project, opts: &Options) -> Result<Option<Restored>> {
    let f = find(p, opts.target, opts.service.as_deref(), opts.from.as_deref()).await?;
    let svc = f.target.service.clone();
    print_plan(p, &f, opts.target, "restore");
    output::status(format!("  replaces the contents of volume `{}` once the recovery succeeded", f.server.volume));
    if opts.dry_run {
        output::status("dry run: nothing was changed");
        return Ok(None);
    }
    crate::ask::confirm(
        opts.yes,
        &format!("Replace the live data of `{svc}` with its state at that point?"),
        "restore replaces live data",
        "restore",
    )?;
    crate::util::check_interrupt()?;
    let (scratch, staging, recovered) = into_scratch(p, &f, opts.target, opts.allow_unencrypted).await?;
    let engine = p.engine()?;
    let swapped = swap(p, &f.server, &svc, &scratch, &f.chosen.set_id, opts).await;
    cleanup(engine, &scratch, &staging).await;
    swapped?;
    Ok(Some(Restored { service: svc, base_set: f.chosen.set_id, last_transaction: recovered.last_transaction }))
}

/// What a drill to a point proved.
#[derive(Debug, Clone)]
pub struct Drilled {
    pub service: String,
    pub base_set: String,
    pub last_transaction: Option<String>,
    /// From the start to a promoted server that answers: the recovery time of a restore
    /// to this point, without its swap and health wait.
    pub seconds: f64,
}

/// `backup drill --to-time/--to-latest`: the recovery of a restore to a point, into a
/// scratch volume beside the live service, which it never touches; removed afterwards.
pub async fn drill(p: &Project, target: Target, service: Option<&str>, from: Option<&str>) -> Result<Drilled> {
    let started = Instant::now();
    let f = find(p, target, service, from).await?;
    print_plan(p, &f, target, "drill");
    let (scratch, staging, recovered) = into_scratch(p, &f, target, false).await?;
    cleanup(p.engine()?, &scratch, &staging).await;
    Ok(Drilled {
        service: f.target.service.clone(),
        base_set: f.chosen.set_id,
        last_transaction: recovered.last_transaction,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The service, its base backup for `target`, its live server and the WAL after the base.
async fn find(p: &Project, target: Target, service: Option<&str>, from: Option<&str>) -> Result<Found> {
    let s = &p.settings;
    let entry = entry(s, service)?.clone();
    let svc = entry.service.clone();
    if let Target::Time(t) = target
        && t > Utc::now()
    {
        return Err(crate::usage!(
            "{} is in the future; a restore to a point goes back in time (for everything stored, use --to-latest)",
            local_time(t)
        ));
    }
    let engine = p.engine()?;
    let store = match from {
        Some(r) => Some(crate::storage::open(s, r).await?),
        None => None,
    };
    let (found, place) = match &store {
        None => (local_bases(s, &svc)?, format!("in `{}`", s.backup_dir.display())),
        Some(st) => (remote_bases(&**st, &svc).await?, format!("on remote `{}`", st.name())),
    };
    let chosen = choose(found, target, &svc, &place)?;

    // The live server, as the recovery copies it (image, environment, data volume).
    let ctr = engine.containers(&s.project, Some(&svc)).await?.into_iter().next().ok_or_else(|| {
        anyhow!("service `{svc}` has no container; create it first (`docker compose up -d {svc}`), its data volume is what is restored")
    })?;
    let server = Server::of(engine, &ctr.id).await.map_err(|e| e.context(format!("service `{svc}`")))?;

    // The WAL the base needs, and how far it reaches.
    let archive = match store {
        None => Archive::Local(wal_layout::local_dir(&s.backup_dir, &svc)),
        Some(st) => Archive::Remote(st, wal_layout::remote_prefix("", &svc)),
    };
    let b = &chosen.base;
    let (Some(start), Some(end)) = (Segment::of_lsn(b.timeline, &b.start_lsn), Segment::of_lsn(b.timeline, &b.end_lsn))
    else {
        bail!("the base backup in set {} records no usable WAL position", chosen.set_id);
    };
    let plan = crate::backup::wal::recover::plan(archive.names().await?, start, end);
    Ok(Found { target: entry, chosen, server, archive, plan, place })
}

fn print_plan(p: &Project, f: &Found, target: Target, what: &str) {
    let s = &p.settings;
    output::status(format!(
        "{what} service `{}` of project `{}`, environment `{}`, to {}:",
        f.target.service,
        s.project,
        s.env_name,
        match target {
            Target::Time(t) => local_time(t),
            Target::Latest => "the newest WAL stored".into(),
        }
    ));
    let b = &f.chosen.base;
    output::status(format!("  base backup of set {} (ended {}), {}", f.chosen.set_id, local_time(b.end_time), f.place));
    output::status(format!("  WAL from {}: {}", f.archive.describe(), reach(&f.plan)));
}

/// The base fetched and checked, the WAL staged, and the server recovered into a new
/// scratch volume; returns the scratch volume, the staging folder and what the
/// recovery said. On failure both are removed already, and the error says nothing changed.
async fn into_scratch(
    p: &Project,
    f: &Found,
    target: Target,
    allow_unencrypted: bool,
) -> Result<(String, PathBuf, pgrecover::Recovered)> {
    let s = &p.settings;
    let engine = p.engine()?;
    let svc = &f.target.service;
    clean_leftovers(engine, s).await;

    // The base set, local or downloaded, its manifest signed and its file checked.
    let set = match (&f.chosen.local, &f.chosen.remote, &f.archive) {
        (Some(set), _, _) => set.clone(),
        (None, Some(rs), Archive::Remote(st, _)) => fetch(s, &**st, rs, allow_unencrypted).await?,
        _ => bail!("set {} is nowhere", f.chosen.set_id),
    };
    let file = base_file(s, &set, svc, allow_unencrypted)?;
    crate::backup::crypto::check_can_decrypt(&[file.as_path()])
        .map_err(|e| e.context(format!("the base backup of set {} cannot be read, nothing was changed", set.id)))?;

    // Recovery into scratch: the live service is not touched.
    let scratch = format!("{}-ccops-pitr-{}", s.project, std::process::id());
    let staging = pgrecover::staging_dir(&s.backup_dir, &scratch);
    let pg_target = pgrecover::Target {
        time: match target {
            Target::Time(t) => Some(t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()),
            Target::Latest => None,
        },
        user: f.target.user.clone(),
        database: f.target.database.clone(),
    };
    match recover(engine, &f.server, &scratch, &staging, &f.archive, &f.plan, &file, &pg_target).await {
        Ok(r) => {
            if let Some(t) = &r.last_transaction {
                output::status(format!("recovered: last transaction replayed committed at {t}"));
            }
            Ok((scratch, staging, r))
        }
        Err(e) => {
            cleanup(engine, &scratch, &staging).await;
            // A signal cuts the base's stream short: what fails then is its cause.
            if crate::util::interrupted() {
                return Err(anyhow::Error::new(crate::error::Interrupted).context("nothing was changed"));
            }
            if e.downcast_ref::<pgrecover::TargetNotReached>().is_some() {
                return Err(anyhow!(
                    "the stored WAL ends before {}: the first segment missing is {} ({}); nothing was changed",
                    match target {
                        Target::Time(t) => local_time(t),
                        Target::Latest => "the target".into(),
                    },
                    f.plan.first_missing,
                    f.archive.describe()
                ));
            }
            Err(e.context(format!("the recovery of service `{svc}` failed; nothing was changed")))
        }
    }
}

/// The `backup.postgres` entry with `pitr` enabled that `service` names (or the only one).
fn entry<'a>(s: &'a Settings, service: Option<&str>) -> Result<&'a PostgresTarget> {
    let pitr: Vec<&PostgresTarget> =
        s.file.backup.postgres.iter().filter(|t| t.pitr.as_ref().is_some_and(|p| p.enabled)).collect();
    if pitr.is_empty() {
        return Err(crate::usage!(
            "no `backup.postgres` entry has `pitr` enabled; a restore to a point needs base backups and WAL (see docs/pitr.md)"
        ));
    }
    match service {
        Some(svc) => pitr
            .into_iter()
            .find(|t| t.service == svc)
            .ok_or_else(|| crate::usage!("service `{svc}` has no `backup.postgres` entry with `pitr` enabled")),
        None if pitr.len() == 1 => Ok(pitr[0]),
        None => {
            let names: Vec<&str> = pitr.iter().map(|t| t.service.as_str()).collect();
            Err(crate::usage!("several services have `pitr` ({}); say which with --service", names.join(", ")))
        }
    }
}

/// The base backup of `svc` a component records, if it is one.
fn base_of(c: &Component, svc: &str) -> Option<Base> {
    (c.kind.word() == PGBASE && c.service.as_deref().unwrap_or(&c.name) == svc).then(|| c.base()).flatten()
}

fn local_bases(s: &Settings, svc: &str) -> Result<Vec<Candidate>> {
    let now = Utc::now();
    let mut out = Vec::new();
    for set in layout::list(&s.backup_dir)? {
        if layout::is_future(set.created, now) {
            continue;
        }
        let Some(m) = &set.manifest else { continue };
        if let Some(base) = m.components.iter().find_map(|c| base_of(c, svc)) {
            out.push(Candidate { set_id: set.id.clone(), local: Some(set.clone()), remote: None, base });
        }
    }
    Ok(out)
}

async fn remote_bases(store: &dyn Store, svc: &str) -> Result<Vec<Candidate>> {
    let now = Utc::now();
    let mut out = Vec::new();
    for rs in remote::list(store).await? {
        if layout::is_future(rs.created, now) {
            continue;
        }
        let Some(m) = &rs.manifest else { continue };
        if let Some(base) = m.components.iter().find_map(|c| base_of(c, svc)) {
            out.push(Candidate { set_id: rs.id.clone(), local: None, remote: Some(rs.clone()), base });
        }
    }
    Ok(out)
}

/// The newest base that ended by the target. `end_time` is recorded to the second, so a
/// base counts as ended only a whole second after it: one that ended in the same second
/// as the target may have ended after it.
fn choose(mut found: Vec<Candidate>, target: Target, svc: &str, place: &str) -> Result<Candidate> {
    found.sort_by_key(|c| std::cmp::Reverse(c.base.end_time));
    let Some(oldest) = found.last().map(|c| c.base.end_time) else {
        bail!("no base backup of service `{svc}` {place}; `ccops backup` takes one when `pitr` is enabled");
    };
    match target {
        Target::Latest => Ok(found.swap_remove(0)),
        Target::Time(t) => match found.iter().position(|c| c.base.end_time + chrono::Duration::seconds(1) <= t) {
            Some(i) => Ok(found.swap_remove(i)),
            None => Err(crate::usage!(
                "{} is before the oldest base backup of service `{svc}` {place}, which ended {}; nothing older can be restored",
                local_time(t),
                local_time(oldest)
            )),
        },
    }
}

/// A remote set downloaded (or its copy already here), after the checks a restore makes.
async fn fetch(s: &Settings, store: &dyn Store, rs: &RemoteSet, allow_unencrypted: bool) -> Result<LocalSet> {
    if let Some(set) = layout::list(&s.backup_dir)?.into_iter().find(|l| l.id == rs.id && l.complete) {
        return Ok(set);
    }
    let rs = locate::vet(s, store, rs, &s.backup_dir, allow_unencrypted, |_| Ok(())).await?;
    transfer::fetch(store, &rs, &s.backup_dir).await
}

/// The base backup's file in `set`, its manifest signature checked and the file's
/// SHA-256 compared with the manifest's.
fn base_file(s: &Settings, set: &LocalSet, svc: &str, allow_unencrypted: bool) -> Result<PathBuf> {
    let set = trust::signed_local(s, set)?;
    trust::check_encrypted(s, &set, allow_unencrypted)?;
    let c = set
        .manifest
        .as_ref()
        .and_then(|m| m.components.iter().find(|c| base_of(c, svc).is_some()))
        .ok_or_else(|| anyhow!("set {} no longer holds a base backup of `{svc}`", set.id))?;
    let path = set.path.join(&c.file);
    let got = crate::backup::sink::hash_file(&path)?;
    if got.sha256 != c.sha256 || got.bytes != c.bytes {
        bail!("`{}` of backup {} does not match its manifest (damaged?); nothing was changed", c.file, set.id);
    }
    Ok(path)
}

/// How far the stored WAL reaches, for the plan.
fn reach(plan: &Plan) -> String {
    match plan.last {
        Some(last) => format!(
            "{} file{}, unbroken through {}{}",
            plan.files.len(),
            if plan.files.len() == 1 { "" } else { "s" },
            last,
            if plan.ends_partial { " (a partial segment)" } else { "" }
        ),
        None => format!("none stored after the base (the first missing segment is {})", plan.first_missing),
    }
}

/// Stage the WAL, build the scratch volume from the base and run the recovery server.
#[allow(clippy::too_many_arguments)]
async fn recover(
    engine: &crate::docker::Engine,
    server: &Server,
    scratch: &str,
    staging: &Path,
    archive: &Archive,
    plan: &Plan,
    base: &Path,
    target: &pgrecover::Target,
) -> Result<pgrecover::Recovered> {
    crate::util::create_private_dir(staging)?;
    output::status(format!(
        "staging {} WAL file{} ...",
        plan.files.len(),
        if plan.files.len() == 1 { "" } else { "s" }
    ));
    archive.stage(plan, staging).await?;
    crate::util::check_interrupt()?;
    output::status(format!("recovering into scratch volume `{scratch}` ..."));
    pgrecover::create_volume(engine, scratch).await?;
    let tar = tokio_util::io::ReaderStream::with_capacity(crate::backup::compress::decoded_async(base), 1 << 20);
    let tar = futures_util::StreamExt::filter_map(tar, |r| async move { r.ok() });
    let ids = pgrecover::prepare(engine, server, scratch, tar, target).await?;
    crate::util::check_interrupt()?;
    pgrecover::give_wal(staging, ids)?;
    pgrecover::recover(engine, server, scratch, staging, target, Instant::now() + RECOVERY_TIMEOUT).await
}

/// Remove the scratch volume, its containers and the staged WAL.
async fn cleanup(engine: &crate::docker::Engine, scratch: &str, staging: &Path) {
    if let Err(e) = pgrecover::remove_scratch(engine, scratch).await {
        output::warn(format!("{e:#}"));
    }
    if staging.exists()
        && let Err(e) = std::fs::remove_dir_all(staging)
    {
        output::warn(format!("cannot remove the staged WAL `{}`: {}", staging.display(), crate::util::io_reason(&e)));
    }
}

/// Scratch volumes and staged WAL a killed restore to a point left behind.
async fn clean_leftovers(engine: &crate::docker::Engine, s: &Settings) {
    let prefix = format!("{}-ccops-pitr-", s.project);
    let Ok(entries) = std::fs::read_dir(&s.backup_dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(scratch) = name.strip_prefix('.').filter(|n| n.starts_with(&prefix)) else { continue };
        // Only a dead run's: a drill (under its own lock) may run beside a restore.
        let pid = scratch[prefix.len()..].parse::<u32>().ok();
        if pid.is_some_and(|pid| pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists()) {
            output::warn(format!("removing scratch volume `{scratch}` and its staged WAL, left by a killed restore"));
            cleanup(engine, scratch, &e.path()).await;
        }
    }
}

/// The one stop window: the application stopped, the safety backup of the live
/// database taken, the database stopped, its volume's contents replaced by the
/// recovered ones, everything started again, health waited for.
async fn swap(p: &Project, server: &Server, svc: &str, scratch: &str, base_set: &str, opts: &Options) -> Result<()> {
    let s = &p.settings;
    let engine = p.engine()?;
    let configured: Vec<Box<dyn crate::backup::kinds::Component>> =
        crate::backup::kinds::ALL.iter().flat_map(|k| k.configured(s, &p.model)).collect();
    let data: Vec<&str> = configured.iter().filter_map(|c| c.service()).collect();
    let apps: Vec<String> = p.model.services.keys().filter(|n| !data.contains(&n.as_str())).cloned().collect();
    crate::util::check_interrupt()?;

    let before = crate::health::run(&s.clone(), &p.engine, &p.model, crate::health::Scope::Readiness).await;
    let mut stopped = stop_services(engine, &s.project, &apps, &s.state_dir, &p.model).await?;
    let mut db_stopped = Vec::new();
    let result = async {
        if opts.safety_backup {
            output::status("taking a safety backup of the current database (tag pre-restore) ...");
            let only = configured.iter().filter(|c| c.kind().word() == "postgres" && c.service() == Some(svc));
            let o = create::Options {
                only: only.map(|c| c.name()).collect(),
                tags: vec!["pre-restore".into(), format!("before-pitr-{base_set}")],
                dry_run: false,
            };
            create::create_in_window(p, &o, &apps).await.map_err(|e| {
                e.context("the safety backup failed, nothing was restored; fix it or pass --no-safety-backup")
            })?;
        }
        crate::util::check_interrupt()?;
        db_stopped = stop_services(engine, &s.project, &[svc.to_string()], &s.state_dir, &p.model).await?;
        output::status(format!("replacing the contents of volume `{}` with the recovered data ...", server.volume));
        let (helper, tar) = pgrecover::contents(engine, server, scratch).await?;
        let r = crate::snapshot::volume::restore(engine, &server.image, &server.volume, tar, &s.state_dir).await;
        engine.remove(&helper).await.ok();
        r
    }
    .await;
    // The database first, so the application finds it.
    let db_started = start_again(engine, &db_stopped, &s.state_dir, &p.model).await;
    let restarted = start_again(engine, &stopped, &s.state_dir, &p.model).await;
    result?;
    db_started?;
    restarted?;

    stopped.extend(db_stopped);
    let timeout = opts.timeout.unwrap_or(s.file.deploy.timeout);
    let (report, worse) = super::settle::settle(p, &stopped, &before, timeout).await?;
    if !worse.is_empty() {
        bail!(
            "service `{svc}` was restored to the point, but within {} these did not become healthy again, although they were before: {}",
            humantime::format_duration(timeout),
            worse.join("; ")
        );
    }
    output::status(format!("restored service `{svc}` to the point; {}", crate::health::format::summary(&report)));
    Ok(())
}

/// A time as the operator reads it: this host's local time with its offset.
fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S%.3f %:z").to_string()
}

/// Read `--to-time`: `2026-12-05 10:32:00` (seconds and fractions optional, `T` or a
/// space between date and time) in this host's local time zone, or with an offset
/// (`+01:00`) or `Z` for another.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1)) {
        return Ok(d.to_utc());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%:z"] {
        if let Ok(d) = DateTime::parse_from_str(&t.replacen('T', " ", 1), f) {
            return Ok(d.to_utc());
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(&t.replacen('T', " ", 1), f) {
            use chrono::TimeZone;
            return match chrono::Local.from_local_datetime(&n) {
                chrono::LocalResult::Single(d) => Ok(d.to_utc()),
                _ => Err(crate::usage!(
                    "`{text}` happens twice or never in this host's time zone (a clock change); give its offset, e.g. `{text}+01:00`"
                )),
            };
        }
    }
    Err(crate::usage!(
        "`{text}` is not a time; write `2026-12-05 10:32:00` (this host's time zone) or add an offset (`+01:00`) or `Z` for UTC"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_with_or_without_a_zone() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(parse_time("2026-12-05 10:32:00Z").unwrap(), utc("2026-12-05T10:32:00Z"));
        assert_eq!(parse_time("2026-12-05T10:32:00.250+01:00").unwrap(), utc("2026-12-05T09:32:00.250Z"));
        let local = parse_time("2026-12-05 10:32:00").unwrap();
        assert_eq!(local.with_timezone(&chrono::Local).format("%H:%M:%S").to_string(), "10:32:00");
        assert_eq!(parse_time("2026-12-05 10:32").unwrap(), local);
        for bad in ["", "yesterday", "2026-13-05 10:32:00", "10:32"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    fn candidate(id: &str, end: &str) -> Candidate {
        Candidate {
            set_id: id.into(),
            local: None,
            remote: None,
            base: Base {
                timeline: 1,
                start_lsn: "0/2000028".into(),
                end_lsn: "0/2000100".into(),
                end_time: DateTime::parse_from_rfc3339(end).unwrap().to_utc(),
                system_identifier: "1".into(),
            },
        }
    }

    #[test]
    fn the_newest_base_that_ended_by_the_target_is_chosen() {
        let t = |s: &str| Target::Time(DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let all = || vec![candidate("a", "2026-12-05T08:00:00Z"), candidate("b", "2026-12-05T10:00:00Z")];
        assert_eq!(choose(all(), t("2026-12-05T09:59:00Z"), "pg", "here").unwrap().set_id, "a");
        assert_eq!(choose(all(), t("2026-12-05T10:00:01Z"), "pg", "here").unwrap().set_id, "b");
        // Ended in the same second: perhaps after the target.
        assert_eq!(choose(all(), t("2026-12-05T10:00:00.500Z"), "pg", "here").unwrap().set_id, "a");
        assert_eq!(choose(all(), Target::Latest, "pg", "here").unwrap().set_id, "b");
        let e = choose(all(), t("2026-12-05T07:00:00Z"), "pg", "here").err().unwrap();
        assert!(format!("{e}").contains("before the oldest base backup"), "{e}");
        let e = choose(vec![], Target::Latest, "pg", "here").err().unwrap();
        assert!(format!("{e}").contains("no base backup of service `pg` here"), "{e}");
    }
}
