//! Where the WAL archive of a Postgres service lives and how its files are named: the
//! one place both `ccops wal stream` (which writes it) and `restore --to-time` (which
//! reads it) learn the layout from.
//!
//! ```text
//! <backup.directory>/wal/<service>/000000010000000A000000FE.gz[.age]          a whole segment
//! <backup.directory>/wal/<service>/000000010000000A000000FF.partial.gz[.age]  the segment being filled
//! <backup.directory>/wal/<service>/00000002.history.gz[.age]                  a timeline's history
//! <remote prefix>wal/<service>/<the same names>
//! ```
//!
//! Names read back from a folder or a bucket are untrusted: [`WalFile::parse`] accepts
//! exactly these shapes (uppercase hex, `.gz` or `.zst`, `.age` or not) and nothing
//! else, so no name can reach outside the folder. Segments are 16 MiB (PostgreSQL's
//! default `wal_segment_size`; `ccops doctor` checks the server's).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::Compression;

/// The suffix of an encrypted file.
const AGE: &str = ".age";

/// The folder under the backup directory (and under a remote's prefix) holding WAL.
pub const FOLDER: &str = "wal";

/// Segments per log file ID with 16 MiB segments (0x100000000 / 16 MiB).
const SEGMENTS_PER_ID: u32 = 0x100;

/// One WAL segment: timeline, log file ID, segment within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Segment {
    pub timeline: u32,
    pub log: u32,
    pub seg: u32,
}

impl Segment {
    /// A segment's 24-character name (`000000010000000A000000FE`).
    pub fn parse(name: &str) -> Option<Segment> {
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
            return None;
        }
        let part = |r: std::ops::Range<usize>| u32::from_str_radix(&name[r], 16).ok();
        let s = Segment { timeline: part(0..8)?, log: part(8..16)?, seg: part(16..24)? };
        (s.timeline > 0 && s.seg < SEGMENTS_PER_ID).then_some(s)
    }

    /// The segment holding `lsn` (`X/Y` as PostgreSQL prints it) on `timeline`.
    pub fn of_lsn(timeline: u32, lsn: &str) -> Option<Segment> {
        let pos = parse_lsn(lsn)?;
        let n = pos / (16 * 1024 * 1024);
        Some(Segment { timeline, log: (n / SEGMENTS_PER_ID as u64) as u32, seg: (n % SEGMENTS_PER_ID as u64) as u32 })
    }

    /// Its position in the WAL stream, whatever the timeline: segments of one stream
    /// follow each other by this number.
    pub fn number(&self) -> u64 {
        self.log as u64 * SEGMENTS_PER_ID as u64 + self.seg as u64
    }

    /// The segment after this one on the same timeline.
    pub fn next(&self) -> Segment {
        let n = self.number() + 1;
        Segment {
            timeline: self.timeline,
            log: (n / SEGMENTS_PER_ID as u64) as u32,
            seg: (n % SEGMENTS_PER_ID as u64) as u32,
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}{:08X}{:08X}", self.timeline, self.log, self.seg)
    }
}

/// An LSN as PostgreSQL prints it (`16/B374D848`) as a byte position.
pub fn parse_lsn(lsn: &str) -> Option<u64> {
    let (hi, lo) = lsn.trim().split_once('/')?;
    if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
        return None;
    }
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// What one file of the archive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wal {
    /// A whole segment, as PostgreSQL archives it.
    Segment(Segment),
    /// The newest bytes of a segment still being filled (pg_receivewal's `.partial`,
    /// padded to the full segment size). Replaced as it grows; removed once the whole
    /// segment is stored.
    Partial(Segment),
    /// `<timeline>.history`: where a timeline branched off its parent.
    History(u32),
}

impl Wal {
    /// The name PostgreSQL gives it (what `restore_command` is asked for), `.partial`
    /// included for a partial segment.
    pub fn pg_name(&self) -> String {
        match self {
            Wal::Segment(s) => s.to_string(),
            Wal::Partial(s) => format!("{s}.partial"),
            Wal::History(t) => format!("{t:08X}.history"),
        }
    }

