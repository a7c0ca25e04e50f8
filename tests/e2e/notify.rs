//! Notifications, metrics and JSON logs, end to end: a webhook listener in this test
//! process receives the real POSTs, the metrics textfile is read with the Prometheus text
//! format rules, and the log file is read line by line as JSON.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::stack::{Flavour, Stack};
use crate::support::Dir;

/// One request the listener received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub content_type: String,
    /// The body read as JSON (null when it is not JSON).
    pub body: serde_json::Value,
    /// The body as text.
    pub text: String,
}

/// An incoming-webhook (and ping) stand-in on 127.0.0.1 that records every request. A
/// path with `/down/` always answers 500; a path with `/flaky/` answers 500 twice, then
/// 200; anything else 200.
pub struct Hook {
    pub port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Hook {
    pub fn start() -> Hook {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            let mut flaky = 0;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Some(mut got) = read_request(&mut conn) else { continue };
                let path = got.path.clone();
                let status = if path.contains("/down/") {
                    500
                } else if path.contains("/flaky/") {
                    flaky += 1;
                    if flaky <= 2 { 500 } else { 200 }
                } else {
                    200
                };
                got.body = serde_json::from_str(&got.text).unwrap_or(serde_json::Value::Null);
                g.lock().unwrap().push(got);
                let reason = if status == 200 { "OK" } else { "Internal Server Error" };
                let text = if status == 200 { "ok" } else { "no_service" };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Hook { port, got }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until `n` requests in all have come (the POST is sent before ccops exits, so
    /// this is only a guard against a slow listener thread).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the webhook received {} request(s), expected {n}: {:?}", self.received().len(), self.received());
    }
}

fn read_request(conn: &mut std::net::TcpStream) -> Option<Received> {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next()?.to_string(), words.next()?.to_string());
    let mut content_type = String::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
            if k.eq_ignore_ascii_case("content-type") {
                content_type = v.trim().to_string();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let text = String::from_utf8_lossy(&body).into_owned();
    Some(Received { method, path, content_type, body: serde_json::Value::Null, text })
}

/// The value of attachment field `title` of a Slack-style message.
pub fn field(body: &serde_json::Value, title: &str) -> Option<String> {
    body["attachments"][0]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["title"] == title)
        .and_then(|f| f["value"].as_str())
        .map(String::from)
}

/// Read a Prometheus text exposition with its rules: `# HELP` / `# TYPE` at most once per
/// family and before its samples, a family's samples together, metric and label names of
/// the allowed characters, quoted and escaped label values, float values, no series twice,
/// a final newline. Returns series (name and sorted labels) -> value.
pub fn parse_prometheus(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let name_ok = |n: &str| {
        let mut c = n.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    };
    let label_ok = |n: &str| {
        let mut c = n.chars();
        !n.starts_with("__")
            && c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
    };
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the last line has no newline".into());
    }
    let mut series = BTreeMap::new();
    let mut help = std::collections::BTreeSet::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut done = std::collections::BTreeSet::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}: {line}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if !name_ok(name) || !help.insert(name.to_string()) {
                return Err(at("bad or repeated HELP".into()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            if !name_ok(name)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
                || parts.next().is_some()
            {
                return Err(at("bad TYPE".into()));
            }
            if typed.insert(name.to_string(), kind.to_string()).is_some()
                || done.contains(name)
                || current.as_deref() == Some(name)
            {
                return Err(at("TYPE repeated or after the family's samples".into()));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !name_ok(name) {
            return Err(at(format!("bad metric name `{name}`")));
        }
        if typed.get(name).is_some_and(|k| k == "counter") && !name.ends_with("_total") {
            return Err(at("a counter's name should end in _total".into()));
        }
        if current.as_deref() != Some(name) {
            if let Some(prev) = current.take() {
                done.insert(prev);
            }
            if done.contains(name) {
                return Err(at("samples of a family are not together".into()));
            }
            current = Some(name.to_string());
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(mut body) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = body.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let eq = body.find('=').ok_or_else(|| at("label without =".into()))?;
                let key = &body[..eq];
                if !label_ok(key) {
                    return Err(at(format!("bad label name `{key}`")));
                }
                let mut chars = body[eq + 1..].char_indices();
                if chars.next().map(|c| c.1) != Some('"') {
                    return Err(at("label value not quoted".into()));
                }
                let (mut value, mut end, mut esc) = (String::new(), None, false);
                for (j, c) in chars {
                    match (esc, c) {
                        (true, 'n') => value.push('\n'),
                        (true, '\\' | '"') => value.push(c),
                        (true, _) => return Err(at("bad escape in a label value".into())),
                        (false, '\\') => {
                            esc = true;
                            continue;
                        }
                        (false, '"') => {
                            end = Some(j);
                            break;
                        }
                        (false, '\n') => return Err(at("newline in a label value".into())),
                        (false, c) => value.push(c),
                    }
                    esc = false;
                }
                let end = end.ok_or_else(|| at("unterminated label value".into()))?;
                labels.push((key.to_string(), value));
                body = &body[eq + 1 + end + 1..];
                if let Some(b) = body.strip_prefix(',') {
                    body = b;
                } else if !body.starts_with('}') {
                    return Err(at("labels not separated by ,".into()));
                }
            }
        }
        let mut parts = rest.split_whitespace();
        let value = parts.next().ok_or_else(|| at("no value".into()))?;
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| at(format!("`{v}` is not a float")))?,
        };
        if let Some(ts) = parts.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
        }
        if rest.chars().next().is_some_and(|c| c != ' ') {
            return Err(at("no space before the value".into()));
        }
        let mut sorted = labels.clone();
        sorted.sort();
        let key =
            format!("{name}{{{}}}", sorted.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(","));
        if series.insert(key.clone(), v).is_some() {
            return Err(at(format!("duplicate series {key}")));
        }
    }
    Ok(series)
}

