//! One release as the history records it: what was deployed (version, images, schema),
//! by whom, from which commit, with which backup, each step, and how it ended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deploy,
    Rollback,
}

/// How a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still running, or its process died (the next operation marks it `interrupted`).
    InProgress,
    Success,
    Failed,
    /// Stopped by a signal, or its process ended before it finished.
    Interrupted,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::InProgress => "in progress",
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The image a service ran: the reference Compose used and the image ID behind it, which
/// is what a rollback puts back even when the tag was rebuilt meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub image: String,
    pub id: String,
    /// Registry digests (`repo@sha256:...`), when the image came from a registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<String>,
}

/// The database schema around a release. `before`/`after` are the newest applied
/// migration (sql_directory mode) or the last line `status_command` printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// `sql` or `command`.
    pub mode: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Migrations this release applied (sql_directory mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<String>,
}

/// One step of a deploy or rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    /// ok, failed, skipped, interrupted
    pub status: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The automatic return to the previous release after a failed deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoRollback {
    pub to_version: String,
    pub to_release: u32,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// 1, 2, 3... per environment.
    pub id: u32,
    pub action: Action,
    pub version: String,
    /// The version that was current when this release started.
    pub previous_version: Option<String>,
    pub environment: String,
    pub project: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// user@host
    pub operator: String,
    pub pid: u32,
    pub git_commit: Option<String>,
    #[serde(default)]
    pub git_dirty: bool,
    /// Service -> image, as rolled out.
    #[serde(default)]
    pub images: BTreeMap<String, ImageRecord>,
    /// Service -> replicas, as rolled out.
    #[serde(default)]
    pub replicas: BTreeMap<String, u32>,
    pub migrations: Option<MigrationRecord>,
    /// The backup taken before this release changed anything.
    pub backup_id: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<AutoRollback>,
    #[serde(default)]
    pub steps: Vec<StepRecord>,
}

impl Release {
    /// A release that starts now.
    pub fn start(
        id: u32,
        action: Action,
        version: &str,
        previous: Option<&str>,
        s: &crate::config::Settings,
    ) -> Release {
        let (git_commit, git_dirty) = git_state(&s.base_dir);
        Release {
            id,
            action,
            version: version.to_string(),
            previous_version: previous.map(String::from),
            environment: s.env_name.clone(),
            project: s.project.clone(),
            started_at: now(),
            finished_at: None,
            duration_ms: None,
            operator: crate::util::operator(),
            pid: std::process::id(),
            git_commit,
            git_dirty,
            images: BTreeMap::new(),
            replicas: BTreeMap::new(),
            migrations: None,
            backup_id: None,
            outcome: Outcome::InProgress,
            reason: None,
            auto_rollback: None,
            steps: Vec::new(),
        }
    }

    /// Close the record with its outcome.
    pub fn finish(&mut self, outcome: Outcome, reason: Option<String>, elapsed: std::time::Duration) {
        self.outcome = outcome;
        self.reason = reason;
        self.finished_at = Some(now());
        self.duration_ms = Some(elapsed.as_millis() as u64);
    }

    /// "v1.1.0 (release #3)"
    pub fn label(&self) -> String {
        format!("{} (release #{})", self.version, self.id)
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The commit of the git checkout holding the config, and whether it has local changes.
fn git_state(dir: &std::path::Path) -> (Option<String>, bool) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            (Some(commit), dirty)
        }
        _ => (None, false),
    }
}

/// The cause of a failure in one line, for the record: the innermost error says what
/// went wrong (the outer ones say where).
pub fn first_line(e: &anyhow::Error) -> String {
    let text = e.root_cause().to_string();
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    crate::output::redact(&line)
}
