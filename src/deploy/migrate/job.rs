//! `command` mode in a Swarm stack. A Compose container cannot join a stack's overlay
//! network, so the migration runs as a one-off task of the stack itself: the service
//! `<stack>_ccops-migrate`, made from the migrate service's definition in the release's
//! stack file (image, environment, networks, secrets, volumes, placement) with the
//! command replaced, one replica, no restart, no healthcheck and no published port.
//! ccops waits until its task ended, shows its output and removes the service, also when
//! the task failed or ccops was interrupted; one a killed ccops left is removed before
//! the next starts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bollard::models::TaskState;
use serde_json::{Value, json};

use crate::compose::Compose;
use crate::deploy::proc::{self, Finished, OnSignal, Show};
use crate::deploy::swarm;
use crate::docker::Engine;

/// The job's service in the stack.
const JOB: &str = "ccops-migrate";
/// How long the task may take to start (pulled, placed) before ccops gives up on it.
const START_LIMIT: Duration = Duration::from_secs(300);

/// The stack file of the job: `service`'s definition in `stack` (a file `stack_file`
/// made) running `command` once, with the stack's networks, volumes, secrets and configs.
pub fn job_file(stack: &Value, service: &str, command: &[String]) -> Result<Value> {
    let Some(def) = stack.get("services").and_then(|s| s.get(service)).and_then(Value::as_object) else {
        bail!("migrate.service `{service}` is not a service of the stack");
    };
    let mut def = def.clone();
    // Other services' names, the service's own ports and update policy: not the job's.
    for key in ["ports", "depends_on", "links", "container_name", "healthcheck"] {
        def.remove(key);
    }
    def.insert("command".into(), json!(command));
    def.insert("healthcheck".into(), json!({"disable": true}));
    let mut deploy = serde_json::Map::new();
    if let Some(keep) = def.get("deploy").and_then(Value::as_object) {
        for key in ["placement", "resources", "labels", "endpoint_mode"] {
            if let Some(v) = keep.get(key) {
                deploy.insert(key.into(), v.clone());
            }
        }
    }
    deploy.insert("mode".into(), json!("replicated"));
    deploy.insert("replicas".into(), json!(1));
    deploy.insert("restart_policy".into(), json!({"condition": "none"}));
    def.insert("deploy".into(), Value::Object(deploy));
    let mut file = stack.as_object().cloned().unwrap_or_default();
    file.insert("services".into(), json!({ JOB: def }));
    Ok(Value::Object(file))
}

/// Run `command` in a one-off task of `service`'s definition; its exit code and output.
pub async fn run(
    compose: &Compose,
    engine: &Engine,
    service: &str,
    command: &[String],
    show: Show,
) -> Result<Finished> {
    let config = crate::deploy::config_value(compose).await?;
    let (stack, _) = swarm::stack_file(&config, &BTreeMap::new());
    let file = job_file(&stack, service, command)?;
    let name = swarm::service_name(&compose.project, JOB);
    remove(compose, &name).await;
    let ran = async {
        swarm::stack_deploy(compose, &file).await?;
        let code = wait_done(engine, &name).await?;
        let logs = proc::run(
            compose.docker(&["service", "logs", "--raw", &name]),
            &format!("`docker service logs {name}`"),
            show,
            OnSignal::Finish,
        )
        .await?;
        Ok(Finished { code, lines: logs.lines })
    }
    .await;
    remove(compose, &name).await;
    ran
}

/// Remove the job's service (and so its task), whether it is there or not.
async fn remove(compose: &Compose, name: &str) {
    let _ =
        proc::run(compose.docker(&["service", "rm", name]), "docker service rm", Show::Debug, OnSignal::Finish).await;
}

/// Wait until the job's task ended; its exit code. A task Swarm could not start (no such
/// image, no node that fits) is an error saying why.
async fn wait_done(engine: &Engine, name: &str) -> Result<i32> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        crate::util::check_interrupt()?;
        let status = engine.service_tasks(name).await?.into_iter().filter_map(|t| t.status).next();
        let state = status.as_ref().and_then(|s| s.state);
        let said = status.as_ref().and_then(|s| s.err.clone().filter(|e| !e.is_empty()).or(s.message.clone()));
        let code = status.as_ref().and_then(|s| s.container_status.as_ref()).and_then(|c| c.exit_code);
        match (state, code) {
            (Some(TaskState::COMPLETE), _) => return Ok(0),
            // The command ran and exited non-zero: its own failure, told by its output.
            (Some(TaskState::FAILED), Some(code)) => return Ok(code as i32),
            (Some(TaskState::FAILED | TaskState::REJECTED | TaskState::ORPHANED | TaskState::SHUTDOWN), _) => {
                bail!(
                    "Swarm could not run the migration task `{name}`: {}",
                    said.unwrap_or_else(|| format!("{state:?}").to_lowercase())
                )
            }
            (Some(TaskState::RUNNING), _) => {}
            _ if started.elapsed() > START_LIMIT => bail!(
                "the migration task `{name}` did not start within {} s: {}",
                START_LIMIT.as_secs(),
                said.unwrap_or_else(|| "no task yet".into())
            ),
            _ => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_is_the_service_once_with_its_networks_and_volumes() {
        let stack = json!({
            "services": {
                "backend": {
                    "image": "app:v2",
                    "environment": {"DATABASE_URL": "postgres://db"},
                    "networks": {"default": null},
                    "volumes": [{"type": "volume", "source": "files", "target": "/files"}],
                    "ports": [{"target": 8000, "published": 8000}],
                    "depends_on": ["postgres"],
                    "healthcheck": {"test": ["CMD", "true"]},
                    "deploy": {"replicas": 3, "update_config": {"order": "start-first"},
                               "placement": {"constraints": ["node.role==manager"]}},
                },
                "postgres": {"image": "postgres:15"},
            },
            "networks": {"default": {}},
            "volumes": {"files": {}},
        });
        let cmd = vec!["alembic".to_string(), "upgrade".into(), "head".into()];
        let file = job_file(&stack, "backend", &cmd).unwrap();
        let services = file["services"].as_object().unwrap();
        assert_eq!(services.keys().collect::<Vec<_>>(), ["ccops-migrate"]);
        let job = &services["ccops-migrate"];
        assert_eq!(job["image"], "app:v2");
        assert_eq!(job["command"], json!(["alembic", "upgrade", "head"]));
        assert_eq!(job["environment"]["DATABASE_URL"], "postgres://db");
        assert_eq!(job["volumes"][0]["source"], "files");
        assert_eq!(job["healthcheck"], json!({"disable": true}));
        assert!(job.get("ports").is_none() && job.get("depends_on").is_none());
        assert_eq!(
            job["deploy"],
            json!({"mode": "replicated", "replicas": 1, "restart_policy": {"condition": "none"},
                   "placement": {"constraints": ["node.role==manager"]}})
        );
        assert_eq!(file["networks"], stack["networks"]);
        assert_eq!(file["volumes"], stack["volumes"]);
        assert!(job_file(&stack, "worker", &cmd).unwrap_err().to_string().contains("`worker`"));
    }
}