/// The value of the series `name` whose labels include every one of `labels`.
pub fn value(series: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    series
        .iter()
        .find(|(k, _)| {
            k.starts_with(&format!("{name}{{")) && labels.iter().all(|(l, v)| k.contains(&format!("{l}={v:?}")))
        })
        .map(|(_, v)| *v)
}

#[test]
fn the_parser_holds_the_format_rules() {
    let good = "# HELP a_total x\n# TYPE a_total counter\na_total{b=\"1\",c=\"q\\\"\\n\"} 2\n# TYPE g gauge\ng 1.5e3 1700000000000\ng{x=\"y\"} NaN\n";
    let s = parse_prometheus(good).unwrap();
    assert_eq!(s.get("g{}"), Some(&1500.0));
    assert!(value(&s, "g", &[("x", "y")]).unwrap().is_nan());
    for bad in [
        "a 1\nb 1\na{x=\"1\"} 2\n",
        "# TYPE a counter\na 1\n",
        "a{b=1} 1\n",
        "a 1\na 2\n",
        "9a 1\n",
        "a{b-c=\"1\"} 1\n",
        "a one\n",
        "a 1\n# TYPE a gauge\n",
        "a 1",
    ] {
        assert!(parse_prometheus(bad).is_err(), "accepted: {bad:?}");
    }
}

const COMPOSE: &str = "services:\n  db:\n    image: ccops-test/base:latest\n    command: sleep infinity\n";

fn project(hook_url: &str) -> Dir {
    let d = Dir::new();
    let yaml = format!(
        "project: notifytest\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml]\n    env_file: .env\nbackup:\n  postgres:\n    - service: db\n      database: ${{DB_NAME}}\n      user: app\nnotify:\n  webhook_url: {hook_url}\n  on: [failure]\nmetrics:\n  textfile: metrics/ccops.prom\n"
    );
    d.write("docker-compose.yml", COMPOSE)
        .write("ccops.yaml", &yaml)
        .write(".env", "DB_NAME=app\nAPI_TOKEN=tok-5e3f9a1c7d2b\n");
    std::fs::create_dir(d.join("metrics")).unwrap();
    d
}

const NO_ENGINE: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

