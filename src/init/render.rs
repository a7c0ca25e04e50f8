//! The ccops.yaml that `ccops init` writes: what was detected, as active keys, and what
//! needs a decision (remotes, notifications, metrics, deploy), as commented examples.
//! Written as text rather than serialized, so every block carries its comment.

use super::detect::{Detected, EnvProposal};

pub fn render(d: &Detected, today: &str) -> String {
    let mut o = String::new();
    let mut line = |s: &str| {
        o.push_str(s);
        o.push('\n');
    };
    line(&format!("# ccops configuration of the Compose project `{}`, written by `ccops init` on {today}.", d.project));
    line("# Review it, then check it with `ccops config check` and the host with `ccops doctor`.");
    line("# Relative paths are relative to this file. ${VAR}, ${VAR:-default} and ${VAR:?message}");
    line("# are read from the process environment and from the environment's env_file.");
    line("# Every key is described in docs/configuration.md.");
    line("");
    line("# Compose project name: containers, volumes and networks are prefixed with it.");
    line(&format!("project: {}", q(&d.project)));
    line("");
    line("# Environment used when -e/--env is not given.");
    line(&format!("default_environment: {}", q(&d.environments[0].name)));
    line("");
    line("environments:");
    for e in &d.environments {
        environment(&mut line, d, e);
    }
    line("");
    backup(&mut line, d);
    line("");
    line("# Off-site copies: `ccops backup --upload s3`, `ccops restore latest --from s3`.");
    line("# Credentials come from the standard AWS chain (environment, profile, instance role).");
    line("# remotes:");
    line("#   s3:");
    line("#     bucket: my-backups");
    line(&format!("#     prefix: {}/", d.project));
    line("#     region: us-east-1");
    line("#     # endpoint: https://s3.example.com   # S3-compatible stores (MinIO, Ceph, R2...)");
    line("#     # path_style: true");
    line("");
    health(&mut line, d);
    line("");
    line("# `ccops deploy ENV VERSION`: these are the defaults.");
    line("# deploy:");
    line("#   timeout: 300s          # per wait-for-healthy");
    line("#   backup_before: true    # a backup tagged pre-deploy first");
    line("#   migrate: true");
    line("#   auto_rollback: true    # back to the previous release when the new one is unhealthy");
    line("");
    line("# A Slack/Mattermost-compatible webhook told about failed (and, if listed, successful)");
    line("# backups, restores, deploys and rollbacks.");
    line("# notify:");
    line("#   webhook_url: ${CCOPS_WEBHOOK_URL:-}");
    line("#   on: [failure]");
    line("");
    line("# Prometheus metrics for node_exporter's textfile collector (alert on the age of the");
    line("# last successful backup: ccops_backup_last_success_timestamp_seconds).");
    line("# metrics:");
    line("#   textfile: /var/lib/node_exporter/textfile/ccops.prom");
    o
}

fn environment(line: &mut impl FnMut(&str), d: &Detected, e: &EnvProposal) {
    line(&format!("  {}:", q(&e.name)));
    line("    compose_files:");
    for f in &e.compose_files {
        line(&format!("      - {}", q(f)));
    }
    match (&e.env_file, d.env_templates.first()) {
        (Some(f), _) => line(&format!("    env_file: {}", q(f))),
        (None, Some(t)) => line(&format!("    # env_file: .env        # create it from {t} first")),
        (None, None) => {}
    }
    if let Some(v) = &d.version_variable {
        line("    # `ccops deploy ENV VERSION` passes VERSION to compose as this variable.");
        line(&format!("    version_variable: {}", q(v)));
    }
    if !d.required_variables.is_empty() {
        line("    # Compose refuses to run without these (`${VAR:?}` in the compose files).");
        line("    required_variables:");
        for v in &d.required_variables {
            line(&format!("      - {}", q(v)));
        }
    }
}

