//! What `ccops init` finds in a Compose project folder: the compose and env files, the
//! environments they suggest, and the data worth backing up. The compose files are read
//! as YAML (anchors and `<<` merges applied, later files merged over earlier ones), not
//! through `docker compose config`: init must work before the env file is complete and
//! on a machine without Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use serde_yaml::{Mapping, Value};

use super::service::{
    Mysql, Postgres, is_mysql, is_postgres, is_redis, mysql_target, named_mounts, postgres_target, published_ports,
    read_env_file, service_env, tag_variable,
};
use crate::syntax::interp;

/// Compose's own default file names, in the order it looks for them.
const BASE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// Override suffixes that name an environment, and the environment's name.
const ENV_SUFFIXES: [(&str, &str); 12] = [
    ("prod", "production"),
    ("production", "production"),
    ("live", "production"),
    ("staging", "staging"),
    ("stage", "staging"),
    ("preprod", "preprod"),
    ("uat", "uat"),
    ("qa", "qa"),
    ("test", "test"),
    ("demo", "demo"),
    ("dev", "development"),
    ("development", "development"),
];

/// Env files that are templates, never read by Compose.
const TEMPLATE_SUFFIXES: [&str; 6] = ["example", "sample", "template", "dist", "tpl", "defaults"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProposal {
    pub name: String,
    /// Relative to the project folder.
    pub compose_files: Vec<String>,
    pub env_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// Services that write to it: stopped during the copy.
    pub writers: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Detected {
    pub project: String,
    pub environments: Vec<EnvProposal>,
    pub postgres: Vec<Postgres>,
    pub mysql: Vec<Mysql>,
    pub redis: Vec<String>,
    pub volumes: Vec<Volume>,
    /// Volumes left out, with why (database data directories, external volumes).
    pub skipped_volumes: Vec<(String, String)>,
    /// `${VAR:?...}` in the compose files: Compose refuses to run without them.
    pub required_variables: Vec<String>,
    /// The variable in a built image's tag, e.g. APP_VERSION in `app:${APP_VERSION}`.
    pub version_variable: Option<String>,
    /// (service, host address as written in the compose file) of published TCP ports.
    pub published: Vec<(String, String)>,
    pub services: Vec<String>,
    /// Compose files found but not matched to an environment.
    pub other_compose_files: Vec<String>,
    /// Env-file templates found (.env.example): a hint when no env file exists yet.
    pub env_templates: Vec<String>,
}

/// Look at the Compose project in `dir`.
pub fn detect(dir: &Path) -> Result<Detected> {
    let names = file_names(dir)?;
    let base = BASE_FILES.iter().find(|b| names.contains(**b)).map(|b| b.to_string()).ok_or_else(|| {
        crate::usage!(
            "no compose file in `{}` (looked for {}); run `ccops init` in the folder of the Compose project",
            dir.display(),
            BASE_FILES.join(", ")
        )
    })?;
    let env_files: Vec<&String> = names.iter().filter(|n| is_env_file(n)).collect();
    let mut out = Detected {
        env_templates: names
            .iter()
            .filter(|n| n.starts_with(".env") && !is_env_file(n) && n.len() > 4)
            .cloned()
            .collect(),
        ..Detected::default()
    };

    // Environments: one per override file whose suffix names one, production first.
    let stem = base.rsplit_once('.').map_or(base.as_str(), |(s, _)| s);
    let mut envs: BTreeMap<String, EnvProposal> = BTreeMap::new();
    for n in &names {
        let Some(suffix) = n
            .strip_prefix(&format!("{stem}."))
            .and_then(|r| r.strip_suffix(".yml").or_else(|| r.strip_suffix(".yaml")))
        else {
            continue;
        };
        match ENV_SUFFIXES.iter().find(|(s, _)| s.eq_ignore_ascii_case(suffix)) {
            Some((_, env)) if !envs.contains_key(*env) => {
                let env_file = env_file_for(&env_files, suffix, env);
                envs.insert(
                    env.to_string(),
                    EnvProposal { name: env.to_string(), compose_files: vec![base.clone(), n.clone()], env_file },
                );
            }
            Some(_) => out.other_compose_files.push(n.clone()),
            None if suffix == "override" => {}
            None => out.other_compose_files.push(n.clone()),
        }
    }
    // Production always, first: it becomes the default environment.
    let production = envs.remove("production").unwrap_or_else(|| EnvProposal {
        name: "production".into(),
        compose_files: vec![base.clone()],
        env_file: env_file_for(&env_files, "prod", "production"),
    });
    out.environments.push(production);
    out.environments.extend(envs.into_values());

    // The data: read with the default (first) environment's files and env file.
    let default_env = &out.environments[0];
    let vars = match &default_env.env_file {
        Some(f) => read_env_file(&dir.join(f))?,
        None => BTreeMap::new(),
    };
    let mut doc = Value::Mapping(Mapping::new());
    let mut texts = String::new();
    for f in &default_env.compose_files {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut v: Value =
            serde_yaml::from_str(&text).map_err(|e| crate::usage!("`{}` is not valid YAML: {e}", path.display()))?;
        v.apply_merge().map_err(|e| crate::usage!("`{}`: {e}", path.display()))?;
        merge(&mut doc, v);
        texts.push_str(&text);
        texts.push('\n');
    }
    let project_from_file = doc.get("name").and_then(Value::as_str).map(|n| interp::expand_known(n, &vars));
    out.project = crate::config::normalize_project(
        &project_from_file
            .or_else(|| vars.get(crate::env_vars::COMPOSE_PROJECT_NAME).cloned())
            .unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
    );
    out.required_variables = required_variables(&texts);

    let services = doc.get("services").and_then(Value::as_mapping).cloned().unwrap_or_default();
    let mut data_volumes: BTreeMap<String, String> = BTreeMap::new();
    for (name, svc) in &services {
        let Some(name) = name.as_str() else { continue };
        out.services.push(name.to_string());
        let env = service_env(dir, svc, &vars);
        let image = svc.get("image").and_then(Value::as_str).unwrap_or_default();
        if is_postgres(image, &env, svc) {
            out.postgres.push(postgres_target(name, &env));
            for (vol, _) in named_mounts(svc) {
                data_volumes.insert(
                    vol,
                    format!("the data directory of postgres service `{name}` (dumped with pg_dump instead)"),
                );
            }
        } else if is_mysql(image, &env, svc) {
            out.mysql.push(mysql_target(name, svc, &env));
            for (vol, _) in named_mounts(svc) {
                data_volumes.insert(
                    vol,
                    format!("the data directory of mysql service `{name}` (dumped with mariadb-dump instead)"),
                );
            }
        } else if is_redis(image, svc) {
            out.redis.push(name.to_string());
            for (vol, _) in named_mounts(svc) {
                data_volumes.insert(
                    vol,
                    format!("the data directory of redis service `{name}` (saved as an RDB snapshot instead)"),
                );
            }
        }
        if svc.get("build").is_some() && out.version_variable.is_none() {
            out.version_variable = tag_variable(image);
        }
        for host in published_ports(svc) {
            out.published.push((name.to_string(), host));
        }
    }

    let volumes = doc.get("volumes").and_then(Value::as_mapping).cloned().unwrap_or_default();
    for (key, def) in &volumes {
        let Some(key) = key.as_str() else { continue };
        if let Some(why) = data_volumes.get(key) {
            out.skipped_volumes.push((key.to_string(), why.clone()));
            continue;
        }
        if def.get("external").is_some_and(|e| e.as_bool().unwrap_or(true)) {
            out.skipped_volumes.push((key.to_string(), "external: created and owned outside this project".into()));
            continue;
        }
        let writers = services
            .iter()
            .filter(|(_, svc)| named_mounts(svc).iter().any(|(v, ro)| v == key && !ro))
            .filter_map(|(n, _)| n.as_str().map(String::from))
            .collect();
        out.volumes.push(Volume { name: key.to_string(), writers });
    }
    Ok(out)
}

fn file_names(dir: &Path) -> Result<BTreeSet<String>> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("cannot list `{}`: {}", dir.display(), crate::util::io_reason(&e)))?;
    Ok(rd.flatten().filter(|e| e.path().is_file()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
}

/// `.env`, `.env.prod`...: files Compose or ccops would read, not templates.
fn is_env_file(name: &str) -> bool {
    match name.strip_prefix(".env") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|s| !s.is_empty() && !TEMPLATE_SUFFIXES.contains(&s.to_ascii_lowercase().as_str())),
        None => false,
    }
}

