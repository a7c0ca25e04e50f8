//! The one place ccops asks the operator a question. A confirmation is answered by
//! `--yes`, by the operator at a terminal, or not at all: with `--no-input`, or when
//! stdin is not a terminal, a question that `--yes` did not answer is refused (exit 2)
//! before anything was changed, so a run under cron, CI or `ssh -t` never waits for a
//! reader who is not there.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};

static NO_INPUT: OnceLock<bool> = OnceLock::new();

/// `--no-input`: never read an answer, even at a terminal. Set once, before the command.
pub fn init(no_input: bool) {
    let _ = NO_INPUT.set(no_input);
}

/// Whether an answer may be read from stdin.
fn can_ask() -> bool {
    !NO_INPUT.get().copied().unwrap_or(false) && std::io::stdin().is_terminal()
}

/// Ask `question` (default no) unless `yes` answered it. `what` says what the command
/// would do, for the refusal: "restore replaces live data". A "no" is a usage error
/// (exit 2) that says nothing was changed; so is a question that cannot be asked.
pub fn confirm(yes: bool, question: &str, what: &str, command: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !can_ask() {
        return Err(crate::usage!("{what}; pass --yes to confirm ({})", refusal_reason()));
    }
    let ok = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| anyhow!("cannot ask for confirmation: {e}"))?;
    if !ok {
        return Err(crate::usage!("{command} cancelled; nothing was changed"));
    }
    Ok(())
}

fn refusal_reason() -> &'static str {
    if NO_INPUT.get().copied().unwrap_or(false) { "--no-input was given" } else { "stdin is not a terminal" }
}
