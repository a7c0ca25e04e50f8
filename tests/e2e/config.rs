//! `ccops config check|show` and the config core's bad inputs, through the real binary.

use crate::support::Dir;

const COMPOSE: &str =
    "services:\n  db:\n    image: ccops-test/base:latest\n    command: sleep infinity\nvolumes:\n  data: {}\n";

fn project(yaml: &str) -> Dir {
    let d = Dir::new();
    d.write("docker-compose.yml", COMPOSE).write("ccops.yaml", yaml);
    d
}

#[test]
fn malformed_yaml_is_exit_2_with_file_line_column() {
    let d = project("project: x\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml\n");
    let r = d.run(&["config", "check"]);
    r.code(2).stderr_has("ccops.yaml:5:");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let d = project("project: x\nbackup:\n  retension:\n    days: 3\n");
    d.run(&["config", "check"])
        .code(2)
        .stderr_has("ccops.yaml:3:3: unknown key `retension` in `backup`; did you mean `retention`?");
}

#[test]
fn missing_env_file_is_named() {
    let d = project("environments:\n  prod:\n    env_file: .env.prod\n");
    d.run(&["config", "check"]).code(2).stderr_has(".env.prod").stderr_has("cannot read the env file");
}

#[test]
fn an_env_file_or_secret_that_never_ends_is_refused_at_once() {
    // /dev/zero would be read for ever; a huge file whole into memory.
    let d = project("environments:\n  prod:\n    env_file: /dev/zero\n");
    d.run(&["config", "check"]).code(2).stderr_has("/dev/zero").stderr_has("not a regular file");
    let d = project("environments:\n  prod:\n    env_file: big.env\n");
    d.write("big.env", &"A=1\n".repeat(2 << 20));
    d.run(&["config", "check"]).code(2).stderr_has("big.env").stderr_has("larger than 4.0 MiB");
    let d = project("environments:\n  prod:\n    env_file: .env.prod\nnotify:\n  webhook_url: ${HOOK_TOKEN:-}\n");
    d.write(".env.prod", "HOOK_TOKEN_FILE=/dev/zero\n");
    d.run(&["config", "check"]).code(2).stderr_has("HOOK_TOKEN_FILE").stderr_has("not a regular file");
}

#[test]
fn unset_required_variable_names_variable_and_line() {
    let d = project("project: x\nnotify:\n  webhook_url: ${CCOPS_TEST_HOOK:?set the webhook}\n");
    d.run(&["config", "check"])
        .code(2)
        .stderr_has("ccops.yaml:3:16: variable `CCOPS_TEST_HOOK` is not set: set the webhook");
    d.run_env(&["config", "check"], &[("CCOPS_TEST_HOOK", "http://x")]).code(0);
}

#[test]
fn unknown_environment_is_exit_2_with_suggestion() {
    let d = project("environments:\n  production: {}\n  staging: {}\n");
    d.run(&["--env", "prodution", "config", "check"])
        .code(2)
        .stderr_has("unknown environment `prodution`")
        .stderr_has("did you mean `production`?");
}

#[test]
fn a_bad_migrate_rule_fails_config_check_as_it_fails_deploy() {
    let d = project(
        "environments:\n  prod:\n    compose_files: [docker-compose.yml]\nmigrate:\n  service: db\n  command: [migrate, up]\n  sql_directory: migrations\n",
    );
    let want = "`migrate` has both `sql_directory` and `command`; keep one";
    d.run(&["config", "check"]).code(2).stderr_has("ccops.yaml: ").stderr_has(want);
    d.run(&["deploy", "prod", "v1", "--dry-run"]).code(2).stderr_has(want);
    d.run(&["migrate", "prod", "status"]).code(2).stderr_has(want);
}

#[test]
fn missing_compose_file_is_named() {
    let d = project("environments:\n  prod:\n    compose_files: [docker-compose.yml, docker-compose.prod.yml]\n");
    d.run(&["config", "check"]).code(2).stderr_has("docker-compose.prod.yml").stderr_has("does not exist");
}

#[test]
fn service_missing_from_compose_project_is_named() {
    let d = project(
        "environments:\n  prod:\n    compose_files: [docker-compose.yml]\nbackup:\n  postgres:\n    - {service: dbb, database: a, user: a}\n",
    );
    d.run(&["config", "check"]).code(2).stderr_has("service `dbb`").stderr_has("did you mean `db`?");
}

#[test]
fn config_show_masks_secrets_from_env_file_and_file_secrets() {
    let d = project(
        "environments:\n  prod:\n    env_file: .env\n    compose_files: [docker-compose.yml]\nnotify:\n  webhook_url: https://hooks.example/${WEBHOOK_TOKEN}\nremotes:\n  s3:\n    bucket: b-${DB_PASSWORD}\n    endpoint: ${S3_KEY_FILE_VALUE:-http://x}\n",
    );
    d.write(".env", "DB_PASSWORD=correct-horse-battery\nWEBHOOK_TOKEN_FILE=token.txt\n")
        .write("token.txt", "tok-9f8e7d\n");
    for args in [&["config", "show"][..], &["--json", "config", "show"][..], &["-v", "config", "check"][..]] {
        let r = d.run(args);
        r.code(0);
        for secret in ["correct-horse-battery", "tok-9f8e7d"] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "{args:?} printed a secret:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
    }
    d.run(&["config", "show"]).stdout_has("webhook_url: '********'");
}

#[test]
fn neither_compose_installed_is_a_clear_error() {
    let d = project("environments:\n  prod:\n    compose_files: [docker-compose.yml]\n");
    let empty = Dir::new();
    let r = d.run_env(
        &["config", "check"],
        &[("CCOPS_DOCKER", "/nonexistent/docker"), ("PATH", empty.path().to_str().unwrap())],
    );
    r.code(1).stderr_has("neither `docker compose` (Compose v2) nor `docker-compose` (v1) is installed");
}

#[test]
fn engine_not_reachable_is_reported_by_health() {
    let d = project("environments:\n  prod:\n    compose_files: [docker-compose.yml]\n");
    let r = d.run_env(&["health"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    r.code(1).stderr_has("unhealthy");
    r.stdout_has("not reachable").stdout_has("/nonexistent/docker.sock");
    let r = d.run_env(&["health", "--format", "nagios"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    r.code(2).stdout_has("CCOPS CRITICAL");
}