#[test]
fn a_failed_backup_is_posted_with_retries_and_a_dead_webhook_changes_nothing() {
    let hook = Hook::start();
    // The engine is down: the backup fails at once, after the config loaded.
    let d = project(&hook.url("/flaky/T000/secret-token"));
    let r = d.run_env(&["backup"], &[NO_ENGINE]);
    r.code(1).stderr_has("not reachable");
    assert!(!r.stderr.contains("could not notify"), "{}", r.stderr);
    // Two 500 answers, then 200: three POSTs of the same message.
    let got = hook.wait_for(3);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|g| g.body == got[0].body && g.path == "/flaky/T000/secret-token"));
    assert!(got.iter().all(|g| g.method == "POST" && g.content_type.contains("application/json")), "{got:?}");
    let body = &got[2].body;
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("ccops backup FAILED") && text.contains("`notifytest`") && text.contains("`prod`"), "{text}");
    assert_eq!(field(body, "command").as_deref(), Some("backup"));
    assert_eq!(field(body, "environment").as_deref(), Some("prod"));
    assert!(field(body, "duration").is_some(), "{body}");
    assert!(field(body, "error").unwrap().contains("not reachable"), "{body}");
    assert_eq!(body["ccops"]["outcome"], "failure");

    // A webhook that always fails, then one that refuses connections: warned, exit 1 as before.
    std::fs::write(
        d.join("ccops.yaml"),
        std::fs::read_to_string(d.join("ccops.yaml")).unwrap().replace("/flaky/", "/down/"),
    )
    .unwrap();
    let r = d.run_env(&["backup"], &[NO_ENGINE]);
    r.code(1)
        .stderr_has(&format!("could not notify the webhook at 127.0.0.1:{} (HTTP 500", hook.port))
        .stderr_has("after 3 attempt(s)");
    assert!(!r.stderr.contains("secret-token"), "{}", r.stderr);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let yaml = std::fs::read_to_string(d.join("ccops.yaml"))
        .unwrap()
        .replace(&format!(":{}/", hook.port), &format!(":{closed}/"));
    std::fs::write(d.join("ccops.yaml"), yaml).unwrap();
    let r = d.run_env(&["backup"], &[NO_ENGINE]);
    r.code(1).stderr_has("could not notify").stderr_has("cannot connect");
    // A dry run changes nothing, so it notifies nobody.
    d.run_env(&["backup", "--dry-run"], &[NO_ENGINE]);
    assert_eq!(hook.received().len(), 6);

    let metrics = parse_prometheus(&std::fs::read_to_string(d.join("metrics/ccops.prom")).unwrap()).unwrap();
    let base = [("project", "notifytest"), ("environment", "prod")];
    assert_eq!(value(&metrics, "ccops_backup_last_status", &base), Some(0.0));
    assert_eq!(value(&metrics, "ccops_backup_runs_total", &[("outcome", "failure")]), Some(3.0));
    assert_eq!(value(&metrics, "ccops_backup_last_success_timestamp_seconds", &base), None);
}

#[test]
fn json_log_lines_carry_context_and_never_a_secret() {
    // The database name is a secret here, so the dry run's plan would print it.
    let d = project("http://127.0.0.1:9/hook");
    std::fs::write(
        d.join("ccops.yaml"),
        std::fs::read_to_string(d.join("ccops.yaml")).unwrap().replace("${DB_NAME}", "${API_TOKEN}"),
    )
    .unwrap();
    let log = d.join("ccops.log");
    let r =
        d.run_env(&["--log-format", "json", "--log-file", log.to_str().unwrap(), "backup", "--dry-run"], &[NO_ENGINE]);
    r.code(0);
    let text = std::fs::read_to_string(&log).unwrap();
    for out in [&r.stderr, &text] {
        assert!(!out.contains("tok-5e3f9a1c7d2b"), "a secret was logged:\n{out}");
    }
    assert!(text.contains("postgres-db-********.dump"), "{text}");
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        chrono::DateTime::parse_from_rfc3339(l["timestamp"].as_str().unwrap()).unwrap();
        assert!(["debug", "info", "warn", "error"].contains(&l["level"].as_str().unwrap()), "{l}");
        assert!(l["message"].is_string(), "{l}");
        assert_eq!(l["command"], "backup", "{l}");
        assert_eq!(l["environment"], "prod", "{l}");
    }
    // stderr carries the same lines, one JSON object each.
    for l in r.stderr.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {l}"));
    }
}

