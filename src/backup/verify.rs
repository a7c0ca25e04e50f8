//! `ccops backup verify`: every file re-hashed against the manifest, then read the way a
//! restore would read it (each kind's own check: pg_restore --list, the tar listing with
//! its safety checks, the RDB header). Legacy sets, which carry no checksums, get the
//! reading checks only.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::kinds::{Kind, Stored};
use super::layout::LocalSet;
use super::sink::hash_file;
use crate::config::Settings;
use crate::docker::Engine;

/// The outcome for one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileCheck {
    pub file: String,
    pub kind: String,
    pub ok: bool,
    pub detail: String,
}

/// A file of a set, with what it should be.
#[derive(Debug, Clone)]
pub struct Expect {
    pub path: PathBuf,
    pub kind: &'static dyn Kind,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    /// Legacy redis: gzip of a tar holding dump.rdb. Legacy postgres: plain SQL gzip.
    pub legacy: bool,
}

pub fn expectations(set: &LocalSet) -> Vec<Expect> {
    if let Some(m) = &set.manifest {
        return m
            .components
            .iter()
            .map(|c| Expect {
                path: set.path.join(&c.file),
                kind: c.kind,
                bytes: Some(c.bytes),
                sha256: Some(c.sha256.clone()),
                legacy: false,
            })
            .collect();
    }
    let Some(l) = &set.legacy else { return vec![] };
    l.entries()
        .into_iter()
        .map(|(kind, _, p)| Expect { path: p.clone(), kind, bytes: None, sha256: None, legacy: true })
        .collect()
}

/// `backup verify ID` of a set here: its signature first, then every file. `pg_restore
/// --list` runs in the postgres service when it is up here; on a machine that only keeps
/// backups (no engine, no compose) the checksums are still verified, and a warning says so.
pub async fn local(s: &Settings, id: &str) -> Result<(LocalSet, Vec<FileCheck>)> {
    let sets = super::layout::list(&s.backup_dir)?;
    let set = super::trust::signed_local(s, super::layout::resolve(&sets, id)?)?;
    let engine = Engine::connect(s.engine.as_ref()).await.ok();
    let mut pg = None;
    if let (Some(engine), Some(t)) = (&engine, s.file.backup.postgres.first()) {
        pg = engine.running_container(&s.project, &t.service).await.ok().map(|c| c.id);
    }
    if pg.is_none() && set.manifest.as_ref().is_some_and(|m| m.components.iter().any(|c| c.kind.word() == "postgres")) {
        crate::output::warn(
            "postgres is not running here: the dump is checked by its checksum only (not with pg_restore --list)",
        );
    }
    let checks = verify(&set, engine.as_ref(), pg.as_deref()).await;
    Ok((set, checks))
}

/// Check every file; `server` is a running container of the data's server, for the
/// kinds whose check runs in one (a postgres container, for `pg_restore --list`).
pub async fn verify(set: &LocalSet, engine: Option<&Engine>, server: Option<&str>) -> Vec<FileCheck> {
    let mut out = Vec::new();
    for e in expectations(set) {
        let file = e.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let res = check_one(&e, engine, server).await;
        out.push(FileCheck {
            file,
            kind: e.kind.word().to_string(),
            ok: res.is_ok(),
            detail: res.unwrap_or_else(|err| format!("{err:#}")),
        });
    }
    out
}

async fn check_one(e: &Expect, engine: Option<&Engine>, server: Option<&str>) -> Result<String> {
    let path = e.path.clone();
    if !path.is_file() {
        bail!("missing: `{}` does not exist", path.display());
    }
    let mut notes = Vec::new();
    if let (Some(bytes), Some(sha)) = (e.bytes, &e.sha256) {
        let p = path.clone();
        let got = tokio::task::spawn_blocking(move || hash_file(&p)).await??;
        if got.bytes != bytes {
            bail!("size mismatch: {} bytes, the manifest says {bytes}", got.bytes);
        }
        if &got.sha256 != sha {
            bail!("checksum mismatch: sha256 {}…, the manifest says {}…", &got.sha256[..12], &sha[..12.min(sha.len())]);
        }
        notes.push("sha256 ok".to_string());
    }
    let file = Stored { path: &path, legacy: e.legacy };
    notes.push(e.kind.check(file, engine.zip(server)).await?);
    Ok(notes.join(", "))
}
