//! Swarm stacks (`orchestrator: swarm`): a release goes out as one `docker stack deploy`
//! of the environment's compose model, Swarm replaces the tasks (start-first where
//! `deploy.update_config.order` says so), and ccops waits per service until its update
//! is `completed` and every task it wants runs the new spec (a task only runs once its
//! healthcheck passed). A `paused` or `rollback_*` update is a failed rollout; the deploy
//! then puts the previous release back the way it rolls out any release.
//!
//! The stack file is the model `compose config` resolved (variables of the env file and
//! the version variable already in it: `docker stack deploy` reads no `.env`), passed on
//! stdin, so no secret lands on disk; reshaped where Swarm's loader wants the older
//! Compose file format (`stack_file`).
//! Past 400 lines with its tests: the reshaping and the rule of a converged service are
//! pure and tested here, beside the code.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bollard::models::{Service, ServiceUpdateStatusStateEnum as U, Task, TaskState};
use serde_json::{Value, json};

use crate::compose::Compose;
use crate::docker::{Engine, short_err};
use crate::output;

/// The keys a service may have in the file format `docker stack deploy` reads (Compose
/// file 3.x); others (`pull_policy`, `develop`, ...) are left out, and said so.
const SERVICE_KEYS: &[&str] = &[
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "credential_spec",
    "depends_on",
    "deploy",
    "devices",
    "dns",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "external_links",
    "extra_hosts",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "links",
    "logging",
    "mac_address",
    "network_mode",
    "networks",
    "pid",
    "ports",
    "privileged",
    "read_only",
    "restart",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "userns_mode",
    "volumes",
    "working_dir",
];

/// The stack file for `docker stack deploy` from the normalized compose config, with
/// each service's replicas; and what of the compose files Swarm does not honour.
///
/// Reshaped: `depends_on` becomes a list (Swarm starts services in no order: each must
/// wait for its dependencies itself, e.g. by its healthcheck), `tmpfs` becomes tmpfs
/// mounts (the service-level key is ignored by Swarm), CPU counts become strings, ports
/// lose their host address (Swarm publishes on every address) and `build` goes (the
/// images must exist: built on this node, or pushed to a registry for a cluster).
pub fn stack_file(config: &Value, replicas: &BTreeMap<String, u32>) -> (Value, Vec<String>) {
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |what: String, service: &str| notes.entry(what).or_default().push(service.to_string());
    let mut file = serde_json::Map::new();
    for key in ["services", "networks", "volumes", "secrets", "configs"] {
        if let Some(v) = config.get(key) {
            file.insert(key.to_string(), v.clone());
        }
    }
    let Some(services) = file.get_mut("services").and_then(Value::as_object_mut) else {
        return (Value::Object(file), vec![]);
    };
    for (name, svc) in services.iter_mut() {
        let Some(s) = svc.as_object_mut() else { continue };
        s.retain(|_, v| !v.is_null());
        if s.remove("build").is_some() {
            note("`build` (the image must exist)".into(), name);
        }
        let dropped: Vec<String> = s.keys().filter(|k| !SERVICE_KEYS.contains(&k.as_str())).cloned().collect();
        for k in dropped {
            s.remove(&k);
            note(format!("`{k}`"), name);
        }
        if let Some(deps) = s.get("depends_on").and_then(Value::as_object) {
            let names: Vec<Value> = deps.keys().map(|k| json!(k)).collect();
            s.insert("depends_on".into(), Value::Array(names));
        }
        if let Some(paths) = s.remove("tmpfs") {
            let paths: Vec<Value> = match paths {
                Value::Array(a) => a,
                one => vec![one],
            };
            let mounts = s.entry("volumes").or_insert_with(|| json!([]));
            if let Some(m) = mounts.as_array_mut() {
                m.extend(paths.iter().map(|p| json!({"type": "tmpfs", "target": p})));
            }
        }
        for p in s.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(ip) = p.as_object_mut().and_then(|p| p.remove("host_ip")) {
                note(format!("the host address {} of ports (Swarm publishes on all)", text(Some(&ip))), name);
            }
            if let Some(n) = p.get("published").and_then(Value::as_str).and_then(|n| n.parse::<u64>().ok()) {
                p["published"] = json!(n);
            }
        }
        let deploy = s.entry("deploy").or_insert_with(|| json!({}));
        if let Some(res) = deploy.get_mut("resources").and_then(Value::as_object_mut) {
            for part in res.values_mut() {
                if let Some(cpus) = part.get_mut("cpus").filter(|c| c.is_number()) {
                    *cpus = json!(cpus.to_string());
                }
            }
        }
        if let Some(n) = replicas.get(name) {
            deploy["replicas"] = json!(n);
        }
    }
    let notes = notes.into_iter().map(|(what, services)| format!("{what} of {}", services.join(", "))).collect();
    (Value::Object(file), notes)
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The Swarm service of a stack's compose service.
pub fn service_name(project: &str, service: &str) -> String {
    format!("{project}_{service}")
}

