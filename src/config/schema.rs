//! The shape of `ccops.yaml` (SPEC §2). Unknown keys are rejected (`deny_unknown_fields`);
//! defaults live here so every reader sees the same values.
//! Past 400 lines on purpose: the whole file format in one place, in the order of SPEC §2,
//! so a reader checks a key, its type and its default against the contract at one glance.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::values::{Percent, RestartLoop};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub project: Option<String>,
    pub default_environment: Option<String>,
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    #[serde(default)]
    pub backup: Backup,
    #[serde(default)]
    pub remotes: BTreeMap<String, Remote>,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub migrate: Option<Migrate>,
    #[serde(default)]
    pub deploy: Deploy,
    #[serde(default)]
    pub notify: Notify,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub scan: Scan,
    pub state_directory: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    #[serde(default)]
    pub compose_files: Vec<String>,
    pub env_file: Option<String>,
    pub version_variable: Option<String>,
    #[serde(default)]
    pub required_variables: Vec<String>,
    pub docker_host: Option<String>,
    /// Who runs the services: Compose on one engine, or Docker Swarm (`docker stack deploy`).
    #[serde(default)]
    pub orchestrator: Orchestrator,
}

/// `environments.<name>.orchestrator` (docs/scaling.md).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Orchestrator {
    /// `docker compose up` on one engine.
    #[default]
    Compose,
    /// A Swarm stack: `docker stack deploy`, services and tasks.
    Swarm,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    #[serde(default = "default_backup_dir")]
    pub directory: String,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub postgres: Vec<PostgresTarget>,
    #[serde(default)]
    pub redis: Vec<RedisTarget>,
    #[serde(default)]
    pub volumes: Vec<VolumeTarget>,
    #[serde(default)]
    pub mysql: Vec<MysqlTarget>,
    #[serde(default)]
    pub commands: Vec<CommandTarget>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default)]
    pub encryption: Encryption,
    #[serde(default)]
    pub signing: Signing,
    #[serde(default)]
    pub drill: Drill,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            directory: default_backup_dir(),
            retention: Retention::default(),
            postgres: vec![],
            redis: vec![],
            volumes: vec![],
            mysql: vec![],
            commands: vec![],
            compression: Compression::default(),
            encryption: Encryption::default(),
            signing: Signing::default(),
            drill: Drill::default(),
        }
    }
}

fn default_backup_dir() -> String {
    "backups".into()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub days: Option<u32>,
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PostgresTarget {
    pub service: String,
    pub database: String,
    pub user: String,
    /// Point-in-time recovery of the whole server: base backups plus continuous WAL.
    #[serde(default)]
    pub pitr: Option<Pitr>,
}

/// `backup.postgres[].pitr`: physical base backups (`pg_basebackup`) and the WAL that
/// follows them (`ccops wal stream`), so a restore can stop at any moment in between.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Pitr {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How often `ccops backup` takes a base backup: a set gets one when the newest base
    /// backup of the service is older than this (`daily` = 24h, `weekly`, or a duration).
    #[serde(default = "Pitr::default_base_backup", with = "period")]
    pub base_backup: Duration,
    /// The most writes a `--to-latest` restore may lose: a partial WAL segment is shipped
    /// at least this often while the server writes.
    #[serde(default = "Pitr::default_wal_max_delay", with = "duration")]
    pub wal_max_delay: Duration,
    /// The role that streams WAL and takes base backups (REPLICATION or superuser);
    /// default: the target's `user`.
    #[serde(default)]
    pub user: Option<String>,
    /// The variable holding that role's password (env file, process environment or a
    /// `*_FILE` secret). None: no password (trust or peer for that connection).
    #[serde(default)]
    pub password_variable: Option<String>,
    /// The replication slot `ccops wal stream` keeps on the server; default
    /// `ccops_<service>` (non-alphanumerics as `_`).
    #[serde(default)]
    pub slot: Option<String>,
}

impl Pitr {
    fn default_base_backup() -> Duration {
        Duration::from_secs(24 * 3600)
    }

