//! MySQL and MariaDB databases (`backup.mysql`): `mariadb-dump`/`mysqldump` in the
//! service's container, one transaction while the server keeps serving, compressed;
//! restored by piping the dump into the client there (snapshot/mysql.rs says why in place).

use std::io::Read;
use std::path::Path;

use anyhow::{Result, bail};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{Component, Dump, Dumped, Kind, Recorded, Stored, Targets, blocking};
use crate::backup::compress;
use crate::backup::sink::{Encoding, Sink};
use crate::backup::window::interruptible;
use crate::compose::Model;
use crate::config::{Compression, MysqlTarget, Settings};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot;

/// The kind: `mysql` in a manifest (MySQL and MariaDB alike).
pub struct Mysql;

/// One configured database.
#[derive(Debug, Clone)]
pub struct MysqlDatabase(pub MysqlTarget);

impl Kind for Mysql {
    fn word(&self) -> &'static str {
        "mysql"
    }

    fn config_key(&self) -> &'static str {
        "backup.mysql"
    }

    fn configured(&self, s: &Settings, _model: &Model) -> Vec<Box<dyn Component>> {
        s.file.backup.mysql.iter().map(|t| Box::new(MysqlDatabase(t.clone())) as Box<dyn Component>).collect()
    }

    /// The configured database of the recorded service and name (an `all` entry: the
    /// recorded name, no database); nothing else.
    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>> {
        let db = rec.database.unwrap_or(rec.name);
        cx.p.settings
            .file
            .backup
            .mysql
            .iter()
            .find(|t| {
                let same = match &t.database {
                    Some(d) => *d == db,
                    None => rec.database.is_none() && MysqlDatabase((*t).clone()).name() == rec.name,
                };
                same && rec.service.is_none_or(|sv| sv == t.service)
            })
            .map(|t| Box::new(MysqlDatabase(t.clone())) as Box<dyn Component>)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "backup {} restores MySQL database `{db}`, which `backup.mysql` in ccops.yaml does not configure; nothing was restored",
                    cx.set_id
                )
            })
    }

    fn check<'a>(&'a self, file: Stored<'a>, _server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>> {
        async move {
            let (n, head, tail) = blocking(file.path.to_path_buf(), |p| ends(&p)).await?;
            if !snapshot::mysql::is_dump_head(&head) {
                bail!("not a mariadb-dump/mysqldump file (no dump header)");
            }
            if !snapshot::mysql::is_dump_tail(&tail) {
                bail!("the dump is cut short (it does not end with `-- Dump completed`)");
            }
            Ok(format!("dump header and `-- Dump completed` read, {} of SQL", crate::util::human_bytes(n)))
        }
        .boxed()
    }
}

/// The size and the ends (first 4 KiB, last 512 bytes) of a stored file's content,
/// read whole.
fn ends(path: &Path) -> Result<(u64, Vec<u8>, Vec<u8>)> {
    let mut r = compress::open_decoded(path)?;
    let (mut ends, mut n) = (snapshot::mysql::DumpEnds::default(), 0u64);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            break;
        }
        n += got as u64;
        ends.push(&buf[..got]);
    }
    Ok((n, ends.head, ends.tail))
}

impl MysqlDatabase {
    async fn password(&self, p: &Project, engine: &Engine, container: &str) -> Result<Option<String>> {
        let t = &self.0;
        let resolved = t.password_variable.as_deref().and_then(|v| p.settings.vars.get(v)).filter(|v| !v.is_empty());
        snapshot::mysql::password(engine, container, t, resolved).await
    }
}

