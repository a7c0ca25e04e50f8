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
    let now = chrono::Utc::now();
    // Full sets (and leftovers of interrupted runs) go through the rules; a damaged
    // manifest is reported, never deleted; partial sets (`--only`, safety backups) are
    // kept as long as `days` says and do not count towards keep_last and the calendar.
    for d in sets.iter().filter(|x| x.damaged.is_some()) {
        output::warn(format!(
            "keeping {}: its manifest cannot be read ({}); check it by hand",
            d.id,
            d.damaged.as_deref().unwrap_or("")
        ));
    }
    let candidates: Vec<Candidate> = sets
        .iter()
        .filter(|x| x.damaged.is_none() && (x.full() || !x.complete))
        .map(|x| Candidate { id: x.id.clone(), created: x.created, complete: x.complete })
        .collect();
    let mut decisions = retention::decide(&candidates, &s.file.backup.retention, now);
    let days = s.file.backup.retention.days.unwrap_or(30);
    for x in sets.iter().filter(|x| x.complete && !x.full()) {
        let old = (now - x.created).num_seconds() > i64::from(days) * 86_400;
        let reason = if old {
            format!("partial set older than {days} days")
        } else {
            format!("partial set younger than {days} days")
        };
        decisions.push(retention::Decision { id: x.id.clone(), keep: !old, reasons: vec![reason] });
    }
    // A set not yet uploaded is the only copy that will ever reach the remote: keep it.
    let pending: std::collections::BTreeSet<String> =
        crate::backup::remote::pending::read(&s.state_dir).into_values().flatten().collect();
    let mut out = Outcome::default();
    for d in decisions {
        if !d.keep && pending.contains(&d.id) {
            output::warn(format!(
                "keeping {}: the retention rules would delete it, but its upload is still pending",
                d.id
            ));
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
    // The WAL archive follows: what the oldest base backup still kept needs stays.
    let gone: std::collections::BTreeSet<&str> = out.deleted.iter().map(|(id, _)| id.as_str()).collect();
    let kept = sets.iter().filter(|x| x.complete && !gone.contains(x.id.as_str())).filter_map(|x| x.manifest.as_ref());
    let keep = super::wal::retention::keep_from(s, kept);
    super::wal::retention::prune_local(s, &keep, dry_run)?;
    if out.deleted.is_empty() {
        output::status(format!(
            "nothing to prune ({} sets kept; {})",
            out.kept,
            retention::summary(&s.file.backup.retention)
        ));
    }
    Ok(out)
}

/// Delete a set so that no interruption leaves a manifest naming missing files: the
/// manifest goes first (durably), and what remains is an incomplete set the next prune
/// deletes. A legacy set has no manifest: its files go one by one, the database last.
fn delete(set: &LocalSet) -> Result<()> {
    let failed = |e: std::io::Error| anyhow::anyhow!("cannot delete backup {}: {}", set.id, crate::util::io_reason(&e));
    if let Some(l) = &set.legacy {
        let mut files = l.files();
        // files() lists the database first; what is left of a set cut short keeps it.
        let databases = l.postgres.len().min(files.len());
        files.rotate_left(databases);
        return files.into_iter().try_for_each(std::fs::remove_file).map_err(failed);
    }
    match std::fs::remove_file(set.path.join(super::manifest::FILE)) {
        Ok(()) => {
            crate::util::fsync_dir(&set.path).map_err(failed)?;
            crate::state::failpoint("prune-manifest-deleted");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    std::fs::remove_dir_all(&set.path).map_err(failed)
}
