//! PostgreSQL: `pg_dump -Fc` inside the service's container, streamed out; restore into
//! a new database first, and swap it with the live one only when it is complete, so a
//! failed restore leaves the live database as it was.

use anyhow::{Result, bail};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{env_value, last_lines};
use crate::config::PostgresTarget;
use crate::docker::Engine;
use crate::state::{self, Entry, PgSide};

/// Connection environment for commands run in the postgres container: the container's
/// own POSTGRES_PASSWORD serves as PGPASSWORD when the server asks for one.
pub async fn exec_env(engine: &Engine, container: &str) -> Result<Vec<String>> {
    let env = engine.container_env(container).await?;
    let mut out = Vec::new();
    if env_value(&env, "PGPASSWORD").is_none() {
        if let Some(pw) = env_value(&env, "POSTGRES_PASSWORD") {
            out.push(format!("PGPASSWORD={pw}"));
        }
    }
    Ok(out)
}

/// Stream `pg_dump -Fc` of the target database into `out`. pg_dump's exit status decides.
pub async fn dump<W: AsyncWrite + Unpin>(
    engine: &Engine,
    container: &str,
    t: &PostgresTarget,
    out: &mut W,
) -> Result<()> {
    let env = exec_env(engine, container).await?;
    let cmd = ["pg_dump", "--format=custom", "--username", &t.user, "--dbname", &t.database];
    let o = engine.exec_stream(container, &cmd, &env, out, None::<tokio::io::Empty>).await?;
    if o.exit_code != 0 {
        bail!(
            "pg_dump of database `{}` in service `{}` failed (exit {}): {}",
            t.database,
            t.service,
            o.exit_code,
            last_lines(&o.stderr)
        );
    }
    Ok(())
}

/// [`dump`], with `pg_restore --list` reading the same stream as it passes: the archive's
/// header and table of contents read whole. This needs no read-back of the file, so it
/// also holds for a file encrypted to a key this host does not have. Returns the dump's
/// outcome and, apart, the listing's entry count (the dump's failure is the one to report).
pub async fn dump_listed<W: AsyncWrite + Unpin>(
    engine: &Engine,
    container: &str,
    t: &PostgresTarget,
    out: &mut W,
) -> (Result<()>, Result<usize>) {
    let (mut tee, copy) = super::tee::tee(out);
    let dumped = async move {
        let r = dump(engine, container, t, &mut tee).await;
        drop(tee);
        r
    };
    tokio::join!(dumped, list(engine, container, copy))
}

/// `pg_restore --list` over a dump: proves the archive reads whole. Returns its entry count.
pub async fn list<R: AsyncRead + Unpin + Send + 'static>(engine: &Engine, container: &str, dump: R) -> Result<usize> {
    let mut out = Vec::new();
    let o = engine.exec_stream(container, &["pg_restore", "--list"], &[], &mut out, Some(dump)).await?;
    if o.exit_code != 0 {
        bail!("pg_restore cannot read the dump: {}", last_lines(&o.stderr));
    }
    Ok(String::from_utf8_lossy(&out).lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty()).count())
}

/// How the dump to restore is fed in.
pub enum Source<R> {
    /// A pg_dump custom-format archive (pg_restore).
    Custom(R),
    /// Plain SQL (psql), as the legacy backups hold.
    Sql(R),
}