    fn default_wal_max_delay() -> Duration {
        Duration::from_secs(60)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTarget {
    pub service: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeTarget {
    pub name: String,
    #[serde(default)]
    pub stop_services: Vec<String>,
}

/// `backup.mysql`: one MySQL or MariaDB database, dumped by `mariadb-dump`/`mysqldump`
/// in the service's container.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MysqlTarget {
    pub service: String,
    /// The database to dump; or `all`.
    #[serde(default)]
    pub database: Option<String>,
    /// Every database of the server but its own (mysql, sys, information_schema,
    /// performance_schema), in one dump.
    #[serde(default)]
    pub all: bool,
    pub user: String,
    /// The variable holding `user`'s password: the env file, the process environment or
    /// a `*_FILE` secret first, else the service container's own environment. None: the
    /// container's MYSQL_PASSWORD / MARIADB_PASSWORD (or the root one, for `root`).
    #[serde(default)]
    pub password_variable: Option<String>,
}

impl MysqlTarget {
    /// The database, or `all`: for names, files and messages.
    pub fn label(&self) -> &str {
        self.database.as_deref().unwrap_or("all")
    }
}

/// `backup.commands`: anything else, by its own tools run in the service's container:
/// `dump`'s stdout is the file, `restore` reads it on stdin.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CommandTarget {
    pub name: String,
    pub service: String,
    pub dump: Vec<String>,
    pub restore: Vec<String>,
    /// Reads the file on stdin and exits non-zero when it is not sound.
    #[serde(default)]
    pub verify: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    #[serde(default)]
    pub age_recipients: Vec<String>,
    pub age_identity_file: Option<String>,
}

/// `backup.signing`: minisign signatures of each set's manifest (backup/signing.rs). Empty
/// strings (e.g. `${CCOPS_SIGNING_KEY:-}` unset) count as not set, so one config serves the
/// host that signs and the hosts that only check.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Secret key file from `minisign -G`; absent on hosts that only verify and restore.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub key_file: Option<String>,
    /// The public key itself (`RW...`).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub public_key: Option<String>,
    /// Or the `.pub` file that holds it.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub public_key_file: Option<String>,
    /// Refuse unsigned or altered sets on verify and restore.
    #[serde(default)]
    pub require_signature: bool,
    /// The variable holding the password of a password-protected `key_file`.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub password_variable: Option<String>,
}

/// `backup.drill`: what `ccops backup drill` checks in its throwaway copy, and the
/// recovery time the operator aims at.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    #[serde(default)]
    pub checks: Vec<DrillCheck>,
    /// The recovery time objective the report measures the drill against.
    #[serde(default, with = "opt_duration")]
    pub target_rto: Option<Duration>,
    /// How long the copy may take to become healthy (default: `deploy.timeout`).
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
}

/// One drill check: exactly one of `sql`, `redis_keys_min`, `file_exists`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrillCheck {
    pub name: String,
    /// A query run with psql in the copy's database; with `min_rows` or `equals`.
    pub sql: Option<String>,
    /// The compose service the check runs in (default: the first `backup.postgres` or
    /// `backup.redis` service; required for `file_exists`).
    pub service: Option<String>,
    /// For `sql`: the database (default: that of the service's `backup.postgres` entry).
    pub database: Option<String>,
    /// For `sql`: the query returns at least this many rows (counted by the server).
    pub min_rows: Option<u64>,
    /// For `sql`: the first column of the first row, as psql prints it, is this text.
    pub equals: Option<String>,
    /// Redis holds at least this many keys (DBSIZE).
    pub redis_keys_min: Option<u64>,
    /// A path that must exist inside the service's container.
    pub file_exists: Option<String>,
}

impl DrillCheck {
    /// What is wrong with the check's shape, for config validation.
    pub fn problem(&self) -> Option<String> {
        let n = &self.name;
        let kinds = [self.sql.is_some(), self.redis_keys_min.is_some(), self.file_exists.is_some()];
        match kinds.iter().filter(|k| **k).count() {
            1 => {}
            0 => return Some(format!("drill check `{n}` needs one of sql:, redis_keys_min:, file_exists:")),
            _ => {
                return Some(format!(
                    "drill check `{n}` has several of sql:, redis_keys_min:, file_exists:; give each its own check"
                ));
            }
        }
        if let Some(sql) = &self.sql {
            match (self.min_rows, &self.equals) {
                (Some(_), Some(_)) => {
                    return Some(format!("drill check `{n}` has both min_rows: and equals:; keep one"));
                }
                (None, None) => return Some(format!("drill check `{n}` needs min_rows: or equals: for its sql:")),
                (Some(_), None) if is_single_count(sql) => {
                    return Some(format!(
                        "drill check `{n}`: `SELECT count(*)` returns one row, so min_rows: would always pass; select the rows themselves (e.g. `SELECT 1 FROM notes`) or compare the count with equals:"
                    ));
                }
                _ => {}
            }
        } else if self.min_rows.is_some() || self.equals.is_some() || self.database.is_some() {
            return Some(format!("drill check `{n}`: min_rows:, equals: and database: go with sql:"));
        }
        if self.file_exists.is_some() && self.service.is_none() {
            return Some(format!("drill check `{n}` needs service: (the container to look in) for file_exists:"));
        }
        None
    }
}

