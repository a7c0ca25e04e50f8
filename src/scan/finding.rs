//! One finding of the scan, and the names of severities as every report prints them.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::rules::catalog;

/// How bad a finding is; `--min-severity` and `--fail-on` take these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// What the scan found: where, which rule, and what to do about it. A secret's value is
/// never part of it, only the variable's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// A catalogue ID (`CMP001`) or an external one (`CVE-2024-1234` from trivy).
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    pub file: PathBuf,
    /// 1-based; 1 when the problem is the file as a whole.
    pub line: usize,
    pub column: usize,
    pub service: Option<String>,
    /// What the finding is about within rule + file + service (a variable, a port, a
    /// path): with them it makes the stable fingerprint, which must not use the line.
    pub key: String,
    pub message: String,
    pub fix: String,
    /// The environments (sets of compose files) in which it was seen.
    pub environments: Vec<String>,
    /// A link for external findings (trivy's advisory URL).
    pub help_uri: Option<String>,
    /// Services a finding without a service of its own concerns (those built from the
    /// Dockerfile it is in): their `x-ccops-ignore` applies to it.
    pub related: Vec<String>,
    /// 0, or for the summary the findings cap puts in place of the findings of its rule
    /// and file past the cap, how many it stands for (see `cap.rs`).
    pub unlisted: usize,
}

impl Finding {
    /// A finding of catalogue rule `id`, with its default severity, title and fix.
    pub fn new(
        id: &'static str,
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let rule = catalog::find(id);
        debug_assert!(rule.is_some(), "unknown rule {id}");
        let severity = rule.map_or(Severity::Info, |r| r.severity);
        let mut f = Finding::external(id, severity, rule.map_or("", |r| r.title), file, line, column, message);
        f.fix = rule.map_or_else(String::new, |r| r.fix.to_string());
        f
    }

    /// A finding of another tool's rule (trivy's CVE-... IDs), with its own severity.
    pub fn external(
        rule: &str,
        severity: Severity,
        title: &str,
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule: rule.to_string(),
            severity,
            title: title.to_string(),
            file: file.into(),
            line: line.max(1),
            column: column.max(1),
            service: None,
            key: String::new(),
            message: message.into(),
            fix: String::new(),
            environments: Vec::new(),
            help_uri: None,
            related: Vec::new(),
            unlisted: 0,
        }
    }

    pub fn service(mut self, name: &str) -> Self {
        self.service = Some(name.to_string());
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    /// A stable hash of rule, file (as reported), service and key: the same problem keeps
    /// its fingerprint when lines move, so code scanning does not reopen alerts.
    pub fn fingerprint(&self, rel_file: &str) -> String {
        let mut h = Sha256::new();
        for part in [self.rule.as_str(), rel_file, self.service.as_deref().unwrap_or(""), self.key.as_str()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }
}

/// `critical`, `high`, ... as JSON, tables and docs write them.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

pub const ALL_SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_the_line_but_not_the_key() {
        let a = Finding::new("SEC001", "/p/compose.yaml", 3, 5, "m").service("db").key("POSTGRES_PASSWORD");
        let mut b = a.clone();
        b.line = 40;
        assert_eq!(a.fingerprint("compose.yaml"), b.fingerprint("compose.yaml"));
        let c = a.clone().key("OTHER_TOKEN");
        assert_ne!(a.fingerprint("compose.yaml"), c.fingerprint("compose.yaml"));
        assert_eq!(a.fingerprint("compose.yaml").len(), 32);
    }

    #[test]
    fn catalogue_supplies_severity_title_and_fix() {
        let f = Finding::new("CMP001", "f", 0, 0, "m");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!((f.line, f.column), (1, 1));
        assert!(f.fix.contains("privileged"));
    }
}
