//! The test context: a temporary project folder and the real binary, run like a session.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The ccops binary under test, with a clean environment for ccops' own variables.
pub fn ccops() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccops"));
    c.env_remove("CCOPS_CONFIG").env_remove("CCOPS_COMPOSE").env_remove("CCOPS_DOCKER").env("NO_COLOR", "1");
    c
}

/// A new age identity written to `file` (as `age-keygen -o` writes it); returns its
/// public key.
pub fn age_identity(file: &Path) -> String {
    let keygen = Command::new("age-keygen").arg("-o").arg(file).output().unwrap();
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    String::from_utf8_lossy(&keygen.stderr).split_whitespace().last().unwrap().to_string()
}

/// The outcome of one run, with helpers that print everything on failure.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}\n--- stdout\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not one JSON document ({e}):\n{}\n--- stderr\n{}", self.stdout, self.stderr)
        })
    }
}

/// A scratch folder with files in it, removed at the end of the test.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir { tmp: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let p = self.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    /// Run ccops in this folder.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = ccops();
        c.current_dir(self.path()).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run ccops").into()
    }
}

/// A ccops process running in the background, its stderr collected line by line.
pub struct Background {
    pub child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        use std::io::BufRead;
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn ccops");
        let stderr = child.stderr.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l2 = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        Background { child, lines, reader: Some(reader) }
    }

    /// Wait until a stderr line contains `needle` (panics after `secs`).
    #[track_caller]
    pub fn wait_for(&self, needle: &str, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if self.lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("no stderr line with {needle:?} within {secs}s; got:\n{}", self.lines.lock().unwrap().join("\n"));
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(st.success());
    }

    /// Wait for the exit; (code, stderr). A signal death is code 128+N.
    pub fn finish(mut self) -> (i32, String) {
        use std::os::unix::process::ExitStatusExt;
        let st = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        (code, self.lines.lock().unwrap().join("\n"))
    }
}

/// A TLS server on a loopback port (returned) with `config`: each connection, once its
/// handshake succeeds, is handed to `serve`.
pub fn tls_listener<F, Fut>(config: tokio_rustls::rustls::ServerConfig, serve: F) -> u16
where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
            let serve = std::sync::Arc::new(serve);
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, serve) = (acceptor.clone(), serve.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls).await;
                    }
                });
            }
        });
    });
    port
}

/// Run `cmd` with a terminal as its stdin, stdout and stderr (util-linux `script`), and
/// `input` typed at it. What it printed, to either stream, is in `stdout`.
pub fn in_terminal(cmd: &Command, input: &str) -> Run {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(quote).collect();
    let mut script = Command::new("script");
    script.args(["-qec", &line.join(" "), "/dev/null"]);
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap().into()
}

/// The client's whole budget per request: connect, send, read the answer.
const BUDGET: Duration = Duration::from_secs(2);
const EVERY: Duration = Duration::from_millis(20);
/// Bounds of the client thread whatever happens to the test.
const MAX_REQUESTS: usize = 60_000;
const MAX_TIME: Duration = Duration::from_secs(900);

#[derive(Debug, Default)]
pub struct Seen {
    pub requests: usize,
    pub failures: Vec<String>,
    pub max: Duration,
}

/// A client that asks the example's proxy for /health every 20 ms on a fresh connection,
/// giving each request 2 s in all, and counts every refusal, timeout and 5xx per phase.
pub struct StrictClient {
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: std::thread::JoinHandle<()>,
}

/// One GET /health on a fresh connection to 127.0.0.1:port within BUDGET: the status.
fn get(port: u16) -> Result<u16, String> {
    let t0 = Instant::now();
    let left = || BUDGET.checked_sub(t0.elapsed()).filter(|d| !d.is_zero()).ok_or("timed out".to_string());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = TcpStream::connect_timeout(&addr, BUDGET).map_err(|e| format!("connect: {e}"))?;
    c.set_write_timeout(Some(left()?)).unwrap();
    c.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| format!("send: {e}"))?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        c.set_read_timeout(Some(left()?)).unwrap();
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&text);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("no status line: {text:?}"))
}

impl StrictClient {
    pub fn start(port: u16, phases: usize) -> StrictClient {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new((0..phases).map(|_| Seen::default()).collect::<Vec<_>>()));
        let (flag, at, out) = (stop.clone(), phase.clone(), seen.clone());
        let handle = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut next = t0;
            for _ in 0..MAX_REQUESTS {
                if flag.load(Ordering::SeqCst) || t0.elapsed() > MAX_TIME {
                    break;
                }
                let p = at.load(Ordering::SeqCst);
                let start = Instant::now();
                let r = get(port);
                let took = start.elapsed();
                let mut all = out.lock().unwrap();
                let s = &mut all[p];
                s.requests += 1;
                s.max = s.max.max(took);
                match r {
                    Ok(200) => {}
                    Ok(code) => s.failures.push(format!("{:?}: HTTP {code}", t0.elapsed())),
                    Err(e) => s.failures.push(format!("{:?}: {e} after {took:?}", t0.elapsed())),
                }
                drop(all);
                next += EVERY;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        });
        StrictClient { stop, phase, seen, handle }
    }

    pub fn phase(&self, n: usize) {
        self.phase.store(n, Ordering::SeqCst);
    }

    pub fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Every phase of a strict client saw at least 20 requests and not one failed; the
/// counts are printed either way.
#[track_caller]
pub fn assert_no_failure(phases: &[&str], seen: &[Seen]) {
    let report: Vec<String> = phases
        .iter()
        .zip(seen)
        .map(|(p, x)| format!("{p}: {} requests, {} failed, max {:?}", x.requests, x.failures.len(), x.max))
        .collect();
    eprintln!("strict client:\n  {}", report.join("\n  "));
    for (p, x) in phases.iter().zip(seen) {
        let first: Vec<&String> = x.failures.iter().take(10).collect();
        assert!(x.failures.is_empty(), "{p}: failed requests, the first: {first:?}\n{}", report.join("\n"));
        assert!(x.requests >= 20, "{p}: the client hardly ran\n{}", report.join("\n"));
    }
}