/// Deploy the stack as the compose files describe it with `compose`'s variables, then
/// wait until every service in `services` (dependencies first) runs its new spec.
/// `touched` gets the services Swarm changed.
pub async fn roll_out(
    compose: &Compose,
    engine: &Engine,
    services: &[String],
    replicas: &BTreeMap<String, u32>,
    timeout: Duration,
    touched: &mut Vec<String>,
) -> Result<()> {
    let config = super::config_value(compose).await?;
    let (file, notes) = stack_file(&config, replicas);
    if !notes.is_empty() {
        output::status(format!("  Swarm ignores: {}", notes.join("; ")));
    }
    let mut before = BTreeMap::new();
    for svc in services {
        before.insert(svc.clone(), update_mark(engine, &compose.project, svc).await);
    }
    stack_deploy(compose, &file).await?;
    for svc in services {
        match settle(engine, &compose.project, svc, before.get(svc).cloned().flatten(), timeout).await {
            Ok(false) => {}
            Ok(true) => touched.push(svc.clone()),
            Err(e) => {
                // Its spec is the new one whatever its tasks do: it needs putting back.
                touched.push(svc.clone());
                return Err(
                    e.context(format!("rolling out Swarm service `{}` failed", service_name(&compose.project, svc)))
                );
            }
        }
        crate::util::check_interrupt()?;
    }
    Ok(())
}

/// Deploy only `services` of the stack and wait until they run, the others left as they
/// are: the database a first deploy's migrations need, before anything else starts.
pub async fn start_services(
    compose: &Compose,
    engine: &Engine,
    services: &[String],
    replicas: &BTreeMap<String, u32>,
    timeout: Duration,
) -> Result<()> {
    let config = super::config_value(compose).await?;
    let (mut file, _) = stack_file(&config, replicas);
    if let Some(all) = file.get_mut("services").and_then(Value::as_object_mut) {
        all.retain(|name, _| services.contains(name));
        // Names of services this file leaves out.
        all.values_mut().filter_map(Value::as_object_mut).for_each(|def| {
            def.remove("depends_on");
        });
    }
    stack_deploy(compose, &file).await?;
    for svc in services {
        settle(engine, &compose.project, svc, None, timeout).await?;
    }
    Ok(())
}

/// `docker service scale` of the stack's services, then the wait until they run.
pub async fn scale(compose: &Compose, engine: &Engine, wanted: &[(String, u32)], timeout: Duration) -> Result<()> {
    let pairs: Vec<String> = wanted.iter().map(|(s, n)| format!("{}={n}", service_name(&compose.project, s))).collect();
    let mut args = vec!["service", "scale", "--detach"];
    args.extend(pairs.iter().map(String::as_str));
    let done = super::proc::run(
        compose.docker(&args),
        "docker service scale",
        super::proc::Show::Debug,
        super::proc::OnSignal::Finish,
    )
    .await?;
    if done.code != 0 {
        bail!("`docker {}` failed:\n  {}", args.join(" "), done.tail(8));
    }
    for (svc, _) in wanted {
        let mark = update_mark(engine, &compose.project, svc).await;
        settle(engine, &compose.project, svc, mark, timeout).await?;
    }
    Ok(())
}

/// `docker stack deploy` with the stack file on stdin.
pub(super) async fn stack_deploy(compose: &Compose, file: &Value) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let args = ["stack", "deploy", "--with-registry-auth", "--compose-file", "-", compose.project.as_str()];
    output::status(format!("  docker stack deploy {}", compose.project));
    let mut cmd = compose.docker(&args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child =
        cmd.spawn().map_err(|e| anyhow!("cannot run `docker stack deploy`: {}", crate::util::io_reason(&e)))?;
    let mut stdin = child.stdin.take().context("no stdin for `docker stack deploy`")?;
    stdin
        .write_all(file.to_string().as_bytes())
        .await
        .context("cannot hand the stack file to `docker stack deploy`")?;
    drop(stdin);
    let out = child.wait_with_output().await.context("`docker stack deploy` did not finish")?;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for l in said.lines().filter(|l| !l.trim().is_empty()) {
        output::debug(format!("  {l}"));
    }
    if !out.status.success() {
        let lines: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
        bail!("`docker stack deploy` failed:\n  {}", lines[lines.len().saturating_sub(8)..].join("\n  "));
    }
    Ok(())
}

