//! The Docker Engine API (bollard): a project's containers found by their compose labels
//! (never by name: Compose v1 and v2 name them differently), archives, helper containers.
//! Running commands in containers is exec.rs; a Swarm task's stop and start, swarm.rs.

mod endpoint;
mod exec;
mod ssh;
mod swarm;

pub use endpoint::{CliEnv, Endpoint, resolve as resolve_endpoint};

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use futures_util::Stream;

pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
/// What Swarm puts on the containers of a stack's tasks.
pub const LABEL_STACK: &str = "com.docker.stack.namespace";
pub const LABEL_SWARM_SERVICE: &str = "com.docker.swarm.service.name";
pub const LABEL_TASK_NAME: &str = "com.docker.swarm.task.name";

/// A connection to the Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    pub host: String,
    /// The project is this Swarm stack: its containers are the tasks of its services.
    stack: Option<Stack>,
    /// Task containers stopped by scaling their service to 0, and that service: Swarm
    /// removes such containers, and their start must still find the service.
    stopped_tasks: std::sync::Arc<std::sync::Mutex<HashMap<String, String>>>,
}

/// The Swarm stack a project is, and the Docker CLI that scales its services.
#[derive(Clone)]
struct Stack {
    name: String,
    docker_bin: String,
}

/// One container of a compose service, as ccops needs to know it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub image: String,
    /// created, running, paused, restarting, removing, exited, dead
    pub state: String,
    /// Docker's own health status when the container has a healthcheck: starting, healthy, unhealthy.
    pub health: Option<String>,
    pub restart_count: i64,
    pub exit_code: Option<i64>,
}

impl Container {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

impl Engine {
    /// Connect to the engine at `endpoint` (ssh://, tcp:// with or without TLS, unix://),
    /// else the local socket; negotiate the API version and check the engine answers.
    pub async fn connect(endpoint: Option<&Endpoint>) -> Result<Engine> {
        let host = endpoint.map_or_else(|| "unix:///var/run/docker.sock".to_string(), |e| e.host.clone());
        let origin = endpoint.map_or_else(|| "the default".to_string(), |e| e.origin.clone());
        let ssh = host.starts_with("ssh://").then(|| ssh::Target::parse(&host)).transpose()?;
        let tls = endpoint.and_then(|e| e.tls.clone());
        let unreachable = |e: String| match &ssh {
            Some(target) => {
                let words = ssh::last_words();
                let advice = words.as_deref().and_then(|w| ssh::advice(w, target));
                let why = words.unwrap_or(e);
                match advice {
                    Some(a) => {
                        anyhow!("the Docker engine at `{host}` ({origin}) is not reachable over ssh ({why}): {a}")
                    }
                    None => anyhow!(
                        "the Docker engine at `{host}` ({origin}) is not reachable over ssh ({why}); check that `{}` works without a prompt",
                        target.try_it()
                    ),
                }
            }
            None if tls.is_some() => anyhow!(
                "the Docker engine at `{host}` ({origin}) is not reachable over TLS ({e}); check the address, that the engine listens with TLS, and that ca.pem signed its certificate (DOCKER_CERT_PATH)"
            ),
            None => anyhow!(
                "the Docker engine at `{host}` is not reachable ({e}); start it (e.g. `systemctl start docker`) or check DOCKER_HOST / `docker_host`"
            ),
        };
        let connect = |timeout: u64| -> Result<Docker> {
            let docker = match (&ssh, &tls) {
                (Some(target), _) => ssh::connect(target.clone(), timeout)?,
                (None, Some(f)) => {
                    // bollard builds its TLS client on the process' provider: the one reqwest uses.
                    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
                    Docker::connect_with_ssl(&host, &f.key, &f.cert, &f.ca, timeout, bollard::API_DEFAULT_VERSION)
                        .map_err(|e| anyhow!("cannot use the TLS files for `{host}` ({origin}): {}", short_err(&e)))?
                }
                (None, None) if host.starts_with("tcp://") || host.starts_with("http://") => {
                    Docker::connect_with_http(&host, timeout, bollard::API_DEFAULT_VERSION)
                        .map_err(|e| unreachable(short_err(&e)))?
                }
                (None, None) => match Docker::connect_with_host(&host) {
                    Ok(d) => d,
                    Err(e @ bollard::errors::Error::UnsupportedURISchemeError { .. }) => {
                        bail!("cannot use Docker host `{host}` ({e}); use unix://, tcp:// or ssh://")
                    }
                    Err(e) => return Err(unreachable(short_err(&e))),
                },
            };
            Ok(docker.with_timeout(Duration::from_secs(timeout)))
        };
        // Long transfers (a dump of many GiB) must not hit a request timeout.
        let docker = connect(24 * 3600)?;
        // Over ssh one client is enough: its connection is reused for what follows.
        let probe = if ssh.is_some() { docker.clone().with_timeout(Duration::from_secs(40)) } else { connect(10)? };
        probe.ping().await.map_err(|e| unreachable(short_err(&e)))?;
        let docker = docker.negotiate_version().await.map_err(|e| unreachable(short_err(&e)))?;
        ssh::forget();
        Ok(Engine { docker, host, stack: None, stopped_tasks: Default::default() })
    }

