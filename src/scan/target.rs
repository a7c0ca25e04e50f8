//! What to scan: the folder, its environments (each a list of compose files, merged in
//! order) and the suppressions of ccops.yaml. Scan needs no ccops.yaml: without one, the
//! compose files of the folder are found by name. With one, every environment's
//! `compose_files` are scanned; a config that cannot be fully resolved (an env file not
//! there yet) is still scanned, one that is not YAML stops the scan (exit 2).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::read::{Refusal, Tree};
use super::suppress::{self, Ignore};
use super::yaml;
use crate::config::{ConfigError, ProcessEnv};
use crate::syntax::{envfile, interp};

/// The compose files Compose itself looks for, in its order of preference.
const BASE_NAMES: &[&str] = &["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFiles {
    pub name: String,
    pub compose_files: Vec<PathBuf>,
    /// `env_file` of the environment in ccops.yaml.
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Target {
    /// Reported paths are relative to this folder.
    pub root: PathBuf,
    pub config: Option<PathBuf>,
    pub envs: Vec<EnvFiles>,
    pub ignores: Vec<Ignore>,
}

/// `p` made absolute and, when it exists, free of symlinks: git reports real paths, and
/// every reported path is made relative to the root.
fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    let p = if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    std::fs::canonicalize(&p).unwrap_or_else(|_| super::paths::normalize(&p))
}

impl Target {
    /// Decide what to scan from `PATH`, `--config`, `--env` and the environment.
    pub fn resolve(path: Option<&Path>, config: Option<&Path>, env: Option<&str>, penv: &ProcessEnv) -> Result<Target> {
        let path = path.map(|p| absolute(&penv.cwd, p));
        if let Some(p) = &path {
            if !p.exists() {
                return Err(crate::usage!(
                    "`{}` does not exist; pass the Compose project's folder or a compose file",
                    p.display()
                ));
            }
        }
        let config = match (config, &path) {
            (Some(c), _) => {
                let c = absolute(&penv.cwd, c);
                if !c.is_file() {
                    return Err(crate::usage!("config file `{}` does not exist; check --config", c.display()));
                }
                Some(c)
            }
            (None, Some(p)) if p.is_dir() => Some(p.join("ccops.yaml")).filter(|c| c.is_file()),
            (None, Some(_)) => None,
            (None, None) => match crate::config::find(None, penv) {
                Ok(c) => Some(absolute(&penv.cwd, &c)),
                // A CCOPS_CONFIG that names no file is a mistake worth stopping for.
                Err(e) if penv.get(crate::env_vars::CCOPS_CONFIG).is_some() => return Err(e),
                Err(_) => None,
            },
        };
        if let Some(file) = path.as_ref().filter(|p| p.is_file()) {
            let root = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let ignores = match &config {
                Some(c) => read_config(c, None, penv)?.1,
                None => Vec::new(),
            };
            let envs = vec![EnvFiles { name, compose_files: vec![file.clone()], env_file: None }];
            return Ok(Target { root, config, envs, ignores });
        }
        let root = path
            .clone()
            .or_else(|| config.as_ref().and_then(|c| c.parent().map(Path::to_path_buf)))
            .unwrap_or_else(|| absolute(&penv.cwd, Path::new(".")));
        let (envs, ignores) = match &config {
            Some(c) => read_config(c, env, penv)?,
            None => (discover(&root)?, Vec::new()),
        };
        Ok(Target { root, config, envs, ignores })
    }
}

/// Environments found by file name: the base file (with docker-compose.override.yml, as
/// `docker compose` reads it by default), and the base with each other override file.
pub fn discover(dir: &Path) -> Result<Vec<EnvFiles>> {
    let base = BASE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file());
    let mut overrides: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let stem = name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml"))?;
            let env = stem.strip_prefix("docker-compose.").or_else(|| stem.strip_prefix("compose."))?;
            (!env.is_empty()).then(|| (env.to_string(), p))
        })
        .collect();
    overrides.sort();
    let one =
        |name: &str, files: Vec<PathBuf>| EnvFiles { name: name.to_string(), compose_files: files, env_file: None };
    let mut envs = Vec::new();
    match base {
        Some(base) => {
            let mut default = vec![base.clone()];
            if let Some((_, o)) = overrides.iter().find(|(n, _)| n == "override") {
                default.push(o.clone());
            }
            envs.push(one("default", default));
            for (name, file) in overrides.iter().filter(|(n, _)| n != "override") {
                envs.push(one(name, vec![base.clone(), file.clone()]));
            }
        }
        None => envs.extend(overrides.iter().map(|(name, file)| one(name, vec![file.clone()]))),
    }
    if envs.is_empty() {
        return Err(crate::usage!(
            "no compose file in `{}` (looked for {}, docker-compose.*.yml, compose.*.yaml); pass the project's folder or a compose file",
            dir.display(),
            BASE_NAMES.join(", ")
        ));
    }
    Ok(envs)
}