fn backup(line: &mut impl FnMut(&str), d: &Detected) {
    line("backup:");
    line("  # One folder per backup set: backups/YYYYMMDD_HHMMSS/ with a manifest.json.");
    line("  directory: backups");
    line("  retention:");
    line("    # A backup kept by any of these rules is kept.");
    line("    days: 30");
    line("    keep_last: 3");
    line("    keep_daily: 7");
    line("    keep_weekly: 4");
    line("    keep_monthly: 6");
    if d.postgres.is_empty() {
        line("  # No PostgreSQL service found. For one:");
        line("  # postgres:");
        line("  #   - { service: db, database: app, user: app }");
    } else {
        line("  # pg_dump -Fc inside the service's container.");
        line("  postgres:");
        for p in &d.postgres {
            line(&format!("    # {}", p.source));
            line(&format!("    - service: {}", q(&p.service)));
            line(&format!("      database: {}", q(&p.database)));
            line(&format!("      user: {}", q(&p.user)));
        }
    }
    if !d.mysql.is_empty() {
        line("  # mariadb-dump/mysqldump in the service's container, one transaction, no stop.");
        line("  mysql:");
        for m in &d.mysql {
            line(&format!("    # {}", m.source));
            line(&format!("    - service: {}", q(&m.service)));
            match &m.database {
                Some(db) => line(&format!("      database: {}", q(db))),
                None => line("      all: true                 # every database but the server's own"),
            }
            line(&format!("      user: {}", q(&m.user)));
            if let Some(v) = &m.password_variable {
                line(&format!("      password_variable: {}", q(v)));
            }
        }
    }
    if !d.redis.is_empty() {
        line("  # The RDB snapshot, after a BGSAVE has finished.");
        line("  redis:");
        for r in &d.redis {
            line(&format!("    - service: {}", q(r)));
        }
    }
    if !d.volumes.is_empty() {
        line("  # Named volumes, copied with their owners and modes. The services writing to one");
        line("  # are stopped during its copy and always started again.");
        line("  volumes:");
        for v in &d.volumes {
            line(&format!("    - name: {}", q(&v.name)));
            if !v.writers.is_empty() {
                let names: Vec<String> = v.writers.iter().map(|w| q(w)).collect();
                line(&format!("      stop_services: [{}]", names.join(", ")));
            }
        }
    }
    for (v, why) in &d.skipped_volumes {
        line(&format!("  # not copied: volume `{v}`, {why}"));
    }
    line("  compression: gzip             # or zstd");
    line("  # encryption:");
    line("  #   age_recipients: [age1...]  # public keys: every file is age-encrypted");
    line("  #   age_identity_file: /root/.config/ccops/age.key");
    line("  # signing:                     # minisign signature of each manifest (docs/security.md)");
    line("  #   key_file: /root/.config/ccops/ccops.key   # `minisign -G -W -p ccops.pub -s ccops.key`");
    line("  #   public_key_file: ccops.pub");
    line("  #   require_signature: true    # refuse unsigned or altered sets on verify and restore");
}

fn health(line: &mut impl FnMut(&str), d: &Detected) {
    line("health:");
    line("  # Besides these, every compose service's container state and Docker health status");
    line("  # is always checked.");
    line("  checks:");
    let mut names: Vec<String> = Vec::new();
    for (svc, addr) in &d.published {
        let mut name = format!("{svc}-tcp");
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{svc}-tcp-{n}");
            n += 1;
        }
        line(&format!("    - name: {}", q(&name)));
        line(&format!("      tcp: {}", q(addr)));
        line("      timeout: 3s");
        names.push(name);
    }
    line("    - name: disk");
    line("      disk: /");
    line("      min_free_percent: 10");
    line("    # An HTTP check (a JSON body's \"status\" is read too):");
    line("    # - name: api");
    line("    #   http: http://127.0.0.1:8000/health");
    line("    #   expect_status: 200");
    line("    #   timeout: 5s");
    line("  # Unhealthy when the newest complete backup is older than this.");
    line("  backup_max_age: 26h");
}

/// A YAML scalar: plain when that reads back as the same string, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !s.starts_with('-')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain { s.to_string() } else { serde_json::Value::String(s.to_string()).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(q("commandcenter"), "commandcenter");
        assert_eq!(q("docker-compose.prod.yml"), "docker-compose.prod.yml");
        assert_eq!(q("127.0.0.1:${PORT:-8000}"), "\"127.0.0.1:${PORT:-8000}\"");
        assert_eq!(q("yes"), "\"yes\"");
        assert_eq!(q("0123"), "\"0123\"");
        assert_eq!(q(".env"), ".env");
        assert_eq!(q("a \"b\""), "\"a \\\"b\\\"\"");
    }
}
