//! The lines ccops keeps in the current user's crontab: the cron syntax (`cron.rs`), the
//! line of a project and the marker that finds it again (`line.rs`), and reading and
//! writing the table with `crontab` (`crontab.rs`). `backup schedule` installs and removes
//! lines with it; `doctor` finds them and judges them.

mod cron;
pub mod crontab;
mod line;

pub use cron::validate_cron;
pub use line::{
    Entry, command_of, entry_line, find, marker, marker_of, our_lines, schedule_of, with_entry, without_entry,
};

/// The schedule used when `--cron` is not given: every night at 02:00 (cron's time zone).
pub const DEFAULT_CRON: &str = "0 2 * * *";
/// When `--drill weekly` and `--drill monthly` run: early Sunday, and early on the 1st,
/// two hours after the nightly backup's default so the drill tests that night's set.
pub const DRILL_WEEKLY: &str = "0 4 * * 0";
pub const DRILL_MONTHLY: &str = "0 4 1 * *";

/// How often `backup schedule --drill` runs the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrillEvery {
    /// Sundays at 04:00
    Weekly,
    /// The 1st of each month at 04:00
    Monthly,
    /// Remove the drill line
    Off,
}

impl DrillEvery {
    /// The cron schedule of the drill line; `None` for `off`.
    pub fn cron(self) -> Option<&'static str> {
        match self {
            DrillEvery::Weekly => Some(DRILL_WEEKLY),
            DrillEvery::Monthly => Some(DRILL_MONTHLY),
            DrillEvery::Off => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drill_schedules_are_valid_cron() {
        assert_eq!(DrillEvery::Weekly.cron(), Some(DRILL_WEEKLY));
        assert_eq!(DrillEvery::Off.cron(), None);
        assert!(validate_cron(DRILL_WEEKLY).is_ok() && validate_cron(DRILL_MONTHLY).is_ok());
        assert!(validate_cron(DEFAULT_CRON).is_ok());
    }
}
