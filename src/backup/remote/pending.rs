//! Sets whose upload failed, per remote, in the state folder (`pending-uploads.json`):
//! the next `backup --upload` or `backup push all-pending` uploads them first, and
//! `backup list` shows them as pending.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("pending-uploads.json")
}

/// remote name -> IDs not uploaded yet.
pub fn read(state_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    std::fs::read_to_string(path(state_dir)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn write(state_dir: &Path, map: &BTreeMap<String, BTreeSet<String>>) -> Result<()> {
    crate::util::create_private_dir(state_dir)?;
    crate::util::write_atomic(&path(state_dir), serde_json::to_string_pretty(map)?.as_bytes(), 0o600)
}

/// Mark set `id` as not uploaded to `remote` yet.
pub fn add(state_dir: &Path, remote: &str, id: &str) -> Result<()> {
    let mut m = read(state_dir);
    m.entry(remote.to_string()).or_default().insert(id.to_string());
    write(state_dir, &m)
}

/// Forget that set `id` waits for `remote`.
pub fn remove(state_dir: &Path, remote: &str, id: &str) -> Result<()> {
    let mut m = read(state_dir);
    if let Some(ids) = m.get_mut(remote) {
        ids.remove(id);
        if ids.is_empty() {
            m.remove(remote);
        }
    }
    write(state_dir, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_removes() {
        let d = tempfile::tempdir().unwrap();
        add(d.path(), "s3", "20240101_000000").unwrap();
        add(d.path(), "s3", "20240102_000000").unwrap();
        assert_eq!(read(d.path())["s3"].len(), 2);
        remove(d.path(), "s3", "20240101_000000").unwrap();
        remove(d.path(), "s3", "20240102_000000").unwrap();
        assert!(read(d.path()).is_empty());
    }
}
