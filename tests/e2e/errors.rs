//! Errors a person can read: each class of failure provoked for real (a closed port, a
//! host name that does not resolve, credentials the S3 server rejects, a missing bucket,
//! no credentials at all, an engine socket that is not there, a webhook nobody answers)
//! must end in a few lines ccops wrote, naming the cause, with no Rust Debug structure in
//! them; the raw chain shows with `-vv` only. `backup list` lists the local sets whatever
//! the remote does.

use crate::remote::S3;
use crate::support::{Dir, Run};

const COMPOSE: &str = "services:\n  db:\n    image: ccops-test/base:latest\n    command: sleep infinity\n";

/// What Rust's Debug output looks like, never a message of ccops.
const DEBUG_MARKERS: [&str; 9] =
    ["Some(", "DispatchFailure", "ConstructionFailure", "Error {", "kind:", " { ", "None,", "None)", "(os error"];

/// A project with one remote `s3` at `endpoint` and one (legacy-layout) local set.
fn project(endpoint: &str, extra: &str) -> Dir {
    let d = Dir::new();
    let yaml = format!(
        "project: errorstest\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml]\nbackup:\n  postgres:\n    - service: db\n      database: app\n      user: app\nremotes:\n  s3:\n    bucket: errors-backups\n    region: us-east-1\n    endpoint: {endpoint}\n    path_style: true\n{extra}"
    );
    d.write("docker-compose.yml", COMPOSE)
        .write("ccops.yaml", &yaml)
        .write("backups/postgres/app_20240101_020000.sql.gz", "x");
    d
}

/// A port on this machine where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Credentials of no one, and no other place for the SDK to find any: no profile
/// files, no web identity, no container credentials.
fn env_with(home: &Dir, keys: Option<(&str, &str)>) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_string(), home.path().display().to_string()),
        ("AWS_CONFIG_FILE".to_string(), home.join("none/config").display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE".to_string(), home.join("none/credentials").display().to_string()),
    ];
    if let Some((id, secret)) = keys {
        env.push(("AWS_ACCESS_KEY_ID".into(), id.into()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), secret.into()));
    }
    env
}

/// Run ccops in `d` with `env` and every AWS_* variable of this process removed.
fn run(d: &Dir, args: &[&str], env: &[(String, String)]) -> Run {
    let mut c = crate::support::ccops();
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        c.env_remove(k);
    }
    c.current_dir(d.path()).args(args).envs(env.iter().map(|(k, v)| (k, v)));
    c.output().expect("run ccops").into()
}

/// stderr is at most `lines` lines, each free of Debug syntax, and says each of `needles`.
#[track_caller]
fn readable(r: &Run, lines: usize, needles: &[&str]) {
    let got: Vec<&str> = r.stderr.lines().collect();
    assert!(got.len() <= lines, "more than {lines} line(s) on stderr:\n{}", r.stderr);
    for line in &got {
        for m in DEBUG_MARKERS {
            assert!(!line.contains(m), "Debug syntax {m:?} in:\n{line}");
        }
    }
    for n in needles {
        r.stderr_has(n);
    }
}

#[test]
fn an_unreachable_remote_is_one_line_beside_the_local_listing_and_an_error_when_asked_for() {
    let home = Dir::new();
    let env = env_with(&home, Some(("ccops-test", "ccops-test-secret")));
    let port = closed_port();
    let d = project(&format!("http://127.0.0.1:{port}"), "");

    let r = run(&d, &["backup", "list"], &env);
    r.code(0).stdout_has("20240101_020000");
    readable(
        &r,
        1,
        &["remote `s3`: not listed (", "connection refused", &format!("127.0.0.1:{port}"), "local sets below"],
    );
    let r = run(&d, &["--json", "backup", "list"], &env);
    r.code(0);
    assert_eq!(r.json()[0]["id"], "20240101_020000");
    readable(&r, 1, &["not listed"]);

    let r = run(&d, &["backup", "list", "--remote", "s3"], &env);
    r.code(1);
    readable(&r, 2, &["listing failed on remote `s3`", "connection refused", "check `endpoint`"]);

    // The raw chain is there for a bug report with -vv, and only then.
    let r = run(&d, &["-vv", "backup", "list", "--remote", "s3"], &env);
    r.code(1).stderr_has("raw error chain").stderr_has("DispatchFailure");

    let d = project("http://s3.ccops-test.invalid:9000", "");
    let r = run(&d, &["backup", "list", "--remote", "s3"], &env);
    r.code(1);
    readable(&r, 2, &["s3.ccops-test.invalid", "does not resolve"]);
    let r = run(&d, &["backup", "list"], &env);
    r.code(0).stdout_has("20240101_020000");
    readable(&r, 1, &["not listed", "does not resolve"]);
}

#[test]
fn the_store_s_answers_name_the_bucket_or_the_credentials() {
    let home = Dir::new();
    let keys = env_with(&home, Some(("ccops-test", "ccops-test-secret")));

    // moto without authentication and without the bucket.
    let open = S3::start(false);
    let d = project(&open.endpoint(), "");
    let r = run(&d, &["backup", "list", "--remote", "s3"], &keys);
    r.code(1);
    readable(&r, 2, &["bucket `errors-backups` does not exist", "fix `bucket`"]);

    // moto checking every request's keys: these are unknown to it.
    let strict = S3::start(true);
    let d = project(&strict.endpoint(), "");
    let r = run(&d, &["backup", "list", "--remote", "s3"], &keys);
    r.code(1);
    readable(&r, 2, &["rejected the credentials", "AWS_ACCESS_KEY_ID"]);

    // No credentials anywhere: the chain ends at the instance metadata service, which
    // ccops asks briefly (no AWS_EC2_METADATA_DISABLED here: the real path is tested).
    let none = env_with(&home, None);
    let r = run(&d, &["backup", "list", "--remote", "s3"], &none);
    r.code(1);
    readable(&r, 2, &["no AWS credentials", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"]);
    let r = run(&d, &["backup", "list"], &none);
    r.code(0).stdout_has("20240101_020000");
    readable(&r, 1, &["remote `s3`: not listed (no AWS credentials"]);
}

#[test]
fn an_engine_that_is_not_there_and_a_webhook_nobody_answers_read_well() {
    let home = Dir::new();
    let env = env_with(&home, None);
    let hook = format!("notify:\n  webhook_url: http://127.0.0.1:{}/hook\n  on: [failure]\n", closed_port());
    let d = project(&format!("http://127.0.0.1:{}", closed_port()), &hook);
    let mut env_engine = env.clone();
    env_engine.push(("DOCKER_HOST".into(), "unix:///nonexistent/docker.sock".into()));
    let r = run(&d, &["backup"], &env_engine);
    r.code(1);
    // The error, then the notification that could not be sent: each one line.
    readable(&r, 2, &["Docker engine at `unix:///nonexistent/docker.sock` is not reachable", "could not notify"]);
    assert!(r.stderr.contains("no socket at") || r.stderr.contains("no such file"), "{}", r.stderr);
}
