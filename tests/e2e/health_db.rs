//! `ccops health` database checks: Postgres and Redis asked through exec in their own
//! containers, reported apart from the container state, on examples/commandcenter.

use crate::stack::{Flavour, Stack};

/// The check named `name` in a `health --json` document.
fn check(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {doc}"))
        .clone()
}

fn detail(c: &serde_json::Value) -> String {
    c["detail"].as_str().unwrap().to_string()
}

#[test]
fn databases_answer_then_refuse_while_their_containers_run() {
    let s = Stack::up("healthdb", Flavour::V2);

    // Both databases answer: their own checks say so, with the response time.
    let r = s.ccops(&["health", "--json"]);
    r.code(0);
    let doc = r.json();
    let pg = check(&doc, "postgres:postgres");
    assert_eq!((pg["kind"].as_str(), pg["status"].as_str()), (Some("postgres"), Some("ok")), "{pg}");
    assert!(detail(&pg).starts_with("SELECT 1 answered in "), "{pg}");
    let redis = check(&doc, "redis:redis");
    assert_eq!((redis["kind"].as_str(), redis["status"].as_str()), (Some("redis"), Some("ok")), "{redis}");
    assert!(detail(&redis).starts_with("PING answered in "), "{redis}");

    // WARNING, not OK: the stack has no backup yet.
    let r = s.ccops(&["health", "--format", "nagios"]);
    r.code(1);
    assert!(
        r.stdout.contains("'postgres_postgres_response'=") && r.stdout.contains("'redis_redis_response'="),
        "{}",
        r.stdout
    );

    // Postgres refuses every connection (pg_hba.conf `reject`, reloaded): the server and
    // its container keep running, and pg_isready, the container's healthcheck, still passes.
    edit_pg_hba(&s, "1i local all all reject\\nhost all all all reject");

    let r = s.ccops(&["health", "--json"]);
    r.code(1);
    let doc = r.json();
    let pg = check(&doc, "postgres:postgres");
    assert_eq!(pg["status"], "fail", "{pg}");
    assert!(detail(&pg).contains("database `commandcenter` does not answer"), "{pg}");
    assert!(detail(&pg).contains("pg_hba.conf rejects connection"), "{pg}");
    let container = check(&doc, "postgres");
    assert_eq!(container["kind"], "service", "{container}");
    assert!(detail(&container).starts_with("1/1 running"), "{container}");
    assert_eq!(check(&doc, "redis:redis")["status"], "ok", "{doc}");

    let r = s.ccops(&["health"]);
    r.code(1).stderr_has("unhealthy").stderr_has("postgres:postgres");
    r.stdout_has("pg_hba.conf rejects connection");

    let r = s.ccops(&["health", "--format", "nagios"]);
    r.code(2);
    assert!(r.stdout.contains("postgres:postgres fail (database `commandcenter` does not answer"), "{}", r.stdout);

    let r = s.ccops(&["health", "--format", "prometheus"]);
    r.code(1);
    // The project label is left out: a test project's name (letters and digits, from the
    // env file) can look like a credential to the masking and print as `********`.
    for line in [
        "environment=\"production\",check=\"postgres:postgres\",kind=\"postgres\"} 0",
        "environment=\"production\",check=\"redis:redis\",kind=\"redis\"} 1",
        "environment=\"production\",check=\"postgres\",kind=\"service\"} 1",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with("ccops_health_check_up{") && l.ends_with(line)),
            "no {line} in\n{}",
            r.stdout
        );
    }

    // `health.databases: false` turns the database checks off.
    s.edit("ccops.yaml", "  backup_max_age: 26h\n", "  backup_max_age: 26h\n  databases: false\n");
    let r = s.ccops(&["health", "--json"]);
    let doc = r.json();
    let names: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"postgres:postgres") && !names.contains(&"redis:redis"), "{names:?}");
    s.edit("ccops.yaml", "  databases: false\n", "  database_timeout: 2s\n");

    // Accepting again.
    edit_pg_hba(&s, "/ reject$/d");
    s.ccops(&["health", "--wait", "--timeout", "60s"]).code(0);

    // Redis wants a password ccops does not have: PING is refused with NOAUTH.
    s.redis(&["CONFIG", "SET", "requirepass", "not-the-one-in-env"]);
    let r = s.ccops(&["health", "--json"]);
    r.code(1);
    let doc = r.json();
    let redis = check(&doc, "redis:redis");
    assert_eq!(redis["status"], "fail", "{redis}");
    assert!(detail(&redis).starts_with("PING refused: ") && detail(&redis).contains("NOAUTH"), "{redis}");
    assert_eq!(check(&doc, "postgres:postgres")["status"], "ok", "{doc}");
    s.redis(&["-a", "not-the-one-in-env", "--no-auth-warning", "CONFIG", "SET", "requirepass", ""]);

    // Redis paused longer than `health.database_timeout`: FAIL at the bound, not a hang.
    s.redis(&["CLIENT", "PAUSE", "8000", "ALL"]);
    let r = s.ccops(&["health", "--json"]);
    r.code(1);
    let redis = check(&r.json(), "redis:redis");
    assert_eq!(redis["status"], "fail", "{redis}");
    assert_eq!(detail(&redis), "no answer within 2s", "{redis}");

    // Redis's container stopped: both the container check and the database check fail.
    s.docker(&["stop", "-t", "5", &s.container("redis")]);
    let r = s.ccops(&["health", "--json"]);
    r.code(1);
    let doc = r.json();
    let redis = check(&doc, "redis:redis");
    assert_eq!(redis["status"], "fail", "{redis}");
    assert_eq!(detail(&redis), "no answer: service `redis` has no running container", "{redis}");
    assert_eq!(check(&doc, "redis")["status"], "fail", "{doc}");
}

/// Edit the running server's pg_hba.conf with a sed expression and have it reread it.
fn edit_pg_hba(s: &Stack, sed: &str) {
    let file = "/var/lib/postgresql/data/pg_hba.conf";
    s.docker(&["exec", "-u", "postgres", &s.container("postgres"), "sed", "-i", sed, file]);
    s.docker(&["kill", "-s", "HUP", &s.container("postgres")]);
}
