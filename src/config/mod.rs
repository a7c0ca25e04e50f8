//! ccops.yaml: discovery, interpolation, env files, `*_FILE` secrets, validation, and the
//! resolved `Settings` every command receives. Settings are resolved once here
//! (flags > environment > file); ops never read the process environment themselves.
//! Reading the file into `Settings` is load.rs's; the checks across keys, validate.rs's.

mod discover;
mod envfile;
pub mod keys;
mod load;
#[cfg(test)]
mod proptests;
pub mod schema;
mod signing;
mod suggest;
mod validate;
pub mod values;
mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

pub use crate::error::ConfigError;
pub use keys::{PublicKey, SecretKeyFile, SigningSettings};
pub use load::{engine_endpoint, load_str};
pub use schema::*;
pub use suggest::closest;
pub use vars::Vars;

use crate::env_vars;

/// What a command needs to know, resolved from flags, the environment and ccops.yaml.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_file: PathBuf,
    /// The folder of the config file: relative paths resolve against it.
    pub base_dir: PathBuf,
    pub project: String,
    pub env_name: String,
    pub env: Environment,
    /// Absolute compose files of the environment (empty: Compose's own defaults).
    pub compose_files: Vec<PathBuf>,
    pub env_file: Option<PathBuf>,
    /// Variables for interpolation: process environment over the env file, plus `*_FILE`.
    pub vars: Vars,
    /// Variables ccops must hand to Compose itself (values from `*_FILE`).
    pub compose_env: BTreeMap<String, String>,
    pub file: ConfigFile,
    pub backup_dir: PathBuf,
    pub state_dir: PathBuf,
    /// The engine: `docker_host` of the environment, else DOCKER_HOST, else the Docker
    /// context (`None`: the local socket).
    pub engine: Option<crate::docker::Endpoint>,
    /// CCOPS_COMPOSE: a forced Compose implementation.
    pub compose_override: Option<String>,
    pub docker_bin: String,
    /// The Compose v2 plugin, when it and the Docker CLI are found without running them.
    pub compose_plugin: Option<PathBuf>,
    /// CCOPS_VOLUME_READ=engine: read volumes through the engine's archive API only.
    pub volume_read_engine: bool,
    /// `backup.signing` resolved: the key files read and checked, the password taken from
    /// the variable it names.
    pub signing: SigningSettings,
    /// The config as `config show` prints it, secrets masked.
    pub display: serde_json::Value,
}

impl Settings {
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        resolve(&self.base_dir, p)
    }

    /// What the Compose driver needs of this environment.
    pub fn compose_setup(&self) -> crate::compose::Setup {
        crate::compose::Setup {
            docker_bin: self.docker_bin.clone(),
            plugin: self.compose_plugin.clone(),
            forced: self.compose_override.clone(),
            engine: self.engine.clone(),
            project: self.project.clone(),
            files: self.compose_files.clone(),
            env_file: self.env_file.clone(),
            project_dir: self.base_dir.clone(),
            env: self.compose_env.clone(),
        }
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// What the process environment supplies, captured once in `commands::run`.
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    pub vars: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

impl ProcessEnv {
    pub fn capture() -> Self {
        ProcessEnv {
            vars: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Find and load the config, selecting `env` (or the default environment).
pub fn load(config: Option<&Path>, env: Option<&str>, penv: &ProcessEnv) -> Result<Settings> {
    let path = discover::find(config, penv.get(env_vars::CCOPS_CONFIG).map(PathBuf::from), &penv.cwd)?;
    let text = crate::util::read_small_file(&path, crate::util::MAX_CONFIG_FILE_BYTES)
        .map_err(|e| ConfigError::file(&path, format!("cannot read: {}", crate::util::io_reason(&e))))?;
    let settings = load_str(&path, &text, env, penv)?;
    crate::output::add_secrets(settings.vars.secret_values().cloned());
    crate::output::add_secrets(settings.signing.password.iter().map(|p| p.0.clone()));
    Ok(settings)
}

/// Find the config file only (for commands that merely need to know where it is).
pub fn find(config: Option<&Path>, penv: &ProcessEnv) -> Result<PathBuf> {
    discover::find(config, penv.get(env_vars::CCOPS_CONFIG).map(PathBuf::from), &penv.cwd)
}

/// Compose's rule: lowercase letters, digits, `_` and `-`.
pub fn normalize_project(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<String>()
        .trim_start_matches(['_', '-'])
        .to_string()
}

/// Loading from text, for the tests of this folder.
#[cfg(test)]
mod testing {
    use std::path::{Path, PathBuf};

    use anyhow::Result;

    use super::{ProcessEnv, Settings, load_str};

    /// A process environment of `vars` alone.
    pub fn penv(vars: &[(&str, &str)]) -> ProcessEnv {
        ProcessEnv { vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), cwd: PathBuf::from("/") }
    }

    /// `yaml` written as `dir/ccops.yaml` and loaded.
    pub fn load_in(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Result<Settings> {
        let p = dir.join("ccops.yaml");
        std::fs::write(&p, yaml).unwrap();
        load_str(&p, yaml, None, &penv(env))
    }

    /// The message of a load that must fail.
    pub fn err_of(r: Result<Settings>) -> String {
        r.unwrap_err().to_string()
    }
}