/// Environments and suppressions of a ccops.yaml. Each environment is resolved the way
/// every command resolves it; when that fails for reasons of the machine (an env file or
/// a variable not there), the compose files it names are scanned all the same.
fn read_config(path: &Path, only: Option<&str>, penv: &ProcessEnv) -> Result<(Vec<EnvFiles>, Vec<Ignore>)> {
    // The config was named or found by the operator: any place will do, but it must be a
    // regular file of sane size (a repository's ccops.yaml is as untrusted as the rest).
    let bytes = Tree::anywhere().read(path).map_err(|r| ConfigError::file(path, format!("cannot read: {r}")))?;
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::file(path, "cannot read: it is not UTF-8 text"))?;
    let root = yaml::parse(&text, usize::MAX).map_err(|e| {
        let what = if e.limit { "cannot be scanned" } else { "invalid YAML" };
        ConfigError::at(path, Some(e.line), Some(e.col), format!("{what}: {}", e.message))
    })?;
    if !root.is_map() {
        return Err(ConfigError::at(
            path,
            Some(1),
            Some(1),
            "the config must be a mapping of keys (project:, environments: ...)",
        )
        .into());
    }
    let ignores = suppress::from_config(path, root.get("scan"))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let envs_node = root.get_some("environments");
    if let Some(n) = envs_node.filter(|n| !n.is_map()) {
        return Err(ConfigError::at(
            path,
            Some(n.pos.line),
            Some(n.pos.col),
            "`environments` must be a mapping of environment names",
        )
        .into());
    }
    let names: Vec<&str> =
        envs_node.map(|n| n.as_map().iter().filter_map(|(k, _)| k.as_str()).collect()).unwrap_or_default();
    if let Some(want) = only {
        if !names.contains(&want) {
            let hint = crate::config::closest(want, names.iter().copied()).map_or_else(
                || {
                    format!(
                        "known environments: {}",
                        if names.is_empty() { "none".to_string() } else { names.join(", ") }
                    )
                },
                |s| format!("did you mean `{s}`?"),
            );
            return Err(ConfigError::file(
                path,
                format!("unknown environment `{want}` (given on the command line); {hint}"),
            )
            .into());
        }
    }
    let mut envs = Vec::new();
    let mut warned = false;
    for name in names.iter().copied().filter(|n| only.is_none_or(|o| o == *n)) {
        let node = envs_node.and_then(|n| n.get(name));
        let loaded = match unsafe_to_load(&base_dir, node) {
            // The config loader reads env files and `*_FILE`s without the scan's limits.
            Some(why) => Err(anyhow::anyhow!("{why}")),
            None => crate::config::load_str(path, &text, Some(name), penv),
        };
        let env = match loaded {
            Ok(s) => EnvFiles { name: name.to_string(), compose_files: s.compose_files, env_file: s.env_file },
            Err(e) => {
                if !warned {
                    crate::output::warn(format!(
                        "scan: {e:#}\n  the config is not fully usable on this machine; scanning the compose files it names anyway (`ccops config check` says more)"
                    ));
                    warned = true;
                }
                raw_env(path, &base_dir, name, node)?
            }
        };
        let env = if env.compose_files.is_empty() {
            // No compose_files: Compose's own defaults in the config's folder.
            let found = discover(&base_dir)?.into_iter().next().map(|d| d.compose_files).unwrap_or_default();
            EnvFiles { compose_files: found, ..env }
        } else {
            env
        };
        envs.push(env);
    }
    if envs.is_empty() {
        envs = discover(&base_dir)?;
    }
    Ok((envs, ignores))
}

/// Why the environment `node` must not be handed to the config loader, if it must not:
/// the loader reads its env file, and each `*_FILE` the env file names, whole and with no
/// check. A repository's `env_file: /dev/zero` would never finish; read as written here
/// (`${VAR:-x}` as its default), each is checked the way the scan reads files.
fn unsafe_to_load(base_dir: &Path, node: Option<&yaml::Node>) -> Option<String> {
    let env_file = node?.get("env_file").and_then(yaml::Node::as_str)?;
    let env_file = base_dir.join(interp::resolve(env_file).text);
    let refuse = |p: &Path, r: Refusal| format!("`{}` is not read: {r}", p.display());
    let text = match Tree::anywhere().read_lossy(&env_file) {
        Ok(text) => text,
        Err(r) if r.rule().is_some() => return Some(refuse(&env_file, r)),
        // Missing or unreadable: the loader says so itself, without reading anything.
        Err(_) => return None,
    };
    for e in envfile::entries(&text).flatten().filter(|e| e.key.ends_with("_FILE")) {
        let file = base_dir.join(&e.value);
        match Tree::anywhere().check(&file) {
            Err(r) if r.rule().is_some() => return Some(refuse(&file, r)),
            _ => {}
        }
    }
    None
}