    /// This engine for a project that is a Swarm stack (`orchestrator: swarm`): its
    /// containers are found by the stack's labels, one per running task on this node.
    pub fn for_stack(mut self, stack: &str, docker_bin: &str) -> Engine {
        self.stack = Some(Stack { name: stack.to_string(), docker_bin: docker_bin.to_string() });
        self
    }

    /// Whether the project is a Swarm stack.
    pub fn is_swarm(&self) -> bool {
        self.stack.is_some()
    }

    /// Whether the engine runs on another machine (reached over ssh:// or tcp://).
    pub fn is_remote(&self) -> bool {
        !self.host.starts_with("unix://")
    }

    pub fn api(&self) -> &Docker {
        &self.docker
    }

    /// Server version and API version, for `doctor` and verbose output.
    pub async fn version(&self) -> Result<(String, String)> {
        let v = self.docker.version().await.context("cannot read the engine version")?;
        Ok((v.version.unwrap_or_default(), v.api_version.unwrap_or_default()))
    }

    /// The containers of `project` (optionally one service), running or not, one-off
    /// (`compose run`) containers and ccops' own helpers excluded, ordered by service and
    /// replica number. In a Swarm stack: the running containers of its tasks on this node
    /// (Swarm replaces a task whose container ends, so a stopped one is history, not a replica).
    pub async fn containers(&self, project: &str, service: Option<&str>) -> Result<Vec<Container>> {
        let (by_project, by_service) =
            if self.is_swarm() { (LABEL_STACK, LABEL_SWARM_SERVICE) } else { (LABEL_PROJECT, LABEL_SERVICE) };
        let mut labels = vec![format!("{by_project}={project}")];
        if let Some(s) = service {
            let s = if self.is_swarm() { format!("{project}_{s}") } else { s.to_string() };
            labels.push(format!("{by_service}={s}"));
        }
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), labels);
        let opts = ListContainersOptionsBuilder::default().all(!self.is_swarm()).filters(&filters).build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| anyhow!("cannot list containers: {}", short_err(&e)))?;
        let mut out = Vec::new();
        for c in list {
            let labels = c.labels.unwrap_or_default();
            if labels.get(LABEL_ONEOFF).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                continue;
            }
            // ccops' own containers from a service's image (a volume helper, a recovery
            // server, the WAL receiver) carry the image's Compose labels too: not the service.
            if labels.contains_key("ccops.helper") || labels.contains_key("ccops.wal-receiver") {
                continue;
            }
            let Some(id) = c.id else { continue };
            // Inspect for what the list lacks on older engines: health, restart count.
            let Ok(info) = self.docker.inspect_container(&id, None).await else { continue };
            let state = info.state.as_ref();
            out.push(Container {
                name: info.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
                service: self.service_of(project, &labels),
                number: number_of(&labels),
                image: c.image.unwrap_or_default(),
                state: state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
                health: state
                    .and_then(|s| s.health.as_ref())
                    .and_then(|h| h.status)
                    .map(|h| h.to_string())
                    .filter(|h| !h.is_empty() && h != "none"),
                restart_count: info.restart_count.unwrap_or(0),
                exit_code: state.and_then(|s| s.exit_code),
                id,
            });
        }
        out.sort_by(|a, b| (a.service.as_str(), a.number).cmp(&(b.service.as_str(), b.number)));
        Ok(out)
    }

    /// The service a container belongs to: its compose label, or in a stack its Swarm
    /// service's name without the `<stack>_` prefix.
    fn service_of(&self, project: &str, labels: &HashMap<String, String>) -> String {
        if !self.is_swarm() {
            return labels.get(LABEL_SERVICE).cloned().unwrap_or_default();
        }
        let full = labels.get(LABEL_SWARM_SERVICE).map(String::as_str).unwrap_or_default();
        full.strip_prefix(&format!("{project}_")).unwrap_or(full).to_string()
    }

    /// The running container of `service` that ccops execs into (the lowest replica number).
    pub async fn running_container(&self, project: &str, service: &str) -> Result<Container> {
        let all = self.containers(project, Some(service)).await?;
        if all.is_empty() {
            bail!(
                "service `{service}` of project `{project}` has no container; start it (`docker compose up -d {service}`)"
            );
        }
        all.into_iter().find(Container::is_running).ok_or_else(|| {
            anyhow!("service `{service}` of project `{project}` is not running; start it (`docker compose up -d {service}`) and try again")
        })
    }

    /// Stop a container; in a Swarm stack, a task's container by scaling its service to 0
    /// (see swarm.rs).
    pub async fn stop(&self, id: &str, timeout_s: i32) -> Result<()> {
        if self.is_swarm() {
            if let Some(service) = self.task_service(id).await {
                return self.stop_task(id, &service, timeout_s).await;
            }
        }
        let opts = StopContainerOptionsBuilder::default().t(timeout_s).build();
        self.docker
            .stop_container(id, Some(opts))
            .await
            .map_err(|e| anyhow!("cannot stop container {}: {}", short_id(id), short_err(&e)))
    }

    /// Start a container; in a Swarm stack, a stopped task's service back at its replicas.
    pub async fn start(&self, id: &str) -> Result<()> {
        if self.is_swarm() {
            if let Some(service) = self.task_service(id).await {
                return self.start_task(&service).await;
            }
        }
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| anyhow!("cannot start container {}: {}", short_id(id), short_err(&e)))
    }

    /// A tar stream of `path` inside a container (running or not).
    pub fn download(
        &self,
        id: &str,
        path: &str,
    ) -> impl Stream<Item = Result<bytes::Bytes, bollard::errors::Error>> + use<> {
        let opts = DownloadFromContainerOptionsBuilder::default().path(path).build();
        self.docker.download_from_container(id, Some(opts))
    }

    /// The folder of a named volume on this machine, when ccops may read it directly
    /// rather than through the engine's archive API (which streams at a quarter of the
    /// page cache's rate): the engine listens on a local socket and reports this
    /// machine's hostname (not a VM such as Docker Desktop's), ccops runs as root, and the
    /// volume is a plain `local` one (with driver options, e.g. NFS or a bind, the folder
    /// holds the data only while a container mounts it). Anything else: `None`.
    pub async fn local_volume_dir(&self, volume: &str) -> Option<std::path::PathBuf> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if self.is_remote() || unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let info = self.docker.info().await.ok()?;
        if info.name.as_deref() != Some(crate::util::hostname().as_str()) {
            return None;
        }
        let v = self.docker.inspect_volume(volume).await.ok()?;
        if v.driver != "local" || !v.options.is_empty() {
            return None;
        }
        let dir = std::path::PathBuf::from(v.mountpoint);
        dir.is_dir().then_some(dir)
    }

    /// Upload a tar stream, extracting it at `path` inside a container.
    pub async fn upload<S>(&self, id: &str, path: &str, tar: S) -> Result<()>
    where
        S: Stream<Item = bytes::Bytes> + Send + 'static,
    {
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::default().path(path).build();
        self.docker
            .upload_to_container(id, Some(opts), bollard::body_stream(tar))
            .await
            .map_err(|e| anyhow!("cannot copy files into container {}: {}", short_id(id), short_err(&e)))
    }

    /// Create (not start) a helper container with volume mounts, for file copies: the
    /// engine mounts volumes for archive reads and writes without starting it.
    pub async fn create_helper(
        &self,
        image: &str,
        binds: Vec<String>,
        labels: HashMap<String, String>,
    ) -> Result<String> {
        self.create_with(image, binds, labels, None).await
    }

    /// Create and start a helper that idles (entrypoint overridden), for commands that
    /// need a shell next to a volume. Runs as root to read and write any owner's files.
    pub async fn create_helper_running(
        &self,
        image: &str,
        binds: Vec<String>,
        labels: HashMap<String, String>,
    ) -> Result<String> {
        let idle = vec!["sh".into(), "-c".into(), "trap 'exit 0' TERM; while :; do sleep 1; done".into()];
        let id = self.create_with(image, binds, labels, Some(idle)).await?;
        if let Err(e) = self.start(&id).await {
            self.remove(&id).await.ok();
            return Err(e.context(format!("the helper from image `{image}` does not start (it needs `sh`)")));
        }
        Ok(id)
    }

    async fn create_with(
        &self,
        image: &str,
        binds: Vec<String>,
        labels: HashMap<String, String>,
        entrypoint: Option<Vec<String>>,
    ) -> Result<String> {
        use bollard::models::{ContainerCreateBody, HostConfig};
        let running = entrypoint.is_some();
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(if running { vec![] } else { vec!["true".into()] }),
            entrypoint,
            user: running.then(|| "0:0".to_string()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = self
            .docker
            .create_container(None::<bollard::query_parameters::CreateContainerOptions>, body)
            .await
            .map_err(|e| anyhow!("cannot create a helper container from image `{image}`: {}", short_err(&e)))?;
        Ok(r.id)
    }

    pub async fn remove(&self, id: &str) -> Result<()> {
        let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).v(false).build();
        self.docker
            .remove_container(id, Some(opts))
            .await
            .map_err(|e| anyhow!("cannot remove container {}: {}", short_id(id), short_err(&e)))
    }

    /// Remove every container (running or not) carrying all of `labels` (`key=value`).
    pub async fn remove_labelled(&self, labels: Vec<String>) -> Result<()> {
        let filters = HashMap::from([("label".to_string(), labels)]);
        let opts =
            bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let found = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| anyhow!("cannot list helper containers: {}", short_err(&e)))?;
        for id in found.into_iter().filter_map(|c| c.id) {
            self.remove(&id).await?;
        }
        Ok(())
    }

    /// The environment variables a container was started with (`KEY=value`).
    pub async fn container_env(&self, id: &str) -> Result<Vec<String>> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| anyhow!("cannot inspect container {}: {}", short_id(id), short_err(&e)))?;
        Ok(info.config.and_then(|c| c.env).unwrap_or_default())
    }

    /// The image a container runs.
    pub async fn container_image(&self, id: &str) -> Result<String> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| anyhow!("cannot inspect container {}: {}", short_id(id), short_err(&e)))?;
        Ok(info.config.and_then(|c| c.image).or(info.image).unwrap_or_default())
    }

    pub async fn image_exists(&self, image: &str) -> bool {
        self.docker.inspect_image(image).await.is_ok()
    }
}

