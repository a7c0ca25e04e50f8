//! Zero-downtime rollouts under a strict client: a thread asks the example's nginx proxy
//! for /health every 20 ms, on a fresh connection each time, and gives a request 2 s in
//! all; it counts every refusal, timeout and 5xx. Through a deploy (start-first, three
//! replicas drained one at a time), a failed deploy whose new replicas are taken away
//! again, a rollback and a scale-down 3 -> 1, it must see none.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::stack::{Flavour, Stack};

const PASSWORD: &str = "k8Jq2vX0pLm3Zr7wQ4tY";
/// The client's whole budget per request: connect, send, read the answer.
const BUDGET: Duration = Duration::from_secs(2);
const EVERY: Duration = Duration::from_millis(20);
/// Bounds of the client thread whatever happens to the test.
const MAX_REQUESTS: usize = 60_000;
const MAX_TIME: Duration = Duration::from_secs(900);

#[derive(Debug, Default)]
struct Seen {
    requests: usize,
    failures: Vec<String>,
    max: Duration,
}

struct StrictClient {
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
    fn start(port: u16, phases: usize) -> StrictClient {
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

    fn phase(&self, n: usize) {
        self.phase.store(n, Ordering::SeqCst);
    }

    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

#[test]
fn strict_client_sees_no_failure_through_deploy_failed_deploy_rollback_and_scale_down() {
    let s = Stack::new("strict", Flavour::V2);
    s.set_env("DB_PASSWORD", PASSWORD);
    // The backups before each deploy are not what this test is about: keep it quicker.
    s.edit("ccops.yaml", "  backup_before: true", "  backup_before: false");
    s.start();
    s.ccops(&["deploy", "production", "v1.0.0"]).code(0);
    s.ccops(&["scale", "production", "backend=3"]).code(0).stderr_has("backend: 3 ready");

    let phases = ["deploy v1.1.0", "failed deploy v1.2.0", "rollback", "scale 3->1"];
    let client = StrictClient::start(s.proxy_port, phases.len());
    std::thread::sleep(Duration::from_millis(500));
    let deploy = s.ccops(&["deploy", "production", "v1.1.0"]);
    client.phase(1);
    let failed = s.ccops(&["deploy", "production", "v1.2.0"]);
    client.phase(2);
    let rollback = s.ccops(&["rollback", "production"]);
    client.phase(3);
    let scale = s.ccops(&["scale", "production", "backend=1"]);
    std::thread::sleep(Duration::from_millis(1500));
    let seen = client.finish();

    deploy.code(0).stderr_has("start-first").stderr_has("draining the 3 old one(s) one at a time");
    failed.code(1).stderr_has("is unhealthy").stderr_has("v1.1.0 (release #2) is still serving");
    rollback.code(0).stderr_has("rolled back `production` to v1.0.0");
    scale.code(0).stderr_has("draining 2 replica(s) one at a time");
    let report: Vec<String> = phases
        .iter()
        .zip(&seen)
        .map(|(p, x)| format!("{p}: {} requests, {} failed, max {:?}", x.requests, x.failures.len(), x.max))
        .collect();
    eprintln!("strict client:\n  {}", report.join("\n  "));
    for (p, x) in phases.iter().zip(&seen) {
        assert!(x.failures.is_empty(), "{p}: failed requests {:?}\n{}", x.failures, report.join("\n"));
        assert!(x.requests >= 20, "{p}: the client hardly ran\n{}", report.join("\n"));
    }
    assert_eq!(s.containers_of("backend").len(), 1, "{:?}", s.containers_of("backend"));
}