/// `SELECT count(*) FROM x` without GROUP BY: a query of exactly one row.
fn is_single_count(sql: &str) -> bool {
    let q = sql.to_ascii_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
    (q.starts_with("select count(") || q.starts_with("select count (")) && !q.contains("group by")
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub region: Option<String>,
    /// Empty (e.g. `${S3_ENDPOINT:-}` unset) means AWS itself.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub path_style: bool,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub storage_class: Option<String>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub server_side_encryption: Option<String>,
    /// The store's maximum number of parts in one multipart upload (10,000 on AWS).
    pub max_parts: Option<u32>,
    /// Per-part CRC32 checksums on upload; unset: on for AWS, off for other endpoints.
    pub checksum: Option<Checksum>,
}

/// Integrity checksum sent with each uploaded object or part, as a plain header (never
/// the `aws-chunked` trailers that many S3-compatible stores reject).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Checksum {
    Crc32,
    Off,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    #[serde(default, with = "opt_duration")]
    pub backup_max_age: Option<Duration>,
    /// Unhealthy when the last passing `backup drill` is older than this.
    #[serde(default, with = "opt_duration")]
    pub drill_max_age: Option<Duration>,
    /// Unhealthy when `ccops wal stream` stored no WAL for this long (each service with
    /// `backup.postgres[].pitr`), or never did.
    #[serde(default, with = "opt_duration")]
    pub wal_max_age: Option<Duration>,
    /// Ask every `backup.postgres` and `backup.redis` service itself (`SELECT 1`, `PING`);
    /// unset means on, `false` turns these checks off.
    pub databases: Option<bool>,
    /// Bound on each database check (default 5s).
    #[serde(default, with = "opt_duration")]
    pub database_timeout: Option<Duration>,
    /// Memory, CPU and restart thresholds of the per-service resource checks.
    #[serde(default)]
    pub resources: Resources,
}

/// `health.resources`: when a service's memory against its limit, CPU against its limit
/// and restarts warn or fail. Percentages are of the container's limit (of the host when
/// it has none); `restarts_fail` is a restart loop, `N in DURATION`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// `false` leaves the memory, CPU and restart checks out.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "Percent::p80")]
    pub memory_warn: Percent,
    #[serde(default = "Percent::p90")]
    pub memory_fail: Percent,
    #[serde(default = "Percent::p80")]
    pub cpu_warn: Percent,
    /// Unset by default: a busy service warns, it does not fail.
    #[serde(default)]
    pub cpu_fail: Option<Percent>,
    #[serde(default)]
    pub restarts_fail: RestartLoop,
    /// How long the stats sample of all containers may take.
    #[serde(default = "Resources::sample_timeout", with = "duration")]
    pub sample_timeout: Duration,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            enabled: true,
            memory_warn: Percent::p80(),
            memory_fail: Percent::p90(),
            cpu_warn: Percent::p80(),
            cpu_fail: None,
            restarts_fail: RestartLoop::default(),
            sample_timeout: Resources::sample_timeout(),
        }
    }
}

impl Resources {
    fn sample_timeout() -> Duration {
        Duration::from_secs(5)
    }

    /// What is wrong beyond each value's own form, naming the key.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.memory_warn.0 > self.memory_fail.0 {
            return Some((
                "memory_warn",
                format!(
                    "health.resources.memory_warn ({}) is above memory_fail ({}); warn below fail",
                    self.memory_warn, self.memory_fail
                ),
            ));
        }
        if let Some(fail) = self.cpu_fail.filter(|f| self.cpu_warn.0 > f.0) {
            return Some((
                "cpu_warn",
                format!("health.resources.cpu_warn ({}) is above cpu_fail ({fail}); warn below fail", self.cpu_warn),
            ));
        }
        None
    }
}

/// One configured health check: exactly one of `http`, `tcp`, `tls`, `disk` is set.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    pub http: Option<String>,
    pub expect_status: Option<u16>,
    pub tcp: Option<String>,
    pub tls: Option<String>,
    pub warn_days: Option<i64>,
    pub critical_days: Option<i64>,
    pub disk: Option<String>,
    pub min_free_percent: Option<f64>,
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Migrate {
    pub service: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub status_command: Vec<String>,
    pub sql_directory: Option<String>,
    pub database: Option<PostgresTarget>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    #[serde(default = "default_deploy_timeout", with = "duration")]
    pub timeout: Duration,
    #[serde(default = "yes")]
    pub backup_before: bool,
    #[serde(default = "yes")]
    pub migrate: bool,
    #[serde(default = "yes")]
    pub auto_rollback: bool,
    /// How long a proxy gets to forget a replica that has left before the next one
    /// leaves (and to learn new replicas before an old one goes); 0s turns it off.
    #[serde(default = "default_drain", with = "drain")]
    pub drain: Duration,
    #[serde(default)]
    pub hooks: Hooks,
}

