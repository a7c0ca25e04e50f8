//! The deployment history of one environment (`<state>/releases-<env>.json`), and what
//! it implies: the release that is live now, and the one a rollback goes back to.
//!
//! Successful releases form a stack: a deploy of a new version pushes it, a rollback pops
//! back to its target. So `rollback` after `rollback` keeps going back (v3 -> v2 -> v1)
//! instead of bouncing between the last two versions. Failed and interrupted releases
//! change nothing that was live, so they are not on the stack.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::record::{Action, Outcome, Release};
use crate::config::Settings;

pub struct History {
    path: PathBuf,
    pub releases: Vec<Release>,
}

impl History {
    pub fn load(s: &Settings) -> Result<History> {
        let path = crate::state::releases_path(s);
        let releases = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!("the release history `{}` is damaged; move it away to start a new one", path.display())
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => anyhow::bail!("cannot read `{}`: {}", path.display(), crate::util::io_reason(&e)),
        };
        Ok(History { path, releases })
    }

    fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            crate::util::create_private_dir(dir)?;
        }
        let text = serde_json::to_string_pretty(&self.releases)?;
        crate::util::write_atomic(&self.path, text.as_bytes(), 0o600)
    }

    pub fn next_id(&self) -> u32 {
        self.releases.iter().map(|r| r.id).max().unwrap_or(0) + 1
    }

    /// Add or replace (by id) a release and write the history at once, so a killed
    /// ccops still leaves its release behind.
    pub fn put(&mut self, r: &Release) -> Result<()> {
        match self.releases.iter_mut().find(|x| x.id == r.id) {
            Some(x) => *x = r.clone(),
            None => self.releases.push(r.clone()),
        }
        self.save()
    }

    /// Releases left `in_progress` by a process that is gone. Call with the project lock
    /// held: nobody else can be running one then.
    pub fn mark_abandoned(&mut self) -> Result<Vec<u32>> {
        let me = std::process::id();
        let mut marked = Vec::new();
        for r in &mut self.releases {
            if r.outcome == Outcome::InProgress && r.pid != me {
                r.outcome = Outcome::Interrupted;
                r.reason = Some("the ccops process ended before the release finished (killed or crashed)".into());
                marked.push(r.id);
            }
        }
        if !marked.is_empty() {
            self.save()?;
        }
        Ok(marked)
    }

    /// The live releases, oldest first (see the module comment).
    pub fn stack(&self) -> Vec<&Release> {
        live_stack(&self.releases)
    }

    /// The release that is live now.
    pub fn current(&self) -> Option<&Release> {
        self.stack().last().copied()
    }

    /// Where `rollback` goes: the release named by `to` (its newest successful one), else
    /// the live release before the current one.
    pub fn rollback_target(&self, to: Option<&str>) -> Result<&Release> {
        let env = self.releases.first().map(|r| r.environment.clone()).unwrap_or_default();
        if let Some(v) = to {
            return self.releases.iter().rev().find(|r| r.version == v && r.outcome == Outcome::Success).ok_or_else(
                || {
                    let known: Vec<String> = self.successful_versions();
                    crate::usage!(
                        "there is no successful release of `{v}` to go back to{}; known good versions: {}",
                        if env.is_empty() { String::new() } else { format!(" in environment `{env}`") },
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    )
                },
            );
        }
        let stack = self.stack();
        match stack.len() {
            0 => {
                Err(crate::usage!("nothing to roll back to: no successful release is recorded yet (`ccops releases`)"))
            }
            1 => Err(crate::usage!(
                "nothing to roll back to: {} is the only live release; name another with --to VERSION",
                stack[0].label()
            )),
            n => Ok(stack[n - 2]),
        }
    }

    fn successful_versions(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in self.releases.iter().filter(|r| r.outcome == Outcome::Success) {
            if !v.contains(&r.version) {
                v.push(r.version.clone());
            }
        }
        v
    }
}

