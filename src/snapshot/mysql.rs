//! MySQL and MariaDB: `mariadb-dump` (or `mysqldump`, whichever the container has) of one
//! database inside the service's container, streamed out in one transaction without
//! stopping the server; restored by piping the dump into the `mariadb`/`mysql` client.
//! The password reaches the tools as MYSQL_PWD in the exec's environment, never in argv.
//!
//! MySQL has no RENAME DATABASE, and RENAME TABLE moves neither views nor tables with
//! triggers across databases, nor routines or events: a restore cannot load a side copy
//! and swap it in as PostgreSQL's does. It replaces the database in place (the dump
//! recreates it), after the safety backup the restore takes of it.

use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::{env_value, last_lines};
use crate::config::MysqlTarget;
use crate::docker::Engine;

/// The dump tools, newest name first (MariaDB 11 has no `mysqldump` any more).
pub const DUMP_TOOLS: &[&str] = &["mariadb-dump", "mysqldump"];
/// The clients a restore pipes the dump into.
pub const CLIENTS: &[&str] = &["mariadb", "mysql"];

/// How a dump starts: mariadb-dump and mysqldump name themselves on the first comment
/// line (MariaDB 11 puts a sandbox-mode line before it).
const HEADS: &[&str] = &["-- MariaDB dump", "-- MySQL dump"];
/// The last comment of a dump that ran to its end.
const FOOTER: &str = "-- Dump completed";

/// Bytes kept of a dump's start and end to check them.
const HEAD_BYTES: usize = 4096;
const TAIL_BYTES: usize = 512;

/// The first of `tools` the container has (its `--version` answers).
pub async fn tool(engine: &Engine, container: &str, tools: &[&'static str]) -> Result<&'static str> {
    for t in tools {
        if let Ok((0, _, _)) = engine.exec_capture(container, &[t, "--version"], &[]).await {
            return Ok(t);
        }
    }
    bail!("the container has none of {}; back up with an image that ships the MySQL/MariaDB client", tools.join(", "))
}

/// The password of `t.user`: `resolved` (the value of `password_variable` among ccops'
/// variables), else that variable in the container's environment, else the container's
/// MARIADB_/MYSQL_ password of that user. None: no password (socket authentication).
pub async fn password(
    engine: &Engine,
    container: &str,
    t: &MysqlTarget,
    resolved: Option<&str>,
) -> Result<Option<String>> {
    if let Some(pw) = resolved {
        return Ok(Some(pw.to_string()));
    }
    let env = engine.container_env(container).await?;
    let found = match &t.password_variable {
        Some(var) => match env_value(&env, var) {
            Some(pw) => Some(pw),
            None => bail!(
                "backup.mysql of service `{}`: password_variable `{var}` is set neither in the env file, the environment nor the container; set it",
                t.service
            ),
        },
        None => {
            let names: &[&str] = if t.user == "root" {
                &["MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"]
            } else if [env_value(&env, "MARIADB_USER"), env_value(&env, "MYSQL_USER")].contains(&Some(&t.user)) {
                &["MARIADB_PASSWORD", "MYSQL_PASSWORD"]
            } else {
                &[]
            };
            names.iter().find_map(|n| env_value(&env, n))
        }
    };
    let found = found.filter(|p| !p.is_empty()).map(String::from);
    crate::output::add_secrets(found.clone());
    Ok(found)
}

fn login_env(password: Option<&str>) -> Vec<String> {
    password.map(|p| vec![format!("MYSQL_PWD={p}")]).unwrap_or_default()
}

/// The schemas of the server itself, never dumped or dropped by `all`.
const SYSTEM: &[&str] = &["mysql", "sys", "information_schema", "performance_schema"];

/// Stream a dump of `t.database` (or, with `all`, of every database but the server's
/// own, each preceded by its `DROP DATABASE`) into `out`, in one transaction (InnoDB
/// tables are read as of its start while the server keeps serving). The tool's exit
/// status decides, and the stream must start as a dump and end with its completion comment.
pub async fn dump<W: AsyncWrite + Unpin>(
    engine: &Engine,
    container: &str,
    t: &MysqlTarget,
    password: Option<&str>,
    out: &mut W,
) -> Result<()> {
    let tool = tool(engine, container, DUMP_TOOLS).await?;
    let databases = match &t.database {
        Some(db) => vec![db.clone()],
        None => user_databases(engine, container, t, password).await?,
    };
    let mut cmd = vec![
        tool,
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--no-tablespaces",
        "--user",
        &t.user,
    ];
    if t.all {
        cmd.push("--add-drop-database");
    }
    cmd.push("--databases");
    cmd.extend(databases.iter().map(String::as_str));
    let mut w = Ends { inner: out, ends: DumpEnds::default() };
    let o = engine.exec_stream(container, &cmd, &login_env(password), &mut w, None::<tokio::io::Empty>).await?;
    if o.exit_code != 0 {
        bail!(
            "{tool} of database `{}` in service `{}` failed (exit {}): {}",
            t.label(),
            t.service,
            o.exit_code,
            last_lines(&o.stderr)
        );
    }
    if !is_dump_head(&w.ends.head) {
        bail!("{tool} of database `{}` wrote no dump header", t.label());
    }
    if !is_dump_tail(&w.ends.tail) {
        bail!("{tool} of database `{}` ended without `{FOOTER}`: the dump is cut short", t.label());
    }
    Ok(())
}

/// The databases of the server besides its own schemas.
async fn user_databases(
    engine: &Engine,
    container: &str,
    t: &MysqlTarget,
    password: Option<&str>,
) -> Result<Vec<String>> {
    let out = query(engine, container, t, password, "SHOW DATABASES").await?;
    let dbs: Vec<String> =
        out.lines().map(str::trim).filter(|d| !d.is_empty() && !SYSTEM.contains(d)).map(String::from).collect();
    if dbs.is_empty() {
        bail!("service `{}` holds no database besides the server's own; nothing to dump", t.service);
    }
    Ok(dbs)
}

/// Whether a stream's first bytes are those of a mariadb-dump/mysqldump file.
pub fn is_dump_head(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(HEAD_BYTES)]);
    text.lines().take(3).any(|l| HEADS.iter().any(|h| l.starts_with(h)))
}