impl Default for Deploy {
    fn default() -> Self {
        Deploy {
            timeout: default_deploy_timeout(),
            backup_before: true,
            migrate: true,
            auto_rollback: true,
            drain: default_drain(),
            hooks: Hooks::default(),
        }
    }
}

fn default_deploy_timeout() -> Duration {
    Duration::from_secs(300)
}

/// Twice the 1 s a proxy that follows Docker's DNS typically caches the name for
/// (nginx `valid=1s`, HAProxy `hold valid 1s`, Caddy `refresh 1s`).
fn default_drain() -> Duration {
    Duration::from_secs(2)
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub pre_deploy: Vec<String>,
    #[serde(default)]
    pub post_deploy: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    #[serde(default, deserialize_with = "empty_is_none")]
    pub webhook_url: Option<String>,
    #[serde(default = "default_notify_on")]
    pub on: Vec<NotifyOn>,
    /// A healthchecks.io-style ping URL for every pinged command (`/start`, success,
    /// `/fail`): the dead-man's switch of the nightly backup.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub ping_url: Option<String>,
    /// Per command, a URL of its own (its own check) or `off`.
    #[serde(default)]
    pub ping: PingUrls,
}

impl Default for Notify {
    fn default() -> Self {
        Notify { webhook_url: None, on: default_notify_on(), ping_url: None, ping: PingUrls::default() }
    }
}

impl Notify {
    /// The ping URL of `command` (`backup`, `drill`, `restore`, `deploy`, `rollback`): its
    /// own `ping.<command>`, else `ping_url`; `off` pings nothing.
    pub fn ping_url_of(&self, command: &str) -> Option<&str> {
        let own = self.ping.entries().into_iter().find(|(k, _)| *k == command).and_then(|(_, v)| v.as_deref());
        match own {
            Some(v) if v.trim() == PING_OFF => None,
            Some(v) => Some(v),
            None => self.ping_url.as_deref(),
        }
    }
}

/// The value of `notify.ping.<command>` that turns that command's pings off.
pub const PING_OFF: &str = "off";

/// `notify.ping`: the commands that are pinged, each with a URL of its own or `off`;
/// a command left out uses `notify.ping_url`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PingUrls {
    #[serde(default, deserialize_with = "empty_is_none")]
    pub backup: Option<String>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub drill: Option<String>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub restore: Option<String>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub deploy: Option<String>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub rollback: Option<String>,
}

impl PingUrls {
    /// Every command's key and value, in the order of the file format.
    pub fn entries(&self) -> [(&'static str, &Option<String>); 5] {
        [
            ("backup", &self.backup),
            ("drill", &self.drill),
            ("restore", &self.restore),
            ("deploy", &self.deploy),
            ("rollback", &self.rollback),
        ]
    }
}

fn default_notify_on() -> Vec<NotifyOn> {
    vec![NotifyOn::Failure]
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    Failure,
    Success,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    #[serde(default, deserialize_with = "empty_is_none")]
    pub textfile: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    #[serde(default)]
    pub ignore: Vec<ScanIgnore>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScanIgnore {
    pub rule: String,
    pub service: Option<String>,
    pub reason: Option<String>,
}

fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty()))
}

/// Durations are written as `5s`, `300s`, `26h`, `1h 30m` (humantime).
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!("`{s}` is not a duration ({e}); write e.g. `30s`, `5m`, `26h`"))
        })
    }

    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*v).to_string())
    }
}

/// `deploy.drain`: a duration of at most 5 minutes (each replica that leaves waits
/// for it, so a mistaken `30m` would hold a rollout of three replicas for 1.5 hours).
pub mod drain {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub const MAX: Duration = Duration::from_secs(300);

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = super::duration::deserialize(d)?;
        if v > MAX {
            return Err(serde::de::Error::custom(format!(
                "drain `{}` is longer than 5m; a proxy that follows Docker's DNS needs a few seconds (default 2s)",
                humantime::format_duration(v)
            )));
        }
        Ok(v)
    }

    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        super::duration::serialize(v, s)
    }
}

/// A duration, or `daily` / `weekly`.
pub mod period {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "daily" => Ok(Duration::from_secs(24 * 3600)),
            "weekly" => Ok(Duration::from_secs(7 * 24 * 3600)),
            t => humantime::parse_duration(t).map_err(|e| {
                serde::de::Error::custom(format!("`{s}` is not a period ({e}); write `daily`, `weekly` or e.g. `12h`"))
            }),
        }
    }

    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        super::duration::serialize(v, s)
    }
}

pub mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::duration")] Duration);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}
