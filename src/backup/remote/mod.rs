//! Backup sets on a remote store: what a set is there (a folder `<ID>/` of objects,
//! `manifest.json` written last), listing, resolving and re-reading them signed.
//! Everything else about sets on a store lives beside: transfer.rs (send, verify,
//! fetch), upload.rs (uploading with the pending bookkeeping of pending.rs), locate.rs
//! (where each set lives, where a restore or drill reads from), listing.rs (the rows of
//! `backup list`), prune.rs. All of it works against `&dyn Store`: a new kind of store
//! (storage/) changes nothing here.

pub mod listing;
pub mod locate;
pub mod pending;
pub mod prune;
pub mod transfer;
pub mod upload;

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::layout::{self, LocalSet};
use super::manifest::{self, Manifest};
use super::signing::{MAX_SIGNATURE_BYTES, SIGNATURE_FILE};
use super::trust;
use crate::config::Settings;
use crate::output;
use crate::storage::{self, Store};

/// The key of a file of a set: sets are folders named by their ID.
pub fn key(id: &str, file: &str) -> String {
    format!("{id}/{file}")
}

/// A set as the remote holds it.
#[derive(Debug, Clone)]
pub struct RemoteSet {
    pub id: String,
    pub created: DateTime<Utc>,
    pub manifest: Option<Manifest>,
    /// Why the manifest on the remote cannot be used, when it exists but does not parse.
    pub damaged: Option<String>,
    /// The manifest's bytes as stored and its signature, read again for the one set acted
    /// on ([`signed`]); a listing keeps neither. A download writes these bytes (never
    /// re-serialized, which would break the signature).
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

    /// The local set this one becomes once downloaded to `path`: what a restore or a
    /// drill checks (targets, encryption) before the download starts.
    pub fn planned(&self, path: PathBuf) -> LocalSet {
        LocalSet {
            id: self.id.clone(),
            created: self.created,
            path,
            complete: true,
            manifest: self.manifest.clone(),
            legacy: None,
            damaged: None,
            download: false,
        }
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

/// A remote set as it may be acted on: its manifest (as stored) and signature read
/// again, the signature checked ([`trust::check_signature`]), and the manifest parsed
/// from exactly the bytes that were checked, so that nothing read by the listing is
/// trusted twice.
pub async fn signed(s: &Settings, store: &dyn Store, set: &RemoteSet) -> Result<RemoteSet> {
    let raw = storage::get_small(store, &key(&set.id, manifest::FILE), manifest::MAX_BYTES)
        .await?
        .ok_or_else(|| anyhow!("backup {} on remote `{}` lost its manifest meanwhile", set.id, store.name()))?;
    let signature = storage::get_small(store, &key(&set.id, SIGNATURE_FILE), MAX_SIGNATURE_BYTES as u64).await?;
    trust::check_signature(s, &set.id, &format!(" on remote `{}`", store.name()), &raw, signature.as_deref())?;
    let mut out = set.clone();
    out.manifest = Some(Manifest::parse(&raw, &set.id)?);
    out.raw = Some(raw);
    out.signature = signature;
    Ok(out)
}

/// Every set on the remote, newest first, with its manifest when complete. Each manifest
/// passes [`Manifest::parse`] (size cap, file names, hashes, its own ID); one that does
/// not makes its set damaged: listed, never used, never pruned. Manifests are read newest
/// first, up to [`manifest::LISTING_BUDGET`] bytes in all; older sets past it are listed as damaged.
pub async fn list(store: &dyn Store) -> Result<Vec<RemoteSet>> {
    let mut out = Vec::new();
    let mut ids: Vec<(String, DateTime<Utc>)> =
        store.folders("").await?.into_iter().filter_map(|id| layout::parse_id(&id).map(|t| (id, t))).collect();
    ids.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
    let mut read: u64 = 0;
    for (id, created) in ids {
        if read >= manifest::LISTING_BUDGET {
            let why = format!("not read: this listing read {} of manifests already", crate::util::human_bytes(read));
            out.push(RemoteSet { id, created, manifest: None, damaged: Some(why), raw: None, signature: None });
            continue;
        }
        let (manifest, damaged) = match storage::get_small(store, &key(&id, manifest::FILE), manifest::MAX_BYTES).await
        {
            Ok(Some(bytes)) => {
                read += bytes.len() as u64;
                match Manifest::parse(&bytes, &id) {
                    Ok(m) => (Some(m), None),
                    Err(e) => (None, Some(format!("{e:#}"))),
                }
            }
            Ok(None) => (None, None),
            Err(e) if e.is::<storage::TooLarge>() => (None, Some(format!("{e:#}"))),
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

/// The first 12 characters of a hash, for messages (any string: never slices mid-character).
fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}
