//! The database checks: each `backup.postgres` target answers `SELECT 1` through psql and
//! each `backup.redis` service answers `PING` through redis-cli, both run by exec inside
//! the service's own container. They ask the database itself, not the app, so a Postgres
//! stopped inside a running container shows here while the container check says running.

use std::time::{Duration, Instant};

use super::{CheckResult, Outcome, Status, finish};
use crate::config::{PostgresTarget, Settings};
use crate::docker::Engine;

/// One result per database ccops.yaml knows, each bounded by `health.database_timeout`.
/// None without an engine: the container checks' `docker` check already says why.
pub async fn check(settings: &Settings, engine: &Result<Engine, String>) -> Vec<CheckResult> {
    let health = &settings.file.health;
    let backup = &settings.file.backup;
    let Ok(engine) = engine else { return vec![] };
    if health.databases == Some(false) {
        return vec![];
    }
    let timeout = health.database_timeout.unwrap_or(super::DEFAULT_TIMEOUT);
    let project = settings.project.as_str();
    let pg = backup.postgres.iter().map(|t| async move {
        let t0 = Instant::now();
        let o = bounded(timeout, postgres(engine, project, t, timeout)).await;
        finish(&format!("postgres:{}", t.service), "postgres", t0, o)
    });
    let redis = backup.redis.iter().map(|r| async move {
        let t0 = Instant::now();
        let o = bounded(timeout, redis(engine, project, &r.service)).await;
        finish(&format!("redis:{}", r.service), "redis", t0, o)
    });
    let (mut out, more) =
        futures_util::future::join(futures_util::future::join_all(pg), futures_util::future::join_all(redis)).await;
    out.extend(more);
    out
}

/// The check's answer, or FAIL when none came within `timeout`.
async fn bounded(timeout: Duration, fut: impl std::future::Future<Output = Outcome>) -> Outcome {
    match tokio::time::timeout(timeout, fut).await {
        Ok(o) => o,
        Err(_) => Outcome::new(Status::Fail, format!("no answer within {}", humantime::format_duration(timeout))),
    }
}

/// `SELECT 1` as the target's user in its database: the server runs, accepts
/// connections, and the credentials ccops backs up with still work.
async fn postgres(engine: &Engine, project: &str, t: &PostgresTarget, timeout: Duration) -> Outcome {
    let container = match engine.running_container(project, &t.service).await {
        Ok(c) => c,
        Err(_) => return not_running(&t.service),
    };
    let mut env = match crate::snapshot::postgres::exec_env(engine, &container.id).await {
        Ok(env) => env,
        Err(e) => return Outcome::new(Status::Fail, format!("{e:#}")),
    };
    // psql's own bound on connecting, so a hung server does not leave psql behind.
    env.push(format!("PGCONNECT_TIMEOUT={}", timeout.as_secs().max(2)));
    let cmd = ["psql", "-X", "-tAq", "--username", &t.user, "--dbname", &t.database, "-c", "SELECT 1"];
    let asked = Instant::now();
    match engine.exec_capture(&container.id, &cmd, &env).await {
        Ok((0, out, _)) if out.trim() == "1" => answered("SELECT 1", asked),
        Ok((code, out, err)) => Outcome::new(
            Status::Fail,
            format!(
                "database `{}` does not answer (psql exit {code}): {}",
                t.database,
                psql_reason(if err.trim().is_empty() { &out } else { &err })
            ),
        ),
        Err(e) => Outcome::new(Status::Fail, format!("{e:#}")),
    }
}

/// `PING` answered `PONG`, with the container's REDIS_PASSWORD as the backup uses it.
async fn redis(engine: &Engine, project: &str, service: &str) -> Outcome {
    let container = match engine.running_container(project, service).await {
        Ok(c) => c,
        Err(_) => return not_running(service),
    };
    let env = match engine.container_env(&container.id).await {
        Ok(env) => crate::snapshot::env_value(&env, "REDIS_PASSWORD")
            .map(|pw| vec![format!("REDISCLI_AUTH={pw}")])
            .unwrap_or_default(),
        Err(e) => return Outcome::new(Status::Fail, format!("{e:#}")),
    };
    let asked = Instant::now();
    match engine.exec_capture(&container.id, &["redis-cli", "PING"], &env).await {
        Ok((0, out, _)) if out.trim() == "PONG" => answered("PING", asked),
        Ok((code, out, err)) => Outcome::new(Status::Fail, format!("PING refused: {}", redis_reason(code, &out, &err))),
        Err(e) => Outcome::new(Status::Fail, format!("{e:#}")),
    }
}

fn answered(what: &str, asked: Instant) -> Outcome {
    let secs = asked.elapsed().as_secs_f64();
    Outcome::new(Status::Ok, format!("{what} answered in {:.0} ms", secs * 1000.0)).metric("response", secs, "s")
}

fn not_running(service: &str) -> Outcome {
    Outcome::new(Status::Fail, format!("no answer: service `{service}` has no running container"))
}

/// psql's error without its `psql: error:` prefix, on one line.
fn psql_reason(err: &str) -> String {
    let line = err.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output");
    line.trim_start_matches("psql: ").trim_start_matches("error: ").to_string()
}

/// Why redis-cli did not get PONG: the error reply (NOAUTH, WRONGPASS, LOADING…) or what
/// it printed on stderr (`Could not connect…`).
fn redis_reason(code: i64, out: &str, err: &str) -> String {
    let lines = || out.lines().chain(err.lines()).map(str::trim).filter(|l| !l.is_empty());
    let auth = lines().find(|l| l.starts_with("AUTH failed"));
    let first = lines().find(|l| !l.starts_with("Warning:"));
    match auth.or(first) {
        Some(l) => l.to_string(),
        None => format!("redis-cli exit {code} and no output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_one_line() {
        let err = "psql: error: connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory\n\tIs the server running locally?\n";
        assert_eq!(
            psql_reason(err),
            "connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory"
        );
        assert_eq!(redis_reason(0, "NOAUTH Authentication required.\n", ""), "NOAUTH Authentication required.");
        assert_eq!(
            redis_reason(
                0,
                "NOAUTH Authentication required.\n",
                "AUTH failed: WRONGPASS invalid username-password pair\n"
            ),
            "AUTH failed: WRONGPASS invalid username-password pair"
        );
        assert_eq!(redis_reason(1, "", ""), "redis-cli exit 1 and no output");
    }

    #[test]
    fn the_database_keys_are_read_from_ccops_yaml() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ccops.yaml");
        let penv = crate::config::ProcessEnv::default();
        let yaml = "project: x\nhealth:\n  databases: false\n  database_timeout: 2s\n";
        let s = crate::config::load_str(&p, yaml, None, &penv).unwrap();
        assert_eq!(s.file.health.databases, Some(false));
        assert_eq!(s.file.health.database_timeout, Some(Duration::from_secs(2)));
        let s = crate::config::load_str(&p, "project: x\n", None, &penv).unwrap();
        assert_eq!((s.file.health.databases, s.file.health.database_timeout), (None, None));
    }
}