/// Restore into `<db>_ccops_restore`, then swap it with the live database. Each phase is
/// in the journal of `state_dir` first, so a killed ccops is put right by the next run
/// ([`recover`]); `project` finds the service's container then.
pub async fn restore<R: AsyncRead + Unpin + Send + 'static>(
    engine: &Engine,
    container: &str,
    t: &PostgresTarget,
    src: Source<R>,
    project: &str,
    state_dir: &std::path::Path,
) -> Result<()> {
    let env = exec_env(engine, container).await?;
    let db = &t.database;
    let side = PgSide {
        project: project.to_string(),
        service: t.service.clone(),
        user: t.user.clone(),
        database: db.clone(),
        staging: side_name(db, "restore"),
        old: side_name(db, "old"),
    };
    let (staging, old) = (&side.staging, &side.old);
    let admin = |sql: String| {
        let env = env.clone();
        let user = t.user.clone();
        async move { psql(engine, container, &env, &user, "postgres", &sql).await }
    };
    let loading = Entry::PostgresStaging(side.clone());
    state::journal_add(state_dir, std::slice::from_ref(&loading))?;
    let forget = |e: Entry| state::journal_remove(state_dir, &[e]);
    let created = async {
        admin(format!("DROP DATABASE IF EXISTS {}", ident(staging))).await?;
        admin(format!("CREATE DATABASE {} OWNER {} TEMPLATE template0", ident(staging), ident(&t.user))).await
    }
    .await;
    if let Err(e) = created {
        forget(loading)?;
        return Err(e);
    }

    let loaded = match src {
        Source::Custom(r) => {
            let cmd = ["pg_restore", "--exit-on-error", "--no-owner", "--username", &t.user, "--dbname", staging];
            engine.exec_stream(container, &cmd, &env, &mut tokio::io::sink(), Some(r)).await
        }
        Source::Sql(r) => {
            let cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--username", &t.user, "--dbname", staging];
            engine.exec_stream(container, &cmd, &env, &mut tokio::io::sink(), Some(r)).await
        }
    };
    let failure = match loaded {
        Ok(o) if o.exit_code == 0 => None,
        Ok(o) => Some(format!("exit {}: {}", o.exit_code, last_lines(&o.stderr))),
        Err(e) => Some(format!("{e:#}")),
    };
    if crate::util::interrupted() || failure.is_some() {
        if admin(format!("DROP DATABASE IF EXISTS {}", ident(staging))).await.is_ok() {
            forget(loading)?;
        }
        crate::util::check_interrupt()?;
        bail!("restoring database `{db}` failed ({}); the live database was not touched", failure.unwrap_or_default());
    }
    state::failpoint("postgres-loaded");

    // The copy is complete: swap. Clients of the live database are disconnected first.
    let swapping = Entry::PostgresSwap(side.clone());
    state::journal_replace(state_dir, &loading, swapping.clone())?;
    let terminate = |name: &str| {
        format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
            literal(name)
        )
    };
    let drop_staging = || admin(format!("DROP DATABASE IF EXISTS {}", ident(staging)));
    for attempt in 0..5 {
        let renamed = match admin(terminate(db)).await {
            Ok(_) => admin(format!("ALTER DATABASE {} RENAME TO {}", ident(db), ident(old))).await,
            Err(e) => Err(e),
        };
        match renamed {
            Ok(_) => break,
            Err(e) if attempt == 4 => {
                if drop_staging().await.is_ok() {
                    forget(swapping)?;
                }
                return Err(e.context(format!(
                    "cannot take database `{db}` offline to replace it; the live database is untouched"
                )));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(300)).await,
        }
    }
    state::failpoint("postgres-old-renamed");
    if let Err(e) = admin(format!("ALTER DATABASE {} RENAME TO {}", ident(staging), ident(db))).await {
        // Put the live database back under its name before reporting.
        let back = admin(format!("ALTER DATABASE {} RENAME TO {}", ident(old), ident(db))).await;
        if back.is_ok() && drop_staging().await.is_ok() {
            forget(swapping)?;
        }
        return Err(match back {
            Ok(_) => e.context(format!("cannot put the restored copy in place of `{db}`; the live database is untouched")),
            Err(_) => e.context(format!("cannot put the restored copy in place of `{db}`; the live database is now named `{old}`: the next ccops run renames it back")),
        });
    }
    let swapped = Entry::PostgresSwapped(side.clone());
    state::journal_replace(state_dir, &swapping, swapped.clone())?;
    state::failpoint("postgres-swapped");
    admin(terminate(old)).await.ok();
    if let Err(e) = admin(format!("DROP DATABASE IF EXISTS {}", ident(old))).await {
        crate::output::warn(format!(
            "the previous database was kept as `{old}` (cannot drop it: {e:#}); drop it by hand when done"
        ));
    }
    forget(swapped)
}

