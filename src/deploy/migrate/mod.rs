//! Database migrations (`migrate:` in ccops.yaml), in one of two modes: `command` (the
//! application's tool in a one-off container of the image being deployed) or
//! `sql_directory` (dbmate-style files ccops applies itself through psql). Both report
//! a status, and a "schema marker" the release history keeps to tell a rollback when
//! the database is newer than the release it goes back to.

pub mod command;
pub mod files;
mod job;
pub mod sql;

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;

use super::record::MigrationRecord;
use crate::compose::Compose;
use crate::config::{PostgresTarget, Settings};
use crate::docker::Engine;
use crate::output;

pub enum Mode {
    Sql { dir: PathBuf, db: PostgresTarget },
    Command { service: String, command: Vec<String>, status: Vec<String> },
}

impl Mode {
    pub fn word(&self) -> &'static str {
        match self {
            Mode::Sql { .. } => "sql",
            Mode::Command { .. } => "command",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Mode::Sql { dir, db } => {
                format!("SQL files in `{}` on database `{}` of service `{}`", dir.display(), db.database, db.service)
            }
            Mode::Command { service, command, .. } => format!("`{}` in a new `{service}` container", command.join(" ")),
        }
    }
}

/// The configured mode, or None without a `migrate:` section. A half-configured one is a
/// configuration error (exit 2).
pub fn mode(s: &Settings) -> Result<Option<Mode>> {
    let Some(m) = &s.file.migrate else { return Ok(None) };
    let file = s.config_file.display();
    match (&m.sql_directory, m.command.is_empty()) {
        (Some(_), false) => Err(crate::usage!("{file}: `migrate` has both `sql_directory` and `command`; keep one")),
        (Some(dir), true) => {
            let db = match (&m.database, s.file.backup.postgres.as_slice()) {
                (Some(d), _) => d.clone(),
                (None, [only]) => only.clone(),
                (None, _) => {
                    return Err(crate::usage!(
                        "{file}: `migrate.sql_directory` needs `migrate.database` ({{ service, database, user }})"
                    ));
                }
            };
            Ok(Some(Mode::Sql { dir: s.resolve_path(dir), db }))
        }
        (None, false) => match &m.service {
            Some(svc) => Ok(Some(Mode::Command {
                service: svc.clone(),
                command: m.command.clone(),
                status: m.status_command.clone(),
            })),
            None => {
                Err(crate::usage!("{file}: `migrate.command` needs `migrate.service`, the service whose image runs it"))
            }
        },
        (None, true) => Err(crate::usage!("{file}: `migrate` needs `command` (with `service`) or `sql_directory`")),
    }
}

/// One migration in a status listing (sql_directory mode).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub version: String,
    pub name: String,
    /// applied, pending, changed (applied, file edited since), no-file (applied, file gone)
    pub state: &'static str,
    pub applied_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub mode: &'static str,
    /// The newest applied version (sql), or the last line of the status command.
    pub marker: Option<String>,
    pub rows: Vec<Row>,
    /// The status command's output (command mode).
    pub output: Vec<String>,
    /// Nothing pending and nothing changed (sql), or the status command exited 0.
    pub up_to_date: bool,
}

impl Status {
    pub fn pending(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.state == "pending").collect()
    }
}

async fn db<'a>(engine: &'a Engine, project: &str, target: &'a PostgresTarget) -> Result<sql::Db<'a>> {
    let c = engine.running_container(project, &target.service).await?;
    let env = crate::snapshot::postgres::exec_env(engine, &c.id).await?;
    Ok(sql::Db { engine, container: c.id, env, target })
}

