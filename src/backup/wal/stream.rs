//! `ccops wal stream`: keep a service's WAL archive current. The receiver sidecar
//! (snapshot/walreceiver.rs) writes segments into `<wal folder>/.incoming/`; each whole
//! segment and history file is stored into the archive (compressed, encrypted when
//! configured, renamed into place) and dropped from staging; the segment being filled is
//! stored as `<segment>.partial…` at least every `wal_max_delay` while it changes, and
//! removed once the whole segment is in. An uploader copies the archive to a remote on
//! its own schedule: a remote that is down delays it, never the local archive.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};
use chrono::Utc;

use super::archive::{self, Record};
use super::layout::{self, Segment, Wal, WalFile};
use crate::backup::sink::{Encoding, Sink};
use crate::config::{Compression, PostgresTarget};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot::pgbase::{self, Login};
use crate::snapshot::walreceiver::{self, State};
use crate::storage::Store;

/// The staging folder inside a service's WAL folder.
pub const STAGING: &str = ".incoming";
/// The longest wait before a stopped receiver is started again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the metrics follow the partial segment's copies.
const METRICS_EVERY: Duration = Duration::from_secs(15);

pub struct Options {
    /// The service whose WAL to stream (the only PITR entry when None).
    pub service: Option<String>,
    /// The remote to upload to.
    pub store: Option<Box<dyn Store>>,
}

