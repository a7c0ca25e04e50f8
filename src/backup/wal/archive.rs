//! What a service's WAL archive holds, locally or on a remote, and whether it is whole:
//! every segment from the start of the oldest kept base backup to the newest stored one.
//! Also the freshness record `stream.json` that `ccops wal stream` keeps beside the files.

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::layout::{Segment, Wal, WalFile};
use crate::config::{PostgresTarget, Settings};

/// The freshness record's file name in a service's WAL folder.
pub const RECORD: &str = "stream.json";

/// `stream.json`: what `wal stream` stored last. For status, metrics and health only;
/// a restore decides from the files themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub system_identifier: String,
    pub timeline: u32,
    /// The end of what is stored (`X/Y`).
    pub last_lsn: String,
    /// RFC 3339 UTC.
    pub last_shipped_at: String,
    pub bytes_shipped: u64,
}

impl Record {
    pub fn read(dir: &Path) -> Option<Record> {
        let text = crate::util::read_small_file(&dir.join(RECORD), 64 << 10).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)? + "\n";
        crate::util::write_atomic(&dir.join(RECORD), json.as_bytes(), 0o600)
    }

    /// When it last stored something.
    pub fn shipped_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.last_shipped_at).ok().map(|t| t.to_utc())
    }
}

/// The replication slot of a PITR entry: `pitr.slot`, else `ccops_<service>` (lowercase,
/// anything but letters and digits as `_`, as slot names must be).
pub fn slot_name(t: &PostgresTarget) -> String {
    if let Some(s) = t.pitr.as_ref().and_then(|p| p.slot.clone()) {
        return s;
    }
    let svc: String =
        t.service.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("ccops_{svc}")
}

/// The archive files in a local folder (anything else there is ignored).
pub fn local_files(dir: &Path) -> Result<Vec<WalFile>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(anyhow::anyhow!("cannot read `{}`: {}", dir.display(), crate::util::io_reason(&e))),
    };
    for e in entries.flatten() {
        if let Some(f) = e.file_name().to_str().and_then(WalFile::parse) {
            out.push(f);
        }
    }
    Ok(out)
}

/// The archive files under a remote's keys (names relative to the service's prefix).
pub fn remote_files(keys: &[String], prefix: &str) -> Vec<WalFile> {
    keys.iter().filter_map(|k| k.strip_prefix(prefix)).filter_map(WalFile::parse).collect()
}

/// The oldest base backup of `service` among the complete local sets (the oldest start).
pub fn oldest_base(s: &Settings, service: &str) -> Option<crate::backup::manifest::Base> {
    let sets = crate::backup::layout::list(&s.backup_dir).ok()?;
    sets.iter()
        .filter(|set| set.complete)
        .filter_map(|set| set.manifest.as_ref())
        .flat_map(|m| m.components.iter())
        .filter(|c| c.kind.word() == "pgbase" && c.service.as_deref() == Some(service))
        .filter_map(|c| c.base())
        .min_by_key(|b| super::layout::parse_lsn(&b.start_lsn))
}

/// The first segment the archive must hold for a restore from `base`: the one after
/// its end. The base's tar holds the WAL from its start to its end segment itself
/// (`-X fetch`), and that segment is complete (the backup ends with a segment switch);
/// a restore reads it from there when the archive lacks it.
pub fn needed_after(base: &crate::backup::manifest::Base) -> Option<Segment> {
    Segment::of_lsn(base.timeline, &base.end_lsn).map(|s| s.next())
}

/// The first segment retention keeps for `base`: the one it starts in.
pub fn kept_from(base: &crate::backup::manifest::Base) -> Option<Segment> {
    Segment::of_lsn(base.timeline, &base.start_lsn)
}

/// A run of missing segments, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from: Segment,
    pub to: Segment,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{} is missing", self.from)
        } else {
            write!(f, "{} to {} are missing", self.from, self.to)
        }
    }
}

