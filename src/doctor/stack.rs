//! Doctor checks of the running side: the engine, Compose, the services ccops.yaml names,
//! and the tools a backup runs inside the containers (pg_dump, redis-cli; mysql.rs for
//! mariadb-dump), which also
//! prove the configured database and user are right and measure what a backup holds.

use std::process::Stdio;
use std::time::Duration;

use super::space::Sizes;
use super::{Check, EXEC_LIMIT, bounded};
use crate::compose::{Compose, Flavour, Model};
use crate::config::Settings;
use crate::docker::Engine;

pub async fn engine(checks: &mut Vec<Check>, endpoint: Option<&crate::docker::Endpoint>) -> Option<Engine> {
    match bounded(Duration::from_secs(30), Engine::connect(endpoint)).await {
        Ok(e) => {
            let version = match e.version().await {
                Ok((v, api)) => format!("Docker {v} (API {api})"),
                Err(_) => "Docker (version unknown)".to_string(),
            };
            checks.push(Check::ok("engine", format!("{version} at {}", e.host)));
            Some(e)
        }
        Err(err) => {
            checks.push(Check::fail(
                "engine",
                format!("{err:#}"),
                "start the engine, or point `docker_host` / DOCKER_HOST / the Docker context at the right one; the checks of containers and tools need it",
            ));
            None
        }
    }
}

pub async fn compose(checks: &mut Vec<Check>, s: &Settings) -> Option<Compose> {
    match Compose::detect(&s.compose_setup()).await {
        Ok(c) => {
            let version = match c.flavour {
                Flavour::V2 => short_version(&s.docker_bin, &["compose", "version", "--short"]).await,
                Flavour::V1 => short_version("docker-compose", &["version", "--short"]).await,
            };
            let what = match c.flavour {
                Flavour::V2 => format!("Compose v2 (`{} compose`)", s.docker_bin),
                Flavour::V1 => "Compose v1 (`docker-compose`)".to_string(),
            };
            checks.push(Check::ok("compose", format!("{what} {}", version.unwrap_or_default()).trim_end().to_string()));
            Some(c)
        }
        Err(e) => {
            checks.push(Check::fail(
                "compose",
                format!("{e:#}"),
                "install the Docker Compose plugin (package docker-compose-plugin) or docker-compose",
            ));
            None
        }
    }
}

/// Without a config: is any Compose there at all?
pub async fn compose_without_config() -> Check {
    if let Some(v) = short_version("docker", &["compose", "version", "--short"]).await {
        Check::ok("compose", format!("Compose v2 (`docker compose`) {v}"))
    } else if let Some(v) = short_version("docker-compose", &["version", "--short"]).await {
        Check::ok("compose", format!("Compose v1 (`docker-compose`) {v}"))
    } else {
        Check::fail(
            "compose",
            "neither `docker compose` nor `docker-compose` runs",
            "install the Docker Compose plugin (package docker-compose-plugin)",
        )
    }
}

