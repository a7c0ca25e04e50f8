//! What one Compose service tells `ccops init`: its environment (env files, then
//! `environment:`), whether it is a Postgres or MySQL/MariaDB server (and which database
//! and user) or a Redis one, the named volumes it mounts, the ports it publishes and the variable in its
//! image's tag. Services are read as written, before the env file may be complete.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use serde_yaml::Value;

use crate::syntax::imageref::ImageRef;
use crate::syntax::{envfile, interp};

/// A Postgres server among the services: the database to dump and the user to dump it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postgres {
    pub service: String,
    pub database: String,
    pub user: String,
    /// Where database and user came from, for the comment beside them.
    pub source: String,
}

/// The variables of an env file; lines that are not `KEY=value` are passed over (init
/// must work on a half-written env file).
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read `{}`: {}", path.display(), crate::util::io_reason(&e)))?;
    Ok(envfile::entries(&text).flatten().map(|e| (e.key, e.value)).collect())
}

/// A service's environment: its `env_file`s, then `environment:` over them, interpolated.
pub fn service_env(dir: &Path, svc: &Value, vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let files: Vec<String> = match svc.get("env_file") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| {
                i.as_str().map(String::from).or_else(|| i.get("path").and_then(Value::as_str).map(String::from))
            })
            .collect(),
        _ => vec![],
    };
    for f in files {
        if let Ok(m) = read_env_file(&dir.join(interp::expand_known(&f, vars))) {
            env.extend(m);
        }
    }
    match svc.get("environment") {
        Some(Value::Mapping(m)) => {
            for (k, v) in m {
                let (Some(k), Some(v)) = (k.as_str(), scalar(v)) else { continue };
                env.insert(k.to_string(), interp::expand_known(&v, vars));
            }
        }
        Some(Value::Sequence(items)) => {
            for item in items.iter().filter_map(Value::as_str) {
                if let Some((k, v)) = item.split_once('=') {
                    env.insert(k.to_string(), interp::expand_known(v, vars));
                }
            }
        }
        _ => {}
    }
    env
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The repository part of an image reference, lowercased: `docker.io/library/postgres`.
fn repository(image: &str) -> String {
    ImageRef::parse(image).name.to_ascii_lowercase()
}

/// Postgres by image (postgres, postgis, timescaledb, pgvector, bitnami/postgresql...) or,
/// for a locally built image, by the server's own variables or data directory.
pub fn is_postgres(image: &str, env: &BTreeMap<String, String>, svc: &Value) -> bool {
    let repo = repository(image);
    let tools = ["exporter", "pgadmin", "pgbouncer", "postgrest", "pgbackrest", "backup", "pghero", "pgweb"];
    if tools.iter().any(|t| repo.contains(t)) {
        return false;
    }
    if ["postgres", "postgis", "timescaledb", "pgvector"].iter().any(|p| repo.contains(p)) {
        return true;
    }
    let server_vars =
        ["POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_INITDB_ARGS", "PGDATA", "POSTGRESQL_PASSWORD"];
    // A client names the host it connects to; the server does not.
    let client_vars = ["POSTGRES_HOST", "POSTGRES_SERVER", "POSTGRES_PORT", "DATABASE_URL", "DB_HOST", "PGHOST"];
    let server = server_vars.iter().any(|v| env.contains_key(*v)) && !client_vars.iter().any(|v| env.contains_key(*v));
    server || mount_targets(svc).iter().any(|t| t.starts_with("/var/lib/postgresql"))
}

pub fn postgres_target(service: &str, env: &BTreeMap<String, String>) -> Postgres {
    let pick = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            env.get(*k).filter(|v| !v.is_empty() && !v.contains("${")).map(|v| (k.to_string(), v.clone()))
        })
    };
    let user = pick(&["POSTGRES_USER", "POSTGRESQL_USERNAME"]);
    let db = pick(&["POSTGRES_DB", "POSTGRESQL_DATABASE"]);
    let (user_name, user_src) =
        user.map_or(("postgres".to_string(), "the image's default user".to_string()), |(k, v)| (v, k));
    // The official image creates a database named after the user when POSTGRES_DB is unset.
    let (db_name, db_src) =
        db.map_or((user_name.clone(), "named after the user, as the image does".to_string()), |(k, v)| (v, k));
    Postgres {
        service: service.to_string(),
        database: db_name,
        user: user_name,
        source: format!("database from {db_src}, user from {user_src}"),
    }
}

/// A MySQL or MariaDB server among the services, as `backup.mysql` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mysql {
    pub service: String,
    /// None when the service names no database (MYSQL_DATABASE unset): all of them.
    pub database: Option<String>,
    pub user: String,
    pub password_variable: Option<String>,
    /// Where they came from, for the comment beside them.
    pub source: String,
}

