//! The Docker Compose driver: `docker compose` (v2) when present, else `docker-compose`
//! (v1), always with the environment's project name, files, env file and variables.

mod model;
mod plugin;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Result, anyhow, bail};

pub use model::Model;
pub use plugin::find as find_plugin;

/// What the driver needs to know of one environment: which Compose to run and the
/// project's name, files, env file and variables. `config::Settings::compose_setup` fills
/// it in; the driver reads no ccops.yaml.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The Docker CLI (`docker`, or CCOPS_DOCKER).
    pub docker_bin: String,
    /// The Compose v2 plugin, when it and the Docker CLI were found without running them.
    pub plugin: Option<PathBuf>,
    /// CCOPS_COMPOSE: a forced Compose implementation.
    pub forced: Option<String>,
    /// The engine Compose must drive, handed over as DOCKER_HOST (and TLS variables).
    pub engine: Option<crate::docker::Endpoint>,
    pub project: String,
    /// Absolute compose files (empty: Compose's own defaults).
    pub files: Vec<PathBuf>,
    pub env_file: Option<PathBuf>,
    /// The folder relative paths of the compose files resolve against.
    pub project_dir: PathBuf,
    /// Variables Compose must be given itself (values from `*_FILE`).
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Flavour {
    /// The `docker compose` CLI plugin.
    V2,
    /// The standalone Python `docker-compose`.
    V1,
}

/// A Compose project as the environment describes it.
#[derive(Debug, Clone)]
pub struct Compose {
    pub flavour: Flavour,
    docker_bin: String,
    pub project: String,
    files: Vec<PathBuf>,
    env_file: Option<PathBuf>,
    project_dir: PathBuf,
    env: BTreeMap<String, String>,
}

impl Compose {
    /// Pick the Compose implementation (CCOPS_COMPOSE forces one) for the environment `s`
    /// describes.
    pub async fn detect(s: &Setup) -> Result<Compose> {
        let flavour = match s.forced.as_deref() {
            Some("docker-compose" | "v1") => {
                if !probe("docker-compose", &["version"]).await {
                    bail!("CCOPS_COMPOSE asks for `docker-compose` (v1), but it is not installed or does not run");
                }
                Flavour::V1
            }
            Some("docker compose" | "v2") => {
                if s.plugin.is_none() && !probe(&s.docker_bin, &["compose", "version"]).await {
                    bail!("CCOPS_COMPOSE asks for `docker compose` (v2), but `{} compose version` fails", s.docker_bin);
                }
                Flavour::V2
            }
            Some(other) => {
                return Err(crate::usage!(
                    "CCOPS_COMPOSE=`{other}` is not understood; use `docker compose` or `docker-compose`"
                ));
            }
            None if s.plugin.is_some() => Flavour::V2,
            None if probe(&s.docker_bin, &["compose", "version"]).await => Flavour::V2,
            None if probe("docker-compose", &["version"]).await => Flavour::V1,
            None => bail!(
                "neither `docker compose` (Compose v2) nor `docker-compose` (v1) is installed; install the Docker Compose plugin (package docker-compose-plugin or docker-compose)"
            ),
        };
        let mut env = s.env.clone();
        if let Some(e) = &s.engine {
            env.insert(crate::env_vars::DOCKER_HOST.into(), e.host.clone());
            if let Some(dir) = e.tls.as_ref().and_then(|t| t.ca.parent()) {
                env.insert(crate::env_vars::DOCKER_TLS_VERIFY.into(), "1".into());
                env.insert(crate::env_vars::DOCKER_CERT_PATH.into(), dir.display().to_string());
            }
        }
        Ok(Compose {
            flavour,
            docker_bin: s.docker_bin.clone(),
            project: s.project.clone(),
            files: s.files.clone(),
            env_file: s.env_file.clone(),
            project_dir: s.project_dir.clone(),
            env,
        })
    }

    /// Pass a variable to Compose (e.g. the version variable of a deploy).
    pub fn set_var(&mut self, name: &str, value: &str) {
        self.env.insert(name.to_string(), value.to_string());
    }

    /// A compose command with the project's global options in place.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = match self.flavour {
            Flavour::V2 => {
                let mut c = tokio::process::Command::new(&self.docker_bin);
                c.arg("compose");
                c
            }
            Flavour::V1 => tokio::process::Command::new("docker-compose"),
        };
        c.arg("--project-name").arg(&self.project).arg("--project-directory").arg(&self.project_dir);
        for f in &self.files {
            c.arg("--file").arg(f);
        }
        if let Some(e) = &self.env_file {
            c.arg("--env-file").arg(e);
        }
        c.args(args).envs(&self.env).current_dir(&self.project_dir).stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// A Docker CLI command (not Compose) with the project's engine and folder, for
    /// `docker stack` and `docker service`.
    pub fn docker(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.docker_bin);
        c.args(args).envs(&self.env).current_dir(&self.project_dir).stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// Run a compose command to completion; stdout is returned, stderr goes into the error.
    pub async fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|e| anyhow!("cannot run compose: {}", crate::error::io_reason(&e)))?;
        if !out.status.success() {
            return Err(self.failure(args, &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A failed compose command, with the last lines it printed.
    fn failure(&self, args: &[&str], stderr: &str) -> anyhow::Error {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n  ");
        anyhow!("`compose {}` failed for project `{}`:\n  {tail}", args.join(" "), self.project)
    }

    /// The normalized project model (`config --format json` on v2, `config` YAML on v1).
    pub async fn model(&self) -> Result<Model> {
        let text = match self.flavour {
            Flavour::V2 => self.run(&["config", "--format", "json"]).await?,
            Flavour::V1 => self.run(&["config"]).await?,
        };
        let value: serde_json::Value = match self.flavour {
            Flavour::V2 => {
                serde_json::from_str(&text).map_err(|e| anyhow!("cannot read `compose config` output: {e}"))?
            }
            Flavour::V1 => {
                let y: serde_yaml::Value = serde_yaml::from_str(&text)
                    .map_err(|e| anyhow!("cannot read `docker-compose config` output: {e}"))?;
                serde_json::to_value(y)?
            }
        };
        Ok(Model::from_json(&self.project, &value))
    }
}

async fn probe(bin: &str, args: &[&str]) -> bool {
    tokio::process::Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}
