//! A running copy of examples/commandcenter for one test: its own folder, project name
//! and backend port, torn down (containers, volumes, networks) when the test ends.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{Run, ccops};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    V2,
    V1,
}

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub project: String,
    pub port: u16,
    /// PROXY_PORT: the nginx proxy in front of the backend replicas.
    pub proxy_port: u16,
    pub flavour: Flavour,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/commandcenter")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n == ".env" || n == "backups" || n == ".ccops" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst)
        } else {
            std::fs::copy(&src, &dst).map(|_| ()).unwrap()
        }
    }
}

impl Stack {
    /// A copy of the example, configured but not started.
    pub fn new(tag: &str, flavour: Flavour) -> Stack {
        let dir = tempfile::Builder::new().prefix("ccops-e2e-").tempdir().unwrap();
        copy_dir(&example_dir(), dir.path());
        let project =
            format!("cc{}{}{}", tag.replace(['_', '-'], ""), std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let port = free_port();
        let proxy_port = free_port();
        let env = std::fs::read_to_string(dir.path().join(".env.example")).unwrap();
        let env: String = env
            .lines()
            .map(|l| if l.starts_with("BACKEND_PORT=") { format!("BACKEND_PORT={port}") } else { l.to_string() })
            .map(|l| if l.starts_with("PROXY_PORT=") { format!("PROXY_PORT={proxy_port}") } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        // Its own image names: the stacks of concurrent tests must not retag each other's
        // images (Compose v2 labels the images it builds with the project).
        let env = format!("{env}\nIMAGE_PREFIX={project}");
        std::fs::write(dir.path().join(".env"), env + "\n").unwrap();
        let cfg = std::fs::read_to_string(dir.path().join("ccops.yaml")).unwrap();
        std::fs::write(
            dir.path().join("ccops.yaml"),
            cfg.replacen("project: commandcenter", &format!("project: {project}"), 1),
        )
        .unwrap();
        Stack { dir, project, port, proxy_port, flavour }
    }

    /// Start the stack and wait until every service is healthy.
    pub fn up(tag: &str, flavour: Flavour) -> Stack {
        let s = Stack::new(tag, flavour);
        s.compose(&["up", "-d", "--build", "--quiet-pull"][..if flavour == Flavour::V2 { 4 } else { 3 }]);
        s.ccops(&["health", "--wait", "--timeout", "120s"]).code(0);
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Start a stack made with `new` (after editing its files) and wait until it is healthy.
    pub fn start(&self) {
        self.compose(&["up", "-d", "--build", "--quiet-pull"][..if self.flavour == Flavour::V2 { 4 } else { 3 }]);
        self.ccops(&["health", "--wait", "--timeout", "120s"]).code(0);
    }

    /// Set `KEY=value` in the stack's .env (replacing the line, or adding it).
    pub fn set_env(&self, key: &str, value: &str) {
        let p = self.path().join(".env");
        let text = std::fs::read_to_string(&p).unwrap();
        let prefix = format!("{key}=");
        let mut found = false;
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with(&prefix) {
                    found = true;
                    format!("{key}={value}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        if !found {
            lines.push(format!("{key}={value}"));
        }
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    }

    /// Replace `from` (which must occur) by `to` in a file of the stack's copy.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let p = self.path().join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file} lacks {from:?}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    }

    /// GET through the proxy (PROXY_PORT): (status, body).
    pub fn proxy_http(&self, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-m", "10", "-w", "\n%{http_code}"])
            .arg(format!("http://127.0.0.1:{}{path}", self.proxy_port))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The containers of a service: (name, image, state/health), by compose labels.
    pub fn containers_of(&self, service: &str) -> Vec<(String, String, String)> {
        let out = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}\t{{.Image}}\t{{.Status}}", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .arg("--filter")
            .arg(format!("label=com.docker.compose.service={service}"))
            .arg("--filter")
            .arg("label=com.docker.compose.config-hash")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?.to_string(), f.next()?.to_string(), f.next()?.to_string()))
            })
            .collect()
    }

