//! Where backup sets live on disk and how their IDs read: `YYYYMMDD_HHMMSS[-N]`, plus
//! the legacy layout of the scripts ccops replaces (SPEC §3).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::kinds::{self, Kind};
use super::manifest::{FILE as MANIFEST, Manifest};

pub const PARTIAL: &str = ".partial";
/// A remote set being downloaded (`backup restore --from`): renamed to its ID when every
/// file matched; one left behind by a killed ccops is listed as incomplete and pruned.
pub const DOWNLOAD: &str = ".download";
/// How far ahead of this host's clock a set may be dated and still count: a few minutes
/// of skew between the hosts that write and read a bucket. A set dated later is never
/// `latest`, never fresh enough for `backup_max_age`, and never anchors retention: a
/// planted (or mis-clocked) set must not shadow the real newest one.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// True when a set dated `created` lies in the future of `now`, beyond the clock skew.
pub fn is_future(created: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (created - now).num_seconds() > CLOCK_SKEW_SECONDS
}

/// The time an ID names, or None if `id` is not a backup ID.
pub fn parse_id(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id
        .split_once('-')
        .map_or(id, |(s, n)| if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) { s } else { "" });
    if stamp.len() != 15 {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok().map(|n| n.and_utc())
}

/// A fresh ID for `now`, with `-2`, `-3`... when `taken` already has it.
pub fn new_id(now: DateTime<Utc>, taken: impl Fn(&str) -> bool) -> String {
    let base = now.format("%Y%m%d_%H%M%S").to_string();
    if !taken(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !taken(id)).unwrap_or(base)
}

/// A backup set as found on disk.
#[derive(Debug, Clone)]
pub struct LocalSet {
    pub id: String,
    pub created: DateTime<Utc>,
    pub path: PathBuf,
    pub complete: bool,
    pub manifest: Option<Manifest>,
    /// Legacy files (SPEC §3) by kind, when this set is in the legacy layout.
    pub legacy: Option<LegacySet>,
    /// Why the manifest is unreadable, when it exists but cannot be used (damaged, or
    /// written by a newer ccops). Such a set is never pruned.
    pub damaged: Option<String>,
    /// A `<ID>.download` folder: a download from a remote that never finished.
    pub download: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LegacySet {
    /// (database, file)
    pub postgres: Vec<(String, PathBuf)>,
    /// (volume, file)
    pub volumes: Vec<(String, PathBuf)>,
    pub redis: Option<PathBuf>,
}

impl LegacySet {
    /// Each file with its kind and the name its file name gives (database, volume,
    /// `redis`). The scripts' layout is fixed: it names these three kinds, and no other
    /// kind ever has a legacy form.
    pub fn entries(&self) -> Vec<(&'static dyn Kind, &str, &PathBuf)> {
        let mut out: Vec<(&'static dyn Kind, &str, &PathBuf)> = Vec::new();
        out.extend(self.postgres.iter().map(|(db, p)| (&kinds::postgres::Postgres as &dyn Kind, db.as_str(), p)));
        out.extend(self.redis.iter().map(|p| (&kinds::redis::Redis as &dyn Kind, "redis", p)));
        out.extend(self.volumes.iter().map(|(v, p)| (&kinds::volume::Volume as &dyn Kind, v.as_str(), p)));
        out
    }

    pub fn files(&self) -> Vec<&PathBuf> {
        self.postgres
            .iter()
            .map(|(_, p)| p)
            .chain(self.volumes.iter().map(|(_, p)| p))
            .chain(self.redis.iter())
            .collect()
    }
}

impl LocalSet {
    /// A complete set of every configured component (legacy sets count as full).
    pub fn full(&self) -> bool {
        self.complete && !self.manifest.as_ref().is_some_and(|m| m.partial)
    }

    /// Dated later than this host's clock allows (see [`CLOCK_SKEW_SECONDS`]).
    pub fn future(&self) -> bool {
        is_future(self.created, Utc::now())
    }

