//! `ccops backup`: one set for the whole project, written to `<ID>.partial/`, each file
//! streamed, hashed and checked, `manifest.json` last, fsynced, then renamed into place.
//! A failure or an interrupt removes the partial set and restarts what it stopped.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use super::kinds::Dump;
use super::layout::{self, PARTIAL};
use super::manifest::{self, Component, Manifest};
use super::plan;
use crate::config::Compression;
use crate::docker::Engine;
use crate::output;
use crate::project::Project;

pub struct Options {
    pub only: Vec<String>,
    pub tags: Vec<String>,
    pub dry_run: bool,
}

/// A backup that failed after its set ID was chosen: the message says what was kept, and
/// the ID is there for monitoring (see [`failed_id`]).
#[derive(Debug)]
pub struct Failed {
    pub id: String,
    message: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The ID of the set a failed backup had chosen, when it got that far.
pub fn failed_id(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<Failed>().map(|f| f.id.clone())
}

/// Take a backup set. The caller holds the project lock.
pub async fn create(p: &Project, opts: &Options) -> Result<Option<Manifest>> {
    create_in_window(p, opts, &[]).await
}

/// Take a backup set while the caller holds `held` stopped (a restore's one stop
/// window): a volume's `stop_services` among them are neither stopped nor started here,
/// so each service is stopped once and started once, by the caller.
pub async fn create_in_window(p: &Project, opts: &Options, held: &[String]) -> Result<Option<Manifest>> {
    let s = &p.settings;
    let items = plan::select(s, &p.model, &opts.only)?;
    let compression = s.file.backup.compression;
    if opts.dry_run {
        output::status(format!("would write a backup set of project `{}` to {}:", s.project, s.backup_dir.display()));
        let age = if super::crypto::encrypting() { ".age" } else { "" };
        for i in &items {
            output::status(format!("  {}{age}  {}{}", i.file_name(compression), i.describe(), i.stop_note()));
        }
        if output::json_mode() {
            let files: Vec<serde_json::Value> = items
                .iter()
                .map(|i| serde_json::json!({ "kind": i.kind().word(), "name": i.name(), "file": i.file_name(compression) }))
                .collect();
            output::json(&serde_json::json!({ "dry_run": true, "directory": s.backup_dir, "components": files }));
        }
        return Ok(None);
    }
    // Decrypting a protected key takes seconds and may fail: do it before a byte is written.
    let signing_key = s.signing.signing_key()?;
    let engine = p.engine()?;
    // Everything that must run is running, before a byte is written.
    for i in &items {
        if let Some(svc) = i.service() {
            engine.running_container(&s.project, svc).await?;
        }
    }
    crate::util::create_private_dir(&s.backup_dir)?;
    let dir = &s.backup_dir;
    let id =
        layout::new_id(chrono::Utc::now(), |id| dir.join(id).exists() || dir.join(format!("{id}{PARTIAL}")).exists());
    output::log_field("backup_id", id.clone());
    let partial = dir.join(format!("{id}{PARTIAL}"));
    crate::util::create_private_dir(&partial)?;
    let started = Instant::now();
    output::status(format!("backup {id}: {} component(s) of project `{}`", items.len(), s.project));

    let result = write_components(p, engine, &items, &partial, compression, held).await;
    let components = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e.context(Failed {
                message: format!("backup {id} failed; nothing was kept (the partial set was removed)"),
                id,
            }));
        }
    };
    let m = Manifest {
        format: manifest::FORMAT,
        id: id.clone(),
        created_at: layout::parse_id(&id)
            .unwrap_or_else(chrono::Utc::now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        project: s.project.clone(),
        environment: s.env_name.clone(),
        ccops_version: env!("CARGO_PKG_VERSION").to_string(),
        tags: opts.tags.clone(),
        partial: !opts.only.iter().all(|t| t.trim().is_empty()),
        components,
    };
    let sealed = seal(&partial, &dir.join(&id), &m, signing_key.as_ref());
    if let Err(e) = sealed {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e.context(Failed { message: format!("backup {id} failed while sealing; nothing was kept"), id }));
    }
    output::status(format!(
        "backup {id} complete: {} in {}",
        crate::util::human_bytes(m.total_bytes()),
        crate::util::human_duration(started.elapsed())
    ));
    Ok(Some(m))
}

/// Write the signature (with a signing key), the manifest last, fsync, and rename the
/// folder into place.
fn seal(partial: &Path, fin: &Path, m: &Manifest, key: Option<&super::signing::SigningKey>) -> Result<()> {
    crate::util::check_interrupt()?;
    let json = m.to_json();
    // Signed just before the manifest is written: a set with a manifest is a signed set.
    if let Some(key) = key {
        let sig = super::signing::sign(json.as_bytes(), key, &m.project, &m.id)?;
        crate::util::write_atomic(&partial.join(super::signing::SIGNATURE_FILE), &sig, 0o600)?;
    }
    crate::util::write_atomic(&partial.join(manifest::FILE), json.as_bytes(), 0o600)?;
    crate::util::fsync_dir(partial)
        .map_err(|e| anyhow::anyhow!("cannot sync `{}`: {}", partial.display(), crate::util::io_reason(&e)))?;
    std::fs::rename(partial, fin)
        .map_err(|e| anyhow::anyhow!("cannot rename `{}`: {}", partial.display(), crate::util::io_reason(&e)))?;
    if let Some(parent) = fin.parent() {
        crate::util::fsync_dir(parent).ok();
    }
    Ok(())
}

async fn write_components(
    p: &Project,
    engine: &Engine,
    items: &[plan::Item],
    dir: &Path,
    compression: Compression,
    held: &[String],
) -> Result<Vec<Component>> {
    // Reading a file back (the tar listing, the RDB header) needs the private key when it
    // is encrypted; a host with the public keys only skips that, and relies on the dump
    // tools' exit status and the sizes.
    let encrypted = super::crypto::encrypting();
    let cx = Dump { p, engine, compression, read_back: !encrypted || super::crypto::can_decrypt(), held };
    let mut out = Vec::new();
    for item in items {
        crate::util::check_interrupt()?;
        let t = Instant::now();
        let file = item.file_name(compression) + if encrypted { ".age" } else { "" };
        let d = item.dump(&cx, &dir.join(&file), &file).await?;
        let mut comp = Component {
            kind: item.kind(),
            name: item.name(),
            file,
            bytes: d.written.bytes,
            sha256: d.written.sha256,
            compression: d.compression,
            encrypted,
            service: item.service().map(String::from),
            database: item.database().map(String::from),
            keys: d.keys,
            timeline: None,
            start_lsn: None,
            end_lsn: None,
            end_time: None,
            system_identifier: None,
        };
        comp.set_base(d.base.as_ref());
        output::status(format!(
            "  {:<40} {:>10}  {}",
            comp.file,
            crate::util::human_bytes(comp.bytes),
            crate::util::human_duration(t.elapsed())
        ));
        out.push(comp);
    }
    Ok(out)
}
