//! Stopping and starting the containers of a Swarm stack's tasks. Swarm starts a new
//! task for one whose container stops, so the stop of a backup or restore window scales
//! the task's service to 0 instead, and the start scales it back. The count to go back
//! to is kept in a label of the service itself: Swarm removes the containers of the
//! tasks it scaled away, so after a killed ccops the next run finds the services by that
//! label (`scale_back_stopped`), not by the containers its journal names.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use bollard::models::TaskState;

use super::{Engine, LABEL_STACK, LABEL_SWARM_SERVICE, short_err, short_id};

/// The replicas a service had before ccops scaled it to 0 for a stop window.
const LABEL_STOPPED: &str = "ccops.stopped-replicas";
/// Tries of a service update another update raced (Swarm refuses an outdated version).
const TRIES: usize = 8;

/// A service of the stack as Swarm sees it, for `ccops health`.
#[derive(Debug, Clone, Default)]
pub struct ServiceTasks {
    /// The replicas it wants (None: a global service).
    pub desired: Option<u32>,
    /// The error of its newest task that failed, e.g. `task: non-zero exit (1)`.
    pub last_error: Option<String>,
}

impl Engine {
    /// An error saying what to do unless this engine is a Swarm manager (only a manager
    /// deploys stacks and scales services).
    pub async fn check_swarm_manager(&self) -> Result<()> {
        let info = self.docker.info().await.map_err(|e| anyhow!("cannot read the engine's info: {}", short_err(&e)))?;
        if info.swarm.and_then(|s| s.control_available) == Some(true) {
            return Ok(());
        }
        Err(crate::usage!(
            "the engine at `{}` is not a Swarm manager, and the environment has `orchestrator: swarm`; run `docker swarm init` there (or point `docker_host` at a manager)",
            self.host
        ))
    }

    /// Every task of Swarm service `service` (its full name) that Swarm still lists.
    pub async fn service_tasks(&self, service: &str) -> Result<Vec<bollard::models::Task>> {
        let filters = std::collections::HashMap::from([("service".to_string(), vec![service.to_string()])]);
        let opts = bollard::query_parameters::ListTasksOptions { filters: Some(filters) };
        self.docker
            .list_tasks(Some(opts))
            .await
            .map_err(|e| anyhow!("cannot list the tasks of Swarm service `{service}`: {}", short_err(&e)))
    }

    /// The Swarm service of the stack's compose service `service`: its wanted replicas
    /// and its newest task error. None outside a stack, or when it has no such service.
    pub async fn stack_service(&self, service: &str) -> Option<ServiceTasks> {
        let stack = &self.stack.as_ref()?.name;
        let name = format!("{stack}_{service}");
        let s = self.docker.inspect_service(&name, None).await.ok()?;
        let desired = s.spec?.mode?.replicated.and_then(|r| r.replicas).map(|n| n as u32);
        let tasks = self.service_tasks(&name).await.unwrap_or_default();
        let last_error = tasks
            .into_iter()
            .filter_map(|t| {
                let st = t.status?;
                Some((format!("{:?}", st.timestamp), st.err.filter(|e| !e.is_empty())?))
            })
            .max()
            .map(|(_, e)| e);
        Some(ServiceTasks { desired, last_error })
    }

    /// The Swarm service a container runs (or, stopped by ccops, ran) a task of.
    pub(super) async fn task_service(&self, id: &str) -> Option<String> {
        let known = self.stopped_tasks.lock().ok().and_then(|m| m.get(id).cloned());
        if known.is_some() {
            return known;
        }
        let info = self.docker.inspect_container(id, None).await.ok()?;
        info.config?.labels?.get(LABEL_SWARM_SERVICE).cloned()
    }

    /// The running container of a task that replaced task container `old` (stopped by
    /// ccops and its service scaled back): None while none runs yet on this node.
    pub async fn replacement_task(&self, old: &str) -> Option<String> {
        let service = self.task_service(old).await?;
        let filters = std::collections::HashMap::from([
            ("label".to_string(), vec![format!("{LABEL_SWARM_SERVICE}={service}")]),
            ("status".to_string(), vec!["running".to_string()]),
        ]);
        let opts = bollard::query_parameters::ListContainersOptionsBuilder::default().filters(&filters).build();
        let list = self.docker.list_containers(Some(opts)).await.ok()?;
        list.into_iter().filter_map(|c| c.id).find(|id| id != old)
    }

    /// Scale back every service of the stack a killed ccops left scaled to 0 for a stop
    /// window (their containers are gone, the label on the service stays); their names.
    pub async fn scale_back_stopped(&self) -> Result<Vec<String>> {
        let Some(stack) = self.stack.as_ref().map(|s| &s.name) else { return Ok(vec![]) };
        let labels = vec![format!("{LABEL_STACK}={stack}"), LABEL_STOPPED.to_string()];
        let filters = std::collections::HashMap::from([("label".to_string(), labels)]);
        let opts = bollard::query_parameters::ListServicesOptionsBuilder::default().filters(&filters).build();
        let list = self
            .docker
            .list_services(Some(opts))
            .await
            .map_err(|e| anyhow!("cannot list the services of stack `{stack}`: {}", short_err(&e)))?;
        let mut names = Vec::new();
        for name in list.into_iter().filter_map(|s| s.spec?.name) {
            self.start_task(&name).await?;
            names.push(name);
        }
        Ok(names)
    }

