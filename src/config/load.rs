//! Reading ccops.yaml into [`Settings`]: parse, pick the environment, gather the
//! variables (env file, process environment, `*_FILE` secrets), interpolate every string
//! of the selected environment, read the schema, and resolve paths and names. Errors
//! point at `file:line:column`. A third of its length is the tests of those errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_yaml::Value;

use super::{
    ConfigError, ConfigFile, ProcessEnv, Settings, Vars, closest, envfile, normalize_project, resolve, signing,
    suggest, validate,
};
use crate::env_vars;
use crate::syntax::interp;
use crate::syntax::secrets::is_secret_name;

fn located(path: &Path, e: &serde_yaml::Error) -> ConfigError {
    let (line, col) = e.location().map_or((None, None), |l| (Some(l.line()), Some(l.column())));
    let raw = e.to_string();
    // serde_yaml appends " at line X column Y"; we print that as file:line:column.
    let msg = raw.split(" at line ").next().unwrap_or(&raw).to_string();
    let msg = suggest::unknown_field_message(&msg).unwrap_or(msg);
    ConfigError::at(path, line, col, msg)
}

/// The engine to use: `configured` (`docker_host`), else DOCKER_HOST, else the Docker
/// context, as the Docker CLI reads them from the process environment.
pub fn engine_endpoint(configured: Option<&str>, penv: &ProcessEnv) -> Result<Option<crate::docker::Endpoint>> {
    let cli = crate::docker::CliEnv {
        docker_host: penv.get(env_vars::DOCKER_HOST),
        docker_context: penv.get(env_vars::DOCKER_CONTEXT),
        docker_config: penv.get(env_vars::DOCKER_CONFIG),
        home: penv.get(env_vars::HOME),
        tls_verify: penv.get(env_vars::DOCKER_TLS_VERIFY),
        cert_path: penv.get(env_vars::DOCKER_CERT_PATH),
    };
    crate::docker::resolve_endpoint(configured, &cli)
}