impl Component for MysqlDatabase {
    fn kind(&self) -> &'static dyn Kind {
        &Mysql
    }

    fn name(&self) -> String {
        format!("{}-{}", self.0.service, self.0.label())
    }

    fn service(&self) -> Option<&str> {
        Some(&self.0.service)
    }

    fn database(&self) -> Option<&str> {
        self.0.database.as_deref()
    }

    fn aliases(&self) -> Vec<&str> {
        self.0.database.iter().map(String::as_str).collect()
    }

    fn file_name(&self, c: Compression) -> String {
        format!("mysql-{}.sql{}", self.name(), compress::extension(c))
    }

    fn describe(&self) -> String {
        match &self.0.database {
            Some(db) => format!("mysql database `{db}` of service `{}`", self.0.service),
            None => format!("mysql databases of service `{}` (all but the server's own)", self.0.service),
        }
    }

    fn describe_restore(&self) -> String {
        format!("{} (dropped and loaded from the dump)", self.describe())
    }

    /// The header and the completion comment are checked as the dump streams, so also
    /// when it is encrypted without the private key here.
    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, _file: &'a str) -> BoxFuture<'a, Result<Dumped>> {
        async move {
            let t = &self.0;
            let ctr = cx.engine.running_container(&cx.p.settings.project, &t.service).await?;
            let pw = self.password(cx.p, cx.engine, &ctr.id).await?;
            let mut sink = Sink::create(path, Encoding::Compressed(cx.compression))?;
            let dumped =
                interruptible(snapshot::mysql::dump(cx.engine, &ctr.id, t, pw.as_deref(), &mut sink.writer)).await;
            // A file that cannot be written (a full disk) breaks the dump's pipe: its own
            // error is the cause to report.
            let written = sink.finish().await?;
            dumped?;
            Ok(Dumped { written, compression: compress::word(cx.compression).to_string(), keys: None, base: None })
        }
        .boxed()
    }

    fn restore<'a>(&'a self, p: &'a Project, engine: &'a Engine, file: Stored<'a>) -> BoxFuture<'a, Result<()>> {
        async move {
            let t = &self.0;
            let ctr = engine.running_container(&p.settings.project, &t.service).await?;
            let pw = self.password(p, engine, &ctr.id).await?;
            // Not cancelled on a signal: the input ends instead and the client fails.
            snapshot::mysql::restore(engine, &ctr.id, t, pw.as_deref(), compress::decoded_async(file.path)).await?;
            let counts = snapshot::mysql::row_counts(engine, &ctr.id, t, pw.as_deref()).await.unwrap_or_default();
            output::debug(format!("tables after restore: {counts}"));
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> MysqlDatabase {
        MysqlDatabase(MysqlTarget {
            service: "db".into(),
            database: Some("wordpress".into()),
            all: false,
            user: "wordpress".into(),
            password_variable: Some("DB_PASSWORD".into()),
        })
    }

    #[test]
    fn named_and_matched_as_sets_record_it() {
        let d = db();
        assert_eq!(d.file_name(Compression::Gzip), "mysql-db-wordpress.sql.gz");
        assert_eq!(d.file_name(Compression::Zstd), "mysql-db-wordpress.sql.zst");
        for t in ["mysql", "db-wordpress", "db", "wordpress"] {
            assert!(d.matches(t), "{t}");
        }
        assert!(!d.matches("postgres"));
        assert_eq!(d.stop_note(), "");
        let all = MysqlDatabase(MysqlTarget { database: None, all: true, ..d.0.clone() });
        assert_eq!((all.file_name(Compression::Gzip), all.database()), ("mysql-db-all.sql.gz".into(), None));
        assert!(all.matches("db-all") && all.matches("mysql") && !all.matches("wordpress"));
    }

    #[test]
    fn a_stored_dump_is_read_to_its_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            let mut z = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
            std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
            z.finish().unwrap();
            p
        };
        let body = "INSERT INTO t VALUES (1);\n".repeat(100_000);
        let whole = write("whole.sql.gz", &format!("-- MariaDB dump 10.19\n{body}\n-- Dump completed on 2026-12-06\n"));
        let (n, head, tail) = ends(&whole).unwrap();
        assert!(n > 2_000_000 && snapshot::mysql::is_dump_head(&head) && snapshot::mysql::is_dump_tail(&tail));
        let cut = write("cut.sql.gz", &format!("-- MariaDB dump 10.19\n{body}"));
        let (_, _, tail) = ends(&cut).unwrap();
        assert!(!snapshot::mysql::is_dump_tail(&tail));
    }
}