/// An environment read straight from the text: `${VAR:-default}` read as its default.
fn raw_env(path: &Path, base_dir: &Path, name: &str, node: Option<&yaml::Node>) -> Result<EnvFiles> {
    let resolve = |s: &str| base_dir.join(interp::resolve(s).text);
    let mut files = Vec::new();
    if let Some(list) = node.and_then(|n| n.get_some("compose_files")) {
        for item in list.as_seq() {
            let Some(s) = item.as_str() else {
                return Err(ConfigError::at(
                    path,
                    Some(item.pos.line),
                    Some(item.pos.col),
                    "`compose_files` must list file names",
                )
                .into());
            };
            let f = resolve(s);
            if f.is_file() {
                files.push(f);
            } else {
                crate::output::warn(format!(
                    "scan: compose file `{}` of environment `{name}` does not exist; skipped",
                    f.display()
                ));
            }
        }
    }
    let env_file = node.and_then(|n| n.get("env_file")).and_then(yaml::Node::as_str).map(resolve);
    Ok(EnvFiles { name: name.to_string(), compose_files: files, env_file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(d: &Path, names: &[&str]) {
        for n in names {
            std::fs::write(d.join(n), "services: {}\n").unwrap();
        }
    }

    #[test]
    fn discovers_base_override_and_environment_files() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), &["docker-compose.yml", "docker-compose.override.yml", "docker-compose.prod.yml", "other.yml"]);
        let envs = discover(d.path()).unwrap();
        let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["default", "prod"]);
        assert_eq!(envs[0].compose_files.len(), 2);
        assert!(envs[1].compose_files[1].ends_with("docker-compose.prod.yml"));
    }

    #[test]
    fn prefers_compose_yaml_and_fails_without_any_file() {
        let d = tempfile::tempdir().unwrap();
        let e = discover(d.path()).unwrap_err().to_string();
        assert!(e.contains("no compose file"), "{e}");
        touch(d.path(), &["compose.yaml", "docker-compose.yml"]);
        assert!(discover(d.path()).unwrap()[0].compose_files[0].ends_with("compose.yaml"));
    }

    #[test]
    fn config_environments_even_when_an_env_file_is_missing() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), &["base.yml", "prod.yml"]);
        let cfg = d.path().join("ccops.yaml");
        let text = "environments:\n  production:\n    compose_files: [base.yml, prod.yml]\n    env_file: .env.prod\n  staging:\n    compose_files: [base.yml]\nscan:\n  ignore:\n    - {rule: CMP012, service: worker, reason: systemd slice}\n";
        std::fs::write(&cfg, text).unwrap();
        let penv = ProcessEnv { vars: Default::default(), cwd: d.path().to_path_buf() };
        let t = Target::resolve(None, None, None, &penv).unwrap();
        assert_eq!(t.root, std::fs::canonicalize(d.path()).unwrap());
        assert_eq!(t.envs.len(), 2);
        assert_eq!(t.envs[0].compose_files.len(), 2);
        assert!(t.envs[0].env_file.as_ref().unwrap().ends_with(".env.prod"));
        assert_eq!(t.ignores.len(), 1);
        let only = Target::resolve(None, None, Some("staging"), &penv).unwrap();
        assert_eq!(only.envs.len(), 1);
        let e = Target::resolve(None, None, Some("producton"), &penv).unwrap_err().to_string();
        assert!(e.contains("did you mean `production`"), "{e}");
    }

    #[test]
    fn malformed_config_is_an_error_with_its_line() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), &["compose.yaml"]);
        std::fs::write(d.path().join("ccops.yaml"), "environments:\n  p: [\n").unwrap();
        let penv = ProcessEnv { vars: Default::default(), cwd: d.path().to_path_buf() };
        let e = Target::resolve(None, None, None, &penv).unwrap_err().to_string();
        assert!(e.contains("ccops.yaml:3:"), "{e}");
    }

    #[test]
    fn a_file_argument_is_scanned_alone() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), &["stack.yml"]);
        let penv = ProcessEnv { vars: Default::default(), cwd: PathBuf::from("/") };
        let t = Target::resolve(Some(&d.path().join("stack.yml")), None, None, &penv).unwrap();
        assert_eq!(t.envs[0].name, "stack");
        assert_eq!(t.root, std::fs::canonicalize(d.path()).unwrap());
    }
}