/// When the service's last update started (None: never updated, or no such service).
async fn update_mark(engine: &Engine, project: &str, svc: &str) -> Option<String> {
    let s = engine.api().inspect_service(&service_name(project, svc), None).await.ok()?;
    s.update_status.and_then(|u| u.started_at).map(|t| format!("{t:?}"))
}

/// Wait until `svc` runs its current spec: its update (one that started after `mark`)
/// completed, and as many tasks as it wants running that spec, no other. Whether it
/// changed anything. A paused or rolled back update, or the timeout, is an error.
async fn settle(engine: &Engine, project: &str, svc: &str, mark: Option<String>, timeout: Duration) -> Result<bool> {
    let name = service_name(project, svc);
    let deadline = Instant::now() + timeout;
    let mut changed = false;
    loop {
        let service = engine
            .api()
            .inspect_service(&name, None)
            .await
            .map_err(|e| anyhow!("cannot inspect Swarm service `{name}`: {}", short_err(&e)))?;
        let tasks = engine.service_tasks(&name).await?;
        let update = service.update_status.as_ref();
        let fresh =
            update.and_then(|u| u.started_at.as_ref()).map(|t| format!("{t:?}")).filter(|t| Some(t) != mark.as_ref());
        let state = update.and_then(|u| u.state).unwrap_or(U::EMPTY);
        if fresh.is_some() {
            changed = true;
            if matches!(state, U::PAUSED | U::ROLLBACK_STARTED | U::ROLLBACK_PAUSED | U::ROLLBACK_COMPLETED) {
                let why = update.and_then(|u| u.message.clone()).unwrap_or_default();
                bail!(
                    "the update of Swarm service `{name}` is {state}: {why}{}",
                    failures(&tasks, &service).map(|f| format!(" ({f})")).unwrap_or_default()
                );
            }
        }
        let n = Count::of(&service, &tasks);
        if n.converged() && (fresh.is_none() || state == U::COMPLETED) {
            if changed {
                let order = service.spec.as_ref().and_then(|s| s.update_config.as_ref()).and_then(|u| u.order);
                let how = order.map(|o| format!(" (updated {o})")).unwrap_or_default();
                output::status(format!("  {svc}: {} task(s) of the new spec running{how}", n.running));
            }
            return Ok(changed);
        }
        changed = true;
        if Instant::now() >= deadline {
            bail!(
                "Swarm service `{name}` was not ready within {} ({} of {} task(s) of its spec running){}",
                humantime::format_duration(timeout),
                n.running,
                n.want,
                failures(&tasks, &service).map(|f| format!("; {f}")).unwrap_or_default()
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {},
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        }
    }
}

/// What the tasks Swarm wants running say of a service.
struct Count {
    /// Tasks of the service's current spec.
    current: usize,
    /// Of those, the ones running (a task with a healthcheck runs once healthy).
    running: usize,
    /// Tasks of an earlier spec not gone yet.
    stale: usize,
    /// The replicas the service wants (global services: as many as have its spec).
    want: usize,
}

impl Count {
    fn of(service: &Service, tasks: &[Task]) -> Count {
        let live: Vec<&Task> = tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING)).collect();
        let current: Vec<&&Task> = live.iter().filter(|t| same_spec(service, t)).collect();
        let running =
            current.iter().filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)).count();
        let want = service
            .spec
            .as_ref()
            .and_then(|s| s.mode.as_ref())
            .and_then(|m| m.replicated.as_ref())
            .and_then(|r| r.replicas)
            .map_or(current.len().max(1), |n| n as usize);
        Count { current: current.len(), running, stale: live.len() - current.len(), want }
    }

    fn converged(&self) -> bool {
        self.running == self.want && self.current == self.want && self.stale == 0
    }
}

