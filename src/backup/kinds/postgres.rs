//! PostgreSQL databases (`backup.postgres`): `pg_dump -Fc` in the service's container,
//! listed by `pg_restore --list` as it streams; restored whole into a staging database
//! and swapped in (snapshot/postgres.rs). The legacy scripts left plain SQL, gzip.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{Component, Dump, Dumped, Kind, Recorded, Stored, Targets, blocking};
use crate::backup::compress;
use crate::backup::sink::{Encoding, Sink, Written};
use crate::backup::window::interruptible;
use crate::compose::Model;
use crate::config::{Compression, PostgresTarget, Settings};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

/// The kind: `postgres` in a manifest.
pub struct Postgres;

/// One configured database.
#[derive(Debug, Clone)]
pub struct Database(pub PostgresTarget);

impl Kind for Postgres {
    fn word(&self) -> &'static str {
        "postgres"
    }

    fn config_key(&self) -> &'static str {
        "backup.postgres"
    }

    fn configured(&self, s: &Settings, _model: &Model) -> Vec<Box<dyn Component>> {
        s.file.backup.postgres.iter().map(|t| Box::new(Database(t.clone())) as Box<dyn Component>).collect()
    }

    /// The configured database of the recorded name (the only one, when one is configured).
    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>> {
        let all = &cx.p.settings.file.backup.postgres;
        let db = rec.database.unwrap_or(rec.name);
        all.iter()
            .find(|t| t.database == db && rec.service.is_none_or(|sv| sv == t.service))
            .or_else(|| if all.len() == 1 { all.first() } else { None })
            .map(|t| Box::new(Database(t.clone())) as Box<dyn Component>)
            .ok_or_else(|| {
                crate::usage!(
                    "the backup holds database `{db}`, but `backup.postgres` in ccops.yaml has no entry for it; add one"
                )
            })
    }

    fn check<'a>(&'a self, file: Stored<'a>, server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>> {
        async move {
            let path = file.path;
            if file.legacy {
                let n = blocking(path.to_path_buf(), |p| {
                    let mut r = compress::open_decoded(&p)?;
                    let n = std::io::copy(&mut r, &mut std::io::sink())?;
                    if n == 0 {
                        bail!("the SQL dump is empty");
                    }
                    Ok(n)
                })
                .await?;
                return Ok(format!("gzip ok, {} of SQL", crate::util::human_bytes(n)));
            }
            let Some((engine, ctr)) = server else {
                return Ok("pg_restore --list skipped (postgres not running)".into());
            };
            if path.to_string_lossy().ends_with(".age") {
                crate::backup::crypto::check_can_decrypt(&[path])?;
            }
            let n = snapshot::postgres::list(engine, ctr, compress::decoded_async(path)).await?;
            Ok(format!("pg_restore --list: {n} entries"))
        }
        .boxed()
    }
}

impl Component for Database {
    fn kind(&self) -> &'static dyn Kind {
        &Postgres
    }

    fn name(&self) -> String {
        format!("{}-{}", self.0.service, self.0.database)
    }

    fn service(&self) -> Option<&str> {
        Some(&self.0.service)
    }

    fn database(&self) -> Option<&str> {
        Some(&self.0.database)
    }

    fn aliases(&self) -> Vec<&str> {
        vec![&self.0.database]
    }

    fn check_server(&self) -> Option<&str> {
        Some(&self.0.service)
    }

    /// pg_dump compresses the custom format itself: never gzip or zstd on top.
    fn file_name(&self, _c: Compression) -> String {
        format!("postgres-{}.dump", self.name())
    }

    fn describe(&self) -> String {
        format!("postgres database `{}` of service `{}`", self.0.database, self.0.service)
    }

    fn describe_restore(&self) -> String {
        format!("{} (replaced whole)", self.describe())
    }

    /// A Postgres dump is listed as it streams, so also when it is encrypted without the
    /// private key here.
    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, file: &'a str) -> BoxFuture<'a, Result<Dumped>> {
        async move {
            let t = &self.0;
            let ctr = cx.engine.running_container(&cx.p.settings.project, &t.service).await?;
            let t0 = Instant::now();
            let mut sink = Sink::create(path, Encoding::Raw)?;
            let both = interruptible(async {
                Ok(snapshot::postgres::dump_listed(cx.engine, &ctr.id, t, &mut sink.writer).await)
            })
            .await;
            // A file that cannot be written (a full disk) breaks the dump's pipe: its own
            // error is the cause to report.
            let written = sink.finish().await?;
            let (dumped, listed) = both?;
            dumped?;
            output::debug(format!(
                "pg_dump streamed {} in {}",
                crate::util::human_bytes(written.bytes),
                crate::util::human_duration(t0.elapsed())
            ));
            check_nonempty(path, &written, b"PGDMP", "a pg_dump archive")?;
            let entries = listed?;
            output::debug(format!("pg_restore --list read {entries} entries from the stream of {file}"));
            Ok(Dumped { written, compression: "none".into(), keys: None, base: None })
        }
        .boxed()
    }

    fn restore<'a>(&'a self, p: &'a Project, engine: &'a Engine, file: Stored<'a>) -> BoxFuture<'a, Result<()>> {
        async move {
            let (target, project) = (&self.0, &p.settings.project);
            let ctr = engine.running_container(project, &target.service).await?;
            let src = if file.legacy {
                snapshot::postgres::Source::Sql(compress::decoded_async(file.path))
            } else {
                snapshot::postgres::Source::Custom(compress::decoded_async(file.path))
            };
            // Not cancelled on a signal: the input ends instead, and restore() drops its
            // staging copy; the live database is never half-replaced.
            snapshot::postgres::restore(engine, &ctr.id, target, src, project, &p.settings.state_dir).await?;
            let counts = snapshot::postgres::row_counts(engine, &ctr.id, target).await.unwrap_or_default();
            output::debug(format!("tables after restore: {counts}"));
            Ok(())
        }
        .boxed()
    }
}

/// Fail when a just-written dump is empty, or (unencrypted) does not start with `magic`.
fn check_nonempty(path: &Path, w: &Written, magic: &[u8], what: &str) -> Result<()> {
    if w.bytes == 0 {
        bail!("`{}` is empty: the dump produced no data", path.display());
    }
    if path.to_string_lossy().ends_with(".age") {
        // Encrypted: pg_restore --list read the dump's own bytes as they streamed.
        return Ok(());
    }
    let mut head = vec![0u8; magic.len()];
    let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
    if n < magic.len() || head != magic {
        bail!("`{}` is not {what}", path.display());
    }
    Ok(())
}
