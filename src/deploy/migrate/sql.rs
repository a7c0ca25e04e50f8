//! `sql_directory` mode: ccops applies the files itself with psql inside the postgres
//! service's container. One psql session runs the whole batch: a Postgres advisory lock
//! first (a second run waits), then each migration in its own transaction together with
//! its `schema_migrations` row (dbmate's table, so dbmate can take over) and its
//! checksum in `ccops_schema_checksums`. ON_ERROR_STOP ends the session at the first
//! error, which rolls that migration back; the ones before it stay applied.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};

use anyhow::{Result, bail};

use super::files::Migration;
use crate::config::PostgresTarget;
use crate::docker::Engine;
use crate::output;

/// pg_advisory_lock key of ccops migrations ("ccops" in ASCII).
const LOCK_KEY: i64 = 0x63_636f_7073;
const APP_NAME: &str = "ccops-migrate";

/// A migration recorded as applied in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: String,
    /// Recorded by ccops; None for migrations another tool (dbmate) applied.
    pub sha256: Option<String>,
    pub applied_at: Option<String>,
}

/// Where psql runs: the postgres container and the connection it uses.
pub struct Db<'a> {
    pub engine: &'a Engine,
    pub container: String,
    pub env: Vec<String>,
    pub target: &'a PostgresTarget,
}

impl Db<'_> {
    async fn query(&self, sql: &str) -> Result<String> {
        let t = self.target;
        let cmd = [
            "psql",
            "-X",
            "-q",
            "-tA",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "--username",
            &t.user,
            "--dbname",
            &t.database,
            "-c",
            sql,
        ];
        let (code, out, err) = self.engine.exec_capture(&self.container, &cmd, &self.env).await?;
        if code != 0 {
            bail!("psql in service `{}` failed on database `{}`: {}", t.service, t.database, err.trim());
        }
        Ok(out)
    }

    /// What `schema_migrations` (and ccops' checksums) say is applied, oldest first.
    pub async fn applied(&self) -> Result<Vec<Applied>> {
        let exists = self.query("SELECT to_regclass('schema_migrations') IS NOT NULL, to_regclass('ccops_schema_checksums') IS NOT NULL").await?;
        let (has_table, has_sums) = match exists.trim().split_once('|') {
            Some((a, b)) => (a == "t", b == "t"),
            None => (false, false),
        };
        if !has_table {
            return Ok(Vec::new());
        }
        let sql = if has_sums {
            "SELECT m.version, coalesce(c.sha256, ''), coalesce(to_char(c.applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') \
             FROM schema_migrations m LEFT JOIN ccops_schema_checksums c ON c.version = m.version ORDER BY m.version"
        } else {
            "SELECT version, '', '' FROM schema_migrations ORDER BY version"
        };
        let out = self.query(sql).await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut f = l.split('|');
                let version = f.next()?.trim().to_string();
                let sum = f.next().unwrap_or("").trim().to_string();
                let at = f.next().unwrap_or("").trim().to_string();
                (!version.is_empty()).then(|| Applied {
                    version,
                    sha256: (!sum.is_empty()).then_some(sum),
                    applied_at: (!at.is_empty()).then_some(at),
                })
            })
            .collect())
    }

    /// Apply `pending` in order. Returns the versions applied; on failure, the error
    /// names the migration that failed and what the ones before it did.
    pub async fn apply(&self, pending: &[&Migration], applied_by: &str) -> Result<Vec<String>> {
        let t = self.target;
        let script = script(pending, applied_by);
        let cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--username", &t.user, "--dbname", &t.database];
        let mut env = self.env.clone();
        env.push(format!("PGAPPNAME={APP_NAME}"));
        let mut log = LineLog::default();
        let input = std::io::Cursor::new(script.into_bytes());
        let outcome = {
            let run = self.engine.exec_stream(&self.container, &cmd, &env, &mut log, Some(input));
            tokio::pin!(run);
            tokio::select! {
                r = &mut run => r,
                _ = crate::util::wait_interrupt() => {
                    // The exec goes on without us: end its session, which rolls back the
                    // migration in progress.
                    output::warn("stopping the migration in progress (its transaction is rolled back)");
                    let kill = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{APP_NAME}'");
                    let _ = self.query(&kill).await;
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), &mut run).await;
                    return Err(crate::error::Interrupted.into());
                }
            }
        };
        let o = outcome?;
        let done: Vec<String> =
            log.lines.iter().filter_map(|l| l.strip_prefix("ccops: applied ")).map(String::from).collect();
        if o.exit_code != 0 {
            let failed = log
                .lines
                .iter()
                .filter_map(|l| l.strip_prefix("ccops: applying "))
                .next_back()
                .filter(|f| !done.iter().any(|d| d == f));
            let err = o
                .stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.trim_start_matches("psql:<stdin>:"))
                .collect::<Vec<_>>();
            let err = err[err.len().saturating_sub(3)..].join(" / ");
            let before = if done.is_empty() {
                "no migration was applied".to_string()
            } else {
                format!("applied before it: {}", done.join(", "))
            };
            match failed {
                Some(f) => bail!("migration `{f}` failed and was rolled back ({before}): {err}"),
                None => bail!("the migration run failed ({before}): {err}"),
            }
        }
        Ok(pending.iter().filter(|m| done.contains(&m.name)).map(|m| m.version.clone()).collect())
    }
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The psql script that applies `pending` (see the module comment).
pub fn script(pending: &[&Migration], applied_by: &str) -> String {
    let mut s = String::new();
    s.push_str("SET client_min_messages = warning;\n");
    s.push_str("CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY);\n");
    s.push_str(
        "CREATE TABLE IF NOT EXISTS ccops_schema_checksums (version varchar(128) PRIMARY KEY, name text NOT NULL, \
         sha256 char(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT '');\n",
    );
    s.push_str(&format!("SELECT NOT pg_try_advisory_lock({LOCK_KEY}) AS ccops_busy \\gset\n"));
    s.push_str("\\if :ccops_busy\n\\echo ccops: another migration run holds the lock; waiting for it\n");
    s.push_str(&format!("DO $$ BEGIN PERFORM pg_advisory_lock({LOCK_KEY}); END $$;\n\\endif\n"));
    // Checked again under the lock: another run may have applied some meanwhile.
    let versions: Vec<String> = pending.iter().map(|m| literal(&m.version)).collect();
    if !versions.is_empty() {
        s.push_str(&format!(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM schema_migrations WHERE version IN ({})) THEN \
             RAISE EXCEPTION 'another run applied some of these migrations meanwhile; run ccops migrate again'; END IF; END $$;\n",
            versions.join(", ")
        ));
    }
    for m in pending {
        s.push_str(&format!("\\echo ccops: applying {}\n", m.name));
        if m.transaction {
            s.push_str("BEGIN;\n");
        }
        s.push_str(m.up.trim_end());
        s.push_str("\n;\n");
        s.push_str(&format!("INSERT INTO schema_migrations (version) VALUES ({});\n", literal(&m.version)));
        s.push_str(&format!(
            "INSERT INTO ccops_schema_checksums (version, name, sha256, applied_by) VALUES ({}, {}, {}, {}) \
             ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, sha256 = EXCLUDED.sha256, applied_at = now(), applied_by = EXCLUDED.applied_by;\n",
            literal(&m.version),
            literal(&m.name),
            literal(&m.sha256),
            literal(applied_by)
        ));
        if m.transaction {
            s.push_str("COMMIT;\n");
        }
        s.push_str(&format!("\\echo ccops: applied {}\n", m.name));
    }
    s
}

