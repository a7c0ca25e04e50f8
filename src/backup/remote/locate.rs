//! Where a restore or a drill reads a set from: local first, a remote when asked or
//! when the set is not here. (Where each set lives, for `backup list`, is listing.rs.)

use std::path::Path;

use anyhow::Result;

use super::{RemoteSet, list, resolve};
use crate::backup::layout::{self, LocalSet};
use crate::backup::manifest::Manifest;
use crate::backup::trust;
use crate::config::Settings;
use crate::output;
use crate::storage::{self, Store};

/// Where a restore or a drill reads its set from.
pub enum Source {
    Local(LocalSet),
    Remote(Box<dyn Store>, RemoteSet),
}

impl Source {
    /// The set's ID, and where it is (`local` or the remote's name).
    pub fn describe(&self) -> (String, String) {
        match self {
            Source::Local(set) => (set.id.clone(), "local".to_string()),
            Source::Remote(store, rs) => (rs.id.clone(), store.name().to_string()),
        }
    }
}

/// The set `id` (or `latest`) on remote `r`.
pub async fn on_remote(s: &Settings, r: &str, id: &str) -> Result<(Box<dyn Store>, RemoteSet)> {
    let store = storage::open(s, r).await?;
    let sets = list(&*store).await?;
    let rs = resolve(&sets, id, r)?.clone();
    Ok((store, rs))
}

/// The local set `id`, else the first remote that holds it (a new server restoring from
/// off-site copies). Remotes that cannot be reached are passed over; when none has it,
/// the error says what the local folder holds.
pub async fn find(s: &Settings, id: &str) -> Result<Source> {
    let local = layout::list(&s.backup_dir)?;
    match layout::resolve(&local, id) {
        Ok(set) => Ok(Source::Local(set.clone())),
        Err(local_err) => {
            for (name, r) in &s.file.remotes {
                let Ok(store) = storage::connect(name, r).await else { continue };
                let Ok(sets) = list(&*store).await else { continue };
                if let Ok(rs) = resolve(&sets, id, name) {
                    output::status(format!("backup {} is not here; using the copy on remote `{name}`", rs.id));
                    let rs = rs.clone();
                    return Ok(Source::Remote(store, rs));
                }
            }
            Err(local_err)
        }
    }
}

/// Where `restore` reads from: local first; `--from` or a set that is not local comes
/// from a remote. With `--from`, a local copy with the same manifest is the same set
/// (nothing to download); one that differs is an error.
pub async fn pick(s: &Settings, id: &str, from: Option<&str>) -> Result<Source> {
    let Some(r) = from else { return find(s, id).await };
    let local = layout::list(&s.backup_dir)?;
    let (store, rs) = on_remote(s, r, id).await?;
    if let Some(l) = local.iter().find(|l| l.id == rs.id && l.complete) {
        let same = |a: &Manifest, b: &Manifest| {
            a.components.iter().map(|c| &c.sha256).eq(b.components.iter().map(|c| &c.sha256))
        };
        if let (Some(lm), Some(rm)) = (&l.manifest, &rs.manifest) {
            if same(lm, rm) {
                output::status(format!("backup {} is here already, identical to the copy on remote `{r}`", rs.id));
                return Ok(Source::Local(l.clone()));
            }
        }
        return Err(crate::usage!(
            "backup {} exists locally and differs from the copy on remote `{r}`; move the local one away first",
            rs.id
        ));
    }
    Ok(Source::Remote(store, rs))
}

/// Where a drill reads from: `--from` downloads from that remote (the off-site copy is
/// what is being tested); otherwise the local set, else the first remote that has it.
pub async fn for_drill(s: &Settings, id: &str, from: Option<&str>) -> Result<Source> {
    match from {
        Some(r) => on_remote(s, r, id).await.map(|(store, rs)| Source::Remote(store, rs)),
        None => find(s, id).await,
    }
}

/// A remote set vetted before a byte of it is downloaded into `dir`: its manifest read
/// again and its signature checked ([`super::signed`]), the set it would become passed
/// to `targets` (a restore checks what it would restore into against ccops.yaml), its
/// encryption checked against `backup.encryption`.
pub async fn vet(
    s: &Settings,
    store: &dyn Store,
    rs: &RemoteSet,
    dir: &Path,
    allow_unencrypted: bool,
    targets: impl FnOnce(&LocalSet) -> Result<()>,
) -> Result<RemoteSet> {
    let rs = super::signed(s, store, rs).await?;
    let planned = rs.planned(dir.join(&rs.id));
    targets(&planned)?;
    trust::check_encrypted(s, &planned, allow_unencrypted)?;
    Ok(rs)
}