/// `.env.<suffix>` or `.env.<environment>`, else `.env`.
fn env_file_for(files: &[&String], suffix: &str, env: &str) -> Option<String> {
    [format!(".env.{suffix}"), format!(".env.{env}"), ".env".to_string()].into_iter().find(|c| files.contains(&c))
}

/// Later compose files override earlier ones key by key, as Compose merges them.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Every `${VAR:?...}` / `${VAR?...}` in the text, sorted.
fn required_variables(text: &str) -> Vec<String> {
    let found: BTreeSet<&str> = interp::all_references(text).iter().filter(|e| e.required()).map(|e| e.name).collect();
    found.into_iter().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_and_templates() {
        assert!(is_env_file(".env") && is_env_file(".env.prod"));
        assert!(!is_env_file(".env.example") && !is_env_file(".envrc") && !is_env_file("x.env"));
    }

    #[test]
    fn required_variables_are_found_once_each() {
        assert_eq!(required_variables("a: ${X:?set}\nb: ${Y?y} ${Z:-z} ${X:?again}"), ["X", "Y"]);
    }

    #[test]
    fn detects_a_project() {
        let d = tempfile::tempdir().unwrap();
        let compose = r#"
name: shop
x-env: &pg
  POSTGRES_USER: ${DB_USER:-shop}
  POSTGRES_DB: ${DB_NAME:-shopdb}
services:
  db:
    image: postgres:16
    environment:
      <<: *pg
      POSTGRES_PASSWORD: ${DB_PASSWORD:?set it}
    volumes: [pgdata:/var/lib/postgresql/data]
  cache:
    image: redis:7-alpine
    volumes: [cachedata:/data]
  app:
    build: .
    image: shop-app:${APP_VERSION:-latest}
    ports: ["127.0.0.1:8000:8000"]
    volumes: [uploads:/srv/uploads, "./conf:/etc/app:ro", "media:/media:ro"]
  worker:
    image: shop-app:latest
    volumes: [{type: volume, source: uploads, target: /srv/uploads}]
volumes:
  pgdata: {}
  cachedata: {}
  uploads: {}
  media: {}
  shared: {external: true}
"#;
        std::fs::write(d.path().join("docker-compose.yml"), compose).unwrap();
        std::fs::write(d.path().join("docker-compose.prod.yml"), "services:\n  app:\n    restart: always\n").unwrap();
        std::fs::write(d.path().join("docker-compose.staging.yml"), "services: {}\n").unwrap();
        std::fs::write(d.path().join("docker-compose.override.yml"), "services: {}\n").unwrap();
        std::fs::write(d.path().join(".env"), "DB_NAME=shop_production\n").unwrap();
        std::fs::write(d.path().join(".env.staging"), "DB_NAME=shop_staging\n").unwrap();
        std::fs::write(d.path().join(".env.example"), "DB_NAME=\n").unwrap();
        let x = detect(d.path()).unwrap();
        assert_eq!(x.project, "shop");
        let envs: Vec<(&str, Vec<&str>, Option<&str>)> = x
            .environments
            .iter()
            .map(|e| (e.name.as_str(), e.compose_files.iter().map(String::as_str).collect(), e.env_file.as_deref()))
            .collect();
        assert_eq!(
            envs,
            [
                ("production", vec!["docker-compose.yml", "docker-compose.prod.yml"], Some(".env")),
                ("staging", vec!["docker-compose.yml", "docker-compose.staging.yml"], Some(".env.staging")),
            ]
        );
        assert_eq!(
            x.postgres,
            [Postgres {
                service: "db".into(),
                database: "shop_production".into(),
                user: "shop".into(),
                source: "database from POSTGRES_DB, user from POSTGRES_USER".into()
            }]
        );
        assert_eq!(x.redis, ["cache"]);
        assert_eq!(
            x.volumes,
            [
                Volume { name: "uploads".into(), writers: vec!["app".into(), "worker".into()] },
                Volume { name: "media".into(), writers: vec![] }
            ]
        );
        let skipped: Vec<&str> = x.skipped_volumes.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(skipped, ["pgdata", "cachedata", "shared"]);
        assert_eq!(x.required_variables, ["DB_PASSWORD"]);
        assert_eq!(x.version_variable.as_deref(), Some("APP_VERSION"));
        assert_eq!(x.published, [("app".to_string(), "127.0.0.1:8000".to_string())]);
        assert_eq!(x.env_templates, [".env.example"]);
    }

    #[test]
    fn no_compose_file_is_a_usage_error() {
        let d = tempfile::tempdir().unwrap();
        let e = detect(d.path()).unwrap_err();
        assert!(e.to_string().contains("no compose file"), "{e}");
    }
}