async fn short_version(bin: &str, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new(bin).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output();
    let out = tokio::time::timeout(Duration::from_secs(15), out).await.ok()?.ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The compose files load, every service ccops.yaml names exists, the required variables
/// are set, and the services a backup execs into are running.
pub async fn services(checks: &mut Vec<Check>, s: &Settings, c: &Compose, engine: Option<&Engine>) -> Option<Model> {
    let model = match bounded(Duration::from_secs(60), c.model()).await {
        Ok(m) => m,
        Err(e) => {
            checks.push(Check::fail(
                "services",
                format!("{e:#}"),
                format!("fix the compose files of environment `{}`", s.env_name),
            ));
            return None;
        }
    };
    if let Err(e) = crate::project::validate_services(s, &model) {
        checks.push(Check::fail(
            "services",
            format!("{e:#}"),
            "make ccops.yaml name the services and volumes of the compose files",
        ));
        return None;
    }
    let missing: Vec<&str> = s
        .env
        .required_variables
        .iter()
        .filter(|v| s.vars.get(v).is_none_or(|x| x.trim().is_empty()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        checks.push(Check::fail(
            "variables",
            format!("required but not set or empty: {}", missing.join(", ")),
            format!(
                "set them in `{}` or the environment of the cron job",
                s.env_file.as_ref().map_or("the env file".into(), |p| p.display().to_string())
            ),
        ));
    }
    let b = &s.file.backup;
    let mut needed: Vec<&str> =
        b.postgres.iter().map(|p| p.service.as_str()).chain(b.redis.iter().map(|r| r.service.as_str())).collect();
    needed.extend(b.mysql.iter().map(|m| m.service.as_str()).chain(b.commands.iter().map(|c| c.service.as_str())));
    needed.sort_unstable();
    needed.dedup();
    let mut not_running = Vec::new();
    if let Some(engine) = engine {
        for svc in &needed {
            if engine.running_container(&s.project, svc).await.is_err() {
                not_running.push(*svc);
            }
        }
    }
    let names = model.services.keys().cloned().collect::<Vec<_>>().join(", ");
    if not_running.is_empty() {
        let unchecked = if engine.is_none() { "; whether they run was not checked (no engine)" } else { "" };
        checks.push(Check::ok(
            "services",
            format!("{} service(s) in project `{}`: {names}{unchecked}", model.services.len(), s.project),
        ));
    } else {
        checks.push(Check::fail(
            "services",
            format!("not running, but a backup execs into them: {}", not_running.join(", ")),
            format!("start them (`docker compose up -d {}`)", not_running.join(" ")),
        ));
    }
    Some(model)
}

/// pg_dump and redis-cli in their containers, the configured database and user, and the
/// sizes of what a backup copies (for the disk check).
pub async fn tools(checks: &mut Vec<Check>, s: &Settings, engine: &Engine, model: &Model) -> Sizes {
    let mut sizes = Sizes::default();
    for t in &s.file.backup.postgres {
        let name = format!("postgres {}", t.service);
        let r = bounded(EXEC_LIMIT, postgres(engine, &s.project, t)).await;
        match r {
            Ok((versions, bytes)) => {
                sizes.add(format!("postgres {}", t.database), Some(bytes));
                checks.push(Check::ok(
                    name,
                    format!(
                        "{versions}; database `{}` as `{}`: {}",
                        t.database,
                        t.user,
                        crate::util::human_bytes(bytes)
                    ),
                ));
            }
            Err(e) => {
                sizes.add(format!("postgres {}", t.database), None);
                checks.push(Check::fail(name, format!("{e:#}"), postgres_fix(&e.to_string(), &t.service)));
            }
        }
    }
    for r in &s.file.backup.redis {
        let name = format!("redis {}", r.service);
        match bounded(EXEC_LIMIT, redis(engine, &s.project, &r.service)).await {
            Ok((version, bytes)) => {
                sizes.add(format!("redis {}", r.service), Some(bytes));
                checks.push(Check::ok(name, format!("{version}; {} in memory", crate::util::human_bytes(bytes))));
            }
            Err(e) => {
                sizes.add(format!("redis {}", r.service), None);
                checks.push(Check::fail(
                    name,
                    format!("{e:#}"),
                    format!("start `{}` with an image that ships redis-cli and allows CONFIG GET (the official redis image does)", r.service),
                ));
            }
        }
    }
    super::mysql::tools(checks, &mut sizes, s, engine).await;
    super::pitr::checks(checks, s, engine).await;
    for v in &s.file.backup.volumes {
        let engine_name = model.volume_name(&v.name).unwrap_or(&v.name).to_string();
        let bytes = bounded(Duration::from_secs(60), super::space::volume_bytes(engine, &engine_name)).await.ok();
        sizes.add(format!("volume {}", v.name), bytes);
    }
    sizes
}

async fn postgres(engine: &Engine, project: &str, t: &crate::config::PostgresTarget) -> anyhow::Result<(String, u64)> {
    let c = engine.running_container(project, &t.service).await?;
    let mut versions = Vec::new();
    for tool in ["pg_dump", "pg_restore"] {
        let (code, out, err) = engine.exec_capture(&c.id, &[tool, "--version"], &[]).await?;
        if code != 0 {
            anyhow::bail!(
                "`{tool}` does not run in the container of service `{}` (exit {code}): {}",
                t.service,
                first_line(&err)
            );
        }
        versions.push(out.trim().replace(" (PostgreSQL)", ""));
    }
    let env = crate::snapshot::postgres::exec_env(engine, &c.id).await?;
    let sql = "SELECT pg_database_size(current_database())";
    let cmd = ["psql", "-X", "-tAq", "--username", &t.user, "--dbname", &t.database, "-c", sql];
    let (code, out, err) = engine.exec_capture(&c.id, &cmd, &env).await?;
    if code != 0 {
        anyhow::bail!(
            "cannot connect to database `{}` as user `{}` in service `{}`: {}",
            t.database,
            t.user,
            t.service,
            first_line(&err)
        );
    }
    let bytes = out.trim().parse().unwrap_or(0);
    Ok((versions.join(", "), bytes))
}

fn postgres_fix(err: &str, service: &str) -> String {
    if err.contains("does not run") {
        format!("use an image for `{service}` that ships pg_dump and pg_restore (the official postgres image does)")
    } else if err.contains("cannot connect") {
        "correct `database` and `user` under backup.postgres (the values of POSTGRES_DB and POSTGRES_USER)".to_string()
    } else {
        format!("start `{service}` (`docker compose up -d {service}`)")
    }
}

async fn redis(engine: &Engine, project: &str, service: &str) -> anyhow::Result<(String, u64)> {
    let c = engine.running_container(project, service).await?;
    let (code, version, err) = engine.exec_capture(&c.id, &["redis-cli", "--version"], &[]).await?;
    if code != 0 {
        anyhow::bail!(
            "`redis-cli` does not run in the container of service `{service}` (exit {code}): {}",
            first_line(&err)
        );
    }
    let env = engine.container_env(&c.id).await?;
    let auth: Vec<String> = crate::snapshot::env_value(&env, "REDIS_PASSWORD")
        .map(|pw| vec![format!("REDISCLI_AUTH={pw}")])
        .unwrap_or_default();
    // A backup reads the RDB location with CONFIG GET; a renamed CONFIG command breaks it.
    let (_, dir, _) = engine.exec_capture(&c.id, &["redis-cli", "CONFIG", "GET", "dir"], &auth).await?;
    if dir.lines().count() < 2 {
        anyhow::bail!(
            "`redis-cli CONFIG GET dir` answered `{}` in service `{service}`; ccops needs it to find the RDB file",
            first_line(&dir)
        );
    }
    let (_, info, _) = engine.exec_capture(&c.id, &["redis-cli", "INFO", "memory"], &auth).await?;
    let used = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok((version.trim().to_string(), used))
}

fn first_line(s: &str) -> &str {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output")
}
