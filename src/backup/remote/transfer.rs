//! Moving a set between the local folder and a store: push (files first, each checked
//! against the manifest as it is read, `manifest.json` last), verify (every object's
//! size and SHA-256, streamed, nothing kept), fetch (downloaded through the checksums
//! into `<ID>.download/`, renamed only when all match).

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use super::{RemoteSet, key, short};
use crate::backup::layout::{self, LocalSet};
use crate::backup::signing::{MAX_SIGNATURE_BYTES, SIGNATURE_FILE};
use crate::backup::verify::FileCheck;
use crate::backup::{manifest, untrusted};
use crate::output;
use crate::storage::{self, Store};

/// Upload a complete local set. Each file is hashed while it is read and checked against
/// the manifest before the manifest goes up, so a set on the remote is complete and right
/// or it has no manifest.
pub async fn send(store: &dyn Store, set: &LocalSet) -> Result<u64> {
    let m = set
        .manifest
        .as_ref()
        .ok_or_else(|| anyhow!("backup {} has no manifest (legacy or incomplete sets are not uploaded)", set.id))?;
    let total: u64 = m.total_bytes();
    let bar = output::progress_bytes(Some(total), &format!("upload {} to {}", set.id, store.name()));
    for c in &m.components {
        crate::util::check_interrupt()?;
        let path = set.path.join(&c.file);
        let file = untrusted::open_file(&path)
            .map_err(|e| anyhow!("cannot read `{}` of backup {}: {}", c.file, set.id, crate::util::io_reason(&e)))?;
        let got = store.put_file(&key(&set.id, &c.file), file, &path, &bar).await?;
        if got.bytes != c.bytes || got.sha256 != c.sha256 {
            bar.finish_and_clear();
            bail!(
                "the local file `{}` of backup {} no longer matches its manifest; not uploading the manifest (run `ccops backup verify {}`)",
                c.file,
                set.id,
                set.id
            );
        }
    }
    crate::util::check_interrupt()?;
    // The manifest as it is on disk (what its signature covers), its signature first.
    let read = |name: &str, max: u64| {
        untrusted::read_capped(&set.path.join(name), max)
            .map_err(|e| anyhow!("cannot read `{name}` of backup {}: {}", set.id, crate::util::io_reason(&e)))
    };
    let raw = read(manifest::FILE, manifest::MAX_BYTES)?;
    if std::fs::symlink_metadata(set.path.join(SIGNATURE_FILE)).is_ok() {
        let sig = read(SIGNATURE_FILE, MAX_SIGNATURE_BYTES as u64)?;
        store.put(&key(&set.id, SIGNATURE_FILE), sig).await?;
    }
    store.put(&key(&set.id, manifest::FILE), raw).await?;
    bar.finish_and_clear();
    Ok(total)
}

