//! `orchestrator: swarm`: the example deployed as a Swarm stack on a one-node swarm of
//! the rig's engine (initialised here when it is not a manager yet, left again at the
//! end only then). Under the strict client of the rollout tests: a start-first update,
//! a broken version rolled back, a rollback, each release's migrations applied by a
//! one-off task of the stack; then scale, health from the tasks, and a backup and
//! restore of the stack's Postgres and Redis.
//!
//! The environment adds docker-compose.swarm.yml: `endpoint_mode: dnsrr` and the proxy's
//! port in `host` mode, because this machine's kernel has no IPVS, which Swarm's
//! virtual IPs and ingress routing mesh need (docs/scaling.md).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use crate::stack::{Flavour, Stack};
use crate::support::{StrictClient, assert_no_failure};

const PASSWORD: &str = "k8Jq2vX0pLm3Zr7wQ4tY";

const SWARM_FILE: &str = r#"services:
  postgres:
    deploy:
      endpoint_mode: dnsrr
  redis:
    deploy:
      endpoint_mode: dnsrr
  backend:
    deploy:
      endpoint_mode: dnsrr
      update_config:
        order: start-first
        monitor: 5s
        failure_action: pause
  worker:
    deploy:
      endpoint_mode: dnsrr
  proxy:
    deploy:
      endpoint_mode: dnsrr
    ports: !override
      - target: 8080
        published: "${BACKEND_PORT:-8000}"
        mode: host
"#;

const ENVIRONMENT: &str = "environments:
  swarm-env:
    compose_files: [docker-compose.yml, docker-compose.prod.yml, docker-compose.swarm.yml]
    env_file: .env
    version_variable: APP_VERSION
    orchestrator: swarm
";

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().expect("run docker");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The engine as a swarm manager for the test's length, and the stack removed after it
/// (its services, then its volumes), whether the test passed or not.
struct Swarm {
    project: String,
    /// This test turned swarm mode on: it turns it off again.
    initialised: bool,
}

