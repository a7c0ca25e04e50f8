//! PostgreSQL base backups (`backup.postgres[].pitr`): the whole server's files as
//! `pg_basebackup` streams them (snapshot/pgbase.rs), the start of a point-in-time
//! recovery that replays the WAL archive (`ccops wal stream`) on top. A set gets one when
//! the newest local base of the service is older than `pitr.base_backup`, or when
//! `--only` names it. A plain `ccops restore` leaves it alone; `restore --to-time` uses it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{Component, Dump, Dumped, Kind, Recorded, Stored, Targets, blocking};
use crate::backup::compress;
use crate::backup::manifest::Base;
use crate::backup::sink::{Encoding, Sink};
use crate::backup::window::interruptible;
use crate::compose::Model;
use crate::config::{Compression, PostgresTarget, Settings};
use crate::docker::Engine;
use crate::output;
use crate::project::Project;
use crate::snapshot::pgbase::{self, Login};

/// The kind: `pgbase` in a manifest.
pub struct PgBase;

/// The base backup of one PITR-enabled `backup.postgres` entry.
#[derive(Debug, Clone)]
pub struct BaseBackup {
    pub target: PostgresTarget,
    /// Why it is not due (`None`: due).
    pub not_due: Option<String>,
    /// Why it is due, for the plan line.
    pub due: String,
}

/// The PITR-enabled entries of `backup.postgres`.
pub fn targets(s: &Settings) -> impl Iterator<Item = &PostgresTarget> {
    s.file.backup.postgres.iter().filter(|t| t.pitr.as_ref().is_some_and(|p| p.enabled))
}

impl Kind for PgBase {
    fn word(&self) -> &'static str {
        "pgbase"
    }

    fn config_key(&self) -> &'static str {
        "backup.postgres"
    }

    fn configured(&self, s: &Settings, _model: &Model) -> Vec<Box<dyn Component>> {
        let entries: Vec<&PostgresTarget> = targets(s).collect();
        if entries.is_empty() {
            return vec![];
        }
        let newest = newest_bases(&s.backup_dir);
        entries
            .into_iter()
            .map(|t| {
                let period = t.pitr.as_ref().map(|p| p.base_backup).unwrap_or_default();
                let age = newest
                    .iter()
                    .find(|(svc, _)| *svc == t.service)
                    .map(|(_, end)| (Utc::now() - *end).to_std().unwrap_or_default());
                let period_text = crate::util::human_duration(period);
                let (not_due, due) = match age {
                    None => (None, "no base backup here yet".to_string()),
                    Some(age) => {
                        let text = format!("the newest base backup is {} old", crate::util::human_duration(age));
                        if age < period {
                            (Some(format!("{text}, pitr.base_backup is {period_text}")), String::new())
                        } else {
                            (None, format!("{text}, older than pitr.base_backup {period_text}"))
                        }
                    }
                };
                Box::new(BaseBackup { target: t.clone(), not_due, due }) as Box<dyn Component>
            })
            .collect()
    }

    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>> {
        let svc = rec.service.unwrap_or(rec.name);
        targets(&cx.p.settings)
            .find(|t| t.service == svc)
            .map(|t| Box::new(BaseBackup { target: t.clone(), not_due: None, due: String::new() }) as Box<dyn Component>)
            .ok_or_else(|| {
                crate::usage!(
                    "backup `{}` holds a base backup of service `{svc}`, but no `backup.postgres` entry of ccops.yaml enables pitr for it",
                    cx.set_id
                )
            })
    }

    /// The tar reads whole and is a base backup: backup_label, backup_manifest, PG_VERSION.
    fn check<'a>(&'a self, file: Stored<'a>, _server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>> {
        async move {
            if file.path.to_string_lossy().ends_with(".age") {
                crate::backup::crypto::check_can_decrypt(&[file.path])?;
            }
            let f = blocking(file.path.to_path_buf(), |p| pgbase::scan(compress::open_decoded(&p)?)).await?;
            if f.start_lsn.is_none() || !f.has_manifest || !f.has_version {
                bail!("not a PostgreSQL base backup: backup_label, backup_manifest or PG_VERSION is missing");
            }
            Ok(format!("tar ok, {} entries, base backup from {}", f.entries, f.start_lsn.unwrap_or_default()))
        }
        .boxed()
    }

    fn not_restored(&self) -> Option<&'static str> {
        Some("a base backup is restored by `ccops restore --to-time` or `--to-latest`")
    }
}

