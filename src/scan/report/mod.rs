//! Turning a [`Report`] into what `--format` asks for. Every format shows the same
//! findings: those at or above `--min-severity`; the summary counts the rest.

mod json;
mod sarif;
mod table;

use std::path::Path;

use super::finding::{ALL_SEVERITIES, Finding, Severity};
use super::{Report, paths};

/// `--format` of `ccops scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
}

/// A report seen through the output flags.
pub struct View<'a> {
    pub report: &'a Report,
    pub min: Severity,
    pub fail_on: Severity,
}

impl View<'_> {
    /// The findings the output lists.
    pub fn shown(&self) -> impl Iterator<Item = &Finding> {
        self.report.findings.iter().filter(|f| f.severity >= self.min)
    }

    /// Unsuppressed findings below `--min-severity`.
    pub fn hidden(&self) -> usize {
        self.report.findings.len() - self.shown().count()
    }

    /// A path as reports show it: relative to the scanned folder.
    pub fn rel(&self, p: &Path) -> String {
        paths::relative(&self.report.root, p)
    }

    /// Shown findings per severity, most severe first.
    pub fn counts(&self) -> Vec<(Severity, usize)> {
        ALL_SEVERITIES.iter().map(|s| (*s, self.shown().filter(|f| f.severity == *s).count())).collect()
    }

    /// The findings the shown summaries of the findings cap stand for.
    pub fn unlisted(&self) -> usize {
        self.shown().map(|f| f.unlisted).sum()
    }

    /// Suppressed findings, listed or not.
    pub fn suppressed(&self) -> usize {
        self.report.suppressed.len() + self.report.suppressed_unlisted
    }

    pub fn failed(&self) -> bool {
        self.report.fails(self.fail_on)
    }
}

/// The report in `format`, ready for stdout.
pub fn render(report: &Report, format: Format, min: Severity, fail_on: Severity) -> String {
    let view = View { report, min, fail_on };
    match format {
        Format::Table => table::render(&view),
        Format::Json => serde_json::to_string_pretty(&json::render(&view)).unwrap_or_default(),
        Format::Sarif => serde_json::to_string_pretty(&sarif::render(&view)).unwrap_or_default(),
    }
}