/// Where the database stands. `compose` carries the version whose tool runs (command mode).
pub async fn status(compose: &Compose, engine: &Engine, mode: &Mode) -> Result<Status> {
    match mode {
        Mode::Sql { dir, db: target } => {
            let files = files::load(dir)?;
            let applied = db(engine, &compose.project, target).await?.applied().await?;
            let changed = sql::changed(&files, &applied);
            let mut rows: Vec<Row> = Vec::new();
            for f in &files {
                let a = applied.iter().find(|a| a.version == f.version);
                let state = match a {
                    None => "pending",
                    Some(_) if changed.iter().any(|(c, _)| c.version == f.version) => "changed",
                    Some(_) => "applied",
                };
                rows.push(Row {
                    version: f.version.clone(),
                    name: f.name.clone(),
                    state,
                    applied_at: a.and_then(|a| a.applied_at.clone()),
                });
            }
            for a in applied.iter().filter(|a| !files.iter().any(|f| f.version == a.version)) {
                rows.push(Row {
                    version: a.version.clone(),
                    name: String::new(),
                    state: "no-file",
                    applied_at: a.applied_at.clone(),
                });
            }
            rows.sort_by(|a, b| a.version.cmp(&b.version));
            let up_to_date = rows.iter().all(|r| r.state == "applied" || r.state == "no-file");
            Ok(Status {
                mode: "sql",
                marker: applied.last().map(|a| a.version.clone()),
                rows,
                output: vec![],
                up_to_date,
            })
        }
        Mode::Command { service, status: cmd, .. } => {
            if cmd.is_empty() {
                return Ok(Status { mode: "command", marker: None, rows: vec![], output: vec![], up_to_date: true });
            }
            let (code, lines) = command::status(compose, engine, service, cmd).await?;
            let marker = lines.iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string());
            Ok(Status { mode: "command", marker, rows: vec![], output: lines, up_to_date: code == 0 })
        }
    }
}

/// Apply what is pending; the record holds the schema before and after.
pub async fn apply(compose: &Compose, engine: &Engine, mode: &Mode) -> Result<MigrationRecord> {
    let mut rec = MigrationRecord { mode: mode.word().into(), ..Default::default() };
    match mode {
        Mode::Sql { dir, db: target } => {
            let files = files::load(dir)?;
            let db = db(engine, &compose.project, target).await?;
            let applied = db.applied().await?;
            rec.before = applied.last().map(|a| a.version.clone());
            let changed = sql::changed(&files, &applied);
            if let Some((m, was)) = changed.first() {
                bail!(
                    "migration `{}` was changed after it was applied (sha256 then {}, now {}); an applied migration must not change: restore the file and put the change in a new migration",
                    m.path.display(),
                    &was[..12.min(was.len())],
                    &m.sha256[..12]
                );
            }
            let pending: Vec<&files::Migration> =
                files.iter().filter(|f| !applied.iter().any(|a| a.version == f.version)).collect();
            if pending.is_empty() {
                output::status("  no pending migration");
                rec.after = rec.before.clone();
                return Ok(rec);
            }
            if let Some(newest) = applied.last() {
                for p in pending.iter().filter(|p| p.version < newest.version) {
                    output::warn(format!(
                        "migration `{}` is older than the newest applied ({}); applying it anyway",
                        p.name, newest.version
                    ));
                }
            }
            output::status(format!(
                "  {} pending: {}",
                pending.len(),
                pending.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
            rec.applied = db.apply(&pending, &crate::util::operator()).await?;
            rec.after = db.applied().await?.last().map(|a| a.version.clone());
        }
        Mode::Command { service, command: cmd, status: status_cmd } => {
            if !status_cmd.is_empty() {
                rec.before = status(compose, engine, mode).await?.marker;
            }
            output::status(format!("  running `{}` in a new `{service}` container", cmd.join(" ")));
            command::apply(compose, engine, service, cmd).await?;
            if !status_cmd.is_empty() {
                rec.after = status(compose, engine, mode).await?.marker;
            }
        }
    }
    Ok(rec)
}

/// Why the database may be too new for a release recorded with `then`, if it may.
pub fn newer_than(now: &Status, then: &MigrationRecord) -> Option<String> {
    match now.mode {
        "sql" => {
            let newer: Vec<&str> = now
                .rows
                .iter()
                .filter(|r| r.state != "pending" && then.after.as_deref().is_none_or(|a| r.version.as_str() > a))
                .map(|r| if r.name.is_empty() { r.version.as_str() } else { r.name.as_str() })
                .collect();
            (!newer.is_empty()).then(|| format!("the database has migrations applied after it: {}", newer.join(", ")))
        }
        _ => match (&now.marker, &then.after) {
            (Some(n), Some(t)) if n != t => Some(format!("the migration status was `{t}` then and is `{n}` now")),
            _ => None,
        },
    }
}
