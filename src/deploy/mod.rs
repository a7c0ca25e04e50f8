//! Releases (SPEC §1 deploy, rollback, releases, scale, migrate; §4 state and lock):
//! the deploy sequence, start-first and stop-first rollouts on plain Compose (or a
//! `docker stack deploy` on Swarm, `swarm`), the
//! release history a rollback reads its images from, replica counts that deploys keep,
//! and database migrations in two modes.
//!
//! Every operation that changes something holds the project lock from start to end;
//! every child process runs in its own process group, so a Ctrl-C reaches ccops alone
//! and ccops cleans up (removes half-started containers, records the release as
//! interrupted) before it exits with 130.

pub mod drain;
mod dry_run;
pub mod history;
pub mod hooks;
pub mod images;
mod inputs;
pub mod migrate;
pub mod plan;
mod pre_backup;
pub mod preflight;
pub mod proc;
pub mod record;
pub mod revert;
pub mod rollback;
pub mod rollout;
pub mod run;
pub mod scale;
pub mod steps;
pub mod swarm;
pub mod table;
pub mod wait;

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::compose::{Compose, Model};
use crate::config::Settings;
use crate::docker::Engine;

/// The release history, after what a killed ccops left half done is put right: data
/// swaps rolled back by the state journal, releases it left in progress recorded as
/// interrupted. That only with the project lock held (`locked`); without it (a dry run)
/// the history as it is.
pub async fn history_put_right(p: &crate::project::Project, locked: bool) -> Result<history::History> {
    let s = &p.settings;
    let mut history = history::History::load(s)?;
    if locked {
        crate::snapshot::recover(p.engine()?, &s.state_dir).await?;
        for id in history.mark_abandoned()? {
            crate::output::warn(format!(
                "release #{id} was left unfinished by a ccops that is gone; recorded as interrupted"
            ));
        }
    }
    Ok(history)
}

/// Compose with the environment's version variable set to `version` (if it has one).
pub fn compose_for(base: &Compose, s: &Settings, version: Option<&str>) -> Compose {
    let mut c = base.clone();
    if let (Some(var), Some(v)) = (&s.env.version_variable, version) {
        c.set_var(var, v);
    }
    c
}

/// The model Compose gives with the variables of `compose` (a usage error if it fails).
pub async fn model_of(compose: &Compose, s: &Settings) -> Result<Model> {
    compose.model().await.map_err(|e| crate::usage!("{e:#}\nfix the compose files of environment `{}`", s.env_name))
}

/// The services a rollout covers, dependencies first: all of them, except those behind a
/// profile that have no container (Compose does not start them either).
pub async fn services(compose: &Compose, engine: &Engine, model: &Model) -> Result<Vec<String>> {
    Ok(layout(compose, engine, model).await?.0)
}

/// `services`, and each service's `depends_on`.
pub async fn layout(
    compose: &Compose,
    engine: &Engine,
    model: &Model,
) -> Result<(Vec<String>, BTreeMap<String, Vec<String>>)> {
    let existing = containers(engine, &compose.project, None).await?;
    let names: Vec<String> = model
        .services
        .iter()
        .filter(|(n, s)| s.profiles.is_empty() || existing.iter().any(|c| &c.service == *n))
        .map(|(n, _)| n.clone())
        .collect();
    let deps = plan::dependencies(&config_value(compose).await?);
    Ok((plan::order(&names, &deps), deps))
}

/// The normalized compose config as JSON (v2 prints JSON, v1 YAML).
async fn config_value(compose: &Compose) -> Result<serde_json::Value> {
    Ok(match compose.flavour {
        crate::compose::Flavour::V2 => {
            let text = compose.run(&["config", "--format", "json"]).await?;
            serde_json::from_str(&text).context("cannot read `compose config` output")?
        }
        crate::compose::Flavour::V1 => {
            let text = compose.run(&["config"]).await?;
            let y: serde_yaml::Value =
                serde_yaml::from_str(&text).context("cannot read `docker-compose config` output")?;
            serde_json::to_value(y)?
        }
    })
}

/// Replicas per service: what `ccops scale` saved, else the compose file's.
pub fn replicas(s: &Settings, model: &Model, services: &[String]) -> BTreeMap<String, u32> {
    let desired = crate::state::desired_scale(s);
    services
        .iter()
        .map(|n| {
            (n.clone(), desired.get(n).copied().unwrap_or_else(|| model.services.get(n).map_or(1, |x| x.replicas)))
        })
        .collect()
}

/// The version live in the environment, from the release history (None before the first).
pub fn live_version(s: &Settings) -> Result<Option<String>> {
    Ok(history::History::load(s)?.current().map(|r| r.version.clone()))
}

/// The containers Compose created for a project (or one service): `Engine::containers`
/// without those that merely inherited compose labels from their image. Compose v2 labels
/// the images it builds with project and service, so any container run from such an
/// image (another tool's helper, a `docker run`) would otherwise pass for a replica.
pub async fn containers(
    engine: &Engine,
    project: &str,
    service: Option<&str>,
) -> Result<Vec<crate::docker::Container>> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    if engine.is_swarm() {
        // Swarm made every container of the stack's label, from the service's spec.
        return engine.containers(project, service).await;
    }
    let mut labels = vec![format!("{}={project}", crate::docker::LABEL_PROJECT), CONFIG_HASH.to_string()];
    if let Some(s) = service {
        labels.push(format!("{}={s}", crate::docker::LABEL_SERVICE));
    }
    let filters = std::collections::HashMap::from([("label".to_string(), labels)]);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let made = engine
        .api()
        .list_containers(Some(opts))
        .await
        .map_err(|e| anyhow::anyhow!("cannot list containers: {}", crate::docker::short_err(&e)))?;
    let ids: std::collections::HashSet<String> = made.into_iter().filter_map(|c| c.id).collect();
    Ok(engine.containers(project, service).await?.into_iter().filter(|c| ids.contains(&c.id)).collect())
}

/// The label Compose (v1 and v2) puts on every container it creates, never on images.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
