//! The engine API over `ssh://`, the way the Docker CLI does it: the system OpenSSH client
//! runs `docker system dial-stdio` on the server and HTTP flows over its stdin and stdout.
//! Host keys, agent, keys and `~/.ssh/config` are the ssh client's own; `BatchMode=yes`
//! so it never prompts (ccops never accepts a host key itself).
//! One ssh process per HTTP connection; idle connections are kept for reuse, and at most
//! [`MAX_STARTING`] log in at once (sshd drops unauthenticated connections beyond ten at a
//! time by default: `MaxStartups`); the limit is on logins, not on open connections, so
//! long streams never keep a request from its connection. What ssh prints on stderr is
//! kept: it is the reason when a connection fails.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Result, bail};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Where `ssh://[user@]host[:port]` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Target {
    /// Parse an `ssh://` URL as the Docker CLI accepts it: no path, no password.
    pub fn parse(url: &str) -> Result<Target> {
        let Some(rest) = url.strip_prefix("ssh://") else { bail!("`{url}` is not an ssh:// URL") };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') {
            bail!("`{url}`: an ssh:// Docker host takes no path; use ssh://user@host[:port]");
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, _)) if u.contains(':') => bail!("`{url}`: no password in an ssh:// URL; use a key (ssh-agent)"),
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, _)) if !h.ends_with(']') && h.contains(':') => (hostport, None),
            Some((h, p)) => {
                let port = p.parse::<u16>().map_err(|_| anyhow::anyhow!("`{url}`: `{p}` is not a port number"))?;
                (h, Some(port))
            }
            None => (hostport, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            bail!("`{url}` names no host; use ssh://user@host[:port]");
        }
        Ok(Target { user, host: host.to_string(), port })
    }

    /// The command an operator runs to try the same login by hand.
    pub fn try_it(&self) -> String {
        let port = self.port.map(|p| format!("-p {p} ")).unwrap_or_default();
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        format!("ssh {port}{user}{} docker version", self.host)
    }

    /// The ssh arguments that reach the server's engine (as the Docker CLI's, plus
    /// BatchMode and keep-alives so a dead link is noticed rather than waited on).
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> =
            ["-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=10", "-T"]
                .map(String::from)
                .to_vec();
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        a.extend(["--".into(), self.host.clone()]);
        a.extend(["docker", "system", "dial-stdio"].map(String::from));
        a
    }
}

/// The last lines ssh wrote on stderr, any connection: why a connection failed or dropped.
static LAST_WORDS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// What ssh last said on stderr, if anything, as one line.
pub fn last_words() -> Option<String> {
    let words = LAST_WORDS.lock().ok()?;
    (!words.is_empty()).then(|| words.iter().cloned().collect::<Vec<_>>().join("; "))
}

/// Forget what ssh said so far: the connection works, older words explain nothing later.
pub fn forget() {
    if let Ok(mut w) = LAST_WORDS.lock() {
        w.clear();
    }
}

fn remember(line: String) {
    if let Ok(mut w) = LAST_WORDS.lock() {
        if w.len() == 4 {
            w.pop_front();
        }
        w.push_back(line);
    }
}

/// What to do about what ssh said: the usual failures in words an operator can act on.
pub fn advice(words: &str, target: &Target) -> Option<String> {
    let at = match target.port {
        Some(p) => format!("{}:{p}", target.host),
        None => target.host.clone(),
    };
    let w = words.to_ascii_lowercase();
    let tip = if w.contains("host key verification failed") || w.contains("remote host identification has changed") {
        format!(
            "the server's host key is not the one in known_hosts (or not there at all); check it with the server's admin, then fix known_hosts (`ssh-keygen -R {}` and connect once with `ssh`) — ccops never accepts a key itself",
            target.host
        )
    } else if w.contains("connection refused") {
        format!("nothing accepts ssh connections at `{at}`; check the host, the port and that sshd runs")
    } else if w.contains("could not resolve hostname") || w.contains("name or service not known") {
        format!("the host name `{}` is unknown; check `docker_host` / DOCKER_HOST and DNS", target.host)
    } else if w.contains("permission denied") && w.contains("publickey") {
        "the server refused the key; load it into ssh-agent (`ssh-add`) or name it (`IdentityFile`) in ~/.ssh/config, and check the user in the URL".into()
    } else if w.contains("timed out") {
        format!("`{at}` does not answer; check the host, the port and firewalls")
    } else if w.contains("docker: not found") || w.contains("docker: command not found") {
        "the Docker CLI is not on the server's PATH for this user (`docker system dial-stdio` runs there)".into()
    } else if w.contains("permission denied while trying to connect to the docker") {
        "the ssh user may not use the server's engine; add it to the server's `docker` group".into()
    } else {
        return None;
    };
    Some(tip)
}

/// ssh processes of one engine logging in at once (until the engine's first answer); a
/// connection beyond waits for one of them to be in.
pub const MAX_STARTING: usize = 8;

/// Opens one ssh process per connection hyper asks for.
#[derive(Clone)]
pub struct Connector {
    target: Arc<Target>,
    starting: Arc<tokio::sync::Semaphore>,
}