    /// One word for listings: legacy, complete, partial, future, damaged, download, incomplete.
    pub fn state(&self) -> &'static str {
        match self {
            s if s.damaged.is_some() => "damaged",
            s if s.download => "download",
            s if s.legacy.is_some() => "legacy",
            s if s.complete && s.future() => "future",
            s if s.complete => "complete",
            _ => "incomplete",
        }
    }

    pub fn bytes(&self) -> u64 {
        match (&self.manifest, &self.legacy) {
            (Some(m), _) => m.total_bytes(),
            (None, Some(l)) => l.files().iter().filter_map(|p| p.metadata().ok()).map(|m| m.len()).sum(),
            _ => dir_size(&self.path),
        }
    }
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// Every set in `dir`, complete or not, legacy included, newest first. Nothing in the
/// folder is trusted: a set folder that is a symbolic link, or whose manifest fails
/// [`Manifest::read`], is listed as damaged and never used or pruned.
pub fn list(dir: &Path) -> Result<Vec<LocalSet>> {
    let mut sets = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(sets),
        Err(e) => anyhow::bail!("cannot read backup folder `{}`: {}", dir.display(), crate::util::io_reason(&e)),
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let (id, partial, download) = match (name.strip_suffix(PARTIAL), name.strip_suffix(DOWNLOAD)) {
            (Some(id), _) => (id.to_string(), true, false),
            (_, Some(id)) => (id.to_string(), false, true),
            _ => (name.clone(), false, false),
        };
        let Some(created) = parse_id(&id) else { continue };
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() || ft.is_dir() {
            found.push((id, created, e.path(), partial, download, ft.is_symlink()));
        }
    }
    // Newest first, and no more than the remote listing's budget of manifest bytes: a
    // folder flooded with large planted manifests cannot exhaust memory.
    found.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
    let mut read: u64 = 0;
    for (id, created, path, partial, download, link) in found {
        let manifest_size = std::fs::symlink_metadata(path.join(MANIFEST)).map(|m| m.len()).ok();
        let (manifest, damaged) = if link {
            (None, Some("the set's folder is a symbolic link; ccops does not follow links in the backup folder".into()))
        } else if partial || download || manifest_size.is_none() {
            (None, None)
        } else if read >= super::manifest::LISTING_BUDGET {
            (None, Some(format!("not read: this listing read {} of manifests already", crate::util::human_bytes(read))))
        } else {
            read += manifest_size.unwrap_or(0).min(super::manifest::MAX_BYTES);
            match Manifest::read(&path, &id) {
                Ok(m) => (Some(m), None),
                Err(err) => (None, Some(format!("{err:#}"))),
            }
        };
        let complete = manifest.is_some();
        sets.push(LocalSet { id, created, path, complete, manifest, legacy: None, damaged, download });
    }
    sets.extend(list_legacy(dir));
    sets.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
    Ok(sets)
}

/// Sets in the scripts' layout: backups/postgres/<db>_<TS>.sql.gz, backups/rag/<vol>_<TS>.tar.gz,
/// backups/redis/redis_<TS>.rdb.gz, grouped by their shared timestamp.
pub fn list_legacy(dir: &Path) -> Vec<LocalSet> {
    let mut by_ts: BTreeMap<String, LegacySet> = BTreeMap::new();
    let mut scan = |sub: &str, ext: &str, f: &mut dyn FnMut(&mut LegacySet, String, PathBuf)| {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(ext) else { continue };
            // <name>_<YYYYMMDD>_<HHMMSS>
            if stem.len() < 17 {
                continue;
            }
            let (prefix, ts) = stem.split_at(stem.len() - 15);
            let Some(prefix) = prefix.strip_suffix('_') else { continue };
            if parse_id(ts).is_none() || prefix.is_empty() {
                continue;
            }
            f(by_ts.entry(ts.to_string()).or_default(), prefix.to_string(), e.path());
        }
    };
    scan("postgres", ".sql.gz", &mut |s, db, p| s.postgres.push((db, p)));
    scan("rag", ".tar.gz", &mut |s, vol, p| s.volumes.push((vol, p)));
    scan("redis", ".rdb.gz", &mut |s, name, p| {
        if name == "redis" {
            s.redis = Some(p);
        }
    });
    by_ts
        .into_iter()
        .filter(|(_, s)| !s.files().is_empty())
        .map(|(ts, legacy)| LocalSet {
            created: parse_id(&ts).unwrap_or_default(),
            path: dir.to_path_buf(),
            id: ts,
            complete: true,
            manifest: None,
            legacy: Some(legacy),
            damaged: None,
            download: false,
        })
        .collect()
}