/// The replica number: Compose's label, or the slot in a Swarm task's name
/// (`<stack>_<service>.<slot>.<task id>`).
fn number_of(labels: &HashMap<String, String>) -> u32 {
    let slot = labels.get(LABEL_TASK_NAME).and_then(|n| n.split('.').nth(1));
    labels.get(LABEL_NUMBER).map(String::as_str).or(slot).and_then(|n| n.parse().ok()).unwrap_or(1)
}

pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The named volume mounted at `path` or above it in a container's mounts (the deepest
/// one): its name and where it is mounted.
pub fn volume_mount_at(mounts: &[bollard::models::MountPoint], path: &str) -> Option<(String, String)> {
    let path = path.trim_end_matches('/');
    mounts
        .iter()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| Some((m.name.clone()?, m.destination.as_deref()?.trim_end_matches('/').to_string())))
        .filter(|(_, dest)| path == dest || path.starts_with(&format!("{dest}/")))
        .max_by_key(|(_, dest)| dest.len())
}

/// bollard's errors as one readable line: the engine's own message, else the cause
/// beneath the client (no socket, permission, refused, timeout), never its Debug form.
pub fn short_err(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError { message, .. } => message.clone(),
        E::SocketNotFoundError(path) => format!("no socket at `{path}`"),
        E::RequestTimeoutError => "no answer in time".into(),
        other => {
            let why = crate::error::readable(other);
            if why == "permission denied" {
                format!("{why}; run ccops as root or as a member of the `docker` group")
            } else if let Some(words) = ssh::last_words() {
                // Over ssh:// the cause beneath the client is what ssh said (a dropped link).
                format!("{why}; ssh: {words}")
            } else {
                why
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::volume_mount_at;
    use bollard::models::MountPoint;

    fn mount(typ: &str, name: Option<&str>, dest: &str) -> MountPoint {
        MountPoint {
            typ: Some(typ.parse().unwrap()),
            name: name.map(String::from),
            destination: Some(dest.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn the_deepest_named_volume_holding_a_path_is_found() {
        let mounts = [
            mount("volume", Some("data"), "/data"),
            mount("volume", Some("pgdata"), "/var/lib/postgresql/data/"),
            mount("bind", None, "/var/lib/postgresql/data/pgdata"),
            mount("volume", Some("lib"), "/var/lib"),
        ];
        let at = |p: &str| volume_mount_at(&mounts, p);
        assert_eq!(at("/data"), Some(("data".into(), "/data".into())));
        assert_eq!(at("/data/"), Some(("data".into(), "/data".into())));
        // Under a bind mount: the volume above it holds the path.
        assert_eq!(at("/var/lib/postgresql/data/pgdata"), Some(("pgdata".into(), "/var/lib/postgresql/data".into())));
        assert_eq!(at("/var/lib/redis"), Some(("lib".into(), "/var/lib".into())));
        // A sibling whose name starts the same is not under it.
        assert_eq!(at("/data2"), None);
        assert_eq!(at("/srv"), None);
    }
}