/// Whether a stream's last bytes hold the completion comment on its last line.
pub fn is_dump_tail(tail: &[u8]) -> bool {
    let text = String::from_utf8_lossy(tail);
    text.lines().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with(FOOTER))
}

/// Replace `t.database` with the dump read from `src`: the database is dropped, and the
/// dump recreates it (its `CREATE DATABASE` and `USE`); an `all` dump drops each of its
/// databases itself. On a failure the database may be partly loaded; the error says so.
pub async fn restore<R: AsyncRead + Unpin + Send + 'static>(
    engine: &Engine,
    container: &str,
    t: &MysqlTarget,
    password: Option<&str>,
    src: R,
) -> Result<()> {
    let client = tool(engine, container, CLIENTS).await?;
    let first = t.database.as_deref().map(|db| format!("DROP DATABASE IF EXISTS {};\n", ident(db))).unwrap_or_default();
    let input = std::io::Cursor::new(first.into_bytes()).chain(src);
    let cmd = [client, "--user", &t.user];
    let o = engine.exec_stream(container, &cmd, &login_env(password), &mut tokio::io::sink(), Some(input)).await?;
    if o.exit_code != 0 {
        bail!(
            "loading the dump into database `{}` of service `{}` failed (exit {}): {}; the database may be partly restored: the safety backup taken before holds what it held",
            t.label(),
            t.service,
            o.exit_code,
            last_lines(&o.stderr)
        );
    }
    Ok(())
}

