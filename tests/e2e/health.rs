//! `ccops health` against examples/commandcenter running for real, on Compose v2 and v1.

use std::time::{Duration, Instant};

use crate::stack::{Flavour, Stack};

#[test]
fn healthy_stack_then_postgres_stopped_v2() {
    let s = Stack::up("health", Flavour::V2);

    let r = s.ccops(&["health"]);
    r.code(0);
    for name in ["postgres", "redis", "backend", "worker", "api", "api-tcp", "disk", "backup-age"] {
        r.stdout_has(name);
    }
    r.stdout_has("no backup yet");

    let r = s.ccops(&["health", "--json"]);
    r.code(0);
    let doc = r.json();
    assert_eq!(doc["status"], "warn", "no backup yet is a warning: {doc}");
    let checks = doc["checks"].as_array().unwrap();
    assert!(checks.len() >= 8, "{doc}");
    for c in checks {
        for key in ["name", "status", "detail", "duration_ms"] {
            assert!(!c[key].is_null(), "check lacks {key}: {c}");
        }
    }

    let r = s.ccops(&["health", "--format", "prometheus"]);
    r.code(0).stdout_has("# TYPE ccops_health_check_up gauge");
    assert!(
        r.stdout.contains(&format!(
            "ccops_health_check_up{{project=\"{}\",environment=\"production\",check=\"api\",kind=\"http\"}} 1",
            s.project
        )),
        "{}",
        r.stdout
    );

    s.docker(&["stop", "-t", "5", &s.container("postgres")]);
    let started = Instant::now();
    let r = s.ccops(&["health"]);
    let took = started.elapsed();
    r.code(1).stderr_has("unhealthy").stderr_has("postgres").stderr_has("api");
    r.stdout_has("degraded");
    assert!(took < Duration::from_secs(10), "health took {took:?}");

    let r = s.ccops(&["health", "--format", "nagios"]);
    r.code(2);
    assert_eq!(r.stdout.trim().lines().count(), 1, "{}", r.stdout);
    assert!(
        r.stdout.starts_with("CCOPS CRITICAL - ")
            && r.stdout.contains("postgres fail")
            && r.stdout.contains(" | checks="),
        "{}",
        r.stdout
    );

    let r = s.ccops(&["health", "--json"]);
    r.code(1);
    let doc = r.json();
    let pg = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "postgres").unwrap().clone();
    assert_eq!(pg["status"], "fail", "{pg}");
    assert!(pg["detail"].as_str().unwrap().contains("exited"), "{pg}");

    // --wait polls until the stack is healthy again.
    s.docker(&["start", &s.container("postgres")]);
    s.ccops(&["health", "--wait", "--timeout", "90s"]).code(0);

    // The example's DB_PASSWORD (from its env file) never shows.
    let env = std::fs::read_to_string(s.path().join(".env")).unwrap();
    let password = env.lines().find_map(|l| l.strip_prefix("DB_PASSWORD=")).unwrap().to_string();
    for args in [&["config", "show"][..], &["--json", "config", "show"][..], &["-vv", "health"][..]] {
        let r = s.ccops(args);
        assert!(!r.stdout.contains(&password) && !r.stderr.contains(&password), "{args:?} printed DB_PASSWORD");
    }
}

#[test]
fn healthy_stack_v1() {
    let s = Stack::up("healthv1", Flavour::V1);
    let r = s.ccops(&["health", "--json"]);
    r.code(0);
    let doc = r.json();
    let names: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for n in ["postgres", "redis", "backend", "worker", "api"] {
        assert!(names.contains(&n), "{names:?}");
    }
    s.docker(&["stop", "-t", "5", &s.container("redis")]);
    s.ccops(&["health"]).code(1).stderr_has("redis");
}

