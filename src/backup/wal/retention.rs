//! Retention of the WAL archive, run by `backup prune` after the sets: WAL older than
//! the start of the oldest base backup still kept is of no use and goes, locally and on
//! a remote. Nothing goes while no base backup is kept (the WAL is then all there is),
//! and history files stay (a few bytes each, and a restore follows timelines by them).

use std::path::Path;

use anyhow::Result;

use super::archive;
use super::layout::{self, Segment, Wal, WalFile};
use crate::backup::manifest::Manifest;
use crate::config::Settings;
use crate::output;
use crate::storage::Store;

/// Per PITR service, the first segment to keep: where the oldest base among `kept` starts.
pub fn keep_from<'a>(s: &Settings, kept: impl Iterator<Item = &'a Manifest> + Clone) -> Vec<(String, Segment)> {
    crate::backup::kinds::pgbase::targets(s)
        .filter_map(|t| {
            let first = kept
                .clone()
                .flat_map(|m| m.components.iter())
                .filter(|c| c.kind.word() == "pgbase" && c.service.as_deref() == Some(t.service.as_str()))
                .filter_map(|c| c.base())
                .filter_map(|b| archive::kept_from(&b))
                .min_by_key(Segment::number)?;
            Some((t.service.clone(), first))
        })
        .collect()
}

/// The files older than `first` (segments and partials; history files stay).
fn older(files: Vec<WalFile>, first: Segment) -> Vec<WalFile> {
    files
        .into_iter()
        .filter(|f| matches!(f.wal, Wal::Segment(s) | Wal::Partial(s) if s.number() < first.number()))
        .collect()
}

/// Delete local WAL older than each service's first kept segment. Returns how many files.
pub fn prune_local(s: &Settings, keep: &[(String, Segment)], dry_run: bool) -> Result<usize> {
    let mut n = 0;
    for (service, first) in keep {
        let dir = layout::local_dir(&s.backup_dir, service);
        let old = older(archive::local_files(&dir)?, *first);
        n += old.len();
        report(service, "", old.len(), *first, dry_run);
        if !dry_run {
            remove_all(&dir, &old)?;
        }
    }
    Ok(n)
}

fn remove_all(dir: &Path, files: &[WalFile]) -> Result<()> {
    for f in files {
        let p = dir.join(f.name());
        if let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            anyhow::bail!("cannot delete `{}`: {}", p.display(), crate::util::io_reason(&e));
        }
    }
    Ok(())
}

/// Delete remote WAL older than each service's first kept segment (of the sets kept there).
pub async fn prune_remote(store: &dyn Store, keep: &[(String, Segment)], dry_run: bool) -> Result<usize> {
    let mut n = 0;
    for (service, first) in keep {
        let prefix = layout::remote_prefix("", service);
        let old = older(archive::remote_files(&store.list(&prefix).await?, &prefix), *first);
        n += old.len();
        report(service, &format!(" on remote `{}`", store.name()), old.len(), *first, dry_run);
        if !dry_run {
            for f in &old {
                store.delete(&format!("{prefix}{}", f.name())).await?;
            }
        }
    }
    Ok(n)
}

fn report(service: &str, place: &str, n: usize, first: Segment, dry_run: bool) {
    if n > 0 {
        let verb = if dry_run { "would delete" } else { "deleted" };
        output::status(format!(
            "{verb} {n} WAL file(s) of service `{service}`{place} older than {first}, where the oldest kept base backup starts"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compression;

    #[test]
    fn only_wal_before_the_oldest_kept_base_goes() {
        let seg = |n: u32| Segment { timeline: 1, log: 0, seg: n };
        let f = |wal| WalFile { wal, compression: Compression::Gzip, encrypted: false };
        let files = vec![
            f(Wal::Segment(seg(2))),
            f(Wal::Partial(seg(3))),
            f(Wal::History(2)),
            f(Wal::Segment(seg(4))),
            f(Wal::Segment(seg(5))),
        ];
        let gone: Vec<String> = older(files, seg(4)).iter().map(WalFile::name).collect();
        assert_eq!(gone, ["000000010000000000000002.gz", "000000010000000000000003.partial.gz"]);
    }
}