/// Whether a task was made from the service's current spec: image, command, environment
/// and the forced-update counter (Swarm copies the spec into each task it creates).
fn same_spec(service: &Service, task: &Task) -> bool {
    let want = service.spec.as_ref().and_then(|s| s.task_template.as_ref());
    let have = task.spec.as_ref();
    let key = |t: Option<&bollard::models::TaskSpec>| {
        let c = t.and_then(|t| t.container_spec.as_ref());
        (
            c.and_then(|c| c.image.clone()),
            c.and_then(|c| c.args.clone()),
            c.and_then(|c| c.command.clone()),
            c.and_then(|c| c.env.clone()),
            t.and_then(|t| t.force_update),
        )
    };
    key(want) == key(have)
}

/// The newest error of a task of the current spec, e.g. `task: non-zero exit (1)` or
/// an unhealthy container.
fn failures(tasks: &[Task], service: &Service) -> Option<String> {
    tasks
        .iter()
        .filter(|t| same_spec(service, t))
        .filter_map(|t| {
            let st = t.status.as_ref()?;
            let err = st.err.clone().filter(|e| !e.is_empty())?;
            Some((format!("{:?}", st.timestamp), err))
        })
        .max()
        .map(|(_, e)| format!("last task error: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec, TaskStatus,
    };

    fn spec(image: &str) -> TaskSpec {
        TaskSpec {
            container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
            ..Default::default()
        }
    }

    fn service(image: &str, replicas: i64) -> Service {
        Service {
            spec: Some(ServiceSpec {
                task_template: Some(spec(image)),
                mode: Some(ServiceSpecMode {
                    replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas) }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn task(image: &str, desired: TaskState, state: TaskState) -> Task {
        Task {
            spec: Some(spec(image)),
            desired_state: Some(desired),
            status: Some(TaskStatus { state: Some(state), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn a_service_has_converged_when_its_tasks_of_the_new_spec_run_and_no_old_one_is_wanted() {
        use TaskState::{RUNNING, SHUTDOWN, STARTING};
        let s = service("app:v2", 2);
        let done =
            [task("app:v2", RUNNING, RUNNING), task("app:v2", RUNNING, RUNNING), task("app:v1", SHUTDOWN, SHUTDOWN)];
        assert!(Count::of(&s, &done).converged());
        // Start-first half way: the old task still wanted, a new one still starting.
        let half =
            [task("app:v1", RUNNING, RUNNING), task("app:v2", RUNNING, RUNNING), task("app:v2", RUNNING, STARTING)];
        let n = Count::of(&s, &half);
        assert!(!n.converged());
        assert_eq!((n.current, n.running, n.stale, n.want), (2, 1, 1, 2));
        // Nothing of the new spec yet: the old tasks do not count.
        assert!(!Count::of(&s, &[task("app:v1", RUNNING, RUNNING), task("app:v1", RUNNING, RUNNING)]).converged());
    }

    #[test]
    fn reshapes_the_compose_model_for_stack_deploy() {
        let config = json!({
            "name": "demo",
            "x-env": {"A": 1},
            "services": {
                "api": {
                    "build": {"context": "api"},
                    "image": "demo-api:v1",
                    "command": null,
                    "depends_on": {"db": {"condition": "service_healthy"}},
                    "tmpfs": ["/tmp"],
                    "volumes": [{"type": "volume", "source": "data", "target": "/data"}],
                    "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080, "published": "18080"}],
                    "deploy": {"resources": {"limits": {"cpus": 0.5, "memory": "268435456"}}},
                    "pull_policy": "never"
                },
                "db": {"image": "postgres:15"}
            },
            "volumes": {"data": {"name": "demo_data"}}
        });
        let replicas = BTreeMap::from([("api".to_string(), 3)]);
        let (file, notes) = stack_file(&config, &replicas);
        assert!(file.get("name").is_none() && file.get("x-env").is_none(), "{file}");
        let api = &file["services"]["api"];
        assert!(api.get("build").is_none() && api.get("command").is_none() && api.get("pull_policy").is_none());
        assert_eq!(api["depends_on"], json!(["db"]));
        assert_eq!(api["volumes"][1], json!({"type": "tmpfs", "target": "/tmp"}));
        assert_eq!(api["ports"][0], json!({"mode": "ingress", "target": 8080, "published": 18080}));
        assert_eq!(api["deploy"]["resources"]["limits"]["cpus"], json!("0.5"));
        assert_eq!(api["deploy"]["replicas"], json!(3));
        assert_eq!(file["services"]["db"]["deploy"], json!({}));
        assert_eq!(file["volumes"]["data"]["name"], "demo_data");
        let notes = notes.join("; ");
        for said in ["`build` (the image must exist) of api", "`pull_policy` of api", "127.0.0.1"] {
            assert!(notes.contains(said), "{notes}");
        }
    }
}