/// Put right a database restore a killed ccops left. Before the swap was complete the
/// previous database gets its name back and the staging copy is dropped; after it
/// (`finish`), the previous copy is dropped. Returns what was done.
pub async fn recover(engine: &Engine, side: &PgSide, finish: bool) -> Result<String> {
    let ctr = engine.running_container(&side.project, &side.service).await.map_err(|e| {
        e.context(format!("database `{}` needs its service `{}` running to be put right", side.database, side.service))
    })?;
    let env = exec_env(engine, &ctr.id).await?;
    let admin = |sql: String| {
        let env = env.clone();
        let ctr = ctr.id.clone();
        async move { psql(engine, &ctr, &env, &side.user, "postgres", &sql).await }
    };
    let (db, staging, old) = (&side.database, &side.staging, &side.old);
    let names = [db, staging, old].map(|n| literal(n)).join(", ");
    let present = admin(format!("SELECT datname FROM pg_database WHERE datname IN ({names})")).await?;
    let exists = |n: &str| present.lines().any(|l| l.trim() == n);
    let terminate = |name: &str| {
        admin(format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
            literal(name)
        ))
    };
    let drop = |name: &str| {
        let (terminated, name) = (terminate(name), name.to_string());
        async move {
            terminated.await?;
            admin(format!("DROP DATABASE IF EXISTS {}", ident(&name))).await
        }
    };
    if finish {
        drop(old).await?;
        return Ok(format!(
            "database `{db}` keeps its restored data (it was complete); the previous copy `{old}` was dropped"
        ));
    }
    if exists(old) {
        if exists(db) {
            if exists(staging) {
                bail!(
                    "databases `{db}`, `{staging}` and `{old}` all exist; decide by hand which one to keep as `{db}`"
                );
            }
            // The restored copy was already in place: move it out of the way again.
            terminate(db).await?;
            admin(format!("ALTER DATABASE {} RENAME TO {}", ident(db), ident(staging))).await?;
        }
        admin(format!("ALTER DATABASE {} RENAME TO {}", ident(old), ident(db))).await?;
    }
    drop(staging).await?;
    Ok(format!("database `{db}` has its previous data back (the restore into it was killed)"))
}

/// Rows in every user table, as `table=count` lines sorted by name (for verification).
pub async fn row_counts(engine: &Engine, container: &str, t: &PostgresTarget) -> Result<String> {
    let env = exec_env(engine, container).await?;
    let sql = "SELECT string_agg(format('%I.%I=%s', schemaname, relname, n_live_tup), ',' ORDER BY schemaname, relname) FROM pg_stat_user_tables";
    psql(engine, container, &env, &t.user, &t.database, sql).await
}

async fn psql(engine: &Engine, container: &str, env: &[String], user: &str, db: &str, sql: &str) -> Result<String> {
    let cmd = ["psql", "-X", "-tAq", "-v", "ON_ERROR_STOP=1", "--username", user, "--dbname", db, "-c", sql];
    let (code, out, err) = engine.exec_capture(container, &cmd, env).await?;
    if code != 0 {
        bail!(
            "`{}` failed in database `{db}`: {}",
            sql.split_whitespace().take(4).collect::<Vec<_>>().join(" "),
            last_lines(&err)
        );
    }
    Ok(out.trim().to_string())
}

/// `<db>_ccops_<what>`, kept within Postgres' 63-byte identifier limit.
fn side_name(db: &str, what: &str) -> String {
    let suffix = format!("_ccops_{what}");
    let keep = 63usize.saturating_sub(suffix.len()).min(db.len());
    let mut cut = keep;
    while !db.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &db[..cut])
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_names_fit_and_quote() {
        assert_eq!(side_name("app", "old"), "app_ccops_old");
        assert!(side_name(&"x".repeat(80), "restore").len() <= 63);
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("o'k"), "'o''k'");
    }
}