    /// The timeline it belongs to.
    pub fn timeline(&self) -> u32 {
        match self {
            Wal::Segment(s) | Wal::Partial(s) => s.timeline,
            Wal::History(t) => *t,
        }
    }
}

/// A stored file of the archive: what it holds, and how it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalFile {
    pub wal: Wal,
    pub compression: Compression,
    pub encrypted: bool,
}

impl WalFile {
    /// The stored name: the PostgreSQL name, the compression's extension, `.age` when
    /// encrypted.
    pub fn name(&self) -> String {
        format!(
            "{}{}{}",
            self.wal.pg_name(),
            crate::backup::compress::extension(self.compression),
            if self.encrypted { AGE } else { "" }
        )
    }

    /// Read a stored name back; None for anything that is not exactly one of the shapes
    /// [`WalFile::name`] writes.
    pub fn parse(name: &str) -> Option<WalFile> {
        let (rest, encrypted) = match name.strip_suffix(AGE) {
            Some(r) => (r, true),
            None => (name, false),
        };
        let (rest, compression) = [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .find_map(|c| rest.strip_suffix(crate::backup::compress::extension(c)).map(|r| (r, c)))?;
        let wal = if let Some(seg) = rest.strip_suffix(".partial") {
            Wal::Partial(Segment::parse(seg)?)
        } else if let Some(tli) = rest.strip_suffix(".history") {
            if tli.len() != 8 || !tli.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
                return None;
            }
            Wal::History(u32::from_str_radix(tli, 16).ok().filter(|t| *t > 0)?)
        } else {
            Wal::Segment(Segment::parse(rest)?)
        };
        Some(WalFile { wal, compression, encrypted })
    }
}

/// A service's WAL folder under the backup directory.
pub fn local_dir(backup_dir: &Path, service: &str) -> PathBuf {
    backup_dir.join(FOLDER).join(service)
}

/// A service's WAL prefix on a remote whose own prefix is `prefix` (`""` or ending in `/`).
pub fn remote_prefix(prefix: &str, service: &str) -> String {
    format!("{prefix}{FOLDER}/{service}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_read_back_and_follow_each_other() {
        let s = Segment::parse("000000010000000A000000FF").unwrap();
        assert_eq!((s.timeline, s.log, s.seg), (1, 10, 255));
        assert_eq!(s.next().to_string(), "000000010000000B00000000");
        assert_eq!(s.next().number(), s.number() + 1);
        assert_eq!(Segment::of_lsn(1, "0/3000028").unwrap().to_string(), "000000010000000000000003");
        assert_eq!(Segment::of_lsn(2, "A/FF000000").unwrap().to_string(), "000000020000000A000000FF");
        for bad in [
            "",
            "000000010000000A000001FF",
            "000000000000000A000000FE",
            "000000010000000a000000fe",
            "0000000100000000000000",
        ] {
            assert!(Segment::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn stored_names_are_exactly_the_written_shapes() {
        let seg = Segment::parse("000000010000000000000003").unwrap();
        for wal in [Wal::Segment(seg), Wal::Partial(seg), Wal::History(2)] {
            for compression in [Compression::Gzip, Compression::Zstd] {
                for encrypted in [false, true] {
                    let f = WalFile { wal, compression, encrypted };
                    assert_eq!(WalFile::parse(&f.name()), Some(f), "{}", f.name());
                }
            }
        }
        assert_eq!(
            WalFile { wal: Wal::Partial(seg), compression: Compression::Gzip, encrypted: true }.name(),
            "000000010000000000000003.partial.gz.age"
        );
        for bad in [
            "../000000010000000000000003.gz",
            "000000010000000000000003.gz.tmp",
            "x.history.gz",
            "00000000.history",
            "000000010000000000000003.partial.partial.gz",
            "000000010000000000000003.bz2",
            "000000010000000000000003",
            "manifest.json",
            ".gz",
        ] {
            assert!(WalFile::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn lsns_read_as_positions() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert!(parse_lsn("16B374D848").is_none());
        assert!(parse_lsn("/1").is_none());
    }
}