#[test]
fn backup_restore_and_health_on_the_example_stack_notify_and_write_metrics() {
    let hook = Hook::start();
    let s = Stack::up("notify", Flavour::V2);
    let textdir = tempfile::tempdir().unwrap();
    let prom = textdir.path().join("ccops.prom");
    let cfg = s.path().join("ccops.yaml");
    let original = std::fs::read_to_string(&cfg).unwrap();
    let observed = format!(
        "{original}\nnotify:\n  webhook_url: {}\n  on: [failure, success]\nmetrics:\n  textfile: {}\n",
        hook.url("/hooks/T000/secret-token"),
        prom.display()
    );
    std::fs::write(&cfg, &observed).unwrap();
    let log = s.path().join("ccops.log");
    let logged = |args: &[&str]| {
        let mut a = vec!["--log-format", "json", "--log-file", log.to_str().unwrap()];
        a.extend_from_slice(args);
        s.ccops(&a)
    };
    let base = [("project", s.project.as_str()), ("environment", "production")];

    // A backup that works: a success message (asked for) and the backup metrics.
    logged(&["backup"]).code(0);
    let id = s.ccops(&["--json", "backup", "list"]).json()[0]["id"].as_str().unwrap().to_string();
    let ok = hook.wait_for(1)[0].body.clone();
    assert!(ok["text"].as_str().unwrap().contains(&format!("ccops backup succeeded (backup {id})")), "{ok}");
    assert_eq!(field(&ok, "backup ID").as_deref(), Some(id.as_str()));
    assert_eq!(field(&ok, "environment").as_deref(), Some("production"));
    assert!(field(&ok, "error").is_none());
    let m = parse_prometheus(&std::fs::read_to_string(&prom).unwrap()).unwrap();
    let success_at = value(&m, "ccops_backup_last_success_timestamp_seconds", &base).unwrap();
    assert!((chrono::Utc::now().timestamp() as f64 - success_at).abs() < 120.0);
    assert_eq!(value(&m, "ccops_backup_last_status", &base), Some(1.0));
    assert!(value(&m, "ccops_backup_last_size_bytes", &base).unwrap() > 1000.0);
    assert!(value(&m, "ccops_backup_last_duration_seconds", &base).unwrap() > 0.0);

    // A backup of a database that does not exist: failure message with the error.
    std::fs::write(&cfg, observed.replacen("database: commandcenter", "database: no_such_db", 1)).unwrap();
    logged(&["backup"]).code(1).stderr_has("no_such_db");
    let failed = hook.wait_for(2)[1].body.clone();
    assert!(failed["text"].as_str().unwrap().contains("ccops backup FAILED"), "{failed}");
    assert_eq!(field(&failed, "command").as_deref(), Some("backup"));
    assert!(field(&failed, "backup ID").is_some_and(|b| b != id), "{failed}");
    assert!(field(&failed, "error").unwrap().contains("no_such_db"), "{failed}");
    assert!(field(&failed, "duration").is_some());
    let m = parse_prometheus(&std::fs::read_to_string(&prom).unwrap()).unwrap();
    assert_eq!(value(&m, "ccops_backup_last_status", &base), Some(0.0));
    assert_eq!(value(&m, "ccops_backup_last_success_timestamp_seconds", &base), Some(success_at));
    assert_eq!(value(&m, "ccops_backup_runs_total", &[("outcome", "failure")]), Some(1.0));

    // The JSON log: one object a line, with the command, environment and backup ID.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let done = lines
        .iter()
        .find(|l| l["message"].as_str().unwrap().contains(&format!("backup {id} complete")))
        .expect("completion line");
    assert_eq!(
        (done["command"].as_str(), done["environment"].as_str(), done["backup_id"].as_str()),
        (Some("backup"), Some("production"), Some(id.as_str()))
    );
    assert!(lines.iter().any(|l| l["level"] == "error" && l["message"].as_str().unwrap().contains("no_such_db")));
    let secret = std::fs::read_to_string(s.path().join(".env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("DB_PASSWORD="))
        .unwrap()
        .to_string();
    for b in hook.received() {
        assert!(!b.body.to_string().contains(&secret));
    }

    // Restore (redis only, after a safety backup): the message names the set restored.
    std::fs::write(&cfg, &observed).unwrap();
    logged(&["restore", &id, "--only", "redis", "--yes"]).code(0);
    let restored = hook.wait_for(3)[2].body.clone();
    assert!(
        restored["text"].as_str().unwrap().contains(&format!("ccops restore succeeded (backup {id})")),
        "{restored}"
    );
    let m = parse_prometheus(&std::fs::read_to_string(&prom).unwrap()).unwrap();
    assert_eq!(value(&m, "ccops_restore_last_status", &base), Some(1.0));

    // Health writes one status per check.
    s.ccops(&["health", "--wait", "--timeout", "60s"]).code(0);
    let text = std::fs::read_to_string(&prom).unwrap();
    let m = parse_prometheus(&text).unwrap();
    assert_eq!(value(&m, "ccops_health_check_status", &[("check", "api"), ("kind", "http")]), Some(0.0), "{text}");
    assert_eq!(value(&m, "ccops_health_check_up", &[("check", "postgres")]), Some(1.0), "{text}");
    // Right after a restore some services may still be starting: a warning, not a failure.
    assert!(value(&m, "ccops_health_status", &base).is_some_and(|v| v < 2.0), "{text}");
    assert!(text.contains("# TYPE ccops_backup_runs_total counter"), "{text}");
}