/// MySQL/MariaDB by image (mysql, mariadb, percona, bitnami/mysql...) or, for a locally
/// built image, by the server's own variables or data directory. A client of one (the
/// Nextcloud app sets MYSQL_DATABASE too) names the host it connects to.
pub fn is_mysql(image: &str, env: &BTreeMap<String, String>, svc: &Value) -> bool {
    let repo = repository(image);
    let tools = ["exporter", "router", "backup", "phpmyadmin", "adminer", "shell", "operator", "proxysql"];
    if tools.iter().any(|t| repo.contains(t)) {
        return false;
    }
    let name = repo.rsplit('/').next().unwrap_or_default();
    if ["mysql", "mariadb", "percona", "percona-server"].contains(&name) {
        return true;
    }
    let server_vars = ["MYSQL_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD", "MYSQL_DATABASE", "MARIADB_DATABASE"];
    let client_vars = ["MYSQL_HOST", "MARIADB_HOST", "DB_HOST", "DATABASE_URL", "WORDPRESS_DB_HOST"];
    let server = server_vars.iter().any(|v| env.contains_key(*v)) && !client_vars.iter().any(|v| env.contains_key(*v));
    server || mount_targets(svc).iter().any(|t| t.starts_with("/var/lib/mysql"))
}

/// The database, user and password variable of a MySQL/MariaDB service, from the
/// variables its image reads: the user the image creates, else (or for all databases) root. The password
/// variable is the one the compose file interpolates (`${DB_PASSWORD}`), else the
/// container's own (MYSQL_PASSWORD), which ccops reads from the running container.
pub fn mysql_target(service: &str, svc: &Value, env: &BTreeMap<String, String>) -> Mysql {
    let pick = |keys: &[&'static str]| {
        keys.iter().find_map(|k| env.get(*k).filter(|v| !v.is_empty() && !v.contains("${")).map(|v| (*k, v.clone())))
    };
    let database = pick(&["MARIADB_DATABASE", "MYSQL_DATABASE"]);
    // The user the image creates may use only its database: all of them need root.
    let app_user = database.as_ref().and_then(|_| pick(&["MARIADB_USER", "MYSQL_USER"]));
    let (user, user_src, pw_keys): (String, &str, &[&str]) = match app_user {
        Some((k, v)) => (v, k, &["MARIADB_PASSWORD", "MYSQL_PASSWORD"]),
        None => ("root".into(), "the image's root user", &["MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"]),
    };
    let pw_key = pw_keys.iter().find(|k| env.contains_key(**k)).copied();
    let password_variable = pw_key.map(|k| {
        let raw = raw_env(svc, k).unwrap_or_default();
        interp::references(&raw)
            .into_iter()
            .next()
            .filter(|e| !e.name.is_empty())
            .map_or(k.to_string(), |e| e.name.to_string())
    });
    let db_part = database
        .as_ref()
        .map_or("all databases (no MYSQL_DATABASE)".to_string(), |(k, _)| format!("database from {k}"));
    let pw_src = match (&password_variable, pw_key) {
        (Some(v), Some(k)) if v != k => format!("password from `${{{v}}}` ({k})"),
        (Some(v), _) => format!("password from the container's {v}"),
        (None, _) => "no password variable found".to_string(),
    };
    Mysql {
        service: service.to_string(),
        database: database.map(|(_, v)| v),
        user,
        password_variable,
        source: format!("{db_part}, user from {user_src}, {pw_src}"),
    }
}

/// The value of `key` in a service's `environment:` as written, before interpolation.
fn raw_env(svc: &Value, key: &str) -> Option<String> {
    match svc.get("environment")? {
        Value::Mapping(m) => m.get(key).and_then(scalar),
        Value::Sequence(items) => items
            .iter()
            .filter_map(Value::as_str)
            .find_map(|i| i.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v.to_string())),
        _ => None,
    }
}

pub fn is_redis(image: &str, svc: &Value) -> bool {
    let repo = repository(image);
    if ["exporter", "commander", "insight", "sentinel"].iter().any(|t| repo.contains(t)) {
        return false;
    }
    let command = match svc.get("command") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    };
    repo.contains("redis") || command.contains("redis-server")
}

/// Named volumes a service mounts: (volume key, read-only).
pub fn named_mounts(svc: &Value) -> Vec<(String, bool)> {
    let Some(items) = svc.get("volumes").and_then(Value::as_sequence) else { return vec![] };
    items
        .iter()
        .filter_map(|m| match m {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                let src = parts.first().copied().unwrap_or_default();
                let named = parts.len() >= 2 && !src.is_empty() && !src.starts_with(['.', '/', '~', '$']);
                named.then(|| (src.to_string(), parts.get(2).is_some_and(|o| o.split(',').any(|x| x == "ro"))))
            }
            Value::Mapping(_) => {
                let kind = m.get("type").and_then(Value::as_str).unwrap_or("volume");
                let src = m.get("source").and_then(Value::as_str)?;
                (kind == "volume")
                    .then(|| (src.to_string(), m.get("read_only").and_then(Value::as_bool).unwrap_or(false)))
            }
            _ => None,
        })
        .collect()
}

