//! Named volumes (`backup.volumes`): a tar of the files, owners and modes kept, read from
//! the volume's folder or through the engine, with the volume's `stop_services` stopped
//! meanwhile; restored after every entry is checked (snapshot/volume/).

use std::path::Path;

use anyhow::{Result, bail};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};

use super::{Component, Dump, Dumped, Kind, Recorded, Stored, Targets, blocking};
use crate::backup::compress;
use crate::backup::sink::{Encoding, Sink};
use crate::backup::window::{start_again, stop_services};
use crate::compose::Model;
use crate::config::{Compression, Settings};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

/// The kind: `volume` in a manifest.
pub struct Volume;

/// One configured volume.
#[derive(Debug, Clone)]
pub struct NamedVolume {
    /// The Compose volume key (`rag_storage`): the name in the manifest.
    pub key: String,
    /// The engine's name of it (`commandcenter_rag_storage`).
    pub engine_name: String,
    /// `stop_services`: stopped while it is copied or replaced.
    pub stop: Vec<String>,
}

impl Kind for Volume {
    fn word(&self) -> &'static str {
        "volume"
    }

    fn config_key(&self) -> &'static str {
        "backup.volumes"
    }

    fn configured(&self, s: &Settings, model: &Model) -> Vec<Box<dyn Component>> {
        s.file
            .backup
            .volumes
            .iter()
            .map(|v| {
                let engine_name =
                    model.volume_name(&v.name).map_or_else(|| format!("{}_{}", s.project, v.name), String::from);
                Box::new(NamedVolume { key: v.name.clone(), engine_name, stop: v.stop_services.clone() })
                    as Box<dyn Component>
            })
            .collect()
    }

    /// The volume the set names (by key or engine name), if the compose project has it
    /// and `backup.volumes` configures it.
    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>> {
        let (p, name, id) = (cx.p, rec.name, cx.set_id);
        let (key, engine_name) = match p.model.volume_name(name) {
            Some(full) => (name.to_string(), full.to_string()),
            None => p
                .model
                .volumes
                .iter()
                .find(|(_, full)| full.as_str() == name)
                .map(|(k, full)| (k.clone(), full.clone()))
                .ok_or_else(|| {
                    crate::usage!("backup {id} holds volume `{name}`, which the compose project does not have")
                })?,
        };
        let Some(v) = p.settings.file.backup.volumes.iter().find(|v| v.name == key) else {
            bail!(
                "backup {id} holds volume `{key}`, which `backup.volumes` in ccops.yaml does not configure; nothing was restored (add it there to restore it)"
            );
        };
        Ok(Box::new(NamedVolume { key, engine_name, stop: v.stop_services.clone() }))
    }

    fn check<'a>(&'a self, file: Stored<'a>, _server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>> {
        async move {
            let read = |p: std::path::PathBuf| snapshot::volume::check_archive(compress::open_decoded(&p)?);
            let n = blocking(file.path.to_path_buf(), read).await?;
            Ok(format!("tar ok, {n} entries"))
        }
        .boxed()
    }
}

