//! Where backup sets live on disk and how their IDs read: `YYYYMMDD_HHMMSS[-N]`.

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, NaiveDateTime, Utc};

/// The time an ID names, or None if `id` is not a backup ID.
pub fn parse_id(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id.split_once('-').map_or(id, |(s, n)| if n.chars().all(|c| c.is_ascii_digit()) { s } else { "" });
    if stamp.len() != 15 {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok().map(|n| n.and_utc())
}

/// The newest complete set (a folder with manifest.json) in `dir`: (id, time).
pub fn newest_complete(dir: &Path) -> Result<Option<(String, DateTime<Utc>)>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(None) };
    let mut best: Option<(String, DateTime<Utc>)> = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(at) = parse_id(&name) else { continue };
        if !e.path().join("manifest.json").is_file() {
            continue;
        }
        if best.as_ref().is_none_or(|(bid, bat)| (at, name.as_str()) > (*bat, bid.as_str())) {
            best = Some((name, at));
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse() {
        assert!(parse_id("20240101_020000").is_some());
        assert!(parse_id("20240101_020000-2").is_some());
        assert!(parse_id("20240101_020000.partial").is_none());
        assert!(parse_id("2024").is_none());
        assert!(parse_id("20241301_020000").is_none());
    }
}