/// Tables and their row counts, `table=count` sorted by name (for the log).
pub async fn row_counts(engine: &Engine, container: &str, t: &MysqlTarget, password: Option<&str>) -> Result<String> {
    let sql = format!(
        "SELECT GROUP_CONCAT(CONCAT(table_schema, '.', table_name, '=', table_rows) ORDER BY table_schema, table_name) FROM information_schema.tables WHERE {}",
        schemas(t)
    );
    query(engine, container, t, password, &sql).await
}

/// The bytes of the tables and indexes a dump of `t` covers, as the server counts them.
pub async fn size(engine: &Engine, container: &str, t: &MysqlTarget, password: Option<&str>) -> Result<u64> {
    let sql = format!(
        "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE {}",
        schemas(t)
    );
    Ok(query(engine, container, t, password, &sql).await?.parse().unwrap_or(0))
}

/// One statement through the client as `t.user`; its output, tab-separated, trimmed.
pub async fn query(
    engine: &Engine,
    container: &str,
    t: &MysqlTarget,
    password: Option<&str>,
    sql: &str,
) -> Result<String> {
    let client = tool(engine, container, CLIENTS).await?;
    let cmd = [client, "--user", &t.user, "-N", "-B", "-e", sql];
    let (code, out, err) = engine.exec_capture(container, &cmd, &login_env(password)).await?;
    if code != 0 {
        bail!(
            "cannot connect to database `{}` as user `{}` in service `{}`: {}",
            t.label(),
            t.user,
            t.service,
            last_lines(&err)
        );
    }
    Ok(out.trim().to_string())
}

/// The `information_schema.tables` condition for the schemas a dump of `t` covers.
fn schemas(t: &MysqlTarget) -> String {
    match &t.database {
        Some(db) => format!("table_schema = {}", literal(db)),
        None => format!("table_schema NOT IN ({})", SYSTEM.iter().map(|s| literal(s)).collect::<Vec<_>>().join(", ")),
    }
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// The first [`HEAD_BYTES`] and the last [`TAIL_BYTES`] of a stream of any length: what
/// [`is_dump_head`] and [`is_dump_tail`] look at, in the memory of those two.
#[derive(Debug, Default)]
pub struct DumpEnds {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
}

impl DumpEnds {
    /// Take the stream's next bytes into account.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.tail.extend_from_slice(&bytes[bytes.len().saturating_sub(TAIL_BYTES)..]);
        let over = self.tail.len().saturating_sub(TAIL_BYTES);
        self.tail.drain(..over);
    }
}

/// A writer that passes everything on and keeps its [`DumpEnds`].
struct Ends<'a, W> {
    inner: &'a mut W,
    ends: DumpEnds,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Ends<'_, W> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut *me.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            me.ends.push(&buf[..*n]);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[test]
    fn dumps_are_known_by_their_first_and_last_lines() {
        assert!(is_dump_head(b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n"));
        assert!(is_dump_head(b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19-11.4\n"));
        assert!(is_dump_head(b"-- MySQL dump 10.13  Distrib 8.0.36, for Linux\n"));
        assert!(!is_dump_head(b"PGDMP") && !is_dump_head(b""));
        assert!(is_dump_tail(b"SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-12-06  1:02:03\n"));
        assert!(!is_dump_tail(b"-- Dump completed on 2026\nINSERT INTO t VALUES (1);\n"));
        assert!(!is_dump_tail(b"INSERT INTO t VALUES (1"));
    }

    #[tokio::test]
    async fn the_writer_keeps_both_ends_of_what_passes() {
        let mut out = Vec::new();
        let mut w = Ends { inner: &mut out, ends: DumpEnds::default() };
        for i in 0..2000u32 {
            w.write_all(format!("line {i}\n").as_bytes()).await.unwrap();
        }
        let (head, tail) = (w.ends.head.clone(), w.ends.tail.clone());
        assert_eq!((head.len(), tail.len()), (HEAD_BYTES, TAIL_BYTES));
        assert!(out.starts_with(&head) && out.ends_with(&tail));
        assert_eq!(ident("a`b"), "`a``b`");
    }
}
