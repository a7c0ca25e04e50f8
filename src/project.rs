//! An opened project: settings, the Compose driver, its service model and the engine.
//! Opening it checks that every service ccops.yaml names exists in the compose project.

use anyhow::Result;

use crate::compose::{Compose, Model};
use crate::config::{Settings, closest};
use crate::docker::Engine;

pub struct Project {
    pub settings: Settings,
    pub compose: Compose,
    pub model: Model,
    /// The engine, or why it cannot be reached (health reports that as a check).
    pub engine: Result<Engine, String>,
}

impl Project {
    pub async fn open(settings: Settings) -> Result<Project> {
        let compose = Compose::detect(&settings.compose_setup()).await?;
        crate::output::debug(format!("compose: {:?}, project `{}`", compose.flavour, compose.project));
        let model = compose
            .model()
            .await
            .map_err(|e| crate::usage!("{e:#}\nfix the compose files of environment `{}`", settings.env_name))?;
        validate_services(&settings, &model)?;
        let swarm = settings.env.orchestrator == crate::config::schema::Orchestrator::Swarm;
        let engine = Engine::connect(settings.engine.as_ref())
            .await
            .map(|e| if swarm { e.for_stack(&settings.project, &settings.docker_bin) } else { e })
            .map_err(|e| format!("{e:#}"));
        Ok(Project { settings, compose, model, engine })
    }

    /// The engine, or the error that says why it is unreachable.
    pub fn engine(&self) -> Result<&Engine> {
        self.engine.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Every service named in ccops.yaml must exist in the compose project (exit 2 if not).
pub fn validate_services(s: &Settings, model: &Model) -> Result<()> {
    let b = &s.file.backup;
    let mut named: Vec<(String, &str)> = Vec::new();
    named.extend(
        b.postgres.iter().enumerate().map(|(i, p)| (format!("backup.postgres[{i}].service"), p.service.as_str())),
    );
    named.extend(b.redis.iter().enumerate().map(|(i, r)| (format!("backup.redis[{i}].service"), r.service.as_str())));
    named.extend(b.mysql.iter().enumerate().map(|(i, m)| (format!("backup.mysql[{i}].service"), m.service.as_str())));
    named.extend(
        b.commands.iter().enumerate().map(|(i, c)| (format!("backup.commands[{i}].service"), c.service.as_str())),
    );
    for (i, v) in b.volumes.iter().enumerate() {
        named.extend(v.stop_services.iter().map(|sv| (format!("backup.volumes[{i}].stop_services"), sv.as_str())));
    }
    if let Some(m) = &s.file.migrate {
        named.extend(m.service.iter().map(|sv| ("migrate.service".to_string(), sv.as_str())));
        named.extend(m.database.iter().map(|d| ("migrate.database.service".to_string(), d.service.as_str())));
    }
    for (key, svc) in named {
        if !model.services.contains_key(svc) {
            let hint = match closest(svc, model.services.keys().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("its services are: {}", model.services.keys().cloned().collect::<Vec<_>>().join(", ")),
            };
            return Err(crate::config::ConfigError::file(
                &s.config_file,
                format!(
                    "{key} names service `{svc}`, which the compose project of environment `{}` does not have; {hint}",
                    s.env_name
                ),
            )
            .into());
        }
    }
    for (i, v) in b.volumes.iter().enumerate() {
        if !model.volumes.contains_key(&v.name) {
            return Err(crate::config::ConfigError::file(
                &s.config_file,
                format!(
                    "backup.volumes[{i}].name is `{}`, which is not a volume of the compose project (its volumes: {})",
                    v.name,
                    model.volumes.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
            .into());
        }
    }
    Ok(())
}