fn mount_targets(svc: &Value) -> Vec<String> {
    let Some(items) = svc.get("volumes").and_then(Value::as_sequence) else { return vec![] };
    items
        .iter()
        .filter_map(|m| match m {
            Value::String(s) => s.split(':').nth(1).map(String::from),
            _ => m.get("target").and_then(Value::as_str).map(String::from),
        })
        .collect()
}

/// `${VAR}` at the start of the tag of an image reference.
pub fn tag_variable(image: &str) -> Option<String> {
    let tag = ImageRef::parse(image).tag.filter(|t| t.starts_with("${"))?;
    let e = interp::references(&tag).into_iter().next()?;
    (!e.name.is_empty()).then(|| e.name.to_string())
}

/// `host:port` addresses of published ports as written (`127.0.0.1:${PORT:-8000}`).
pub fn published_ports(svc: &Value) -> Vec<String> {
    let Some(items) = svc.get("ports").and_then(Value::as_sequence) else { return vec![] };
    let mut out = Vec::new();
    for p in items {
        let (ip, published) = match p {
            Value::String(s) => {
                if s.ends_with("/udp") {
                    continue;
                }
                let s = s.trim_end_matches("/tcp");
                // ip:published:target, published:target or target; `${...}` may hold a `:-`.
                let parts = split_port(s);
                match parts.len() {
                    3 => (parts[0].clone(), parts[1].clone()),
                    2 => (String::new(), parts[0].clone()),
                    _ => continue,
                }
            }
            Value::Mapping(_) => {
                if p.get("protocol").and_then(Value::as_str) == Some("udp") {
                    continue;
                }
                let Some(published) = p.get("published").and_then(scalar) else { continue };
                (p.get("host_ip").and_then(Value::as_str).unwrap_or_default().to_string(), published)
            }
            _ => continue,
        };
        if published.is_empty() || published.contains('-') && !published.contains("${") {
            continue;
        }
        let host = match ip.as_str() {
            "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
            ip => ip.to_string(),
        };
        out.push(format!("{host}:{published}"));
    }
    out
}

/// Split a short port mapping at the `:` that are not inside `${...}`.
fn split_port(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ':' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().unwrap_or_else(|| unreachable!()).push(c);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml::Mapping;

    fn vars(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn env_files_are_read_line_by_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(".env");
        std::fs::write(&f, "# c\nA=1\nexport B=\"two words\"\nhalf written\nC='x' \nD=v # note\n").unwrap();
        assert_eq!(read_env_file(&f).unwrap(), vars(&[("A", "1"), ("B", "two words"), ("C", "x"), ("D", "v")]));
    }

    #[test]
    fn finds_postgres_by_image_or_variables() {
        let svc: Value = serde_yaml::from_str("volumes: [pg:/var/lib/postgresql/data]").unwrap();
        let none = BTreeMap::new();
        assert!(is_postgres("postgres:16-alpine", &none, &svc));
        assert!(is_postgres("docker.io/postgis/postgis:15-3.4", &none, &svc));
        assert!(is_postgres("timescale/timescaledb-ha:pg16", &none, &svc));
        assert!(is_postgres("bitnami/postgresql", &none, &svc));
        assert!(!is_postgres("prometheuscommunity/postgres-exporter", &none, &svc));
        assert!(!is_postgres("postgrest/postgrest", &none, &svc));
        let built = Value::Mapping(Mapping::new());
        assert!(is_postgres("", &vars(&[("POSTGRES_PASSWORD", "x")]), &built));
        assert!(!is_postgres("myapp", &vars(&[("POSTGRES_PASSWORD", "x"), ("POSTGRES_HOST", "db")]), &built));
        assert!(!is_postgres("myapp", &none, &built));
    }

    #[test]
    fn postgres_names_come_from_variables_or_image_defaults() {
        let p = postgres_target("db", &vars(&[("POSTGRES_USER", "app")]));
        assert_eq!((p.database.as_str(), p.user.as_str()), ("app", "app"));
        let p = postgres_target("db", &BTreeMap::new());
        assert_eq!((p.database.as_str(), p.user.as_str()), ("postgres", "postgres"));
        let p = postgres_target("db", &vars(&[("POSTGRES_USER", "u"), ("POSTGRES_DB", "d")]));
        assert_eq!((p.database.as_str(), p.user.as_str()), ("d", "u"));
    }

    #[test]
    fn images_tags_and_ports() {
        assert_eq!(repository("registry:5000/team/redis:7@sha256:abc"), "registry:5000/team/redis");
        assert_eq!(tag_variable("app:${APP_VERSION:-v1}").as_deref(), Some("APP_VERSION"));
        assert_eq!(tag_variable("registry:5000/app"), None);
        let svc: Value = serde_yaml::from_str(
            "ports: [\"127.0.0.1:${PORT:-8000}:8000\", \"8080:80\", \"9000\", \"53:53/udp\", {target: 443, published: 8443, host_ip: 0.0.0.0}]",
        )
        .unwrap();
        assert_eq!(published_ports(&svc), ["127.0.0.1:${PORT:-8000}", "127.0.0.1:8080", "127.0.0.1:8443"]);
    }
}
