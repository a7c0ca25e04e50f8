//! `ccops releases` as a table: newest first, the live release marked.

use super::images::short;
use super::record::{Action, Outcome, Release};
use crate::output;

/// The table of `releases` (newest first); `live` is the id of the live release.
pub fn releases(releases: &[Release], live: Option<u32>) -> comfy_table::Table {
    let mut t = output::table(&[
        "#",
        "VERSION",
        "ACTION",
        "OUTCOME",
        "STARTED (UTC)",
        "TOOK",
        "OPERATOR",
        "COMMIT",
        "BACKUP",
        "SCHEMA",
        "IMAGES",
    ]);
    for r in releases.iter().rev() {
        let mark = if Some(r.id) == live { " (live)" } else { "" };
        t.add_row(vec![
            r.id.to_string(),
            format!("{}{mark}", r.version),
            match r.action {
                Action::Deploy => "deploy".into(),
                Action::Rollback => format!("rollback from {}", r.previous_version.as_deref().unwrap_or("-")),
            },
            outcome(r),
            r.started_at.replace('T', " ").trim_end_matches('Z').to_string(),
            r.duration_ms.map_or("-".into(), |ms| crate::util::human_duration(std::time::Duration::from_millis(ms))),
            r.operator.clone(),
            r.git_commit
                .as_deref()
                .map_or("-".into(), |c| format!("{}{}", &c[..c.len().min(10)], if r.git_dirty { "+" } else { "" })),
            r.backup_id.clone().unwrap_or_else(|| "-".into()),
            schema(r),
            images(r),
        ]);
    }
    t
}

/// "failed: health: ... (rolled back to v1.1.0)"
pub fn outcome(r: &Release) -> String {
    let mut s = r.outcome.word().to_string();
    if r.outcome != Outcome::Success {
        if let Some(why) = &r.reason {
            let why: String = why.chars().take(90).collect();
            s = format!("{s}: {why}");
        }
    }
    if let Some(a) = &r.auto_rollback {
        s.push_str(&match a.outcome {
            Outcome::Success => format!(" (rolled back to {})", a.to_version),
            _ => format!(" (rollback to {} failed)", a.to_version),
        });
    }
    s
}

fn schema(r: &Release) -> String {
    let Some(m) = &r.migrations else { return "-".into() };
    match (m.before.as_deref().map(marker), m.after.as_deref().map(marker)) {
        (Some(b), Some(a)) if b != a => format!("{b} -> {a}"),
        (_, Some(a)) => a,
        (Some(b), None) => b,
        (None, None) => "-".into(),
    }
}

/// A schema marker, short: its migration version (a run of 8+ digits) when it has one,
/// else its first 32 characters.
pub fn marker(m: &str) -> String {
    let best = m.split(|c: char| !c.is_ascii_digit()).filter(|d| d.len() >= 8).max_by_key(|d| d.len());
    match best {
        Some(d) => d.to_string(),
        None => m.chars().take(32).collect(),
    }
}

/// The release's own images (those whose reference names the version), else all of
/// them; one a line, `ref@shortid`. `--json` has every service's.
fn images(r: &Release) -> String {
    let own: Vec<_> = r.images.values().filter(|i| i.image.contains(&r.version)).collect();
    let list = if own.is_empty() { r.images.values().collect() } else { own };
    let mut seen: Vec<String> = Vec::new();
    for i in list {
        let line = format!("{}@{}", i.image, short(&i.id));
        if !seen.contains(&line) {
            seen.push(line);
        }
    }
    if seen.is_empty() { "-".into() } else { seen.join("\n") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::AutoRollback;

    #[test]
    fn outcome_tells_what_happened() {
        let mut r: Release = serde_json::from_value(serde_json::json!({
            "id": 3, "action": "deploy", "version": "v1.2.0", "previous_version": "v1.1.0", "environment": "production",
            "project": "p", "started_at": "2024-01-01T00:00:00Z", "finished_at": null, "duration_ms": 1500,
            "operator": "u@h", "pid": 1, "git_commit": null, "migrations": null, "backup_id": null,
            "outcome": "failed", "reason": "healthy: service `backend` was not ready"
        }))
        .unwrap();
        r.auto_rollback =
            Some(AutoRollback { to_version: "v1.1.0".into(), to_release: 2, outcome: Outcome::Success, reason: None });
        assert_eq!(outcome(&r), "failed: healthy: service `backend` was not ready (rolled back to v1.1.0)");
        assert_eq!(marker("schema version 20240601000000 (2 applied, 0 pending)"), "20240601000000");
        assert_eq!(marker("abc123 (head)"), "abc123 (head)");
        let t = releases(&[r], Some(2)).to_string();
        assert!(t.contains("v1.2.0") && !t.contains("(live)"), "{t}");
    }
}
