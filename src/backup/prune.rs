//! `ccops backup prune`: apply the retention rules to the local backup folder. The
//! newest complete set is never deleted, nor every set; `--dry-run` says what would go.

use anyhow::Result;

use super::layout::{self, LocalSet};
use super::retention::{self, Candidate};
use crate::config::Settings;
use crate::output;

/// What prune did (or would do).
#[derive(Debug, Default, serde::Serialize)]
pub struct Outcome {
    pub deleted: Vec<(String, String)>,
    pub kept: usize,
}

pub fn prune(s: &Settings, dry_run: bool) -> Result<Outcome> {
    let sets = layout::list(&s.backup_dir)?;
    let candidates: Vec<Candidate> =
        sets.iter().map(|x| Candidate { id: x.id.clone(), created: x.created, complete: x.complete }).collect();
    let decisions = retention::decide(&candidates, &s.file.backup.retention, chrono::Utc::now());
    // A set not yet uploaded is the only copy that will ever reach the remote: keep it.
    let pending: std::collections::BTreeSet<String> = crate::storage::pending::read(&s.state_dir).into_values().flatten().collect();
    let mut out = Outcome::default();
    for d in decisions {
        if !d.keep && pending.contains(&d.id) {
            output::warn(format!("keeping {}: the retention rules would delete it, but its upload is still pending", d.id));
            out.kept += 1;
            continue;
        }
        if d.keep {
            out.kept += 1;
            output::debug(format!("keep {}: {}", d.id, d.reasons.join(", ")));
            continue;
        }
        let why = d.reasons.join(", ");
        let Some(set) = sets.iter().find(|x| x.id == d.id) else { continue };
        if dry_run {
            output::status(format!("would delete {}: {why}", d.id));
        } else {
            delete(set)?;
            output::status(format!("deleted {}: {why}", d.id));
        }
        out.deleted.push((d.id, why));
    }
    if out.deleted.is_empty() {
        output::status(format!("nothing to prune ({} sets kept; {})", out.kept, retention::summary(&s.file.backup.retention)));
    }
    Ok(out)
}

fn delete(set: &LocalSet) -> Result<()> {
    let res = match &set.legacy {
        Some(l) => l.files().into_iter().try_for_each(std::fs::remove_file),
        None => std::fs::remove_dir_all(&set.path),
    };
    res.map_err(|e| anyhow::anyhow!("cannot delete backup {}: {}", set.id, crate::util::io_reason(&e)))
}
