//! The whole command line of ccops, declared once with clap derive. Doc comments are the
//! help text; `docs/` and the committed shell completions are generated from this file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::LogFormat;
use crate::scan::Severity;
use crate::scan::report::Format as ScanFormat;
use crate::schedule::DrillEvery;

/// Operate a Docker Compose application: backup, restore, deploy, health, scan.
#[derive(Debug, Parser)]
#[command(name = "ccops", version = crate::version::VERSION.as_str(), propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Environment [default: `default_environment` in the config, or the only one]
    #[arg(short, long = "env", global = true, value_name = "ENV")]
    pub env: Option<String>,

    /// Machine-readable output on stdout (one JSON document)
    #[arg(long, global = true)]
    pub json: bool,

    /// Errors only (for crontab)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr (repeatable; -vv adds the raw error chain under an error)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Answer yes to confirmations (required when stdin is not a terminal)
    #[arg(short, long, global = true)]
    pub yes: bool,

    /// Never wait for an answer, even at a terminal: a confirmation --yes did not answer
    /// fails (exit 2) before anything is changed
    #[arg(long, global = true)]
    pub no_input: bool,

    /// No colours (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Format of the log lines on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Also append log lines to FILE
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// `--dry-run`, shared by every command that changes something.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct DryRun {
    /// Print the plan without acting
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy VERSION to an environment (backup, migrate, roll out, check health)
    Deploy(DeployArgs),
    /// Go back to the previous successful release, or the one named
    Rollback(RollbackArgs),
    /// Deployment history of an environment
    Releases(ReleasesArgs),
    /// Set the number of replicas of services, e.g. `backend=3 worker=8`
    Scale(ScaleArgs),
    /// Run or inspect database migrations
    Migrate(MigrateArgs),
    /// Check every service's containers and the configured health checks
    Health(HealthArgs),
    /// Take a backup of the project's databases and volumes, or manage backups
    Backup(BackupArgs),
    /// Restore a backup (verified before anything is touched)
    Restore(RestoreArgs),
    /// PostgreSQL's WAL archive for point-in-time recovery: stream, verify, status
    Wal(WalArgs),
    /// Audit the Compose project for security and production-readiness problems
    Scan(ScanArgs),
    /// Validate or print the resolved configuration
    Config(ConfigArgs),
    /// Write a ccops.yaml for the Compose project in this folder
    Init(InitArgs),
    /// Preflight: engine, compose, config, services, tools, disk, remotes, cron
    Doctor,
    /// Print shell completions
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Environment to deploy to
    pub env: String,
    /// Version to deploy, passed to compose as the environment's `version_variable`
    #[arg(id = "target_version", value_name = "VERSION")]
    pub version: Option<String>,
    /// Deploy even when a secret has a weak default in a production-like environment
    #[arg(long)]
    pub allow_weak_secrets: bool,
    /// Wait this long for another operation's lock instead of failing at once
    #[arg(long, value_name = "DURATION")]
    pub lock_wait: Option<humantime::Duration>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Environment to roll back
    pub env: String,
    /// Release to go back to [default: the previous successful one]
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Also restore the backup taken before the release being undone
    #[arg(long)]
    pub with_data: bool,
    /// Wait this long for another operation's lock instead of failing at once
    #[arg(long, value_name = "DURATION")]
    pub lock_wait: Option<humantime::Duration>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// Environment whose history to show
    pub env: String,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Environment to scale
    pub env: String,
    /// SERVICE=N pairs
    #[arg(required = true, value_name = "SERVICE=N")]
    pub services: Vec<String>,
    /// Wait this long for another operation's lock instead of failing at once
    #[arg(long, value_name = "DURATION")]
    pub lock_wait: Option<humantime::Duration>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Environment whose database to migrate
    pub env: String,
    /// `status`: list applied and pending migrations (exit 1 when any is pending)
    #[arg(value_parser = ["status"])]
    pub action: Option<String>,
    /// Wait this long for another operation's lock instead of failing at once
    #[arg(long, value_name = "DURATION")]
    pub lock_wait: Option<humantime::Duration>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HealthFormat {
    Table,
    Json,
    Nagios,
    Prometheus,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Environment to check [default: see --env]
    pub env: Option<String>,
    /// Poll until every check passes (or --timeout runs out)
    #[arg(long)]
    pub wait: bool,
    /// How long --wait polls
    #[arg(long, value_name = "DURATION", default_value = "120s")]
    pub timeout: humantime::Duration,
    /// Output format
    #[arg(long, value_enum, default_value_t = HealthFormat::Table)]
    pub format: HealthFormat,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    #[command(flatten)]
    pub create: BackupCreateArgs,
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Back up only these kinds (postgres, mysql, redis, volume, command) or component names
    #[arg(long, value_delimiter = ',', value_name = "KIND_OR_NAME,...")]
    pub only: Vec<String>,
    /// Upload the set to this remote after writing it
    #[arg(long, value_name = "REMOTE")]
    pub upload: Option<String>,
    /// Tag recorded in the manifest (repeatable)
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Do not apply the retention rules after a successful backup
    #[arg(long)]
    pub no_prune: bool,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// List backup sets, newest first
    List {
        /// List the sets on this remote instead
        #[arg(long, value_name = "REMOTE")]
        remote: Option<String>,
    },
    /// Re-check every file of a set against its manifest
    Verify {
        /// Backup ID, or `latest`
        #[arg(value_name = "ID|latest")]
        id: String,
        /// Verify the copy on this remote
        #[arg(long, value_name = "REMOTE")]
        remote: Option<String>,
    },
    /// Upload a set, or every set not yet uploaded, to a remote
    Push {
        /// Backup ID, or `all-pending`
        #[arg(value_name = "ID|all-pending")]
        id: String,
        /// Remote to upload to
        #[arg(long, value_name = "REMOTE", required = true)]
        remote: String,
    },
    /// Delete backups the retention rules no longer keep
    Prune {
        /// Prune this remote instead of the local directory
        #[arg(long, value_name = "REMOTE")]
        remote: Option<String>,
        #[command(flatten)]
        dry_run: DryRun,
    },
    /// Restore a set into a throwaway copy of the project, check it, time it, remove it
    ///
    /// The copy has its own compose project name, volumes and network and publishes no
    /// port: the live project is never touched. Exit 0 only when every check passed.
    Drill {
        /// Backup ID, or `latest`
        #[arg(value_name = "ID|latest", default_value = "latest")]
        id: String,
        /// Download the set from this remote (even when it is here too)
        #[arg(long, value_name = "REMOTE")]
        from: Option<String>,
        /// Drill a restore to a point instead: PostgreSQL recovered to TIME from a base
        /// backup and the WAL archive in a scratch volume, checked, timed and removed
        /// (`2026-12-05 10:32:00` in this host's time zone; an offset or `Z` for another)
        #[arg(long, value_name = "TIME", conflicts_with = "to_latest")]
        to_time: Option<String>,
        /// The same, to the newest WAL stored
        #[arg(long)]
        to_latest: bool,
        /// With --to-time/--to-latest: the `backup.postgres` service [default: the only
        /// one with `pitr`]
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
    },
    /// Install, show or remove the crontab entry for nightly backups
    Schedule {
        /// Cron schedule
        #[arg(long, value_name = "SCHEDULE", default_value = "0 2 * * *")]
        cron: String,
        /// Upload each nightly backup to this remote as well
        #[arg(long, value_name = "REMOTE")]
        upload: Option<String>,
        /// Remove the entry
        #[arg(long, conflicts_with = "print")]
        remove: bool,
        /// Print the entry instead of installing it
        #[arg(long)]
        print: bool,
        /// Schedule (or, with `off`, remove) the backup drill's own line instead
        #[arg(long, value_enum, value_name = "EVERY")]
        drill: Option<DrillEvery>,
        #[command(flatten)]
        dry_run: DryRun,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Backup ID, or `latest`
    #[arg(value_name = "ID|latest", default_value = "latest")]
    pub id: String,
    /// Restore from this remote
    #[arg(long, value_name = "REMOTE")]
    pub from: Option<String>,
    /// Restore only these kinds (postgres, mysql, redis, volume, command) or component names
    #[arg(long, value_delimiter = ',', value_name = "KIND_OR_NAME,...")]
    pub only: Vec<String>,
    /// Do not take a backup of the current state first
    #[arg(long)]
    pub no_safety_backup: bool,
    /// How long to wait for the services to be healthy again [default: deploy.timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<humantime::Duration>,
    /// Restore a set with unencrypted files although `backup.encryption` is configured
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// Restore PostgreSQL as it was at TIME (point-in-time recovery from a base backup and
    /// the WAL archive): `2026-12-05 10:32:00` is in this host's local time zone; add an
    /// offset (`+01:00`) or `Z` for UTC
    #[arg(long, value_name = "TIME", conflicts_with_all = ["to_latest", "only"])]
    pub to_time: Option<String>,
    /// Restore PostgreSQL to the newest WAL stored (point-in-time recovery; loses at most
    /// `pitr.wal_max_delay` of writes)
    #[arg(long, conflicts_with = "only")]
    pub to_latest: bool,
    /// With --to-time/--to-latest: the `backup.postgres` service to restore [default: the
    /// only one with `pitr`]
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Folder of the Compose project [default: the config's folder, else the current one]
    pub path: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Report findings at or above this severity
    #[arg(long, value_enum, default_value_t = Severity::Info)]
    pub min_severity: Severity,
    /// Exit 1 when a finding is at or above this severity
    #[arg(long, value_enum, default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// Also run `trivy image` on the project's images, when trivy is installed
    #[arg(long)]
    pub image: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and the environment it selects
    Check,
    /// Print the resolved config, secrets masked
    Show,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing ccops.yaml
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct WalArgs {
    #[command(subcommand)]
    pub command: WalCommand,
}

#[derive(Debug, Subcommand)]
pub enum WalCommand {
    /// Receive WAL into the archive until stopped (run it under systemd or as a service)
    Stream {
        /// The PostgreSQL service [default: the only `backup.postgres` entry with `pitr`]
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// Also copy the archive to this remote (retried while it is unreachable)
        #[arg(long, value_name = "REMOTE")]
        upload: Option<String>,
    },
    /// Check the archive has every segment from the oldest kept base backup on (exit 1 on a gap)
    Verify {
        /// The PostgreSQL service [default: the only `backup.postgres` entry with `pitr`]
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// Check the copy on this remote instead
        #[arg(long, value_name = "REMOTE")]
        remote: Option<String>,
    },
    /// What the archive holds and when WAL was last stored
    Status {
        /// The PostgreSQL service [default: the only `backup.postgres` entry with `pitr`]
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate completions for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn backup_takes_flags_or_a_subcommand() {
        let cli = Cli::try_parse_from(["ccops", "backup", "--only", "postgres,redis", "--tag", "x"]).unwrap();
        let Command::Backup(b) = cli.command else { panic!() };
        assert!(b.command.is_none());
        assert_eq!(b.create.only, ["postgres", "redis"]);
        let cli = Cli::try_parse_from(["ccops", "backup", "verify", "latest"]).unwrap();
        let Command::Backup(b) = cli.command else { panic!() };
        assert!(matches!(b.command, Some(BackupCommand::Verify { .. })));
    }
}
