//! The WAL archive read back for a restore to a point: which stored files a base backup
//! needs (every segment from its start on, whole ones first, the newest `.partial`
//! standing in for a segment not yet whole), where the stored run of segments breaks
//! off, and staging them decrypted and decompressed under the names PostgreSQL asks
//! `restore_command` for. Local folder or remote prefix alike; names read from either
//! pass [`WalFile::parse`] or are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use super::layout::{Segment, Wal, WalFile};
use crate::storage::Store;

/// The largest stored WAL file read: a 16 MiB segment that did not compress, with the
/// room encryption adds. Anything larger is not one of ours.
const MAX_STORED: u64 = 20 << 20;

/// What a restore stages, and how far the stored WAL reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Each stored file (its stored name) and the name PostgreSQL asks for.
    pub files: Vec<(String, String)>,
    /// The newest segment in the unbroken run from the base's end on (None: not even the
    /// base's last segment is stored after it; the base alone is restorable).
    pub last: Option<Segment>,
    /// The first segment of that run that is not stored: recovery cannot go past it.
    pub first_missing: Segment,
    /// The run ends in a `.partial` (the segment being filled when it was shipped).
    pub ends_partial: bool,
}

/// Plan the staging of `names` (stored names, any order) for a base whose WAL starts in
/// `start` and ends in `end`. Segments of every timeline from `start`'s number on are
/// staged up to the run's end (a later timeline branches off in them), history files all. The run is
/// counted by segment number from `end` on; a `.partial` is used only where no whole
/// segment of its timeline and number is stored, and ends the run.
pub fn plan(names: impl IntoIterator<Item = String>, start: Segment, end: Segment) -> Plan {
    let mut whole: BTreeMap<Segment, String> = BTreeMap::new();
    let mut partial: BTreeMap<Segment, String> = BTreeMap::new();
    let mut files = Vec::new();
    for name in names {
        let Some(f) = WalFile::parse(&name) else { continue };
        match f.wal {
            Wal::History(_) => files.push((name, f.wal.pg_name())),
            Wal::Segment(s) if s.number() >= start.number() => {
                whole.insert(s, name);
            }
            Wal::Partial(s) if s.number() >= start.number() => {
                partial.insert(s, name);
            }
            _ => {}
        }
    }
    partial.retain(|s, _| !whole.contains_key(s));
    let numbers: BTreeSet<u64> = whole.keys().map(Segment::number).collect();
    let partials: BTreeSet<u64> = partial.keys().map(Segment::number).collect();
    let mut n = end.number();
    let mut ends_partial = false;
    loop {
        if numbers.contains(&n) {
            n += 1;
        } else if partials.contains(&n) {
            n += 1;
            ends_partial = true;
            break;
        } else {
            break;
        }
    }
    // The timeline of a number: the newest stored one holding it.
    let timeline =
        |number: u64| whole.keys().chain(partial.keys()).filter(|s| s.number() == number).map(|s| s.timeline).max();
    let last = (n > end.number()).then(|| numbered(timeline(n - 1).unwrap_or(end.timeline), n - 1));
    let first_missing = numbered(last.map_or(end.timeline, |s| s.timeline), n);
    // Past the break nothing is replayed; a partial counts only as the run's last.
    for (s, name) in &whole {
        if s.number() < n {
            files.push((name.clone(), s.to_string()));
        }
    }
    for (s, name) in &partial {
        if s.number() + 1 == n && ends_partial {
            files.push((name.clone(), s.to_string()));
        }
    }
    files.sort();
    Plan { files, last, first_missing, ends_partial }
}

/// The segment numbered `number` (see [`Segment::number`]) on `timeline`.
fn numbered(timeline: u32, number: u64) -> Segment {
    Segment { timeline, log: (number >> 8) as u32, seg: (number & 0xFF) as u32 }
}

/// Where the archive of one service is read from.
pub enum Archive {
    /// `<backup.directory>/wal/<service>/`.
    Local(PathBuf),
    /// A remote, under `<prefix>wal/<service>/` (the store's keys are relative to its prefix).
    Remote(Box<dyn Store>, String),
}