/// Whether the archive is whole from `start` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuity {
    pub first: Option<Segment>,
    pub last: Option<Segment>,
    pub segments: usize,
    pub gaps: Vec<Gap>,
}

/// Walk the stream from `start` (default: the oldest stored segment) to the newest
/// stored segment, whole or partial. A position is covered by a segment of any timeline
/// up to the newest one (a timeline switch continues the same positions on a new
/// timeline, whose history file says where).
pub fn continuity(files: &[WalFile], start: Option<Segment>) -> Continuity {
    let mut have: std::collections::BTreeMap<u64, Segment> = std::collections::BTreeMap::new();
    let mut whole = 0;
    for f in files {
        let (Wal::Segment(s) | Wal::Partial(s)) = f.wal else { continue };
        if matches!(f.wal, Wal::Segment(_)) {
            whole += 1;
        }
        let e = have.entry(s.number()).or_insert(s);
        if s.timeline > e.timeline {
            *e = s;
        }
    }
    let (Some((_, &oldest)), Some((_, &newest))) = (have.first_key_value(), have.last_key_value()) else {
        return Continuity {
            first: start,
            last: None,
            segments: 0,
            gaps: start.map(|s| vec![Gap { from: s, to: s }]).unwrap_or_default(),
        };
    };
    let first = start.unwrap_or(oldest);
    let mut gaps = Vec::new();
    let mut prev = first;
    let mut missing: Option<Segment> = None;
    for n in first.number()..=newest.number() {
        match have.get(&n) {
            Some(&s) => {
                if let Some(from) = missing.take() {
                    gaps.push(Gap { from, to: at(prev.timeline, n - 1) });
                }
                prev = s;
            }
            None if missing.is_none() => missing = Some(at(prev.timeline, n)),
            None => {}
        }
    }
    Continuity { first: Some(first), last: Some(newest), segments: whole, gaps }
}

/// The segment at position `n` on `timeline`.
fn at(timeline: u32, n: u64) -> Segment {
    Segment { timeline, log: (n / 0x100) as u32, seg: (n % 0x100) as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compression;

    fn seg(tl: u32, n: u64) -> WalFile {
        WalFile { wal: Wal::Segment(at(tl, n)), compression: Compression::Gzip, encrypted: false }
    }

    #[test]
    fn a_whole_archive_has_no_gap_and_a_missing_run_is_named() {
        let mut files: Vec<WalFile> = (3..=9).map(|n| seg(1, n)).collect();
        files.push(WalFile { wal: Wal::Partial(at(1, 10)), compression: Compression::Gzip, encrypted: false });
        let c = continuity(&files, Some(at(1, 3)));
        assert_eq!((c.gaps.len(), c.segments, c.last), (0, 7, Some(at(1, 10))));
        files.retain(|f| !matches!(f.wal, Wal::Segment(s) if s.number() == 5 || s.number() == 6));
        let c = continuity(&files, None);
        assert_eq!(c.gaps, [Gap { from: at(1, 5), to: at(1, 6) }]);
        assert_eq!(c.gaps[0].to_string(), "000000010000000000000005 to 000000010000000000000006 are missing");
        // WAL from before the oldest base is not needed; WAL the base starts in is.
        assert!(continuity(&files, Some(at(1, 7))).gaps.is_empty());
        assert_eq!(continuity(&files, Some(at(1, 2))).gaps[0], Gap { from: at(1, 2), to: at(1, 2) });
    }

    #[test]
    fn a_new_timeline_continues_the_positions() {
        let files = [seg(1, 3), seg(1, 4), seg(2, 5), seg(2, 6)];
        assert!(continuity(&files, Some(at(1, 3))).gaps.is_empty());
    }

    #[test]
    fn slots_are_named_as_postgres_allows() {
        let t = PostgresTarget { service: "my-DB".into(), database: "d".into(), user: "u".into(), pitr: None };
        assert_eq!(slot_name(&t), "ccops_my_db");
    }
}
