//! Backup sets on a remote: push (files first, `manifest.json` last), list, verify
//! (every object's size and SHA-256, streamed, nothing kept), fetch (downloaded through
//! the checksums into `<ID>.download/`, renamed only when all match), prune.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::layout::{self, LocalSet};
use super::manifest::{self, Manifest};
use super::signing::{MAX_SIGNATURE_BYTES, SIGNATURE_FILE};
use super::verify::FileCheck;
use crate::output;
use crate::storage::s3::S3Store;

/// A set as the remote holds it.
#[derive(Debug, Clone)]
pub struct RemoteSet {
    pub id: String,
    pub created: DateTime<Utc>,
    pub manifest: Option<Manifest>,
    /// Why the manifest on the remote cannot be used, when it exists but does not parse.
    pub damaged: Option<String>,
    /// The manifest's bytes as stored and its signature, read again for the one set acted
    /// on ([`crate::backup::trust::signed_remote`]); a listing keeps neither. A download
    /// writes these bytes (never re-serialized, which would break the signature).
    pub raw: Option<Vec<u8>>,
    pub signature: Option<Vec<u8>>,
}

impl RemoteSet {
    pub fn complete(&self) -> bool {
        self.manifest.is_some()
    }

    /// Complete and holding every configured component (not `--only`, not a safety backup).
    pub fn full(&self) -> bool {
        self.manifest.as_ref().is_some_and(|m| !m.partial)
    }

    /// One word for listings: damaged, future, complete, incomplete.
    pub fn state(&self) -> &'static str {
        match self {
            s if s.damaged.is_some() => "damaged",
            s if s.complete() && layout::is_future(s.created, Utc::now()) => "future",
            s if s.complete() => "complete",
            _ => "incomplete",
        }
    }
}

/// Say, once per listing, which sets cannot be used and why: a damaged manifest (which
/// may be a planted one) or a date in the future.
pub fn report_untrusted<'a>(sets: impl Iterator<Item = (&'a str, &'static str, Option<&'a str>)>, place: &str) {
    for (id, state, damaged) in sets {
        match state {
            "damaged" => output::warn(format!("backup {id}{place} cannot be used: {}", damaged.unwrap_or(""))),
            "future" => output::warn(format!(
                "backup {id}{place} is dated in the future; it is never `latest`, never counts as fresh and anchors no retention rule (check the clock of the host that wrote it)"
            )),
            _ => {}
        }
    }
}

/// Upload a complete local set. Each file is hashed while it is read and checked against
/// the manifest before the manifest goes up, so a set on the remote is complete and right
/// or it has no manifest.
pub async fn push(store: &S3Store, set: &LocalSet) -> Result<u64> {
    let m = set
        .manifest
        .as_ref()
        .ok_or_else(|| anyhow!("backup {} has no manifest (legacy or incomplete sets are not uploaded)", set.id))?;
    let total: u64 = m.total_bytes();
    let bar = output::progress_bytes(Some(total), &format!("upload {} to {}", set.id, store.name));
    for c in &m.components {
        crate::util::check_interrupt()?;
        let key = store.key(&set.id, &c.file);
        let path = set.path.join(&c.file);
        let file = layout::open_file(&path)
            .map_err(|e| anyhow!("cannot read `{}` of backup {}: {}", c.file, set.id, crate::util::io_reason(&e)))?;
        let got = store.upload_file(file, &path, &key, &bar).await?;
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
        layout::read_capped(&set.path.join(name), max)
            .map_err(|e| anyhow!("cannot read `{name}` of backup {}: {}", set.id, crate::util::io_reason(&e)))
    };
    let raw = read(manifest::FILE, manifest::MAX_BYTES)?;
    if std::fs::symlink_metadata(set.path.join(SIGNATURE_FILE)).is_ok() {
        let sig = read(SIGNATURE_FILE, MAX_SIGNATURE_BYTES as u64)?;
        store.put_small(&store.key(&set.id, SIGNATURE_FILE), sig).await?;
    }
    store.put_small(&store.key(&set.id, manifest::FILE), raw).await?;
    bar.finish_and_clear();
    Ok(total)
}

