//! `ccops backup verify`: every file re-hashed against the manifest, then read the way a
//! restore would read it (pg_restore --list, the tar listing with its safety checks, the
//! RDB header). Legacy sets, which carry no checksums, get the reading checks only.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use super::compress;
use super::layout::LocalSet;
use super::manifest::Kind;
use super::sink::hash_file;
use crate::docker::Engine;
use crate::snapshot;

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
    pub kind: Kind,
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
    let e = |p: &PathBuf, kind| Expect { path: p.clone(), kind, bytes: None, sha256: None, legacy: true };
    l.postgres
        .iter()
        .map(|(_, p)| e(p, Kind::Postgres))
        .chain(l.volumes.iter().map(|(_, p)| e(p, Kind::Volume)))
        .chain(l.redis.iter().map(|p| e(p, Kind::Redis)))
        .collect()
}

/// Check every file; `postgres` is a running postgres container for `pg_restore --list`.
pub async fn verify(set: &LocalSet, engine: Option<&Engine>, postgres: Option<&str>) -> Vec<FileCheck> {
    let mut out = Vec::new();
    for e in expectations(set) {
        let file = e.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let res = check_one(&e, engine, postgres).await;
        out.push(FileCheck {
            file,
            kind: e.kind.word().to_string(),
            ok: res.is_ok(),
            detail: res.unwrap_or_else(|err| format!("{err:#}")),
        });
    }
    out
}

async fn check_one(e: &Expect, engine: Option<&Engine>, postgres: Option<&str>) -> Result<String> {
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
    match (e.kind, e.legacy) {
        (Kind::Postgres, false) => match (engine, postgres) {
            (Some(engine), Some(ctr)) => {
                if path.to_string_lossy().ends_with(".age") {
                    super::crypto::check_can_decrypt(&[path.as_path()])?;
                }
                let n = snapshot::postgres::list(engine, ctr, super::compress::decoded_async(&path)).await?;
                notes.push(format!("pg_restore --list: {n} entries"));
            }
            _ => notes.push("pg_restore --list skipped (postgres not running)".into()),
        },
        (Kind::Postgres, true) => {
            let n = blocking(path, |p| {
                let mut r = compress::open_decoded(&p)?;
                let n = std::io::copy(&mut r, &mut std::io::sink())?;
                if n == 0 {
                    bail!("the SQL dump is empty");
                }
                Ok(n)
            })
            .await?;
            notes.push(format!("gzip ok, {} of SQL", crate::util::human_bytes(n)));
        }
        (Kind::Volume, _) => {
            let n = blocking(path, |p| snapshot::volume::check_archive(compress::open_decoded(&p)?)).await?;
            notes.push(format!("tar ok, {n} entries"));
        }
        (Kind::Redis, legacy) => {
            let head = blocking(path, move |p| rdb_head(&p, legacy)).await?;
            if !snapshot::redis::is_rdb_header(&head) {
                bail!("not an RDB file (starts with {:?})", String::from_utf8_lossy(&head));
            }
            notes.push(format!("RDB header {}", String::from_utf8_lossy(&head)));
        }
    }
    Ok(notes.join(", "))
}

async fn blocking<T: Send + 'static>(p: PathBuf, f: impl FnOnce(PathBuf) -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(move || f(p)).await.map_err(|e| anyhow!("{e}"))?
}

/// A reader of the RDB bytes of a stored redis file, and their size when known without
/// reading them (a legacy set: the tar header says it).
pub fn rdb_open(path: &Path, legacy: bool) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    let decoded = compress::open_decoded(path)?;
    if !legacy {
        return Ok((decoded, None));
    }
    // `docker cp <ctr>:/data/dump.rdb -` is a tar holding the file. The scripts moved it
    // with docker cp, so it is read into memory here to cut it out of its tar.
    let mut a = tar::Archive::new(decoded);
    for e in a.entries()? {
        let mut e = e?;
        if e.header().entry_type().is_file() {
            let mut buf = Vec::with_capacity(e.size() as usize);
            e.read_to_end(&mut buf)?;
            let n = buf.len() as u64;
            return Ok((Box::new(std::io::Cursor::new(buf)), Some(n)));
        }
    }
    bail!("`{}` holds no file", path.display())
}

/// The size of the RDB bytes of a stored redis file.
pub fn rdb_size(path: &Path, legacy: bool) -> Result<u64> {
    let (mut r, known) = rdb_open(path, legacy)?;
    match known {
        Some(n) => Ok(n),
        None => Ok(std::io::copy(&mut r, &mut std::io::sink())?),
    }
}

fn rdb_head(path: &Path, legacy: bool) -> Result<Vec<u8>> {
    let (mut r, _) = rdb_open(path, legacy)?;
    let mut head = vec![0u8; 9];
    let n = r.read(&mut head)?;
    head.truncate(n);
    Ok(head)
}
