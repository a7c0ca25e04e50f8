//! `ccops completions <SHELL>`: completions generated from the clap definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, Shell};
use crate::status::ExitStatus;

pub fn run(args: CompletionsArgs) -> Result<ExitStatus> {
    let mut out = Vec::new();
    write(args.shell, &mut out);
    crate::output::data(String::from_utf8_lossy(&out));
    Ok(ExitStatus::Success)
}

/// The completion script for `shell`, as committed under completions/.
pub fn write(shell: Shell, out: &mut Vec<u8>) {
    use clap_complete::Shell as S;
    let s = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    clap_complete::generate(s, &mut Cli::command(), "ccops", out);
}