/// The newest full set (legacy included) that is not dated in the future: (id, time).
pub fn newest_complete(dir: &Path) -> Result<Option<(String, DateTime<Utc>)>> {
    Ok(list(dir)?.into_iter().find(|s| s.full() && !s.future()).map(|s| (s.id, s.created)))
}

/// Resolve `latest` or an ID among `sets`; an unknown ID is a usage error naming the
/// nearest IDs that exist.
pub fn resolve<'a>(sets: &'a [LocalSet], wanted: &str) -> Result<&'a LocalSet> {
    let complete: Vec<&LocalSet> = sets.iter().filter(|s| s.complete).collect();
    if wanted == "latest" {
        // `latest` is the newest full set: after a restore, the pre-restore safety backup
        // (partial, of the state just replaced) must not be what `restore latest` picks;
        // nor may a set dated in the future, which would shadow every real one.
        let now = Utc::now();
        if let Some(s) = sets.iter().find(|s| s.full() && !is_future(s.created, now)) {
            return Ok(s);
        }
        return complete
            .iter()
            .find(|s| !is_future(s.created, now))
            .copied()
            .ok_or_else(|| crate::usage!("there is no complete backup yet; take one with `ccops backup`"));
    }
    if let Some(s) = complete.iter().find(|s| s.id == wanted) {
        return Ok(s);
    }
    if let Some(d) = sets.iter().find(|s| s.id == wanted).and_then(|s| s.damaged.as_ref()) {
        // Not a usage error: the operator named a set that exists, and it failed a check.
        anyhow::bail!("backup `{wanted}` cannot be used: {d}");
    }
    if sets.iter().any(|s| s.id == wanted) {
        return Err(crate::usage!(
            "backup `{wanted}` is incomplete (interrupted while being written) and cannot be used"
        ));
    }
    Err(crate::usage!(
        "no backup `{wanted}`; {}",
        nearest_hint(complete.iter().map(|s| (s.id.as_str(), s.created)), wanted)
    ))
}