impl Component for NamedVolume {
    fn kind(&self) -> &'static dyn Kind {
        &Volume
    }

    fn name(&self) -> String {
        self.key.clone()
    }

    fn aliases(&self) -> Vec<&str> {
        vec![&self.engine_name]
    }

    fn file_name(&self, c: Compression) -> String {
        format!("volume-{}.tar{}", self.key, compress::extension(c))
    }

    fn describe(&self) -> String {
        format!("volume `{}` ({})", self.key, self.engine_name)
    }

    fn describe_restore(&self) -> String {
        format!("volume `{}` (its contents are replaced)", self.key)
    }

    fn stops(&self) -> &[String] {
        &self.stop
    }

    /// Every service that mounts the volume (a database's own data volume included), and
    /// its `stop_services`.
    fn users(&self, model: &Model) -> Vec<String> {
        let mut out = model.services_using_volume(&self.key);
        out.extend(self.stop.iter().cloned());
        out
    }

    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, file: &'a str) -> BoxFuture<'a, Result<Dumped>> {
        async move {
            let (p, engine, s) = (cx.p, cx.engine, &cx.p.settings);
            if !cx.read_back {
                output::debug(format!("{}: encrypted without a private key here; not read back", self.key));
            }
            let source = volume_source(p, engine, &self.key, &self.engine_name).await?;
            let writers: Vec<String> = p
                .model
                .services_using_volume(&self.key)
                .into_iter()
                .filter(|u| !self.stop.contains(u) && !cx.held.contains(u))
                .collect();
            if !writers.is_empty() {
                output::debug(format!(
                    "volume `{}` is copied while {} keep running (not in stop_services)",
                    self.key,
                    writers.join(", ")
                ));
            }
            // Those the caller holds stopped stay stopped: the caller starts them.
            let to_stop: Vec<String> = self.stop.iter().filter(|u| !cx.held.contains(u)).cloned().collect();
            let stopped = stop_services(engine, &s.project, &to_stop, &s.state_dir, &p.model).await?;
            let mut sink = Sink::create(path, Encoding::Compressed(cx.compression))?;
            // volume::dump handles a signal itself, so its helper container is always removed.
            let dumped =
                snapshot::volume::dump(engine, &source, &self.engine_name, &mut sink.writer, &s.state_dir).await;
            // The volume has been read: the stopped services start again while the
            // last chunks are compressed and synced, and the archive is read back.
            let store_and_check = async {
                let written = sink.finish().await?;
                if dumped.is_err() || !cx.read_back {
                    return Ok((written, None));
                }
                let path = path.to_path_buf();
                let check = tokio::task::spawn_blocking(move || {
                    snapshot::volume::check_archive(compress::open_decoded(&path)?)
                });
                Ok::<_, anyhow::Error>((written, Some(check.await??)))
            };
            let (stored, restarted) =
                tokio::join!(store_and_check, start_again(engine, &stopped, &s.state_dir, &p.model));
            // A full disk breaks the dump's pipe: the file's own error is the cause. Services
            // left stopped are said whatever else failed (a dropped link to the engine).
            let (written, entries) = match (stored.and_then(|v| dumped.map(|()| v)), restarted) {
                (Ok(v), Ok(())) => v,
                (Err(e), Ok(())) | (Ok(_), Err(e)) => return Err(e),
                (Err(e), Err(not_started)) => return Err(e.context(format!("{not_started:#}"))),
            };
            if let Some(entries) = entries {
                output::debug(format!("{file}: {entries} entries"));
            }
            Ok(Dumped { written, compression: compress::word(cx.compression).to_string(), keys: None, base: None })
        }
        .boxed()
    }

    fn restore<'a>(&'a self, p: &'a Project, engine: &'a Engine, file: Stored<'a>) -> BoxFuture<'a, Result<()>> {
        async move {
            let image = helper_image(p, engine, &self.key).await?;
            snapshot::volume::restore(engine, &image, &self.engine_name, tar_stream(file.path), &p.settings.state_dir)
                .await
        }
        .boxed()
    }
}

/// Where to read a volume from: its folder on this machine where ccops may (see
/// `Engine::local_volume_dir`), GNU tar is there and CCOPS_VOLUME_READ does not say
/// `engine`, else the engine's archive API through a helper container.
async fn volume_source(p: &Project, engine: &Engine, key: &str, engine_name: &str) -> Result<snapshot::volume::Source> {
    if !p.settings.volume_read_engine
        && let Some(dir) = engine.local_volume_dir(engine_name).await
        && snapshot::volume::gnu_tar().await
    {
        output::debug(format!("volume `{key}` is read from {}", dir.display()));
        return Ok(snapshot::volume::Source::Host(dir));
    }
    output::debug(format!("volume `{key}` is read through the engine"));
    Ok(snapshot::volume::Source::Engine(helper_image(p, engine, key).await?))
}

/// An image to run the volume helper from: one of the project's own (present locally).
async fn helper_image(p: &Project, engine: &Engine, volume_key: &str) -> Result<String> {
    let users = p.model.services_using_volume(volume_key);
    let all = engine.containers(&p.settings.project, None).await?;
    let pick = all.iter().find(|c| users.contains(&c.service)).or_else(|| all.first());
    match pick {
        Some(c) => engine.container_image(&c.id).await,
        None => bail!("project `{}` has no container to take an image from; start it first", p.settings.project),
    }
}

/// A volume archive as a stream of plain tar bytes, decoded here on a thread: the engine
/// would read a `.tar.gz` itself, but on one core and at half the speed.
fn tar_stream(path: &Path) -> impl futures_util::Stream<Item = bytes::Bytes> + Send + 'static {
    tokio_util::io::ReaderStream::with_capacity(compress::decoded_async(path), 1 << 20)
        .filter_map(|r| async move { r.ok() })
}