impl Swarm {
    fn join(project: &str) -> Swarm {
        let (_, state) = docker(&["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]);
        // Initialised by the test after a first deploy, which must be refused without a
        // manager; the guard is in place before.
        let initialised = match state.trim() {
            "active true" => false,
            s if s.starts_with("inactive") => true,
            other => panic!("the engine is in swarm state `{other}`, not a manager: cannot test on it"),
        };
        Swarm { project: project.to_string(), initialised }
    }

    /// The container of the first running task of a service.
    fn task(&self, service: &str) -> String {
        let filter = format!("label=com.docker.swarm.service.name={}_{service}", self.project);
        let (ok, out) = docker(&["ps", "-q", "--filter", &filter]);
        let id = out.lines().next().unwrap_or_default().to_string();
        assert!(ok && !id.is_empty(), "no running task of {service}: {out}");
        id
    }

    fn psql(&self, sql: &str) -> String {
        let task = self.task("postgres");
        let args = ["exec", &task, "psql", "-U", "commandcenter", "-d", "commandcenter", "-tAq"];
        let (ok, out) = docker(&[&args[..], &["-v", "ON_ERROR_STOP=1", "-c", sql]].concat());
        assert!(ok, "psql {sql}: {out}");
        out.trim().to_string()
    }

    fn redis(&self, args: &[&str]) -> String {
        let task = self.task("redis");
        let (ok, out) = docker(&[&["exec", &task, "redis-cli"][..], args].concat());
        assert!(ok, "redis-cli {args:?}: {out}");
        out.trim().to_string()
    }

    fn migrations(&self) -> String {
        self.psql("SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM schema_migrations")
    }

    /// Running tasks of a service: (image, state).
    fn tasks(&self, service: &str) -> Vec<String> {
        let name = format!("{}_{service}", self.project);
        let (_, out) = docker(&["service", "ps", &name, "--filter", "desired-state=running", "--format", "{{.Image}}"]);
        out.lines().map(String::from).collect()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = docker(&["stack", "rm", &self.project]);
        let label = format!("label=com.docker.stack.namespace={}", self.project);
        for _ in 0..60 {
            if docker(&["ps", "-aq", "--filter", &label]).1.trim().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        let (_, left) = docker(&["ps", "-aq", "--filter", &label]);
        for id in left.lines() {
            let _ = docker(&["rm", "-f", id]);
        }
        for v in ["postgres_data", "redis_data", "rag_storage"] {
            let _ = docker(&["volume", "rm", &format!("{}_{v}", self.project)]);
        }
        let _ = docker(&["network", "rm", &format!("{}_default", self.project)]);
        if self.initialised {
            let _ = docker(&["swarm", "leave", "--force"]);
        }
    }
}

#[test]
fn a_stack_deploys_start_first_with_migrations_rolls_back_scales_and_round_trips_its_data() {
    let s = Stack::new("swarm", Flavour::V2);
    s.set_env("DB_PASSWORD", PASSWORD);
    std::fs::write(s.path().join("docker-compose.swarm.yml"), SWARM_FILE).unwrap();
    s.edit("ccops.yaml", "environments:\n", ENVIRONMENT);
    s.edit("ccops.yaml", "default_environment: production", "default_environment: swarm-env");
    // The volume's backup stops the backend: the pre-deploy backups under the strict
    // client leave it out (it comes back at the end).
    let volume = "  volumes:\n    - name: rag_storage\n      stop_services:\n        - backend\n        - worker\n";
    s.edit("ccops.yaml", volume, "");
    let sw = Swarm::join(&s.project);
    s.ccops(&["deploy", "swarm-env", "v1.0.0"]).code(2).stderr_has("is not a Swarm manager");
    if sw.initialised {
        let (ok, said) = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(ok, "docker swarm init: {said}");
    }

    s.ccops(&["deploy", "swarm-env", "v1.0.0"]).code(0).stderr_has("docker stack deploy");
    assert_eq!(sw.tasks("backend"), [format!("{}-backend:v1.0.0", s.project)]);
    assert_eq!(sw.migrations(), "20240101000000", "v1.0.0's migration, applied by a one-off task");
    let (_, left) = docker(&["service", "ls", "-q", "--filter", &format!("name={}_ccops-migrate", s.project)]);
    assert!(left.trim().is_empty(), "the migration's service was left: {left}");
    sw.psql("CREATE TABLE swarm_notes (id int PRIMARY KEY, body text); INSERT INTO swarm_notes VALUES (1, 'one'), (2, 'two')");

    s.ccops(&["deploy", "swarm-env", "v1.1.0", "--dry-run"])
        .code(0)
        .stderr_has(&format!("rollout: `docker stack deploy {}`", s.project))
        .stderr_has("Swarm ignores `build` (the image must exist) of backend");

    let phases = ["deploy v1.1.0", "failed deploy v1.2.0", "rollback"];
    // BACKEND_PORT: the only port the proxy publishes here (Swarm publishes one host-mode
    // port of a target port, not two).
    let client = StrictClient::start(s.port, phases.len());
    std::thread::sleep(Duration::from_millis(500));
    let deploy = s.ccops(&["deploy", "swarm-env", "v1.1.0"]);
    client.phase(1);
    let failed = s.ccops(&["deploy", "swarm-env", "v1.2.0"]);
    let after_failed = sw.tasks("backend");
    client.phase(2);
    let rollback = s.ccops(&["rollback", "swarm-env"]);
    std::thread::sleep(Duration::from_millis(1500));
    let seen = client.finish();

    deploy.code(0).stderr_has("backend: 1 task(s) of the new spec running (updated start-first)");
    assert_eq!(sw.migrations(), "20240101000000,20240601000000", "v1.1.0's migration was not applied");
    failed
        .code(1)
        .stderr_has("the update of Swarm service")
        .stderr_has("[auto-rollback] going back to v1.1.0")
        .stderr_has("rolled back to v1.1.0");
    assert_eq!(after_failed, [format!("{}-backend:v1.1.0", s.project)]);
    rollback.code(0).stderr_has("rolled back `swarm-env` to v1.0.0");
    assert_no_failure(&phases, &seen);

    let doc = s.ccops(&["releases", "swarm-env", "--json"]).json();
    let summary: Vec<(&str, &str)> = doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["version"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [("v1.0.0", "success"), ("v1.1.0", "success"), ("v1.2.0", "failed"), ("v1.0.0", "success")],
        "{doc}"
    );
    assert_eq!(doc["releases"][2]["auto_rollback"]["outcome"], "success", "{doc}");

    // A migration that fails: the task's output and exit code are the deploy's failure,
    // its service is removed, the stack keeps its version.
    let bad = s.path().join("backend/migrations/20240701000000_add_tags.sql");
    std::fs::write(&bad, "-- migrate:up\nCREATE TABLE tags (id int);\nINSERT INTO no_such_table VALUES (1);\n")
        .unwrap();
    let releases = s.path().join("backend/RELEASES");
    let listed = std::fs::read_to_string(&releases).unwrap();
    std::fs::write(&releases, format!("{listed}v1.3.0      20240701000000     ok\n")).unwrap();
    s.ccops(&["deploy", "swarm-env", "v1.3.0"])
        .code(1)
        .stderr_has("failed at step `migrate`; v1.0.0 (release #4) is still serving")
        .stderr_has("the failing migration was rolled back")
        .stderr_has("no_such_table");
    std::fs::remove_file(&bad).unwrap();
    std::fs::write(&releases, listed).unwrap();
    assert_eq!(sw.tasks("backend"), [format!("{}-backend:v1.0.0", s.project)]);
    assert_eq!(sw.psql("SELECT to_regclass('tags') IS NULL"), "t", "the failed migration left its table behind");
    let (_, left) = docker(&["service", "ls", "-q", "--filter", &format!("name={}_ccops-migrate", s.project)]);
    assert!(left.trim().is_empty(), "the failed migration's service was left: {left}");

    s.ccops(&["scale", "swarm-env", "backend=3"]).code(0).stderr_has("backend: 3 ready");
    assert_eq!(sw.tasks("backend").len(), 3);
    let health = s.ccops(&["health", "--json"]);
    let doc = health.json();
    let backend = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "backend").unwrap().clone();
    assert_eq!(backend["status"], "ok", "{doc}");
    assert!(backend["detail"].as_str().unwrap().starts_with("3/3 running"), "{backend}");

    sw.redis(&["SET", "greeting", "before"]);
    s.ccops(&["backup"]).code(0).stderr_has("redis");
    sw.psql("DELETE FROM swarm_notes WHERE id = 1; INSERT INTO swarm_notes VALUES (3, 'three')");
    sw.redis(&["SET", "greeting", "after"]);
    sw.redis(&["SET", "later", "1"]);
    let redis_task = sw.task("redis");
    s.ccops(&["restore", "latest", "--yes"]).code(0).stderr_has("restored backup").stderr_has("redis");
    assert_eq!(sw.psql("SELECT string_agg(id || '=' || body, ',' ORDER BY id) FROM swarm_notes"), "1=one,2=two");
    // A new task loaded the restored file from the data volume.
    assert_ne!(sw.task("redis"), redis_task);
    assert_eq!(sw.redis(&["GET", "greeting"]), "before");
    assert_eq!(sw.redis(&["EXISTS", "later"]), "0");
    assert_eq!(sw.tasks("redis").len(), 1);
    let volume_filter = format!("volume={}_redis_data", s.project);
    let (_, helpers) = docker(&["ps", "-aq", "--filter", "label=ccops.helper=true", "--filter", &volume_filter]);
    assert!(helpers.trim().is_empty(), "a helper container was left: {helpers}");

    // Killed once the file in the volume was replaced: the next run puts the previous one
    // back through the helper, removes it and scales Redis back.
    sw.redis(&["SET", "greeting", "live"]);
    sw.redis(&["SAVE"]);
    let out = s
        .ccops_cmd(&["restore", "latest", "--yes", "--no-safety-backup", "--only", "redis"])
        .env("CCOPS_FAILPOINT", "redis-rdb-replaced")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(9), "the restore was not killed: {said}");
    assert!(sw.tasks("redis").is_empty(), "Redis was not scaled to 0 for the restore");
    s.ccops(&["backup", "--no-prune"])
        .code(0)
        .stderr_has("was killed before it finished")
        .stderr_has("has its previous RDB file back");
    assert_eq!(sw.tasks("redis").len(), 1, "Redis was not scaled back");
    assert_eq!(sw.redis(&["GET", "greeting"]), "live", "the killed restore changed Redis' data");
    let (_, helpers) = docker(&["ps", "-aq", "--filter", "label=ccops.helper=true", "--filter", &volume_filter]);
    assert!(helpers.trim().is_empty(), "the killed restore's helper was left: {helpers}");
    assert!(!s.path().join(".ccops/journal.json").exists(), "the journal is still there");
    assert_eq!(sw.tasks("backend").len(), 3, "the restore's stop window scaled the backend back");
    s.ccops(&["health"]).code(0);

    // A volume whose users stop meanwhile: their services go to 0 tasks and back.
    s.edit("ccops.yaml", "  compression: gzip", &format!("{volume}  compression: gzip"));
    s.ccops(&["backup", "--only", "rag_storage"]).code(0).stderr_has("rag_storage");
    assert_eq!(sw.tasks("backend").len(), 3, "the backup's stop window scaled the backend back");
    assert_eq!(sw.tasks("worker").len(), 1);
}
