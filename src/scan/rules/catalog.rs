//! The rule catalogue: every rule's stable ID, default severity, title, why and fix. IDs are
//! never reused or renumbered: suppressions, SARIF alerts and dashboards refer to them.
//! docs/commands/scan.md mirrors this table.

use crate::scan::Severity;

/// One rule of `ccops scan`.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// One line: what goes wrong in production when this is left as it is.
    pub why: &'static str,
    /// The default fix hint; a finding may give a more precise one.
    pub fix: &'static str,
    /// SARIF `properties.tags`: `security` marks a GitHub security alert.
    pub tags: &'static [&'static str],
}

const SEC_COMPOSE: &[&str] = &["security", "compose"];
const REL_COMPOSE: &[&str] = &["reliability", "compose"];
const SEC_SECRETS: &[&str] = &["security", "secrets"];
const SEC_DOCKERFILE: &[&str] = &["security", "dockerfile"];
const SEC_CONTEXT: &[&str] = &["security", "build-context"];
const SUPPRESSION: &[&str] = &["maintainability", "suppression"];
const SCAN_INPUT: &[&str] = &["security", "scan-input"];

use Severity::{Critical, High, Info, Low, Medium};

pub static RULES: &[Rule] = &[
    Rule {
        id: "CMP001",
        severity: Critical,
        title: "Service runs privileged",
        why: "A privileged container has every capability and every host device: whoever compromises the service owns the host.",
        fix: "Remove `privileged: true`; grant only the capability (`cap_add`) or device (`devices:`) the service needs.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP002",
        severity: Critical,
        title: "Docker socket mounted",
        why: "Whoever can talk to the Docker socket can start a privileged container and own the host; `:ro` does not change that.",
        fix: "Do not mount docker.sock; if the service must see containers, put a socket proxy that allows only the API calls it needs in front of it.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP003",
        severity: High,
        title: "Sensitive host path bind-mounted",
        why: "Mounting /, /etc, /root, /proc, /sys or /var/lib/docker hands host credentials, configuration or kernel interfaces to the container.",
        fix: "Mount only the file or folder the service needs, read-only (`:ro`), or use a named volume.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP004",
        severity: High,
        title: "Host namespace shared",
        why: "`host` network, PID, IPC, UTS or user namespaces remove the isolation between the container and the host.",
        fix: "Remove the `host` setting; publish the ports the service serves instead of `network_mode: host`.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP005",
        severity: High,
        title: "Dangerous capability added",
        why: "ALL, SYS_ADMIN, NET_ADMIN, SYS_PTRACE and SYS_MODULE let a process escape the container or take over the host's network or kernel.",
        fix: "Remove it from `cap_add`; if one is truly needed, start from `cap_drop: [ALL]` and add the narrowest capability.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP006",
        severity: High,
        title: "Security profile disabled",
        why: "`seccomp:unconfined`, `apparmor:unconfined` and `label:disable` remove the kernel's syscall filter and mandatory access control.",
        fix: "Remove the option; if a syscall is missing, use a custom seccomp profile that allows just that one.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP007",
        severity: Medium,
        title: "no-new-privileges not set",
        why: "Without it, a setuid binary in the image can raise a process's privileges inside the container.",
        fix: "Add `security_opt: [\"no-new-privileges:true\"]`.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP008",
        severity: High,
        title: "Database or cache port published on all interfaces",
        why: "A database or cache port published without a host IP listens on every interface, and Docker's iptables rules bypass host firewalls such as ufw.",
        fix: "Remove the port (services reach it over the Compose network), or bind it to loopback: \"127.0.0.1:5432:5432\".",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP009",
        severity: Low,
        title: "Port published on all interfaces",
        why: "A port published without a host IP is reachable from every network the host is on, past host firewalls such as ufw.",
        fix: "Bind it to the interface that should serve it (\"127.0.0.1:8080:80\" behind a reverse proxy), or suppress with a reason if it is meant to be public.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP010",
        severity: Medium,
        title: "Image untagged or :latest",
        why: "`latest` (or no tag) moves under you: two hosts or two deploys run different code, and a rollback cannot go back.",
        fix: "Pin a version tag, e.g. `postgres:16.4`.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP011",
        severity: Info,
        title: "Image not pinned by digest",
        why: "A tag can be moved to other content; only a digest names exactly one image.",
        fix: "Append the digest, e.g. `postgres:16.4@sha256:...` (a bot such as Renovate keeps it current).",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP012",
        severity: Medium,
        title: "No memory limit",
        why: "A service without a memory limit can take all the host's memory and get other services, the database first, OOM-killed.",
        fix: "Set `deploy.resources.limits.memory` (or `mem_limit`).",
        tags: REL_COMPOSE,
    },
    Rule {
        id: "CMP013",
        severity: Low,
        title: "No CPU or PIDs limit",
        why: "Without a CPU or PIDs limit, a busy loop or a fork bomb in one service starves every other service on the host.",
        fix: "Set `deploy.resources.limits.cpus` and `deploy.resources.limits.pids` (or `cpus:` and `pids_limit:`).",
        tags: REL_COMPOSE,
    },
    Rule {
        id: "CMP014",
        severity: Medium,
        title: "No restart policy",
        why: "Without a restart policy, a crashed service, and every service after a host reboot, stays down.",
        fix: "Set `restart: unless-stopped` (or `deploy.restart_policy`); write `restart: \"no\"` for one-shot jobs.",
        tags: REL_COMPOSE,
    },
    Rule {
        id: "CMP015",
        severity: Medium,
        title: "No healthcheck",
        why: "Without a healthcheck nothing can tell a running service from a working one: deploys, `depends_on: service_healthy` and `ccops health` cannot wait for it.",
        fix: "Add a `healthcheck:` whose `test` exercises the service, or a HEALTHCHECK in its Dockerfile.",
        tags: REL_COMPOSE,
    },
    Rule {
        id: "CMP016",
        severity: Medium,
        title: "Log rotation not configured",
        why: "The default json-file log driver keeps every line forever: a chatty service fills the disk.",
        fix: "Set `logging: {driver: json-file, options: {max-size: \"10m\", max-file: \"3\"}}` (an `x-logging` anchor shares it), or use the `local` driver.",
        tags: REL_COMPOSE,
    },
    Rule {
        id: "CMP017",
        severity: Medium,
        title: "Service runs as root",
        why: "The service's Dockerfile leaves the user as root: a process that escapes the container is root on the host, and can rewrite the image's files.",
        fix: "End the Dockerfile with a non-root `USER`, or set `user: \"1000:1000\"` on the service.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP018",
        severity: Low,
        title: "Service may run as root",
        why: "Most images run as root unless told otherwise, and the scan cannot see a pulled image's user.",
        fix: "Set `user:` to the image's unprivileged user (many official images have one), or suppress with a reason when the image drops privileges itself.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP019",
        severity: Low,
        title: "Root filesystem writable",
        why: "A writable root filesystem lets an intruder change the running service's binaries and configuration.",
        fix: "Set `read_only: true` and mount `tmpfs:` or volumes on the paths the service writes.",
        tags: SEC_COMPOSE,
    },
    Rule {
        id: "CMP020",
        severity: Low,
        title: "Shell runs as PID 1",
        why: "A shell as PID 1 ignores SIGTERM and does not pass it on: every `docker stop` (deploy, scale, restore) waits the whole grace period, then kills the service without a clean shutdown.",
        fix: "Write CMD/ENTRYPOINT in exec form (`CMD [\"python\", \"app.py\"]`), start the script with `exec`, or set `init: true` on the service.",
        tags: REL_COMPOSE,
    },
    Rule {
        id: "SEC001",
        severity: High,
        title: "Literal secret in environment",
        why: "A password, token or key written in the compose file ends up in git history, CI logs and `docker inspect`.",
        fix: "Write `${VAR:?must be set}` and supply the value from an env file kept out of git, or use Compose `secrets:`.",
        tags: SEC_SECRETS,
    },
    Rule {
        id: "SEC002",
        severity: High,
        title: "Weak default for a secret",
        why: "A default such as `${DB_PASSWORD:-changeme}` silently deploys a guessable password whenever the variable is missing.",
        fix: "Write `${VAR:?must be set}` so Compose refuses to start without a real value.",
        tags: SEC_SECRETS,
    },
    Rule {
        id: "SEC003",
        severity: High,
        title: "Env file with secrets tracked by git",
        why: "Secrets in a committed file are in every clone and in the history for good.",
        fix: "`git rm --cached FILE`, add it to .gitignore, rotate the secrets it held, and commit a template (.env.example) without values.",
        tags: SEC_SECRETS,
    },
    Rule {
        id: "SEC004",
        severity: Medium,
        title: "Env file not ignored by git",
        why: "An env file that .gitignore does not cover is one `git add .` away from being committed.",
        fix: "Add the file (or `.env*` with `!.env.example`) to .gitignore.",
        tags: SEC_SECRETS,
    },
    Rule {
        id: "SEC005",
        severity: Medium,
        title: "Env file readable by others",
        why: "Every local user and process on the host can read an env file whose mode lets others read it.",
        fix: "`chmod 600 FILE` (or 640 with the deploying group).",
        tags: SEC_SECRETS,
    },
    Rule {
        id: "DKF001",
        severity: Medium,
        title: "Dockerfile runs as root",
        why: "With no USER, or root as the last one, the container's processes run as root: an escape lands as root on the host.",
        fix: "Create an unprivileged user and end the final stage with `USER app` (or a numeric UID).",
        tags: SEC_DOCKERFILE,
    },
    Rule {
        id: "DKF002",
        severity: High,
        title: "Secret in ENV or ARG",
        why: "ENV and ARG values are stored in the image's configuration and history: anyone who can pull the image can read them.",
        fix: "Use a build secret (`RUN --mount=type=secret,id=...`) at build time and environment or Compose secrets at run time.",
        tags: SEC_DOCKERFILE,
    },
    Rule {
        id: "DKF003",
        severity: High,
        title: "Credential file copied into the image",
        why: "An .env, SSH key, private key, .npmrc, .pypirc or credentials file copied into a layer stays readable in the image, even if deleted later.",
        fix: "Do not COPY it: use `RUN --mount=type=secret` for build-time credentials, and list the file in .dockerignore.",
        tags: SEC_DOCKERFILE,
    },
    Rule {
        id: "DKF004",
        severity: Medium,
        title: "Base image untagged or :latest",
        why: "A floating base image makes builds unreproducible and pulls in whatever was pushed last.",
        fix: "Pin the base image to a version tag (and ideally a digest), e.g. `FROM python:3.12-slim`.",
        tags: SEC_DOCKERFILE,
    },
    Rule {
        id: "DKF005",
        severity: Low,
        title: "ADD used for local files",
        why: "ADD also unpacks archives and fetches URLs; for local files COPY does exactly what it says.",
        fix: "Use COPY for local files.",
        tags: SEC_DOCKERFILE,
    },
    Rule {
        id: "DKF006",
        severity: Medium,
        title: "SSH port exposed",
        why: "An SSH server in a container is a second way in that bypasses `docker exec` auditing and needs its own key management.",
        fix: "Remove `EXPOSE 22` and the SSH server; use `docker compose exec` for access.",
        tags: SEC_DOCKERFILE,
    },
    Rule {
        id: "CTX001",
        severity: Medium,
        title: "Build context without .dockerignore",
        why: "Without .dockerignore the whole context (.git, .env files, keys) goes to the builder, and `COPY . .` puts it in the image.",
        fix: "Add a .dockerignore to the build context that excludes at least `.git` and `.env*`.",
        tags: SEC_CONTEXT,
    },
    Rule {
        id: "CTX002",
        severity: Medium,
        title: ".dockerignore does not exclude .env or .git",
        why: "Env files and the git history in the build context end up in the image with `COPY . .`.",
        fix: "Add `.git` and `.env*` lines to .dockerignore.",
        tags: SEC_CONTEXT,
    },
    Rule {
        id: "SUP001",
        severity: Low,
        title: "Suppression without a reason",
        why: "A suppression nobody can explain is never revisited; the reason is what a reviewer checks.",
        fix: "Give the reason: `{rule: ID, service: NAME, reason: \"...\"}` in ccops.yaml `scan.ignore`, or `x-ccops-ignore: [{rule: ID, reason: \"...\"}]` on the service.",
        tags: SUPPRESSION,
    },
    Rule {
        id: "SUP002",
        severity: Low,
        title: "Suppression of an unknown rule",
        why: "A misspelt rule ID suppresses nothing: the finding it was meant for is still reported.",
        fix: "Use a rule ID listed in docs/commands/scan.md, or remove the suppression.",
        tags: SUPPRESSION,
    },
    Rule {
        id: "SCN001",
        severity: High,
        title: "File not scanned: not a regular file, too large or too deeply expanded",
        why: "What the scan cannot read it cannot judge: a Dockerfile, extends file or env file that is a device, a FIFO, over 2 MiB, or YAML whose aliases or extends blow up would hide whatever it holds.",
        fix: "Point `build.dockerfile`, `extends.file` and `env_file` at regular files of the project under 2 MiB; write repeated settings once (an anchor or `extends`) instead of nesting aliases.",
        tags: SCAN_INPUT,
    },
    Rule {
        id: "SCN002",
        severity: Low,
        title: "File outside the scanned tree",
        why: "A path that leaves the repository (absolute, `../..`, or a symlink out) makes the build depend on the machine it runs on; the scan does not read it, so a report never shows the machine's files.",
        fix: "Keep Dockerfiles, extends files and env files inside the repository, or scan the folder that holds them; suppress with a reason for a host file such as `/etc/app/prod.env`.",
        tags: SCAN_INPUT,
    },
];

/// The catalogue entry of `id`, if it is one of ccops' own rules.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert_eq!(r.id.len(), 6, "{}", r.id);
            assert!(r.id[3..].chars().all(|c| c.is_ascii_digit()), "{}", r.id);
            assert!(!r.why.is_empty() && !r.fix.is_empty() && !r.title.is_empty());
        }
        assert_eq!(find("CMP012").map(|r| r.title), Some("No memory limit"));
        assert!(find("CVE-2024-0001").is_none());
    }
}