impl Archive {
    /// The stored names in the archive (not yet parsed).
    pub async fn names(&self) -> Result<Vec<String>> {
        match self {
            Archive::Local(dir) => match std::fs::read_dir(dir) {
                Ok(entries) => Ok(entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => {
                    Err(anyhow!("cannot read the WAL folder `{}`: {}", dir.display(), crate::util::io_reason(&e)))
                }
            },
            Archive::Remote(store, prefix) => {
                let keys = store.list(prefix).await?;
                Ok(keys.into_iter().filter_map(|k| k.strip_prefix(prefix.as_str()).map(String::from)).collect())
            }
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Archive::Local(dir) => format!("`{}`", dir.display()),
            Archive::Remote(store, prefix) => format!("`{prefix}` on remote `{}`", store.name()),
        }
    }

    /// Stage the plan's files into `dir` (created, private): each decrypted and
    /// decompressed under the name PostgreSQL asks for. Returns the bytes staged.
    pub async fn stage(&self, plan: &Plan, dir: &Path) -> Result<u64> {
        let mut total = 0;
        for (stored, pg_name) in &plan.files {
            crate::util::check_interrupt()?;
            let encoded = match self {
                Archive::Local(src) => src.join(stored),
                Archive::Remote(store, prefix) => {
                    let to = dir.join(format!(".download-{stored}"));
                    let file = crate::backup::sink::open_private(&to)?;
                    let bar = indicatif::ProgressBar::hidden();
                    crate::storage::download(&**store, &format!("{prefix}{stored}"), file, MAX_STORED, &bar).await?;
                    to
                }
            };
            let out = dir.join(pg_name);
            let (from, to) = (encoded.clone(), out.clone());
            let n = tokio::task::spawn_blocking(move || -> Result<u64> {
                let mut r = crate::backup::compress::open_decoded(&from)
                    .map_err(|e| anyhow!("cannot read `{}`: {}", from.display(), crate::util::io_reason(&e)))?;
                let mut w = crate::backup::sink::open_private(&to)?;
                std::io::copy(&mut r, &mut w)
                    .map_err(|e| anyhow!("cannot decode `{}`: {}", from.display(), crate::util::io_reason(&e)))
            })
            .await
            .map_err(|e| anyhow!("{e}"))??;
            if matches!(self, Archive::Remote(..)) {
                std::fs::remove_file(&encoded).ok();
            }
            total += n;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(name: &str) -> Segment {
        Segment::parse(name).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_run_from_the_base_on_is_staged_and_its_end_named() {
        let (start, end) = (seg("000000010000000000000003"), seg("000000010000000000000004"));
        let p = plan(
            names(&[
                "000000010000000000000002.gz",
                "000000010000000000000003.gz",
                "000000010000000000000004.gz",
                "000000010000000000000005.gz.age",
                "000000010000000000000007.gz",
                "000000010000000000000007.partial.gz",
                "00000001.history.gz",
                "stream.json",
                "../000000010000000000000006.gz",
            ]),
            start,
            end,
        );
        assert_eq!(p.last, Some(seg("000000010000000000000005")));
        assert_eq!(p.first_missing, seg("000000010000000000000006"));
        assert!(!p.ends_partial);
        let staged: Vec<&str> = p.files.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            staged,
            ["00000001.history", "000000010000000000000003", "000000010000000000000004", "000000010000000000000005"]
        );
    }

    #[test]
    fn a_partial_stands_in_only_for_a_segment_not_yet_whole() {
        let (start, end) = (seg("000000010000000000000003"), seg("000000010000000000000003"));
        let p = plan(
            names(&[
                "000000010000000000000003.zst",
                "000000010000000000000003.partial.zst",
                "000000010000000000000004.partial.zst",
            ]),
            start,
            end,
        );
        assert!(p.ends_partial);
        assert_eq!(p.last, Some(seg("000000010000000000000004")));
        assert_eq!(p.first_missing, seg("000000010000000000000005"));
        assert_eq!(
            p.files,
            [
                ("000000010000000000000003.zst".to_string(), "000000010000000000000003".to_string()),
                ("000000010000000000000004.partial.zst".to_string(), "000000010000000000000004".to_string()),
            ]
        );
    }

    #[test]
    fn nothing_after_the_base_names_its_own_end_as_missing() {
        let end = seg("0000000100000000000000FF");
        let p = plan(names(&["000000010000000000000001.gz"]), end, end);
        assert_eq!((p.last, p.first_missing), (None, end));
        assert!(p.files.is_empty());
        // The run crosses into the next log file.
        let p = plan(names(&["0000000100000000000000FF.gz", "000000010000000100000000.gz"]), end, end);
        assert_eq!(p.first_missing, seg("000000010000000100000001"));
    }

    #[test]
    fn a_later_timeline_continues_the_run() {
        let end = seg("000000010000000000000004");
        let p = plan(
            names(&[
                "000000010000000000000004.gz",
                "000000010000000000000005.partial.gz",
                "000000020000000000000005.gz",
                "000000020000000000000006.gz",
                "00000002.history.gz",
            ]),
            end,
            end,
        );
        assert_eq!(p.last, Some(seg("000000020000000000000006")));
        assert_eq!(p.first_missing, seg("000000020000000000000007"));
    }
}