/// The manifest (as stored) and signature of one remote set, read again: what is then
/// checked, parsed and acted on, so that nothing read by the listing is trusted twice.
pub async fn reread(store: &S3Store, set: &RemoteSet) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let raw = store
        .get_small(&store.key(&set.id, manifest::FILE), manifest::MAX_BYTES)
        .await?
        .ok_or_else(|| anyhow!("backup {} on remote `{}` lost its manifest meanwhile", set.id, store.name))?;
    let sig = store.get_small(&store.key(&set.id, SIGNATURE_FILE), MAX_SIGNATURE_BYTES as u64).await?;
    Ok((raw, sig))
}

/// Every set on the remote, newest first, with its manifest when complete. Each manifest
/// passes [`Manifest::parse`] (size cap, file names, hashes, its own ID); one that does
/// not makes its set damaged: listed, never used, never pruned. Manifests are read newest
/// first, up to [`manifest::LISTING_BUDGET`] bytes in all; older sets past it are listed as damaged.
pub async fn list(store: &S3Store) -> Result<Vec<RemoteSet>> {
    let mut out = Vec::new();
    let mut ids: Vec<(String, DateTime<Utc>)> =
        store.list_ids().await?.into_iter().filter_map(|id| layout::parse_id(&id).map(|t| (id, t))).collect();
    ids.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
    let mut read: u64 = 0;
    for (id, created) in ids {
        if read >= manifest::LISTING_BUDGET {
            let why = format!("not read: this listing read {} of manifests already", crate::util::human_bytes(read));
            out.push(RemoteSet { id, created, manifest: None, damaged: Some(why), raw: None, signature: None });
            continue;
        }
        let key = store.key(&id, manifest::FILE);
        let (manifest, damaged) = match store.get_small(&key, manifest::MAX_BYTES).await {
            Ok(Some(bytes)) => {
                read += bytes.len() as u64;
                match Manifest::parse(&bytes, &id) {
                    Ok(m) => (Some(m), None),
                    Err(e) => (None, Some(format!("{e:#}"))),
                }
            }
            Ok(None) => (None, None),
            Err(e) if e.is::<crate::storage::s3::TooLarge>() => (None, Some(format!("{e:#}"))),
            Err(e) => return Err(e),
        };
        out.push(RemoteSet { id, created, manifest, damaged, raw: None, signature: None });
    }
    out.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
    Ok(out)
}

/// Resolve `latest` or an ID among remote sets.
pub fn resolve<'a>(sets: &'a [RemoteSet], wanted: &str, remote: &str) -> Result<&'a RemoteSet> {
    let complete: Vec<&RemoteSet> = sets.iter().filter(|s| s.complete()).collect();
    if wanted == "latest" {
        // As locally: the newest full set, not a partial one, not one dated in the future.
        let now = Utc::now();
        if let Some(s) = sets.iter().find(|s| s.full() && !layout::is_future(s.created, now)) {
            return Ok(s);
        }
        return complete
            .iter()
            .find(|s| !layout::is_future(s.created, now))
            .copied()
            .ok_or_else(|| crate::usage!("remote `{remote}` holds no complete backup"));
    }
    if let Some(s) = complete.iter().find(|s| s.id == wanted) {
        return Ok(s);
    }
    if let Some(d) = sets.iter().find(|s| s.id == wanted).and_then(|s| s.damaged.as_ref()) {
        bail!("backup `{wanted}` on remote `{remote}` cannot be used: {d}");
    }
    if sets.iter().any(|s| s.id == wanted) {
        return Err(crate::usage!(
            "backup `{wanted}` on remote `{remote}` is incomplete (no manifest) and cannot be used"
        ));
    }
    Err(crate::usage!(
        "remote `{remote}` has no backup `{wanted}`; {}",
        layout::nearest_hint(complete.iter().map(|s| (s.id.as_str(), s.created)), wanted)
    ))
}