#[test]
fn health_wait_gives_up_at_the_timeout() {
    let s = Stack::new("healthwait", Flavour::V2);
    // Nothing started: every service is missing, --wait must stop at its timeout.
    let started = Instant::now();
    let r = s.ccops(&["health", "--wait", "--timeout", "3s"]);
    r.code(1).stdout_has("no container");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// A TLS server on loopback with a self-signed certificate that expires in `days` days
/// (a stand-in for a remote site's certificate, which cannot be reached from here).
fn tls_server(days: i64) -> u16 {
    use std::sync::Arc;
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let expiry = chrono::Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(2);
    use chrono::Datelike;
    params.not_after = rcgen::date_time_ymd(expiry.year(), expiry.month() as u8, expiry.day() as u8);
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    crate::support::tls_listener(config, |_handshaken| async {})
}

#[test]
fn tls_expiry_is_judged_by_warn_and_critical_days() {
    let soon = tls_server(10);
    let later = tls_server(200);
    let d = crate::support::Dir::new();
    d.write(
        "docker-compose.yml",
        "services:\n  idle:\n    image: ccops-test/base:latest\n    command: sleep infinity\n",
    );
    d.write(
        "ccops.yaml",
        &format!(
            "project: cctls{}\nhealth:\n  checks:\n    - {{name: soon, tls: \"localhost:{soon}\", warn_days: 30, critical_days: 7}}\n    - {{name: later, tls: \"localhost:{later}\"}}\n    - {{name: critical, tls: \"localhost:{soon}\", warn_days: 60, critical_days: 20}}\n    - {{name: closed, tls: \"127.0.0.1:9\", timeout: 2s}}\n",
            std::process::id()
        ),
    );
    let r = d.run(&["health", "--json"]);
    let doc = r.json();
    let check = |n: &str| doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(check("soon")["status"], "warn", "{doc}");
    // rcgen's expiry falls at midnight: 9 or 10 days from now, depending on the hour.
    let detail = check("soon")["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("expires in 9 days") || detail.contains("expires in 10 days"), "{detail}");
    assert_eq!(check("later")["status"], "ok", "{doc}");
    assert_eq!(check("critical")["status"], "fail", "{doc}");
    assert_eq!(check("closed")["status"], "fail", "{doc}");
    assert!(check("closed")["detail"].as_str().unwrap().contains("cannot connect"), "{doc}");
}

/// A loopback server for `http:` checks: `answer` the first request on each connection,
/// or close it at once when `answer` is None (an HTTP client error that names the URL).
fn http_server(answer: Option<&'static str>) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let Some(body) = answer else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn a_password_in_a_check_url_is_never_shown() {
    let up = http_server(Some(r#"{"status":"pass"}"#));
    let hangs_up = http_server(None);
    let d = crate::support::Dir::new();
    d.write(
        "docker-compose.yml",
        "services:\n  idle:\n    image: ccops-test/base:latest\n    command: sleep infinity\n",
    );
    d.write(
        "ccops.yaml",
        &format!(
            "project: ccurl{}\nhealth:\n  checks:\n    - {{name: api, http: \"http://monitor:s3cret-pw@127.0.0.1:{up}/health?token=tok-77aa\"}}\n    - {{name: broken, http: \"http://monitor:s3cret-pw@127.0.0.1:{hangs_up}/health\", timeout: 2s}}\n",
            std::process::id()
        ),
    );
    let log = d.join("ccops.log");
    let log_arg = log.to_str().unwrap();
    let runs = [
        &["health"][..],
        &["health", "--json"][..],
        &["health", "--format", "nagios"][..],
        &["health", "--format", "prometheus"][..],
        &["-vv", "--log-file", log_arg, "health"][..],
        &["--log-format", "json", "--log-file", log_arg, "health"][..],
        &["config", "show"][..],
        &["--json", "config", "show"][..],
    ];
    for args in runs {
        let r = d.run(args);
        for secret in ["s3cret-pw", "tok-77aa"] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "{args:?} printed {secret}:\n--- stdout\n{}\n--- stderr\n{}",
                r.stdout,
                r.stderr
            );
        }
    }
    // The checks ran (one passes, one fails on the server hanging up), and the URL is
    // still readable where it is shown, its password masked.
    let doc = d.run(&["health", "--json"]).json();
    let check = |n: &str| doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(check("api")["status"], "ok", "{doc}");
    assert_eq!(check("broken")["status"], "fail", "{doc}");
    d.run(&["config", "show"]).stdout_has(&format!("http://monitor:***@127.0.0.1:{up}/health?token=***"));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.is_empty() && !logged.contains("s3cret-pw"), "{logged}");
}

#[test]
fn a_symlink_at_the_metrics_textfile_is_not_written_through() {
    let d = crate::support::Dir::new();
    d.write(
        "docker-compose.yml",
        "services:\n  idle:\n    image: ccops-test/base:latest\n    command: sleep infinity\n",
    );
    d.write(
        "ccops.yaml",
        &format!(
            "project: ccprom{}\nhealth:\n  checks:\n    - {{name: closed, tcp: \"127.0.0.1:9\", timeout: 1s}}\nmetrics:\n  textfile: textfile/ccops.prom\n",
            std::process::id()
        ),
    );
    std::fs::create_dir(d.join("textfile")).unwrap();
    d.run(&["health"]).code(1);
    let text = std::fs::read_to_string(d.join("textfile/ccops.prom")).unwrap();
    assert!(text.contains("ccops_health_check_up{") && text.contains("check=\"closed\""), "{text}");

    // Someone who can write the textfile folder links the file's name to a file of root's.
    let victim = d.join("shadow");
    std::fs::write(&victim, "root_secret_total 42\n").unwrap();
    std::fs::remove_file(d.join("textfile/ccops.prom")).unwrap();
    std::os::unix::fs::symlink(&victim, d.join("textfile/ccops.prom")).unwrap();
    d.run(&["health"]).code(1).stderr_has("is a symbolic link").stderr_has("the operation itself is not affected");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root_secret_total 42\n");
    assert!(std::fs::symlink_metadata(d.join("textfile/ccops.prom")).unwrap().file_type().is_symlink());
}
