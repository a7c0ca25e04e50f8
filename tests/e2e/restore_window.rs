//! `ccops restore` stops the services that use the data once: the safety backup and the
//! restore share one stop window, each service starts once at the end, and health is
//! waited for before the verdict. Counted on the engine's own event stream.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::stack::{Flavour, Stack};

/// The stack's Compose containers' stops and starts, followed live from before the
/// restore: `docker events --since` replays only the engine's last 256 events, which the
/// execs of tests running beside this one overflow within seconds. Helper containers run
/// from the project's images carry its project and service labels too (Compose v2
/// labels the images it builds), but never a config hash.
struct Events {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Events {
    fn follow(s: &Stack) -> Events {
        let mut child = Command::new("docker")
            .args([
                "events",
                "--filter",
                "type=container",
                "--filter",
                &format!("label=com.docker.compose.project={}", s.project),
                "--filter",
                "label=com.docker.compose.config-hash",
                "--filter",
                "event=stop",
                "--filter",
                "event=start",
                "--format",
                "{{.Action}} {{index .Actor.Attributes \"com.docker.compose.service\"}}",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // The stream is subscribed once the client has connected: give it a moment.
        std::thread::sleep(Duration::from_millis(500));
        Events { child, lines }
    }

    /// Per service, (stops, starts) seen so far.
    fn counts(mut self) -> BTreeMap<String, (u32, u32)> {
        // Events reach the stream a moment after they happen: wait for the last ones.
        std::thread::sleep(Duration::from_millis(500));
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut counts: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for line in self.lines.try_iter() {
            let Some((action, service)) = line.split_once(' ') else { continue };
            let c = counts.entry(service.to_string()).or_default();
            match action {
                "stop" => c.0 += 1,
                "start" => c.1 += 1,
                _ => {}
            }
        }
        counts
    }
}

#[test]
fn a_restore_stops_each_service_once_and_waits_for_health() {
    let s = Stack::up("restorewindow", Flavour::V2);
    // A small set, as a new user would try first.
    s.psql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)");
    s.psql("INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 50) g");
    s.redis(&["SET", "seed:1", "one"]);
    s.exec("backend", &["sh", "-c", "echo 'hello docs' > /app/storage/a.txt"]);
    s.ccops(&["backup"]).code(0);
    s.psql("INSERT INTO items (name) SELECT 'later ' || g FROM generate_series(1, 25) g");
    s.redis(&["SET", "seed:2", "two"]);
    s.exec("backend", &["sh", "-c", "echo junk > /app/storage/a.txt"]);

    let events = Events::follow(&s);
    let t = Instant::now();
    let r = s.ccops(&["restore", "latest", "--yes"]);
    let took = t.elapsed();
    eprintln!("restore latest --yes took {took:?}");

    r.code(0).stderr_has("restored backup").stderr_has("taking a safety backup");
    assert!(!r.stderr.contains("still failing as before"), "a false warning after the restore:\n{}", r.stderr);
    assert_eq!(s.psql("SELECT count(*) FROM items"), "50", "rows not restored");
    assert_eq!(s.redis(&["EXISTS", "seed:2"]), "0", "redis not restored");
    assert_eq!(s.exec("backend", &["cat", "/app/storage/a.txt"]).trim(), "hello docs", "volume not restored");

    let counts = events.counts();
    eprintln!("stops and starts per service: {counts:?}");
    for svc in ["backend", "worker", "proxy", "redis"] {
        assert_eq!(
            counts.get(svc),
            Some(&(1, 1)),
            "`{svc}` not stopped once and started once: {counts:?}\nthe restore said:\n{}",
            r.stderr
        );
    }
    // The database is restored in place: never stopped.
    assert_eq!(counts.get("postgres"), None, "postgres was stopped: {counts:?}");
    // Everything is healthy when the restore says so.
    s.ccops(&["health"]).code(0);
}
