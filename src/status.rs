//! The outcome of a command and its exit code (SPEC §1, Exit codes).

/// What a command ended with; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success, healthy, nothing at or above `--fail-on`.
    Success,
    /// 1: the operation failed, a check is unhealthy, a verification mismatched.
    Failure,
    /// 2: usage or configuration error; nothing was changed.
    Usage,
    /// 130: interrupted by SIGINT/SIGTERM, after cleaning up.
    Interrupted,
    /// Any other code a format defines for itself (nagios: 0..3).
    Code(u8),
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Interrupted => 130,
            ExitStatus::Code(c) => c,
        }
    }
}
