//! Doctor checks of `backup.postgres[].pitr`: what the server must allow for base
//! backups and `ccops wal stream`. Read-only: each problem comes with the line to add to
//! the compose file or the SQL to run, never a change made behind the operator's back.

use anyhow::{Result, bail};

use super::{Check, EXEC_LIMIT, bounded};
use crate::config::{PostgresTarget, Settings};
use crate::docker::Engine;
use crate::snapshot::pgbase::{self, Login};
use crate::snapshot::{last_lines, postgres::exec_env};

/// What the server says about itself.
struct Server {
    wal_level: String,
    max_wal_senders: u32,
    segment_bytes: u64,
    can_replicate: bool,
}

pub async fn checks(checks: &mut Vec<Check>, s: &Settings, engine: &Engine) {
    for t in crate::backup::kinds::pgbase::targets(s) {
        let name = format!("pitr {}", t.service);
        match bounded(EXEC_LIMIT, probe(engine, s, t)).await {
            Ok(found) => checks.extend(found.into_iter().map(|mut c| {
                c.name = name.clone();
                c
            })),
            Err(e) => checks.push(Check::fail(
                name,
                format!("{e:#}"),
                format!("start `{}` (`docker compose up -d {}`)", t.service, t.service),
            )),
        }
    }
}

async fn probe(engine: &Engine, s: &Settings, t: &PostgresTarget) -> Result<Vec<Check>> {
    let ctr = engine.running_container(&s.project, &t.service).await?;
    let login = Login::of(engine, &ctr.id, t, &s.vars).await?;
    let server = settings(engine, &ctr.id, t, &login.user).await?;
    let svc = &t.service;
    let mut out = Vec::new();
    if matches!(server.wal_level.as_str(), "replica" | "logical") {
        out.push(Check::ok("", format!("wal_level is {}", server.wal_level)));
    } else {
        out.push(Check::fail(
            "",
            format!("wal_level is {}: WAL cannot be streamed", server.wal_level),
            format!(
                "start `{svc}` with `command: [postgres, -c, wal_level=replica]` in the compose file, then restart it"
            ),
        ));
    }
    if server.max_wal_senders == 0 {
        out.push(Check::fail(
            "",
            "max_wal_senders is 0: no replication connection is allowed",
            format!("add `-c max_wal_senders=10` to the `command` of `{svc}` in the compose file, then restart it"),
        ));
    }
    if server.segment_bytes != 16 * 1024 * 1024 {
        out.push(Check::fail(
            "",
            format!(
                "wal_segment_size is {}; ccops' WAL archive needs 16 MiB segments",
                crate::util::human_bytes(server.segment_bytes)
            ),
            "use a cluster made with the default `initdb --wal-segsize=16`",
        ));
    }
    if !server.can_replicate {
        out.push(Check::fail(
            "",
            format!("role `{}` has neither REPLICATION nor SUPERUSER", login.user),
            format!(
                "as a superuser: `ALTER ROLE \"{}\" REPLICATION;` (or set `pitr.user` to a role that has it)",
                login.user
            ),
        ));
    }
    match pgbase::identify(engine, &ctr.id, &login).await {
        Ok(id) => out.push(Check::ok(
            "",
            format!("role `{}` opens a replication connection (system {}, timeline {})", login.user, id.system_identifier, id.timeline),
        )),
        Err(e) => out.push(Check::fail(
            "",
            format!("{e:#}"),
            format!(
                "allow it in pg_hba.conf: `host replication {} 127.0.0.1/32 scram-sha-256` (then `SELECT pg_reload_conf()`), and check `pitr.password_variable`",
                login.user
            ),
        )),
    }
    if login.password.is_none() {
        out.push(Check::warn(
            "",
            "no `pitr.password_variable`: base backups use the unix socket, but `ccops wal stream` connects over TCP (127.0.0.1) and cannot log in",
            format!("set `pitr.password_variable` of `{svc}` to the variable holding the password of `{}`", login.user),
        ));
    }
    Ok(out)
}

/// wal_level, max_wal_senders, wal_segment_size and whether `user` may replicate, read
/// as the target's own user over the container's socket.
async fn settings(engine: &Engine, container: &str, t: &PostgresTarget, user: &str) -> Result<Server> {
    let env = exec_env(engine, container).await?;
    let sql = format!(
        "SELECT current_setting('wal_level'), current_setting('max_wal_senders'), pg_size_bytes(current_setting('wal_segment_size')), \
         coalesce((SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = '{}'), false)",
        user.replace('\'', "''")
    );
    let cmd = ["psql", "-X", "-tA", "--username", &t.user, "--dbname", &t.database, "-c", &sql];
    let (code, out, err) = engine.exec_capture(container, &cmd, &env).await?;
    if code != 0 {
        bail!("cannot read the server's settings as `{}`: {}", t.user, last_lines(&err));
    }
    let f: Vec<&str> = out.trim().split('|').collect();
    let [level, senders, seg, rep] = f[..] else { bail!("unexpected answer `{}`", out.trim()) };
    Ok(Server {
        wal_level: level.to_string(),
        max_wal_senders: senders.parse().unwrap_or(0),
        segment_bytes: seg.parse().unwrap_or(0),
        can_replicate: rep == "t",
    })
}