/// The PITR entry `service` names (or the only one).
pub fn entry<'a>(p: &'a Project, service: Option<&str>) -> Result<&'a PostgresTarget> {
    let all: Vec<&PostgresTarget> = crate::backup::kinds::pgbase::targets(&p.settings).collect();
    match service {
        Some(svc) => all.into_iter().find(|t| t.service == svc).ok_or_else(|| {
            crate::usage!("no `backup.postgres` entry of service `{svc}` has `pitr` enabled in ccops.yaml")
        }),
        None if all.len() == 1 => Ok(all[0]),
        None if all.is_empty() => Err(crate::usage!(
            "no `backup.postgres` entry has `pitr` enabled in ccops.yaml; add `pitr: {{}}` to one (docs/pitr.md)"
        )),
        None => Err(crate::usage!(
            "several `backup.postgres` entries have `pitr`; name the service: {}",
            all.iter().map(|t| t.service.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Stream until a signal; then store what is complete and return.
pub async fn stream(p: &Project, opts: Options) -> Result<()> {
    let t = entry(p, opts.service.as_deref())?;
    let s = &p.settings;
    super::settings::check(s)?;
    let max_delay = t.pitr.as_ref().map_or(Duration::from_secs(60), |p| p.wal_max_delay);
    let engine = p.engine()?;
    let dir = layout::local_dir(&s.backup_dir, &t.service);
    let staging = dir.join(STAGING);
    for d in [&s.backup_dir, &dir, &staging] {
        crate::util::create_private_dir(d)?;
    }
    let slot = archive::slot_name(t);
    let name = walreceiver::name(&s.project, &t.service);
    let mut w = Writer {
        s,
        service: t.service.clone(),
        metrics_at: None,
        dir: dir.clone(),
        staging: staging.clone(),
        compression: s.file.backup.compression,
        encrypted: crate::backup::crypto::encrypting(),
        record: Record::read(&dir).unwrap_or_default(),
        partial_seen: None,
        partial_at: None,
        max_delay,
    };
    let gap = check_gaps(p, &t.service, &w.dir).await;
    let uploader = opts.store.map(|store| {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let job = tokio::spawn(upload_loop(store, dir.clone(), t.service.clone(), w.tick(), stopped));
        (stop, job)
    });
    if gap {
        output::warn(
            "the archive has a gap (above): a point-in-time restore cannot cross it; take a base backup (`ccops backup --only pgbase`)",
        );
    }

    let mut receiver: Option<Receiver> = None;
    let mut backoff = Duration::from_secs(1);
    let mut broke = false;
    while !crate::util::interrupted() {
        let Some(r) = receiver.as_ref() else {
            match start_receiver(p, engine, t, &name, &staging, &slot).await {
                Ok((r, id)) => {
                    let known = &w.record.system_identifier;
                    if !known.is_empty() && *known != id.system_identifier {
                        walreceiver::remove(engine, &name).await;
                        bail!(
                            "{} holds WAL of another PostgreSQL server (system {known}; service `{}` is now system {}); move that folder away to start a new archive",
                            dir.display(),
                            t.service,
                            id.system_identifier
                        );
                    }
                    output::status(format!(
                        "receiving WAL of service `{}` (slot `{slot}`) into {}",
                        t.service,
                        dir.display()
                    ));
                    if w.record.system_identifier.is_empty() {
                        w.record.system_identifier = id.system_identifier;
                    }
                    w.record.timeline = id.timeline;
                    receiver = Some(r);
                }
                Err(e) => {
                    output::warn(format!("cannot start the WAL receiver: {e:#}; retrying in {}s", backoff.as_secs()));
                    pause(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            continue;
        };
        let shipped = w.ship_complete().await;
        let partial = w.ship_partial(engine, &r.pg, &r.login, &slot, false).await;
        for res in [shipped, partial] {
            if let Err(e) = res {
                output::error(format!("storing WAL failed: {e:#}; kept in {}", staging.display()));
            }
        }
        if broke && w.partial_at.is_some() {
            broke = false;
            check_gaps(p, &t.service, &w.dir).await;
        }
        match walreceiver::state(engine, &r.id).await {
            State::Running => {
                backoff = Duration::from_secs(1);
                if let Err(e) = w.refresh_if_idle() {
                    output::warn(format!("cannot update {}: {e:#}", archive::RECORD));
                }
            }
            State::Exited(code, out) => {
                output::warn(format!(
                    "the WAL receiver stopped (exit {code}: {out}); starting it again in {}s",
                    backoff.as_secs()
                ));
                walreceiver::remove(engine, &name).await;
                receiver = None;
                broke = true;
                w.partial_at = None;
                pause(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            State::Gone => {
                output::warn("the WAL receiver is gone; starting it again");
                receiver = None;
                broke = true;
                w.partial_at = None;
                continue;
            }
        }
        pause(w.tick()).await;
    }
    // A signal: stop receiving, store what is complete, let the uploader finish a round.
    output::status("stopping: storing what was received");
    walreceiver::remove(engine, &name).await;
    w.ship_complete().await?;
    if let Some(r) = &receiver {
        w.ship_partial(engine, &r.pg, &r.login, &slot, true).await?;
    }
    if let Some((stop, job)) = uploader {
        stop.send(true).ok();
        job.await.ok();
    }
    Ok(())
}

/// A running receiver sidecar.
struct Receiver {
    id: String,
    /// The server's container.
    pg: String,
    login: Login,
}

/// Start the sidecar next to the running server; also what the server says it is.
async fn start_receiver(
    p: &Project,
    engine: &Engine,
    t: &PostgresTarget,
    name: &str,
    staging: &Path,
    slot: &str,
) -> Result<(Receiver, pgbase::Identity)> {
    let pg = engine.running_container(&p.settings.project, &t.service).await?;
    let login = Login::of(engine, &pg.id, t, &p.settings.vars).await?;
    if login.password.is_none() {
        bail!(
            "the receiver connects over TCP to 127.0.0.1 and needs a password: set `pitr.password_variable` of service `{}`",
            t.service
        );
    }
    let id = pgbase::identify(engine, &pg.id, &login).await?;
    let image = engine.container_image(&pg.id).await?;
    let sidecar = walreceiver::start(engine, name, &image, &pg.id, staging, &login, slot).await?;
    Ok((Receiver { id: sidecar, pg: pg.id, login }, id))
}

/// Check the local archive from the oldest kept base; on a gap, say so and notify.
/// Returns whether there is one.
async fn check_gaps(p: &Project, service: &str, dir: &Path) -> bool {
    let files = archive::local_files(dir).unwrap_or_default();
    let needed = archive::oldest_base(&p.settings, service).as_ref().and_then(archive::needed_after);
    let c = archive::continuity(&files, needed);
    if c.gaps.is_empty() || c.last.is_none() {
        return false;
    }
    let text = c.gaps.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    output::error(format!("the WAL archive of service `{service}` has a gap: {text}"));
    let event =
        crate::notify::Event { command: "wal stream", error: Some(format!("WAL gap: {text}")), ..Default::default() };
    crate::notify::after(&p.settings, &event, &Ok(crate::status::ExitStatus::Failure)).await;
    true
}

async fn pause(d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = crate::util::wait_interrupt() => {},
    }
}

/// Stores staged WAL into the archive folder and keeps `stream.json`.
struct Writer<'a> {
    s: &'a crate::config::Settings,
    service: String,
    /// When the metrics were last written (at most every [`METRICS_EVERY`] for partials).
    metrics_at: Option<Instant>,
    dir: PathBuf,
    staging: PathBuf,
    compression: Compression,
    encrypted: bool,
    record: Record,
    /// The staged partial last stored: its name and modification time.
    partial_seen: Option<(String, SystemTime)>,
    partial_at: Option<Instant>,
    max_delay: Duration,
}

impl Writer<'_> {
    /// How often staging is looked at: often enough to store a changed partial segment
    /// well within `wal_max_delay`.
    fn tick(&self) -> Duration {
        (self.max_delay / 3).clamp(Duration::from_millis(200), Duration::from_secs(2))
    }

    fn file(&self, wal: Wal) -> WalFile {
        WalFile { wal, compression: self.compression, encrypted: self.encrypted }
    }

    /// Store every whole segment and history file in staging, oldest first, then drop it
    /// there (and the stored partial of that segment).
    async fn ship_complete(&mut self) -> Result<()> {
        let mut ready: Vec<(Wal, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(&self.staging)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(seg) = Segment::parse(&name) {
                ready.push((Wal::Segment(seg), e.path()));
            } else if let Some(tli) = name.strip_suffix(".history").filter(|t| t.len() == 8) {
                if let Ok(t) = u32::from_str_radix(tli, 16) {
                    ready.push((Wal::History(t), e.path()));
                }
            }
        }
        ready.sort_by_key(|(w, _)| match w {
            Wal::History(t) => (0, *t as u64),
            Wal::Segment(s) | Wal::Partial(s) => (1, s.number()),
        });
        for (wal, path) in ready {
            let f = self.file(wal);
            // Stored whole already (a run killed before it cleared staging): never rewritten.
            let bytes = if self.dir.join(f.name()).exists() { 0 } else { store(&path, &self.dir, &f).await? };
            std::fs::remove_file(&path)?;
            if let Wal::Segment(seg) = wal {
                for old in archive::local_files(&self.dir)? {
                    if old.wal == Wal::Partial(seg) {
                        std::fs::remove_file(self.dir.join(old.name())).ok();
                    }
                }
                let end = (seg.number() + 1) * 16 * 1024 * 1024;
                self.note(seg.timeline, end, bytes, true)?;
            } else {
                self.note(wal.timeline(), 0, bytes, true)?;
            }
            output::debug(format!("stored {}", f.name()));
        }
        Ok(())
    }

    /// Store the staged partial segment when it changed and the last copy is older than a
    /// third of `wal_max_delay` (`now`: whenever it changed).
    async fn ship_partial(&mut self, engine: &Engine, pg: &str, login: &Login, slot: &str, now: bool) -> Result<()> {
        let Some((name, seg, mtime)) = staged_partial(&self.staging) else { return Ok(()) };
        if self.partial_seen.as_ref() == Some(&(name.clone(), mtime)) {
            return Ok(());
        }
        if !now && self.partial_at.is_some_and(|at| at.elapsed() < self.max_delay / 3) {
            return Ok(());
        }
        // What the receiver had confirmed before the copy is certainly in it.
        let confirmed = walreceiver::confirmed(engine, pg, login, slot).await;
        let path = self.staging.join(&name);
        let f = self.file(Wal::Partial(seg));
        let bytes = match store(&path, &self.dir, &f).await {
            Ok(b) => b,
            // Completed and renamed meanwhile: the next round stores the whole segment.
            Err(_) if !path.exists() => return Ok(()),
            Err(e) => return Err(e),
        };
        let start = seg.number() * 16 * 1024 * 1024;
        let end = confirmed.and_then(|l| layout::parse_lsn(&l)).filter(|l| *l >= start).unwrap_or(start);
        self.partial_seen = Some((name, mtime));
        self.partial_at = Some(Instant::now());
        self.note(seg.timeline, end.min(start + 16 * 1024 * 1024), bytes, false)
    }

    /// Nothing arrived since the last copy of the partial segment: the archive is current.
    /// Say so in `stream.json` (and the metrics) every half `wal_max_delay`, so an idle
    /// server does not read as a stopped stream.
    fn refresh_if_idle(&mut self) -> Result<()> {
        let staged = staged_partial(&self.staging).map(|(name, _, mtime)| (name, mtime));
        if staged.is_none() || staged != self.partial_seen {
            return Ok(());
        }
        let since = self.record.shipped_at().map(|at| (Utc::now() - at).to_std().unwrap_or_default());
        if since.is_none_or(|d| d >= self.max_delay / 2) {
            self.note(self.record.timeline, 0, 0, false)?;
        }
        Ok(())
    }

    /// Record a stored file in `stream.json`.
    fn note(&mut self, timeline: u32, end: u64, bytes: u64, whole: bool) -> Result<()> {
        let r = &mut self.record;
        let last = layout::parse_lsn(&r.last_lsn).unwrap_or(0);
        if end > last {
            r.last_lsn = format!("{:X}/{:X}", end >> 32, end & 0xFFFF_FFFF);
        }
        r.timeline = r.timeline.max(timeline);
        r.bytes_shipped += bytes;
        r.last_shipped_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        r.write(&self.dir)?;
        if whole || self.metrics_at.is_none_or(|at| at.elapsed() >= METRICS_EVERY) {
            crate::metrics::record_wal(self.s, &self.service, r);
            self.metrics_at = Some(Instant::now());
        }
        Ok(())
    }
}

/// The staged `.partial` segment, its segment and modification time.
fn staged_partial(staging: &Path) -> Option<(String, Segment, SystemTime)> {
    std::fs::read_dir(staging).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let seg = Segment::parse(name.strip_suffix(".partial")?)?;
        Some((name, seg, e.metadata().ok()?.modified().ok()?))
    })
}

/// Compress (and encrypt) `src` into `dir` as `f`, atomically; returns the bytes stored.
async fn store(src: &Path, dir: &Path, f: &WalFile) -> Result<u64> {
    let name = f.name();
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::remove_file(&tmp).ok();
    let mut input = tokio::fs::File::open(src).await?;
    let mut sink = Sink::create(&tmp, Encoding::Compressed(f.compression))?;
    let copied = tokio::io::copy(&mut input, &mut sink.writer).await;
    let written = sink.finish().await;
    let written = match (copied, written) {
        (Ok(_), Ok(w)) => w,
        (Err(e), _) => {
            std::fs::remove_file(&tmp).ok();
            return Err(anyhow::anyhow!("cannot read `{}`: {e}", src.display()));
        }
        (_, Err(e)) => {
            std::fs::remove_file(&tmp).ok();
            return Err(e);
        }
    };
    std::fs::rename(&tmp, dir.join(&name))?;
    crate::util::fsync_dir(dir).ok();
    Ok(written.bytes)
}

/// Copy the archive to the remote until told to stop (then one last round): every whole
/// segment and history file it lacks, the partial segment when it changed, and remote
/// partials of segments the remote has whole are deleted. A failure is retried the next
/// round; nothing local is removed for it.
async fn upload_loop(
    store: Box<dyn Store>,
    dir: PathBuf,
    service: String,
    tick: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let prefix = layout::remote_prefix("", &service);
    let mut remote: Option<HashMap<String, SystemTime>> = None;
    let mut failing = false;
    loop {
        let last = *stop.borrow();
        match sync(&*store, &dir, &prefix, &mut remote).await {
            Ok(()) if failing => {
                failing = false;
                output::status(format!("uploads to {} work again", store.describe()));
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                remote = None;
                output::warn(format!(
                    "uploading WAL to {} failed: {e:#}; the files are kept here and retried",
                    store.describe()
                ));
            }
            Err(_) => remote = None,
        }
        if last {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {},
            _ = stop.changed() => {},
        }
    }
}

/// One round of uploads. `remote`: what the remote holds (name → the local modification
/// time uploaded), listed again after a failure.
async fn sync(
    store: &dyn Store,
    dir: &Path,
    prefix: &str,
    remote: &mut Option<HashMap<String, SystemTime>>,
) -> Result<()> {
    if remote.is_none() {
        let keys = store.list(prefix).await?;
        let listed = archive::remote_files(&keys, prefix).into_iter().map(|f| (f.name(), SystemTime::UNIX_EPOCH));
        *remote = Some(listed.collect());
    }
    let known = remote.as_mut().expect("listed");
    let mut local = archive::local_files(dir)?;
    local.sort_by_key(|f| match f.wal {
        Wal::History(t) => (0, t as u64),
        Wal::Segment(s) | Wal::Partial(s) => (1, s.number()),
    });
    let bar = indicatif::ProgressBar::hidden();
    for f in &local {
        let name = f.name();
        let path = dir.join(&name);
        let Ok(mtime) = std::fs::metadata(&path).and_then(|m| m.modified()) else { continue };
        let needed = match f.wal {
            Wal::Partial(_) => known.get(&name) != Some(&mtime),
            _ => !known.contains_key(&name),
        };
        if !needed {
            continue;
        }
        let file = match crate::backup::untrusted::open_file(&path) {
            Ok(file) => file,
            Err(_) => continue, // replaced or removed meanwhile: the next round sees it
        };
        store.put_file(&format!("{prefix}{name}"), file, &path, &bar).await?;
        known.insert(name, mtime);
    }
    // Remote partials whose whole segment is there now.
    let whole: Vec<Segment> = known
        .keys()
        .filter_map(|n| WalFile::parse(n))
        .filter_map(|f| if let Wal::Segment(s) = f.wal { Some(s) } else { None })
        .collect();
    let stale: Vec<String> = known
        .keys()
        .filter(|n| WalFile::parse(n).is_some_and(|f| matches!(f.wal, Wal::Partial(s) if whole.contains(&s))))
        .cloned()
        .collect();
    for name in stale {
        store.delete(&format!("{prefix}{name}")).await?;
        known.remove(&name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryStore;

    fn names(store: &MemoryStore) -> Vec<String> {
        store.objects.lock().unwrap().keys().cloned().collect()
    }

    #[tokio::test]
    async fn the_remote_gets_what_it_lacks_and_loses_partials_of_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let prefix = layout::remote_prefix("", "db");
        let mut remote = None;
        std::fs::write(dir.path().join("000000010000000000000003.gz"), b"3").unwrap();
        std::fs::write(dir.path().join("000000010000000000000004.partial.gz"), b"4a").unwrap();
        std::fs::write(dir.path().join("stream.json"), b"{}").unwrap();
        sync(&store, dir.path(), &prefix, &mut remote).await.unwrap();
        assert_eq!(names(&store), ["wal/db/000000010000000000000003.gz", "wal/db/000000010000000000000004.partial.gz"]);

        // The partial grew: it is sent again. Then the segment is whole: its partial goes.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.path().join("000000010000000000000004.partial.gz"), b"4ab").unwrap();
        sync(&store, dir.path(), &prefix, &mut remote).await.unwrap();
        assert_eq!(store.objects.lock().unwrap()["wal/db/000000010000000000000004.partial.gz"], b"4ab");
        std::fs::remove_file(dir.path().join("000000010000000000000004.partial.gz")).unwrap();
        std::fs::write(dir.path().join("000000010000000000000004.gz"), b"4").unwrap();
        sync(&store, dir.path(), &prefix, &mut remote).await.unwrap();
        assert_eq!(names(&store), ["wal/db/000000010000000000000003.gz", "wal/db/000000010000000000000004.gz"]);

        // A remote that lost everything (listed again after a failure) is filled again.
        store.objects.lock().unwrap().clear();
        let mut relisted = None;
        sync(&store, dir.path(), &prefix, &mut relisted).await.unwrap();
        assert_eq!(names(&store).len(), 2);
    }
}
