//! Anything else, by the operator's own commands (`backup.commands`): the stdout of
//! `dump`, run in the service's container, is the file (compressed); `restore` reads it
//! back on stdin there; an optional `verify` reads it on stdin after the dump and before
//! a restore. Exit statuses decide (snapshot/command.rs).

use std::path::Path;

use anyhow::{Result, anyhow};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{Component, Dump, Dumped, Kind, Recorded, Stored, Targets, blocking};
use crate::backup::compress;
use crate::backup::sink::{Encoding, Sink};
use crate::backup::window::interruptible;
use crate::compose::Model;
use crate::config::{CommandTarget, Compression, Settings};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

/// The kind: `command` in a manifest.
pub struct Command;

/// One configured `backup.commands` entry.
#[derive(Debug, Clone)]
pub struct CommandOutput(pub CommandTarget);

impl Kind for Command {
    fn word(&self) -> &'static str {
        "command"
    }

    fn config_key(&self) -> &'static str {
        "backup.commands"
    }

    fn configured(&self, s: &Settings, _model: &Model) -> Vec<Box<dyn Component>> {
        s.file.backup.commands.iter().map(|t| Box::new(CommandOutput(t.clone())) as Box<dyn Component>).collect()
    }

    /// The configured entry of the recorded name and service; nothing else.
    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>> {
        cx.p.settings
            .file
            .backup
            .commands
            .iter()
            .find(|t| t.name == rec.name && rec.service.is_none_or(|sv| sv == t.service))
            .map(|t| Box::new(CommandOutput(t.clone())) as Box<dyn Component>)
            .ok_or_else(|| {
                anyhow!(
                    "backup {} holds the output of command `{}`, which `backup.commands` in ccops.yaml does not configure; nothing was restored",
                    cx.set_id,
                    rec.name
                )
            })
    }

    /// The file decompresses whole; its own `verify` runs before a restore.
    fn check<'a>(&'a self, file: Stored<'a>, _server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>> {
        async move {
            let n = blocking(file.path.to_path_buf(), |p| {
                Ok(std::io::copy(&mut compress::open_decoded(&p)?, &mut std::io::sink())?)
            })
            .await?;
            Ok(format!("decompressed whole, {} of output", crate::util::human_bytes(n)))
        }
        .boxed()
    }
}

impl CommandOutput {
    /// Run `verify` (if configured) over the stored file at `path` in `container`.
    async fn verify(&self, engine: &Engine, container: &str, path: &Path) -> Result<()> {
        let Some(argv) = &self.0.verify else { return Ok(()) };
        snapshot::command::feed(engine, container, argv, compress::decoded_async(path))
            .await
            .map_err(|e| e.context(format!("the verify command of `{}` refuses the file", self.0.name)))
    }
}

impl Component for CommandOutput {
    fn kind(&self) -> &'static dyn Kind {
        &Command
    }

    fn name(&self) -> String {
        self.0.name.clone()
    }

    fn service(&self) -> Option<&str> {
        Some(&self.0.service)
    }

    fn file_name(&self, c: Compression) -> String {
        format!("command-{}.out{}", self.0.name, compress::extension(c))
    }

    fn describe(&self) -> String {
        format!("output of `{}` in service `{}` (command `{}`)", self.0.dump.join(" "), self.0.service, self.0.name)
    }

    fn describe_restore(&self) -> String {
        format!("command `{}`: fed to `{}` in service `{}`", self.0.name, self.0.restore.join(" "), self.0.service)
    }

    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, _file: &'a str) -> BoxFuture<'a, Result<Dumped>> {
        async move {
            let t = &self.0;
            let ctr = cx.engine.running_container(&cx.p.settings.project, &t.service).await?;
            let mut sink = Sink::create(path, Encoding::Compressed(cx.compression))?;
            let dumped = interruptible(snapshot::command::dump(cx.engine, &ctr.id, &t.dump, &mut sink.writer)).await;
            let written = sink.finish().await?;
            dumped.map_err(|e| e.context(format!("the dump command of `{}` failed", t.name)))?;
            if cx.read_back {
                self.verify(cx.engine, &ctr.id, path).await?;
            } else if t.verify.is_some() {
                output::debug(format!("{}: encrypted without a private key here; verify not run", t.name));
            }
            Ok(Dumped { written, compression: compress::word(cx.compression).to_string(), keys: None, base: None })
        }
        .boxed()
    }

    fn restore<'a>(&'a self, p: &'a Project, engine: &'a Engine, file: Stored<'a>) -> BoxFuture<'a, Result<()>> {
        async move {
            let t = &self.0;
            let ctr = engine.running_container(&p.settings.project, &t.service).await?;
            self.verify(engine, &ctr.id, file.path).await?;
            snapshot::command::feed(engine, &ctr.id, &t.restore, compress::decoded_async(file.path))
                .await
                .map_err(|e| e.context(format!("the restore command of `{}` failed", t.name)))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_matched_as_sets_record_it() {
        let c = CommandOutput(CommandTarget {
            name: "appdb".into(),
            service: "app".into(),
            dump: vec!["sqlite3".into(), "/data/app.db".into(), ".dump".into()],
            restore: vec!["sqlite3".into(), "/data/app.db".into()],
            verify: None,
        });
        assert_eq!(c.file_name(Compression::Gzip), "command-appdb.out.gz");
        assert!(c.matches("command") && c.matches("appdb") && c.matches("app") && !c.matches("mysql"));
        assert_eq!(c.describe(), "output of `sqlite3 /data/app.db .dump` in service `app` (command `appdb`)");
    }
}