/// One ssh process: its stdout is read as the engine's replies, its stdin carries requests.
pub struct Pipe {
    _child: Child,
    /// Held until the engine's first bytes arrive: the login is over.
    starting: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Dropped at shutdown: the end of a container's stdin (an exec's input) reaches the
    /// engine only when ssh's stdin closes (tokio's shutdown of a pipe does not close it).
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Until ssh's stderr is read to its end, or a short while: at the end of stdout (a
    /// dropped link), ssh's last words must be in before the error is worded.
    stderr_read: Option<tokio::task::JoinHandle<()>>,
    /// Started at the end of stdout.
    waited: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Pipe {
    fn stdin(&mut self) -> io::Result<Pin<&mut ChildStdin>> {
        self.stdin.as_mut().map(Pin::new).ok_or_else(|| io::ErrorKind::BrokenPipe.into())
    }
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = TokioIo<Pipe>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Pipe>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let target = self.target.clone();
        let starting = self.starting.clone();
        Box::pin(async move {
            let starting = starting.acquire_owned().await.map_err(io::Error::other)?;
            let mut child = Command::new("ssh")
                .args(target.args())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                // Its own process group: a Ctrl-C at the terminal reaches ccops alone, which
                // then still has its connections to start stopped services again.
                .process_group(0)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ssh` ({e}); install the OpenSSH client")))?;
            let (Some(stdin), Some(stdout), Some(stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(io::Error::other("ssh started without its pipes"));
            };
            let stderr_read = tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = line.trim().to_string();
                    if !line.is_empty() {
                        remember(line);
                    }
                }
            });
            Ok(TokioIo::new(Pipe {
                _child: child,
                starting: Some(starting),
                stdin: Some(stdin),
                stdout,
                stderr_read: Some(stderr_read),
                waited: None,
            }))
        })
    }
}

impl Connection for Pipe {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// How long the end of a connection waits for ssh to say why it ended.
const LAST_WORDS_WAIT: Duration = Duration::from_secs(2);

impl AsyncRead for Pipe {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = std::task::ready!(Pin::new(&mut self.stdout).poll_read(cx, buf));
        if read.is_ok() && buf.filled().len() > before {
            self.starting = None;
            return Poll::Ready(read);
        }
        // The end of the stream (or an error): once ssh's stderr is read, or after a short
        // wait (a ControlMaster may keep it open).
        let this = self.as_mut().get_mut();
        if let Some(stderr_read) = this.stderr_read.as_mut() {
            let wait = this.waited.get_or_insert_with(|| Box::pin(tokio::time::sleep(LAST_WORDS_WAIT)));
            if Pin::new(stderr_read).poll(cx).is_pending() && wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.stderr_read = None;
        Poll::Ready(read)
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stdin()?.poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(stdin) = self.stdin.as_mut() {
            std::task::ready!(Pin::new(stdin).poll_flush(cx))?;
        }
        self.stdin = None;
        Poll::Ready(Ok(()))
    }
}

/// A bollard client whose connections are ssh processes to `target`.
pub fn connect(target: Target, timeout_s: u64) -> Result<bollard::Docker> {
    let connector =
        Connector { target: Arc::new(target), starting: Arc::new(tokio::sync::Semaphore::new(MAX_STARTING)) };
    let client = Arc::new(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(4)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .build(connector),
    );
    let transport = move |req: bollard::BollardRequest| {
        let client = client.clone();
        async move { client.request(req).await.map_err(bollard::errors::Error::from) }
    };
    // The URL only names the pool's key: every connection is an ssh process.
    Ok(bollard::Docker::connect_with_custom_transport(
        transport,
        Some("http://docker.ssh"),
        timeout_s,
        bollard::API_DEFAULT_VERSION,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_the_docker_cli_reads_them() {
        let t = Target::parse("ssh://deploy@db.example.org:2222").unwrap();
        assert_eq!(t, Target { user: Some("deploy".into()), host: "db.example.org".into(), port: Some(2222) });
        let t = Target::parse("ssh://server").unwrap();
        assert_eq!(t, Target { user: None, host: "server".into(), port: None });
        let t = Target::parse("ssh://me@[::1]:22").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", Some(22)));
        assert!(Target::parse("ssh://me@host/var/run").unwrap_err().to_string().contains("no path"));
        assert!(Target::parse("ssh://me:secret@host").unwrap_err().to_string().contains("no password"));
        assert!(Target::parse("ssh://host:port").unwrap_err().to_string().contains("not a port"));
    }

    #[test]
    fn ssh_never_prompts_and_runs_dial_stdio() {
        let a = Target::parse("ssh://deploy@h:2200").unwrap().args().join(" ");
        assert!(a.starts_with("-o BatchMode=yes"), "{a}");
        assert!(a.ends_with("-l deploy -p 2200 -- h docker system dial-stdio"), "{a}");
        assert_eq!(Target::parse("ssh://deploy@h:2200").unwrap().try_it(), "ssh -p 2200 deploy@h docker version");
    }

    #[test]
    fn the_usual_failures_get_advice() {
        let t = Target::parse("ssh://u@h:2222").unwrap();
        assert!(advice("Host key verification failed.", &t).unwrap().contains("known_hosts"));
        assert!(advice("ssh: connect to host h port 2222: Connection refused", &t).unwrap().contains("`h:2222`"));
        assert!(advice("u@h: Permission denied (publickey).", &t).unwrap().contains("ssh-agent"));
        assert!(
            advice("ssh: Could not resolve hostname h: Name or service not known", &t).unwrap().contains("unknown")
        );
        assert_eq!(advice("all fine", &t), None);
    }
}