/// Check every object of a remote set against its manifest, streaming, keeping nothing.
pub async fn verify(store: &S3Store, set: &RemoteSet) -> Result<Vec<FileCheck>> {
    let m =
        set.manifest.as_ref().ok_or_else(|| anyhow!("backup {} on remote `{}` has no manifest", set.id, store.name))?;
    let bar = output::progress_bytes(Some(m.total_bytes()), &format!("verify {} on {}", set.id, store.name));
    let mut out = Vec::new();
    for c in &m.components {
        let key = store.key(&set.id, &c.file);
        let res = match store.download(&key, std::io::sink(), c.bytes, &bar).await {
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

/// Download a remote set into the backup folder, each file checked against the manifest
/// as it arrives; the folder becomes a local set only when every file matched. The
/// manifest is written as the remote holds it (`set.raw`), with its signature beside it:
/// pass a set from [`crate::backup::trust::signed_remote`].
pub async fn fetch(store: &S3Store, set: &RemoteSet, dir: &Path) -> Result<LocalSet> {
    let m =
        set.manifest.clone().ok_or_else(|| anyhow!("backup {} on remote `{}` has no manifest", set.id, store.name))?;
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
        let bar = output::progress_bytes(Some(m.total_bytes()), &format!("download {} from {}", set.id, store.name));
        for c in &m.components {
            let path = staging.join(&c.file);
            let file = super::sink::open_private(&path)?;
            let out = std::io::BufWriter::with_capacity(1 << 20, file);
            let (file, got) = store.download(&store.key(&set.id, &c.file), out, c.bytes, &bar).await?;
            let file = file.into_inner().map_err(|e| anyhow!("cannot write `{}`: {}", path.display(), crate::util::io_reason(e.error())))?;
            file.sync_all().map_err(|e| anyhow!("cannot write `{}`: {}", path.display(), crate::util::io_reason(&e)))?;
            if got.bytes != c.bytes || got.sha256 != c.sha256 {
                bail!(
                    "`{}` of backup {} on remote `{}` does not match its manifest ({} bytes, sha256 {}…; expected {} bytes, {}…); nothing was restored",
                    c.file, set.id, store.name, got.bytes, short(&got.sha256), c.bytes, short(&c.sha256)
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
    Ok(LocalSet {
        id: set.id.clone(),
        created: set.created,
        path: fin,
        complete: true,
        manifest: Some(m),
        legacy: None,
        damaged: None,
        download: false,
    })
}

/// The first 12 characters of a hash, for messages (any string: never slices mid-character).
fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
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

/// Apply the retention rules to a remote; same safety rules as local pruning.
pub async fn prune(store: &S3Store, rules: &crate::config::Retention, dry_run: bool) -> Result<Vec<(String, String)>> {
    use super::retention::{Candidate, decide};
    let sets = list(store).await?;
    let now = Utc::now();
    // The same rules as the local folder: damaged sets are reported and kept, partial
    // sets live by `days`, full and incomplete sets go through the retention rules.
    for d in sets.iter().filter(|s| s.damaged.is_some()) {
        output::warn(format!("keeping {} on remote `{}`: {}", d.id, store.name, d.damaged.as_deref().unwrap_or("")));
    }
    let candidates: Vec<Candidate> = sets
        .iter()
        .filter(|s| s.damaged.is_none() && (s.full() || !s.complete()))
        .map(|s| Candidate { id: s.id.clone(), created: s.created, complete: s.complete() })
        .collect();
    let mut decisions = decide(&candidates, rules, now);
    let days = rules.days.unwrap_or(30);
    for s in sets.iter().filter(|s| s.complete() && !s.full()) {
        let old = (now - s.created).num_seconds() > i64::from(days) * 86_400;
        let reason = if old {
            format!("partial set older than {days} days")
        } else {
            format!("partial set younger than {days} days")
        };
        decisions.push(super::retention::Decision { id: s.id.clone(), keep: !old, reasons: vec![reason] });
    }
    let mut deleted = Vec::new();
    for d in decisions {
        if d.keep {
            continue;
        }
        let why = d.reasons.join(", ");
        if dry_run {
            output::status(format!("would delete {} from remote `{}`: {why}", d.id, store.name));
        } else {
            store.delete_set(&d.id).await?;
            output::status(format!("deleted {} from remote `{}`: {why}", d.id, store.name));
        }
        deleted.push((d.id, why));
    }
    if deleted.is_empty() {
        output::status(format!("nothing to prune on remote `{}` ({} sets kept)", store.name, sets.len()));
    }
    Ok(deleted)
}