    /// Wait until every replicated service of the stack runs the tasks it wants (a stop
    /// window put right by a later run scaled them back), at most `timeout`; the services
    /// still short then.
    pub async fn wait_stack_running(&self, timeout: Duration) -> Vec<String> {
        let Some(stack) = self.stack.as_ref().map(|s| s.name.clone()) else { return vec![] };
        let deadline = Instant::now() + timeout;
        loop {
            let short = self.services_short(&stack).await;
            if short.is_empty() || Instant::now() >= deadline {
                return short;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The stack's replicated services with fewer running tasks than they want.
    async fn services_short(&self, stack: &str) -> Vec<String> {
        let filters = std::collections::HashMap::from([("label".to_string(), vec![format!("{LABEL_STACK}={stack}")])]);
        let opts = bollard::query_parameters::ListServicesOptionsBuilder::default().filters(&filters).build();
        let mut short = Vec::new();
        for spec in self.docker.list_services(Some(opts)).await.unwrap_or_default().into_iter().filter_map(|s| s.spec) {
            let wanted = spec.mode.and_then(|m| m.replicated).and_then(|r| r.replicas).unwrap_or(0);
            let Some(name) = spec.name else { continue };
            if wanted == 0 {
                continue;
            }
            let running = self
                .service_tasks(&name)
                .await
                .unwrap_or_default()
                .iter()
                .filter(|t| t.desired_state == Some(TaskState::RUNNING))
                .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
                .count() as i64;
            if running < wanted {
                short.push(name);
            }
        }
        short
    }

    /// Scale the service of task container `id` to 0 (remembering its replicas) and wait
    /// until the container stopped.
    pub(super) async fn stop_task(&self, id: &str, service: &str, timeout_s: i32) -> Result<()> {
        self.set_replicas(service, |replicas, saved| match saved {
            Some(_) => None,
            None => Some((0, Some(replicas))),
        })
        .await?;
        if let Ok(mut m) = self.stopped_tasks.lock() {
            m.insert(id.to_string(), service.to_string());
        }
        let deadline = Instant::now() + Duration::from_secs(timeout_s.max(0) as u64 + 15);
        loop {
            let running = self.docker.inspect_container(id, None).await.ok().and_then(|i| i.state?.running);
            if running != Some(true) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("task container {} of Swarm service `{service}` did not stop", short_id(id));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Scale the service of a stopped task back to the replicas it had (a new task starts:
    /// Swarm does not start a task's container again).
    pub(super) async fn start_task(&self, service: &str) -> Result<()> {
        self.set_replicas(service, |_, saved| saved.map(|n| (n, None))).await
    }

    /// Update a replicated service's count: `change(replicas, saved)` gives the new count
    /// and the value of the label, or None to leave it as it is. Through the Docker CLI
    /// (`docker service update`), which carries the whole spec over as the engine wrote
    /// it: bollard's model of a service spec loses fields on the way (the healthcheck).
    async fn set_replicas(
        &self,
        service: &str,
        change: impl Fn(u64, Option<u64>) -> Option<(u64, Option<u64>)>,
    ) -> Result<()> {
        let docker_bin = self.stack.as_ref().map_or("docker", |s| s.docker_bin.as_str());
        for _ in 0..TRIES {
            let s = self
                .docker
                .inspect_service(service, None)
                .await
                .map_err(|e| anyhow!("cannot inspect Swarm service `{service}`: {}", short_err(&e)))?;
            let spec = s.spec.ok_or_else(|| anyhow!("Swarm service `{service}` has no spec"))?;
            let saved = spec.labels.as_ref().and_then(|l| l.get(LABEL_STOPPED)).and_then(|n| n.parse().ok());
            let Some(replicas) = spec.mode.as_ref().and_then(|m| m.replicated.as_ref()).map(|r| r.replicas) else {
                bail!("Swarm service `{service}` is not replicated: ccops cannot stop it for a moment");
            };
            let Some((n, keep)) = change(replicas.unwrap_or(1) as u64, saved) else { return Ok(()) };
            let label = match keep {
                Some(k) => vec!["--label-add".to_string(), format!("{LABEL_STOPPED}={k}")],
                None => vec!["--label-rm".to_string(), LABEL_STOPPED.to_string()],
            };
            let out = tokio::process::Command::new(docker_bin)
                .args(["service", "update", "--detach", "--replicas", &n.to_string()])
                .args(&label)
                .arg(service)
                .env(crate::env_vars::DOCKER_HOST, &self.host)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| anyhow!("cannot run `{docker_bin} service update`: {}", crate::error::io_reason(&e)))?;
            if out.status.success() {
                return Ok(());
            }
            let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if !said.contains("out of sequence") {
                bail!("cannot scale Swarm service `{service}` to {n}: {said}");
            }
        }
        bail!("cannot scale Swarm service `{service}`: other updates kept racing it")
    }
}