fn live_stack(releases: &[Release]) -> Vec<&Release> {
    let mut stack: Vec<&Release> = Vec::new();
    for r in releases.iter().filter(|r| r.outcome == Outcome::Success) {
        match r.action {
            Action::Rollback => match stack.iter().rposition(|x| x.version == r.version) {
                Some(i) => {
                    stack.truncate(i);
                    stack.push(r);
                }
                None => stack.push(r),
            },
            Action::Deploy => {
                // A redeploy of the live version replaces it in place (new images).
                if stack.last().is_some_and(|x| x.version == r.version) {
                    stack.pop();
                }
                stack.push(r);
            }
        }
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(id: u32, action: Action, version: &str, outcome: Outcome) -> Release {
        Release {
            id,
            action,
            version: version.into(),
            previous_version: None,
            environment: "production".into(),
            project: "p".into(),
            started_at: String::new(),
            finished_at: None,
            duration_ms: None,
            operator: "u@h".into(),
            pid: 1,
            git_commit: None,
            git_dirty: false,
            images: Default::default(),
            replicas: Default::default(),
            migrations: None,
            backup_id: None,
            outcome,
            reason: None,
            auto_rollback: None,
            steps: vec![],
        }
    }

    fn history(rs: Vec<Release>) -> History {
        History { path: PathBuf::from("/nonexistent"), releases: rs }
    }

    fn versions(h: &History) -> Vec<&str> {
        h.stack().iter().map(|r| r.version.as_str()).collect()
    }

    use Action::{Deploy, Rollback};
    use Outcome::{Failed, Interrupted, Success};

    #[test]
    fn failed_releases_are_not_live_and_rollback_goes_to_the_one_before() {
        let h =
            history(vec![rel(1, Deploy, "v1", Success), rel(2, Deploy, "v2", Success), rel(3, Deploy, "v3", Failed)]);
        assert_eq!(versions(&h), ["v1", "v2"]);
        assert_eq!(h.current().unwrap().version, "v2");
        assert_eq!(h.rollback_target(None).unwrap().id, 1);
    }

    #[test]
    fn rollbacks_pop_the_stack_instead_of_bouncing() {
        let mut h = history(vec![
            rel(1, Deploy, "v1", Success),
            rel(2, Deploy, "v2", Success),
            rel(3, Deploy, "v3", Success),
            rel(4, Rollback, "v2", Success),
        ]);
        assert_eq!(versions(&h), ["v1", "v2"]);
        assert_eq!(h.rollback_target(None).unwrap().version, "v1");
        h.releases.push(rel(5, Rollback, "v1", Success));
        let err = h.rollback_target(None).unwrap_err().to_string();
        assert!(err.contains("only live release") && err.contains("--to"), "{err}");
        // --to names any version that once succeeded, newest record first.
        assert_eq!(h.rollback_target(Some("v3")).unwrap().id, 3);
        assert_eq!(h.rollback_target(Some("v2")).unwrap().id, 4);
        let err = h.rollback_target(Some("v9")).unwrap_err().to_string();
        assert!(err.contains("`v9`") && err.contains("v1, v2, v3"), "{err}");
    }

    #[test]
    fn redeploying_the_live_version_replaces_it() {
        let h =
            history(vec![rel(1, Deploy, "v1", Success), rel(2, Deploy, "v2", Success), rel(3, Deploy, "v2", Success)]);
        assert_eq!(versions(&h), ["v1", "v2"]);
        assert_eq!(h.current().unwrap().id, 3);
        assert_eq!(h.rollback_target(None).unwrap().version, "v1");
    }

    #[test]
    fn empty_history_has_nothing_to_roll_back_to() {
        let h = history(vec![rel(1, Deploy, "v1", Interrupted)]);
        assert!(h.current().is_none());
        assert!(h.rollback_target(None).unwrap_err().to_string().contains("no successful release"));
        assert_eq!(h.next_id(), 2);
    }
}
