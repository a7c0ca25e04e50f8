//! The few typed errors a caller branches on. Everything else is `anyhow` with context.

use std::fmt;

/// A usage or configuration problem: exit 2, nothing was changed.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// Shorthand: `return Err(usage!("..."))`.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => { anyhow::Error::new($crate::error::UsageError(format!($($arg)*))) };
}

/// The operation was interrupted by a signal and has cleaned up: exit 130.
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}
impl std::error::Error for Interrupted {}

/// A deploy failed and the release before it was put back (auto-rollback). Exit 1 like
/// any failure; monitoring counts it apart, so it is a type and not a phrase to look for
/// (a failed migration's message says "rolled back" too, of its transaction).
#[derive(Debug)]
pub struct RolledBack(pub String);

impl fmt::Display for RolledBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether an error chain says "usage/config error" (exit 2) or "interrupted" (130).
pub fn classify(err: &anyhow::Error) -> crate::status::ExitStatus {
    use crate::status::ExitStatus;
    for cause in err.chain() {
        if cause.is::<Interrupted>() {
            return ExitStatus::Interrupted;
        }
        if cause.is::<UsageError>() || cause.is::<crate::config::ConfigError>() {
            return ExitStatus::Usage;
        }
    }
    ExitStatus::Failure
}