/// Check every object of a remote set against its manifest, streaming, keeping nothing.
pub async fn verify(store: &dyn Store, set: &RemoteSet) -> Result<Vec<FileCheck>> {
    let m = set
        .manifest
        .as_ref()
        .ok_or_else(|| anyhow!("backup {} on remote `{}` has no manifest", set.id, store.name()))?;
    let bar = output::progress_bytes(Some(m.total_bytes()), &format!("verify {} on {}", set.id, store.name()));
    let mut out = Vec::new();
    for c in &m.components {
        let res = match storage::download(store, &key(&set.id, &c.file), std::io::sink(), c.bytes, &bar).await {
            Ok((_, got)) if got.bytes != c.bytes => {
                Err(format!("size mismatch: {} bytes on the remote, the manifest says {}", got.bytes, c.bytes))
            }
            Ok((_, got)) if got.sha256 != c.sha256 => Err(format!(
                "checksum mismatch: sha256 {}…, the manifest says {}…",
                short(&got.sha256),
                short(&c.sha256)
            )),
            Ok(_) => Ok("size and sha256 ok".to_string()),
            Err(e) if e.chain().any(|x| x.is::<crate::error::Interrupted>()) => return Err(e),
            Err(e) => Err(format!("{e:#}")),
        };
        out.push(FileCheck {
            file: c.file.clone(),
            kind: c.kind.word().to_string(),
            ok: res.is_ok(),
            detail: res.unwrap_or_else(|e| e),
        });
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Download a remote set into `dir`, each file checked against the manifest
/// as it arrives; the folder becomes a local set only when every file matched. The
/// manifest is written as the remote holds it (`set.raw`), with its signature beside it:
/// pass a set from [`super::signed`].
pub async fn fetch(store: &dyn Store, set: &RemoteSet, dir: &Path) -> Result<LocalSet> {
    let m = set
        .manifest
        .as_ref()
        .ok_or_else(|| anyhow!("backup {} on remote `{}` has no manifest", set.id, store.name()))?;
    output::status(format!("downloading backup {} from remote `{}` ...", set.id, store.name()));
    let fin = dir.join(&set.id);
    if fin.join(manifest::FILE).is_file() {
        bail!("backup {} already exists locally in `{}`", set.id, dir.display());
    }
    crate::util::create_private_dir(dir)?;
    let staging = dir.join(format!("{}{}", set.id, layout::DOWNLOAD));
    // A leftover of a killed download (or anything planted under that name): removed,
    // never followed, before the new one starts.
    remove_leftover(&staging)?;
    check_space(dir, &set.id, m.total_bytes())?;
    crate::util::create_private_dir(&staging)?;
    let res = async {
        let bar = output::progress_bytes(Some(m.total_bytes()), &format!("download {} from {}", set.id, store.name()));
        for c in &m.components {
            let path = staging.join(&c.file);
            let file = crate::backup::sink::open_private(&path)?;
            let out = std::io::BufWriter::with_capacity(1 << 20, file);
            let (file, got) = storage::download(store, &key(&set.id, &c.file), out, c.bytes, &bar).await?;
            let file = file.into_inner().map_err(|e| anyhow!("cannot write `{}`: {}", path.display(), crate::util::io_reason(e.error())))?;
            file.sync_all().map_err(|e| anyhow!("cannot write `{}`: {}", path.display(), crate::util::io_reason(&e)))?;
            if got.bytes != c.bytes || got.sha256 != c.sha256 {
                bail!(
                    "`{}` of backup {} on remote `{}` does not match its manifest ({} bytes, sha256 {}…; expected {} bytes, {}…); nothing was restored",
                    c.file, set.id, store.name(), got.bytes, short(&got.sha256), c.bytes, short(&c.sha256)
                );
            }
        }
        bar.finish_and_clear();
        if let Some(sig) = &set.signature {
            crate::util::write_atomic(&staging.join(SIGNATURE_FILE), sig, 0o600)?;
        }
        let raw = set.raw.clone().unwrap_or_else(|| m.to_json().into_bytes());
        crate::util::write_atomic(&staging.join(manifest::FILE), &raw, 0o600)?;
        std::fs::rename(&staging, &fin).map_err(|e| anyhow!("cannot rename `{}`: {}", staging.display(), crate::util::io_reason(&e)))?;
        Ok(())
    }
    .await;
    if let Err(e) = res {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(set.planned(fin))
}

/// Remove a `<ID>.download` left by a killed ccops. A symbolic link in its place is
/// removed as a link: `remove_dir_all` would not follow it, but say so in the message.
fn remove_leftover(staging: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(staging) else { return Ok(()) };
    let res = if meta.is_dir() { std::fs::remove_dir_all(staging) } else { std::fs::remove_file(staging) };
    res.map_err(|e| anyhow!("cannot remove the leftover `{}`: {}", staging.display(), crate::util::io_reason(&e)))?;
    output::warn(format!("removed `{}`, left by an interrupted download", staging.display()));
    Ok(())
}

/// Room for the whole set, and some to spare, before the first byte is written: a
/// download that fills the disk would stop the database beside it, not only itself.
fn check_space(dir: &Path, id: &str, need: u64) -> Result<()> {
    const SPARE: u64 = 64 << 20;
    let Ok(free) = crate::doctor::space::free_bytes(dir) else { return Ok(()) };
    if free < need.saturating_add(SPARE) {
        bail!(
            "backup {id} needs {} and `{}` has {} free; nothing was downloaded (free some space or set `backup.directory` elsewhere)",
            crate::util::human_bytes(need),
            dir.display(),
            crate::util::human_bytes(free)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::hash::Written;
    use crate::storage::memory::MemoryStore;

    const ID: &str = "20240101_000000";

    /// A complete local set of one file, `volume-data.tar.gz` holding `data`.
    fn local_set(dir: &Path, data: &[u8]) -> LocalSet {
        let set = dir.join(ID);
        std::fs::create_dir_all(&set).unwrap();
        std::fs::write(set.join("volume-data.tar.gz"), data).unwrap();
        let w = Written::of(data);
        let m = format!(
            r#"{{"format":1,"id":"{ID}","created_at":"x","project":"p","environment":"e","ccops_version":"0","components":[{{"kind":"volume","name":"data","file":"volume-data.tar.gz","bytes":{},"sha256":"{}","compression":"gzip","encrypted":false}}]}}"#,
            w.bytes, w.sha256
        );
        std::fs::write(set.join(manifest::FILE), m).unwrap();
        layout::resolve(&layout::list(dir).unwrap(), ID).unwrap().clone()
    }

    #[tokio::test]
    async fn a_set_goes_up_verifies_and_comes_back_through_any_store() {
        let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let store = MemoryStore::default();
        let set = local_set(here.path(), b"some volume data");
        assert_eq!(send(&store, &set).await.unwrap(), 16);
        let keys: Vec<String> = store.objects.lock().unwrap().keys().cloned().collect();
        assert_eq!(keys, [format!("{ID}/manifest.json"), format!("{ID}/volume-data.tar.gz")]);

        let sets = super::super::list(&store).await.unwrap();
        assert_eq!((sets.len(), sets[0].state()), (1, "complete"));
        assert!(verify(&store, &sets[0]).await.unwrap().iter().all(|c| c.ok));

        let got = fetch(&store, &sets[0], there.path()).await.unwrap();
        assert_eq!(std::fs::read(got.path.join("volume-data.tar.gz")).unwrap(), b"some volume data");
        assert!(!there.path().join(format!("{ID}{}", layout::DOWNLOAD)).exists());
    }

    #[tokio::test]
    async fn a_changed_object_fails_verify_and_fetch_keeps_nothing() {
        let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let store = MemoryStore::default();
        send(&store, &local_set(here.path(), b"some volume data")).await.unwrap();
        store.objects.lock().unwrap().insert(format!("{ID}/volume-data.tar.gz"), b"other volume data".to_vec());

        let sets = super::super::list(&store).await.unwrap();
        let checks = verify(&store, &sets[0]).await.unwrap();
        assert!(!checks[0].ok && checks[0].detail.contains("larger than"), "{checks:?}");
        store
            .objects
            .lock()
            .unwrap()
            .insert(format!("{ID}/volume-data.tar.gz"), b"same size, changed".to_vec()[..16].to_vec());
        let checks = verify(&store, &sets[0]).await.unwrap();
        assert!(!checks[0].ok && checks[0].detail.contains("checksum mismatch"), "{checks:?}");

        let err = fetch(&store, &sets[0], there.path()).await.unwrap_err();
        assert!(format!("{err:#}").contains("does not match its manifest"), "{err:#}");
        assert!(layout::list(there.path()).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_file_changed_after_its_backup_is_not_sent_with_a_manifest() {
        let here = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let set = local_set(here.path(), b"some volume data");
        std::fs::write(set.path.join("volume-data.tar.gz"), b"changed").unwrap();
        let err = send(&store, &set).await.unwrap_err();
        assert!(format!("{err:#}").contains("no longer matches its manifest"), "{err:#}");
        assert!(!store.objects.lock().unwrap().contains_key(&format!("{ID}/manifest.json")));
        assert_eq!(super::super::list(&store).await.unwrap()[0].state(), "incomplete");
    }
}