/// "the nearest are: A, B, C" by time distance (or the newest when `wanted` is no ID).
pub fn nearest_hint<'a>(ids: impl Iterator<Item = (&'a str, DateTime<Utc>)>, wanted: &str) -> String {
    let mut ids: Vec<(&str, DateTime<Utc>)> = ids.collect();
    if ids.is_empty() {
        return "there are no backups yet".into();
    }
    match parse_id(wanted) {
        Some(t) => ids.sort_by_key(|(_, c)| (*c - t).num_seconds().abs()),
        None => ids.sort_by_key(|(_, c)| std::cmp::Reverse(*c)),
    }
    let near: Vec<&str> = ids.iter().take(3).map(|(id, _)| *id).collect();
    format!("the nearest available: {} (see `ccops backup list`)", near.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse() {
        assert!(parse_id("20240101_020000").is_some());
        assert!(parse_id("20240101_020000-2").is_some());
        assert!(parse_id("20240101_020000.partial").is_none());
        assert!(parse_id("20240101_020000-").is_none());
        assert!(parse_id("2024").is_none());
        assert!(parse_id("20241301_020000").is_none());
    }

    fn write_manifest(dir: &Path, id: &str, body_id: &str) {
        std::fs::create_dir_all(dir.join(id)).unwrap();
        std::fs::write(
            dir.join(id).join(MANIFEST),
            format!(r#"{{"format":1,"id":"{body_id}","created_at":"x","project":"p","environment":"e","ccops_version":"0","components":[]}}"#),
        )
        .unwrap();
    }

    #[test]
    fn untrusted_folders_are_listed_but_never_used() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        write_manifest(p, "20240101_000000", "20240101_000000");
        // A manifest copied from another set, a symlinked set, a leftover download, and a
        // set dated decades ahead.
        write_manifest(p, "20240102_000000", "20240101_000000");
        std::os::unix::fs::symlink(p.join("20240101_000000"), p.join("20240103_000000")).unwrap();
        std::fs::create_dir_all(p.join("20240104_000000.download")).unwrap();
        write_manifest(p, "20990101_000000", "20990101_000000");
        let sets = list(p).unwrap();
        let state = |id: &str| sets.iter().find(|s| s.id == id).map(LocalSet::state).unwrap();
        assert_eq!(state("20240102_000000"), "damaged");
        assert_eq!(state("20240103_000000"), "damaged");
        assert_eq!(state("20240104_000000"), "download");
        assert_eq!(state("20990101_000000"), "future");
        assert_eq!(resolve(&sets, "latest").unwrap().id, "20240101_000000");
        assert_eq!(newest_complete(p).unwrap().unwrap().0, "20240101_000000");
        let e = resolve(&sets, "20240102_000000").unwrap_err().to_string();
        assert!(e.contains("20240102_000000") && e.contains("`id`"), "{e}");
        // Named explicitly, a future set is the operator's choice.
        assert_eq!(resolve(&sets, "20990101_000000").unwrap().id, "20990101_000000");
    }

    #[test]
    fn new_ids_get_a_suffix_when_taken() {
        let now = parse_id("20240101_020000").unwrap();
        assert_eq!(new_id(now, |_| false), "20240101_020000");
        assert_eq!(new_id(now, |id| id == "20240101_020000" || id == "20240101_020000-2"), "20240101_020000-3");
    }

    #[test]
    fn lists_new_partial_and_legacy_sets_newest_first() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("20240103_000000")).unwrap();
        std::fs::write(
            p.join("20240103_000000/manifest.json"),
            r#"{"format":1,"id":"20240103_000000","created_at":"x","project":"p","environment":"e","ccops_version":"0","tags":[],"components":[]}"#,
        )
        .unwrap();
        std::fs::create_dir_all(p.join("20240104_000000.partial")).unwrap();
        std::fs::create_dir_all(p.join("postgres")).unwrap();
        std::fs::create_dir_all(p.join("redis")).unwrap();
        std::fs::write(p.join("postgres/app_20240102_020000.sql.gz"), b"x").unwrap();
        std::fs::write(p.join("redis/redis_20240102_020000.rdb.gz"), b"x").unwrap();
        let sets = list(p).unwrap();
        let ids: Vec<(&str, bool)> = sets.iter().map(|s| (s.id.as_str(), s.complete)).collect();
        assert_eq!(ids, [("20240104_000000", false), ("20240103_000000", true), ("20240102_020000", true)]);
        let legacy = sets[2].legacy.as_ref().unwrap();
        assert_eq!(legacy.postgres[0].0, "app");
        assert!(legacy.redis.is_some());
        assert_eq!(resolve(&sets, "latest").unwrap().id, "20240103_000000");
        let e = resolve(&sets, "20240101_000000").unwrap_err().to_string();
        assert!(e.contains("no backup `20240101_000000`") && e.contains("20240102_020000"), "{e}");
        assert!(resolve(&sets, "20240104_000000").unwrap_err().to_string().contains("incomplete"));
    }
}
