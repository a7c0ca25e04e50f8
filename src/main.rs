//! `ccops`: parse the command line, run the command, map the outcome to an exit code.

mod ask;
mod backup;
mod cli;
mod commands;
mod compose;
mod config;
mod deploy;
mod docker;
mod doctor;
mod env_vars;
mod error;
mod health;
mod init;
mod lock;
mod metrics;
mod notify;
mod output;
mod project;
mod scan;
mod schedule;
mod snapshot;
mod state;
mod status;
mod storage;
mod syntax;
mod util;
mod version;

use clap::Parser;

fn main() -> std::process::ExitCode {
    util::bound_heap();
    let cli = cli::Cli::parse();
    let status = commands::run(cli);
    std::process::ExitCode::from(status.code())
}