/// An exec's stdout, printed line by line as it comes (psql `\echo` progress).
#[derive(Default)]
struct LineLog {
    partial: Vec<u8>,
    lines: Vec<String>,
}

impl tokio::io::AsyncWrite for LineLog {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut TaskCx<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if !line.is_empty() {
                output::status(format!("    {}", line.strip_prefix("ccops: ").unwrap_or(&line)));
                self.lines.push(line);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskCx<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskCx<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Versions applied in the database but changed on disk since: (migration, recorded sum).
pub fn changed<'a>(files: &'a [Migration], applied: &[Applied]) -> Vec<(&'a Migration, String)> {
    let sums: BTreeMap<&str, &str> =
        applied.iter().filter_map(|a| a.sha256.as_deref().map(|s| (a.version.as_str(), s))).collect();
    files
        .iter()
        .filter_map(|m| sums.get(m.version.as_str()).filter(|s| **s != m.sha256).map(|s| (m, s.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &str, body: &str, tx: bool) -> Migration {
        Migration {
            version: v.into(),
            name: format!("{v}_x"),
            path: "x".into(),
            up: body.into(),
            down: None,
            transaction: tx,
            sha256: "a".repeat(64),
        }
    }

    #[test]
    fn script_locks_then_wraps_each_migration_with_its_records() {
        let a = m("20240101000000", "CREATE TABLE t (x int)", true);
        let b = m("20240201000000", "CREATE INDEX CONCURRENTLY i ON t (x);", false);
        let s = script(&[&a, &b], "o'brien@host");
        let lock = s.find("pg_try_advisory_lock").unwrap();
        let first = s.find("\\echo ccops: applying 20240101000000_x").unwrap();
        assert!(lock < first);
        let seg = &s[first..s.find("\\echo ccops: applied 20240101000000_x").unwrap()];
        assert!(
            seg.contains(
                "BEGIN;\nCREATE TABLE t (x int)\n;\nINSERT INTO schema_migrations (version) VALUES ('20240101000000');"
            ),
            "{seg}"
        );
        assert!(seg.trim_end().ends_with("COMMIT;"), "{seg}");
        assert!(s.contains("'o''brien@host'"));
        let seg_b = &s[s.find("applying 20240201000000_x").unwrap()..];
        assert!(!seg_b.contains("BEGIN;"), "transaction:false runs bare: {seg_b}");
        assert!(s.contains("WHERE version IN ('20240101000000', '20240201000000')"));
    }

    #[test]
    fn finds_changed_files_by_their_recorded_checksum() {
        let files = vec![m("1", "x", true), m("2", "y", true), m("3", "z", true)];
        let applied = vec![
            Applied { version: "1".into(), sha256: Some("a".repeat(64)), applied_at: None },
            Applied { version: "2".into(), sha256: Some("b".repeat(64)), applied_at: None },
            Applied { version: "3".into(), sha256: None, applied_at: None },
        ];
        let c = changed(&files, &applied);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0.version, "2");
    }
}
