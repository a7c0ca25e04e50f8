//! Redis datasets (`backup.redis`): the RDB file after a finished BGSAVE, compressed;
//! restored by replacing the RDB file while Redis is stopped (snapshot/redis.rs). The
//! legacy scripts left `docker cp` output: a tar holding dump.rdb, gzip.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};

use super::{Component, Dump, Dumped, Kind, Recorded, Stored, Targets, blocking};
use crate::backup::compress;
use crate::backup::sink::{Encoding, Sink};
use crate::backup::window::interruptible;
use crate::compose::Model;
use crate::config::{Compression, Settings};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

/// The kind: `redis` in a manifest.
pub struct Redis;

/// The dataset of one configured Redis service.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub service: String,
    /// DBSIZE when the snapshot was taken (a set being restored), read back after it.
    pub keys: Option<u64>,
}

impl Kind for Redis {
    fn word(&self) -> &'static str {
        "redis"
    }

    fn config_key(&self) -> &'static str {
        "backup.redis"
    }

    fn configured(&self, s: &Settings, _model: &Model) -> Vec<Box<dyn Component>> {
        s.file
            .backup
            .redis
            .iter()
            .map(|r| Box::new(Dataset { service: r.service.clone(), keys: None }) as Box<dyn Component>)
            .collect()
    }

    /// The recorded service, if ccops.yaml configures it; a legacy snapshot (which names
    /// no service) goes to the first one configured.
    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>> {
        let all = &cx.p.settings.file.backup.redis;
        let service = if rec.legacy {
            all.first().map(|r| r.service.clone()).ok_or_else(|| {
                crate::usage!("the backup holds a Redis snapshot, but `backup.redis` in ccops.yaml is empty")
            })?
        } else {
            let service = rec.service.unwrap_or(rec.name).to_string();
            if !all.iter().any(|r| r.service == service) {
                bail!(
                    "backup {} restores Redis into service `{service}`, which `backup.redis` in ccops.yaml does not configure; nothing was restored",
                    cx.set_id
                );
            }
            service
        };
        Ok(Box::new(Dataset { service, keys: rec.keys }))
    }

    fn check<'a>(&'a self, file: Stored<'a>, _server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>> {
        async move {
            let legacy = file.legacy;
            let head = blocking(file.path.to_path_buf(), move |p| rdb_head(&p, legacy)).await?;
            if !snapshot::redis::is_rdb_header(&head) {
                bail!("not an RDB file (starts with {:?})", String::from_utf8_lossy(&head));
            }
            Ok(format!("RDB header {}", String::from_utf8_lossy(&head)))
        }
        .boxed()
    }
}

impl Component for Dataset {
    fn kind(&self) -> &'static dyn Kind {
        &Redis
    }

    fn name(&self) -> String {
        self.service.clone()
    }

    fn service(&self) -> Option<&str> {
        Some(&self.service)
    }

    fn file_name(&self, c: Compression) -> String {
        format!("redis-{}.rdb{}", self.service, compress::extension(c))
    }

    fn describe(&self) -> String {
        format!("redis service `{}`", self.service)
    }

    fn describe_restore(&self) -> String {
        match self.keys {
            Some(k) => format!("redis service `{}` ({k} keys; the current data is replaced)", self.service),
            None => format!("redis service `{}` (the current data is replaced)", self.service),
        }
    }

    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, file: &'a str) -> BoxFuture<'a, Result<Dumped>> {
        async move {
            if !cx.read_back {
                output::debug(format!("{}: encrypted without a private key here; not read back", self.name()));
            }
            let ctr = cx.engine.running_container(&cx.p.settings.project, &self.service).await?;
            let mut sink = Sink::create(path, Encoding::Compressed(cx.compression))?;
            let dumped =
                interruptible(snapshot::redis::dump(cx.engine, &ctr.id, &self.service, &mut sink.writer)).await;
            let written = sink.finish().await?;
            let keys = Some(dumped?);
            let mut head = [0u8; 9];
            let n = if cx.read_back {
                compress::open_decoded(path).and_then(|mut r| r.read(&mut head)).unwrap_or(0)
            } else {
                0
            };
            if cx.read_back && !snapshot::redis::is_rdb_header(&head[..n]) {
                bail!(
                    "the Redis snapshot `{file}` is not an RDB file (it starts with {:?})",
                    String::from_utf8_lossy(&head[..n])
                );
            }
            Ok(Dumped { written, compression: compress::word(cx.compression).to_string(), keys, base: None })
        }
        .boxed()
    }

    fn restore<'a>(&'a self, p: &'a Project, engine: &'a Engine, file: Stored<'a>) -> BoxFuture<'a, Result<()>> {
        async move {
            let service = &self.service;
            let ctr = engine.running_container(&p.settings.project, service).await?;
            let (dir, dbfile) = snapshot::redis::preflight(engine, &ctr.id, service).await?;
            let (f, legacy) = (file.path.to_path_buf(), file.legacy);
            let size = tokio::task::spawn_blocking(move || rdb_size(&f, legacy)).await??;
            let tar = rdb_tar_stream(file.path.to_path_buf(), legacy, dbfile.clone(), size);
            let got = snapshot::redis::replace_and_start(
                engine,
                &ctr.id,
                &ctr.name,
                &dir,
                &dbfile,
                tar,
                &p.settings.state_dir,
            )
            .await?;
            match self.keys {
                Some(k) if k != got => output::warn(format!(
                    "redis `{service}` holds {got} keys after the restore; the snapshot recorded {k} (clients may have written meanwhile)"
                )),
                _ => output::status(format!("  redis `{service}`: {got} keys")),
            }
            Ok(())
        }
        .boxed()
    }
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

/// A tar holding one file `name` with the RDB bytes of a stored redis file.
fn rdb_tar_stream(
    path: PathBuf,
    legacy: bool,
    name: String,
    size: u64,
) -> impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static {
    let (w, r) = tokio::io::duplex(1 << 20);
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let mut out = tokio_util::io::SyncIoBridge::new_with_handle(w, handle);
        let res = (|| -> Result<()> {
            let (rdb, _) = rdb_open(&path, legacy)?;
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(chrono::Utc::now().timestamp() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            let mut b = tar::Builder::new(&mut out);
            b.append_data(&mut h, &name, rdb.take(size))?;
            b.finish()?;
            Ok(())
        })();
        if let Err(e) = res {
            output::error(format!("cannot stream the Redis snapshot: {e:#}"));
        }
        let _ = out.flush();
        let _ = out.shutdown();
    });
    tokio_util::io::ReaderStream::with_capacity(r, 1 << 20).filter_map(|r| async move { r.ok() })
}
