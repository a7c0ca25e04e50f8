//! Command dispatch: one thin module per command turns arguments and settings into
//! options and calls the ops. Errors are printed once, here, and mapped to exit codes.

mod backup;
mod completions;
mod config;
mod deploy;
mod doctor;
#[cfg(test)]
mod generated;
mod health;
mod init;
mod migrate;
mod releases;
mod restore;
mod rollback;
mod scale;
mod scan;
mod wal;

use anyhow::Result;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::{ProcessEnv, Settings};
use crate::output;
use crate::status::ExitStatus;

/// What every command receives: the global flags and the captured process environment.
pub struct Ctx {
    pub global: GlobalArgs,
    pub penv: ProcessEnv,
}

impl Ctx {
    /// Load ccops.yaml for `env` (a command's own ENV argument), else `--env`.
    pub fn settings(&self, env: Option<&str>) -> Result<Settings> {
        let env = env.or(self.global.env.as_deref());
        let s = crate::config::load(self.global.config.as_deref(), env, &self.penv)?;
        output::log_field("environment", s.env_name.clone());
        crate::backup::crypto::configure(&s)?;
        Ok(s)
    }
}

/// The printer's options, from the global flags.
fn printer_options(g: &GlobalArgs) -> output::Options {
    output::Options {
        json: g.json,
        quiet: g.quiet,
        verbose: g.verbose,
        no_color: g.no_color,
        log_format: g.log_format,
        log_file: g.log_file.clone(),
    }
}

/// Set the printer up from the global flags, run the command, and say how it ended.
pub fn run(cli: Cli) -> ExitStatus {
    output::init(printer_options(&cli.global));
    crate::ask::init(cli.global.no_input);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            output::error(format!("cannot start the async runtime: {e}"));
            return ExitStatus::Failure;
        }
    };
    let ctx = Ctx { global: cli.global, penv: ProcessEnv::capture() };
    let result = rt.block_on(async {
        crate::util::install_signal_handlers();
        dispatch(&ctx, cli.command).await
    });
    // Background tasks (progress, streams) must not keep the process alive.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(status) => status,
        Err(e) => {
            report(&e);
            crate::error::classify(&e)
        }
    }
}

/// Print an error chain: what failed first, then each cause on its own line.
pub fn report(e: &anyhow::Error) {
    output::error(crate::error::chain_text(e));
    output::raw_error(e);
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<ExitStatus> {
    let name = command_name(&command);
    output::log_field("command", name);
    match command {
        Command::Health(a) => health::run(ctx, a).await,
        Command::Backup(a) => backup::run(ctx, a).await,
        Command::Restore(a) => restore::run(ctx, a).await,
        Command::Scan(a) => scan::run(ctx, a).await,
        Command::Config(a) => config::run(ctx, a).await,
        Command::Completions(a) => completions::run(a),
        Command::Deploy(a) => deploy::run(ctx, a).await,
        Command::Rollback(a) => rollback::run(ctx, a).await,
        Command::Releases(a) => releases::run(ctx, a).await,
        Command::Scale(a) => scale::run(ctx, a).await,
        Command::Migrate(a) => migrate::run(ctx, a).await,
        Command::Init(a) => init::run(ctx, a).await,
        Command::Doctor => doctor::run(ctx).await,
        Command::Wal(a) => wal::run(ctx, a).await,
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Deploy(_) => "deploy",
        Command::Rollback(_) => "rollback",
        Command::Releases(_) => "releases",
        Command::Scale(_) => "scale",
        Command::Migrate(_) => "migrate",
        Command::Health(_) => "health",
        Command::Backup(_) => "backup",
        Command::Restore(_) => "restore",
        Command::Scan(_) => "scan",
        Command::Config(_) => "config",
        Command::Init(_) => "init",
        Command::Doctor => "doctor",
        Command::Wal(_) => "wal",
        Command::Completions(_) => "completions",
    }
}