    fn files(&self) -> Vec<String> {
        let mut a = vec!["-p".to_string(), self.project.clone()];
        for f in ["docker-compose.yml", "docker-compose.prod.yml"] {
            a.push("-f".into());
            a.push(self.path().join(f).to_string_lossy().into_owned());
        }
        a.push("--env-file".into());
        a.push(self.path().join(".env").to_string_lossy().into_owned());
        a
    }

    /// Run a compose command for this stack with the flavour under test; panics on failure.
    pub fn compose(&self, args: &[&str]) -> String {
        let out = self.compose_cmd(args).output().unwrap();
        assert!(out.status.success(), "compose {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn compose_cmd(&self, args: &[&str]) -> Command {
        let mut c = match self.flavour {
            Flavour::V2 => {
                let mut c = Command::new("docker");
                c.arg("compose");
                c
            }
            Flavour::V1 => Command::new("docker-compose"),
        };
        c.args(self.files()).args(args).current_dir(self.path());
        c
    }

    /// Run ccops in the stack's folder with the flavour under test.
    pub fn ccops(&self, args: &[&str]) -> Run {
        self.ccops_env(args, &[])
    }

    /// The ccops command for this stack, not yet run (for background runs).
    pub fn ccops_cmd(&self, args: &[&str]) -> Command {
        let mut c = ccops();
        c.current_dir(self.path()).args(args);
        c.env("CCOPS_COMPOSE", if self.flavour == Flavour::V2 { "docker compose" } else { "docker-compose" });
        c
    }

    pub fn ccops_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = ccops();
        c.current_dir(self.path()).args(args);
        c.env("CCOPS_COMPOSE", if self.flavour == Flavour::V2 { "docker compose" } else { "docker-compose" });
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run ccops").into()
    }

    /// The container ID of a service (first replica).
    pub fn container(&self, service: &str) -> String {
        // Only containers Compose made (they carry a config hash): Compose v2 labels the
        // images it builds with project and service, and the image tags are shared by
        // every stack on the engine, so another test's helper container run from such an
        // image would otherwise pass for one of this stack's.
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .args(["--filter"])
            .arg(format!("label=com.docker.compose.service={service}"))
            .args(["--filter", "label=com.docker.compose.config-hash"])
            .output()
            .unwrap();
        let id = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "no container for service {service}");
        id
    }

    /// `docker exec` in a service's container; returns stdout, panics on failure.
    pub fn exec(&self, service: &str, cmd: &[&str]) -> String {
        let out = Command::new("docker").arg("exec").arg(self.container(service)).args(cmd).output().unwrap();
        assert!(out.status.success(), "exec {cmd:?} in {service} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker exec` that may fail: stdout on success, `ERROR: <stderr>` otherwise.
    pub fn try_exec(&self, service: &str, cmd: &[&str]) -> String {
        let out = Command::new("docker").arg("exec").arg(self.container(service)).args(cmd).output().unwrap();
        if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            format!("ERROR: {}", String::from_utf8_lossy(&out.stderr))
        }
    }

    pub fn psql(&self, sql: &str) -> String {
        self.exec(
            "postgres",
            &["psql", "-U", "commandcenter", "-d", "commandcenter", "-tAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        )
        .trim()
        .to_string()
    }

    pub fn redis(&self, args: &[&str]) -> String {
        let mut cmd = vec!["redis-cli"];
        cmd.extend_from_slice(args);
        self.exec("redis", &cmd).trim().to_string()
    }

    pub fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn http(&self, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-m", "5", "-w", "\n%{http_code}"])
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.compose_cmd(&["down", "-v", "--remove-orphans", "-t", "2"]).output();
        // Untag this stack's own images by name (never by ID: an identical image may
        // carry another stack's tag too), keeping their parent layers for the next build.
        let out = Command::new("docker")
            .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter"])
            .arg(format!("reference={}-*", self.project))
            .output();
        if let Ok(out) = out {
            let names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
            if !names.is_empty() {
                let _ = Command::new("docker").args(["rmi", "--no-prune"]).args(&names).output();
            }
        }
    }
}
