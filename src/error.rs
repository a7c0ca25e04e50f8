//! The few typed errors a caller branches on, and the wording of an I/O error. Everything
//! else is `anyhow` with context. This is the ground floor: it imports nothing of ccops
//! but the exit statuses.

use std::fmt;
use std::path::PathBuf;

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

/// A configuration error that points at `file:line:column` (exit 2): ccops.yaml, a
/// compose file, an env file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ConfigError {
    pub fn at(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError { file: file.into(), line, column, message: message.into() }
    }

    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::at(file, None, None, message)
    }

    /// At the first place `needle` appears in `text` (the file's content), or at the file
    /// as a whole when it does not appear.
    pub fn at_first(file: impl Into<PathBuf>, text: &str, needle: &str, message: impl Into<String>) -> Self {
        let (line, column) = text.find(needle).map(|o| line_col(text, o)).unzip();
        Self::at(file, line, column, message)
    }
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

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

/// An I/O error as a person reads it: "No such file or directory", not `Os { code: 2 }`.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device".into(),
        Some(libc::EACCES) | Some(libc::EPERM) => "permission denied".into(),
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(_) => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
        None => e.to_string(),
    }
}

/// Whether an error chain says "usage/config error" (exit 2) or "interrupted" (130).
pub fn classify(err: &anyhow::Error) -> crate::status::ExitStatus {
    use crate::status::ExitStatus;
    for cause in err.chain() {
        if cause.is::<Interrupted>() {
            return ExitStatus::Interrupted;
        }
        if cause.is::<UsageError>() || cause.is::<ConfigError>() {
            return ExitStatus::Usage;
        }
    }
    ExitStatus::Failure
}