pub fn load_str(path: &Path, text: &str, env: Option<&str>, penv: &ProcessEnv) -> Result<Settings> {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let raw: Value = if text.trim().is_empty() {
        Value::Mapping(Default::default())
    } else {
        serde_yaml::from_str(text).map_err(|e| located(path, &e))?
    };
    if !raw.is_mapping() {
        return Err(ConfigError::at(
            path,
            Some(1),
            Some(1),
            "the config must be a mapping of keys (project:, environments:, backup: ...)",
        )
        .into());
    }

    // The process environment alone, to read the few keys that pick the env file.
    let mut early = Vars::default();
    for (k, v) in &penv.vars {
        early.insert(k, v.clone(), false);
    }
    let env_names: Vec<String> = raw
        .get("environments")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(|k| k.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let default_env = raw.get("default_environment").and_then(Value::as_str).map(|s| interp_plain(s, &early));
    let env_name = select_env(path, env, default_env.as_deref(), &env_names)?;

    let env_raw = raw.get("environments").and_then(|e| e.get(env_name.as_str()));
    let env_file = env_raw
        .and_then(|e| e.get("env_file"))
        .and_then(Value::as_str)
        .map(|s| resolve(&base_dir, &interp_plain(s, &early)));

    // Variables: env file first, the process environment over it, then `*_FILE`.
    let from_env_file = env_file.as_ref().map(|f| envfile::read(f)).transpose()?.unwrap_or_default();
    let mut vars = Vars::default();
    for (k, v) in &from_env_file {
        vars.insert(k, v.clone(), true);
    }
    for (k, v) in &penv.vars {
        vars.insert(k, v.clone(), false);
    }
    // `VAR_FILE` supplies `VAR` from a file (Docker secrets). In the env file that is
    // always meant; in the process environment only for secret-like names or variables
    // the config uses, since many tools export unrelated `*_FILE` paths.
    let mut compose_env = BTreeMap::new();
    // name -> (file, strict); the process environment overrides the env file, as for
    // every other variable.
    let mut refs: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (k, v) in &from_env_file {
        if let Some(name) = k.strip_suffix("_FILE").filter(|n| !n.is_empty()) {
            refs.insert(name.to_string(), (v.clone(), true));
        }
    }
    for (k, v) in &penv.vars {
        let Some(name) = k.strip_suffix("_FILE").filter(|n| !n.is_empty()) else { continue };
        if is_secret_name(name) || mentions(text, name) {
            refs.insert(name.to_string(), (v.clone(), refs.get(name).is_some_and(|(_, strict)| *strict)));
        }
    }
    let file_refs: Vec<(String, String, bool)> = refs.into_iter().map(|(n, (f, strict))| (n, f, strict)).collect();
    for (name, file, strict) in file_refs {
        if vars.get(&name).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let p = resolve(&base_dir, &file);
        let content = match crate::util::read_small_file(&p, crate::util::MAX_CONFIG_FILE_BYTES) {
            Ok(c) => c,
            Err(_) if !strict => continue,
            Err(e) => {
                return Err(ConfigError::file(
                    &p,
                    format!(
                        "cannot read `{name}_FILE` ({}); fix the path or unset {name}_FILE",
                        crate::util::io_reason(&e)
                    ),
                )
                .into());
            }
        };
        let value = content.trim_end_matches(['\n', '\r']).to_string();
        vars.insert(&name, value.clone(), true);
        vars.mark_from_file(&name);
        compose_env.insert(name, value);
    }

    // Interpolate every string of the document, keeping a masked copy for display. Other
    // environments stay as written: a `${VAR:?}` of staging must not stop production.
    let mut resolved = raw.clone();
    let mut display = raw;
    let others = take_other_envs(&mut resolved, &env_name);
    take_other_envs(&mut display, &env_name);
    interp_tree(&mut resolved, &mut display, &vars, text, path)?;
    put_back_envs(&mut resolved, others.clone());
    put_back_envs(&mut display, others);

    let file: ConfigFile = match serde_yaml::from_value(resolved) {
        Ok(f) => f,
        Err(e) => {
            // Re-read the text itself to point at the line; fall back to the path message.
            return Err(match serde_yaml::from_str::<ConfigFile>(text) {
                Err(located_err) => located(path, &located_err),
                Ok(_) => {
                    let m = e.to_string();
                    ConfigError::file(path, suggest::unknown_field_message(&m).unwrap_or(m))
                }
            }
            .into());
        }
    };
    validate::validate(path, text, &file)?;
    let signing = signing::resolve_signing(path, text, &base_dir, &file.backup.signing, &vars)?;

    let env = file.environments.get(&env_name).cloned().unwrap_or_default();
    let compose_files: Vec<PathBuf> = env.compose_files.iter().map(|f| resolve(&base_dir, f)).collect();
    for (i, f) in compose_files.iter().enumerate() {
        if !f.is_file() {
            return Err(ConfigError::at_first(
                path,
                text,
                &env.compose_files[i],
                format!(
                    "compose file `{}` of environment `{env_name}` does not exist; fix `compose_files`",
                    f.display()
                ),
            )
            .into());
        }
    }
    let project = file
        .project
        .clone()
        .or_else(|| vars.get(env_vars::COMPOSE_PROJECT_NAME).filter(|v| !v.is_empty()).map(String::from))
        .unwrap_or_else(|| base_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let project = normalize_project(&project);
    if project.is_empty() {
        return Err(ConfigError::file(path, "no usable project name; set `project:` in ccops.yaml").into());
    }
    let engine = engine_endpoint(env.docker_host.as_deref(), penv)?;
    let docker_bin = penv.get(env_vars::CCOPS_DOCKER).unwrap_or("docker");
    let volume_read_engine = match penv.get(env_vars::CCOPS_VOLUME_READ).unwrap_or_default() {
        "engine" => true,
        "" | "auto" => false,
        other => return Err(crate::usage!("CCOPS_VOLUME_READ=`{other}` is not understood; use `auto` or `engine`")),
    };
    let backup_dir = resolve(&base_dir, &file.backup.directory);
    let state_dir = resolve(&base_dir, file.state_directory.as_deref().unwrap_or(".ccops"));
    let mut display = serde_json::to_value(&display).unwrap_or_default();
    // Incoming-webhook and ping URLs carry their token in the path: never shown, even
    // when literal (a per-command `off` is not a URL and stays).
    let pings = crate::config::PingUrls::default().entries().map(|(k, _)| format!("/notify/ping/{k}"));
    for key in ["/notify/webhook_url".to_string(), "/notify/ping_url".to_string()].into_iter().chain(pings) {
        if let Some(url) = display
            .pointer_mut(&key)
            .filter(|u| u.as_str().is_some_and(|u| !u.is_empty() && u.trim() != crate::config::PING_OFF))
        {
            *url = serde_json::Value::String("********".into());
        }
    }
    Ok(Settings {
        config_file: path.to_path_buf(),
        base_dir,
        project,
        env_name,
        env,
        compose_files,
        env_file,
        vars,
        compose_env,
        file,
        backup_dir,
        state_dir,
        engine,
        compose_override: penv.get(env_vars::CCOPS_COMPOSE).map(String::from),
        docker_bin: docker_bin.to_string(),
        compose_plugin: crate::compose::find_plugin(
            docker_bin,
            penv.get(env_vars::PATH),
            penv.get(env_vars::HOME),
            penv.get(env_vars::DOCKER_CONFIG),
        ),
        volume_read_engine,
        signing,
        display,
    })
}

/// Whether the config text refers to variable `name` (`${NAME...}` or `$NAME`, also inside
/// another's default; `$$NAME` is an escaped dollar, not a reference).
fn mentions(text: &str, name: &str) -> bool {
    interp::all_references(text).iter().any(|e| e.name == name)
}

/// Remove every environment but `keep` from `environments:`, returning them.
fn take_other_envs(v: &mut Value, keep: &str) -> Vec<(Value, Value)> {
    let Some(envs) = v.get_mut("environments").and_then(Value::as_mapping_mut) else { return vec![] };
    let others: Vec<Value> = envs.keys().filter(|k| k.as_str() != Some(keep)).cloned().collect();
    others.into_iter().filter_map(|k| envs.remove(&k).map(|val| (k, val))).collect()
}

fn put_back_envs(v: &mut Value, others: Vec<(Value, Value)>) {
    if let Some(envs) = v.get_mut("environments").and_then(Value::as_mapping_mut) {
        for (k, val) in others {
            envs.insert(k, val);
        }
    }
}

fn interp_plain(s: &str, vars: &Vars) -> String {
    interp::interpolate(s, vars).map(|r| r.value).unwrap_or_else(|_| s.to_string())
}

fn select_env(path: &Path, flag: Option<&str>, default: Option<&str>, names: &[String]) -> Result<String> {
    let pick = |n: &str, how: &str| -> Result<String> {
        if names.iter().any(|x| x == n) {
            return Ok(n.to_string());
        }
        let hint = match closest(n, names.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("known environments: {}", if names.is_empty() { "none".into() } else { names.join(", ") }),
        };
        Err(ConfigError::file(path, format!("unknown environment `{n}` ({how}); {hint}")).into())
    };
    if let Some(n) = flag {
        return pick(n, "given on the command line");
    }
    if let Some(n) = default {
        return pick(n, "from default_environment");
    }
    match names {
        [] => Ok("default".to_string()),
        [only] => Ok(only.clone()),
        _ => Err(crate::usage!(
            "{} defines several environments ({}) and no default_environment; pass --env ENV",
            path.display(),
            names.join(", ")
        )),
    }
}

fn interp_tree(v: &mut Value, shown: &mut Value, vars: &Vars, text: &str, path: &Path) -> Result<()> {
    match (&mut *v, shown) {
        (Value::String(s), shown) => {
            let r = interp::interpolate(s, vars).map_err(|(_, msg)| {
                // Point at the expression in the file.
                let needle = s.find("${").map_or(s.as_str(), |i| &s[i..]);
                let needle = needle.split('}').next().unwrap_or(needle);
                ConfigError::at_first(path, text, needle, format!("{msg} (set it in the environment or the env file)"))
            })?;
            let typed = if r.expanded { retype(&r.value) } else { Value::String(r.value.clone()) };
            *shown =
                if r.used.iter().any(|n| vars.is_secret(n)) { Value::String("********".into()) } else { typed.clone() };
            *v = typed;
        }
        (Value::Sequence(a), Value::Sequence(b)) => {
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                interp_tree(x, y, vars, text, path)?;
            }
        }
        (Value::Mapping(a), Value::Mapping(b)) => {
            for ((_, x), (_, y)) in a.iter_mut().zip(b.iter_mut()) {
                interp_tree(x, y, vars, text, path)?;
            }
        }
        (Value::Tagged(a), Value::Tagged(b)) => interp_tree(&mut a.value, &mut b.value, vars, text, path)?,
        _ => {}
    }
    Ok(())
}

/// An interpolated scalar takes the type it would have had if written literally
/// (`days: ${DAYS:-30}` is a number), as in Compose.
fn retype(s: &str) -> Value {
    match serde_yaml::from_str::<Value>(s) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err_of, load_in, penv};
    use super::*;

    #[test]
    fn unknown_key_names_line_column_and_suggestion() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(load_in(d.path(), "project: x\nbackup:\n  retension:\n    days: 3\n", &[]));
        assert!(e.contains("ccops.yaml:3:3: unknown key `retension` in `backup`; did you mean `retention`?"), "{e}");
    }

    #[test]
    fn malformed_yaml_points_at_the_line() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(load_in(d.path(), "project: x\nbackup: [\n", &[]));
        assert!(e.contains("ccops.yaml:3:"), "{e}");
    }

    #[test]
    fn required_variable_error_points_at_its_line() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(load_in(d.path(), "project: x\nnotify:\n  webhook_url: ${HOOK:?set HOOK}\n", &[]));
        assert!(e.contains("ccops.yaml:3:16: variable `HOOK` is not set: set HOOK"), "{e}");
    }

    #[test]
    fn env_file_and_file_secrets_interpolate_and_mask() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), "WEBHOOK_TOKEN=tok123\nDAYS=9\nPW_FILE=pw.txt\n").unwrap();
        std::fs::write(d.path().join("pw.txt"), "from-file\n").unwrap();
        std::fs::write(d.path().join("c.yml"), "services: {}\n").unwrap();
        let yaml = "project: Demo.App\nenvironments:\n  prod:\n    env_file: .env\n    compose_files: [c.yml]\nbackup:\n  retention:\n    days: ${DAYS}\nnotify:\n  webhook_url: https://h/${WEBHOOK_TOKEN}\n";
        let s = load_in(d.path(), yaml, &[]).unwrap();
        assert_eq!(s.project, "demoapp");
        assert_eq!(s.env_name, "prod");
        assert_eq!(s.file.backup.retention.days, Some(9));
        assert_eq!(s.file.notify.webhook_url.as_deref(), Some("https://h/tok123"));
        assert_eq!(s.vars.get("PW"), Some("from-file"));
        assert_eq!(s.compose_env.get("PW").map(String::as_str), Some("from-file"));
        let shown = s.display.to_string();
        assert!(!shown.contains("tok123"), "{shown}");
        assert!(shown.contains("********"));
    }

    #[test]
    fn process_environment_wins_over_env_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), "DAYS=9\n").unwrap();
        let yaml = "environments:\n  p:\n    env_file: .env\nbackup:\n  retention:\n    days: ${DAYS}\n";
        let s = load_in(d.path(), yaml, &[("DAYS", "4")]).unwrap();
        assert_eq!(s.file.backup.retention.days, Some(4));
    }

    #[test]
    fn missing_env_file_and_compose_file_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(load_in(d.path(), "environments:\n  p:\n    env_file: .env.prod\n", &[]));
        assert!(e.contains(".env.prod") && e.contains("cannot read the env file"), "{e}");
        let e = err_of(load_in(d.path(), "environments:\n  p:\n    compose_files: [nope.yml]\n", &[]));
        assert!(e.contains("ccops.yaml:3:21: compose file") && e.contains("nope.yml"), "{e}");
    }

    #[test]
    fn unknown_environment_is_named_with_a_suggestion() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ccops.yaml");
        let yaml = "environments:\n  production: {}\n  staging: {}\n";
        std::fs::write(&p, yaml).unwrap();
        let e = load_str(&p, yaml, Some("prodution"), &penv(&[])).unwrap_err().to_string();
        assert!(e.contains("unknown environment `prodution`") && e.contains("did you mean `production`?"), "{e}");
        let e = load_str(&p, yaml, None, &penv(&[])).unwrap_err().to_string();
        assert!(e.contains("pass --env"), "{e}");
    }

    #[test]
    fn another_environments_required_variable_does_not_block() {
        let d = tempfile::tempdir().unwrap();
        let yaml = "default_environment: prod\nenvironments:\n  prod: {}\n  staging:\n    docker_host: ${STAGING_HOST:?set it}\n";
        let s = load_in(d.path(), yaml, &[]).unwrap();
        assert_eq!(s.env_name, "prod");
        let p = d.path().join("ccops.yaml");
        let e = load_str(&p, yaml, Some("staging"), &penv(&[])).unwrap_err().to_string();
        assert!(e.contains("STAGING_HOST"), "{e}");
    }

    #[test]
    fn mentions_matches_whole_names() {
        assert!(mentions("a: ${DB_PASSWORD}", "DB_PASSWORD"));
        assert!(mentions("a: $DB_PASSWORD/x", "DB_PASSWORD"));
        assert!(!mentions("a: ${DB_PASSWORD}", "DB"));
        assert!(mentions("a: ${X:-${DB_PASSWORD}}", "DB_PASSWORD"), "inside a default");
        assert!(!mentions("a: $${DB_PASSWORD}", "DB_PASSWORD"), "an escaped dollar");
    }

    #[test]
    fn process_file_secret_overrides_the_env_file_one() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), "DB_PASSWORD_FILE=a.txt\n").unwrap();
        std::fs::write(d.path().join("a.txt"), "from-env-file").unwrap();
        std::fs::write(d.path().join("b.txt"), "from-process").unwrap();
        let yaml = "environments:\n  p:\n    env_file: .env\n";
        let s = load_in(d.path(), yaml, &[("DB_PASSWORD_FILE", "b.txt")]).unwrap();
        assert_eq!(s.vars.get("DB_PASSWORD"), Some("from-process"));
    }

    #[test]
    fn compose_project_name_may_come_from_the_env_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), "COMPOSE_PROJECT_NAME=fromenv\n").unwrap();
        let s = load_in(d.path(), "environments:\n  p:\n    env_file: .env\n", &[]).unwrap();
        assert_eq!(s.project, "fromenv");
    }

    #[test]
    fn bad_duration_is_explained() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(load_in(d.path(), "deploy:\n  timeout: soon\n", &[]));
        assert!(e.contains("`soon` is not a duration") && e.contains(":2:"), "{e}");
    }
}