impl Component for BaseBackup {
    fn kind(&self) -> &'static dyn Kind {
        &PgBase
    }

    fn name(&self) -> String {
        self.target.service.clone()
    }

    fn service(&self) -> Option<&str> {
        Some(&self.target.service)
    }

    fn file_name(&self, c: Compression) -> String {
        format!("pgbase-{}.tar{}", self.target.service, compress::extension(c))
    }

    fn describe(&self) -> String {
        let why = if self.due.is_empty() { String::new() } else { format!("; {}", self.due) };
        format!(
            "postgres base backup of service `{}` (whole server, for point-in-time recovery{why})",
            self.target.service
        )
    }

    fn describe_restore(&self) -> String {
        format!("postgres server of service `{}` (replaced whole)", self.target.service)
    }

    /// `pgbase` or `pgbase-<service>` only: `--only postgres` (the kind, or a service of
    /// that name) means the pg_dump, not a copy of the whole server.
    fn matches(&self, token: &str) -> bool {
        let t = token.trim();
        t == PgBase.word() || t.strip_prefix("pgbase-") == Some(self.target.service.as_str())
    }

    fn not_due(&self) -> Option<String> {
        self.not_due.clone()
    }

    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, _file: &'a str) -> BoxFuture<'a, Result<Dumped>> {
        async move {
            let t = &self.target;
            let s = &cx.p.settings;
            let ctr = cx.engine.running_container(&s.project, &t.service).await?;
            let login = Login::of(cx.engine, &ctr.id, t, &s.vars).await?;
            let id = pgbase::identify(cx.engine, &ctr.id, &login).await?;
            let t0 = Instant::now();
            let mut sink = Sink::create(path, Encoding::Compressed(cx.compression))?;
            let both =
                interruptible(async { Ok(pgbase::base_backup(cx.engine, &ctr.id, &login, &mut sink.writer).await) })
                    .await;
            // A file that cannot be written breaks the stream: its own error is the cause.
            let written = sink.finish().await?;
            let end_time = Utc::now();
            let (taken, found) = both?;
            taken.map_err(|e| e.context(format!("base backup of service `{}`", t.service)))?;
            let found = found.map_err(|e| anyhow!("the base backup's tar does not read: {e:#}"))?;
            output::debug(format!(
                "pg_basebackup streamed {} ({} entries) in {}",
                crate::util::human_bytes(written.bytes),
                found.entries,
                crate::util::human_duration(t0.elapsed())
            ));
            let base = base_of(&found, &id, end_time)?;
            Ok(Dumped {
                written,
                compression: compress::word(cx.compression).to_string(),
                keys: None,
                base: Some(base),
            })
        }
        .boxed()
    }

    /// Never called by a plain restore ([`Kind::not_restored`]); `restore --to-time`
    /// puts a base back with the WAL that follows it.
    fn restore<'a>(&'a self, _p: &'a Project, _engine: &'a Engine, _file: Stored<'a>) -> BoxFuture<'a, Result<()>> {
        async move { bail!("a base backup is restored by `ccops restore --to-time` or `--to-latest`") }.boxed()
    }
}

/// The manifest fields of a base backup from what its tar held.
fn base_of(f: &pgbase::Found, id: &pgbase::Identity, end_time: DateTime<Utc>) -> Result<Base> {
    let missing = |what: &str| anyhow!("the base backup's tar has no {what}; is this PostgreSQL 13 or newer?");
    if !f.has_version {
        return Err(missing("PG_VERSION"));
    }
    Ok(Base {
        timeline: f.timeline.ok_or_else(|| missing("START TIMELINE in backup_label"))?,
        start_lsn: f.start_lsn.clone().ok_or_else(|| missing("backup_label"))?,
        end_lsn: f.end_lsn.clone().ok_or_else(|| missing("WAL range in backup_manifest"))?,
        end_time,
        system_identifier: id.system_identifier.clone(),
    })
}

/// The newest base backup of each service among the local sets: (service, end time).
pub fn newest_bases(dir: &Path) -> Vec<(String, DateTime<Utc>)> {
    let mut out: Vec<(String, DateTime<Utc>)> = Vec::new();
    for set in crate::backup::layout::list(dir).unwrap_or_default() {
        let Some(m) = set.manifest.as_ref().filter(|_| set.complete) else { continue };
        for c in m.components.iter().filter(|c| c.kind.word() == PgBase.word()) {
            let (Some(svc), Some(b)) = (c.service.clone(), c.base()) else { continue };
            match out.iter_mut().find(|(s, _)| *s == svc) {
                Some(e) if e.1 < b.end_time => e.1 = b.end_time,
                Some(_) => {}
                None => out.push((svc, b.end_time)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_backup_is_named_by_its_service_and_only_its_own_words_match() {
        let t = PostgresTarget { service: "db".into(), database: "app".into(), user: "u".into(), pitr: None };
        let b = BaseBackup { target: t, not_due: None, due: String::new() };
        assert_eq!(b.file_name(Compression::Zstd), "pgbase-db.tar.zst");
        assert!(b.matches("pgbase") && b.matches("pgbase-db"));
        assert!(!b.matches("db") && !b.matches("app") && !b.matches("postgres"));
    }

    #[test]
    fn a_tar_without_its_wal_range_is_refused() {
        let id = pgbase::Identity { system_identifier: "1".into(), timeline: 1, xlogpos: "0/1".into() };
        let mut f = pgbase::Found { has_version: true, timeline: Some(1), ..Default::default() };
        f.start_lsn = Some("0/2000028".into());
        f.end_lsn = Some("0/2000100".into());
        assert_eq!(base_of(&f, &id, Utc::now()).unwrap().end_lsn, "0/2000100");
        f.end_lsn = None;
        assert!(base_of(&f, &id, Utc::now()).unwrap_err().to_string().contains("WAL range"));
    }
}
