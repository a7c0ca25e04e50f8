//! What drills leave on disk for others to read: the folder that holds the copies (and
//! the drill lock), and the record of the last passing drill that `health.drill_max_age`
//! checks. A leaf, so `health` reads it without depending on the drill.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::Settings;

/// The last passing drill, for `health.drill_max_age`.
pub const LAST_SUCCESS: &str = "last-success.json";

/// Where drills keep their copies' folders (and their lock).
pub fn root(s: &Settings) -> PathBuf {
    s.state_dir.join("drill")
}

/// Record that a drill of backup `id` passed now, with its recovery time.
pub fn write_success(s: &Settings, id: &str, rto_seconds: f64) -> Result<()> {
    let last =
        serde_json::json!({ "backup_id": id, "at": chrono::Utc::now().to_rfc3339(), "rto_seconds": rto_seconds });
    crate::util::write_atomic(&root(s).join(LAST_SUCCESS), last.to_string().as_bytes(), 0o600)?;
    Ok(())
}

/// When the last drill passed: (backup ID, time), from [`LAST_SUCCESS`].
pub fn last_success(s: &Settings) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
    let text = crate::util::read_small_file(&root(s).join(LAST_SUCCESS), 4096).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let at = chrono::DateTime::parse_from_rfc3339(v.get("at")?.as_str()?).ok()?.with_timezone(&chrono::Utc);
    Some((v.get("backup_id")?.as_str()?.to_string(), at))
}
