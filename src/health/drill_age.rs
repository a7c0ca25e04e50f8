//! `drill_max_age`: the last passing `ccops backup drill` is younger than the limit. A
//! backup nobody has restored is a hope; this check says when the proof is stale.

use std::time::Duration;

use super::{Outcome, Status};
use crate::backup::drill::record;
use crate::config::Settings;

pub fn check(settings: &Settings, max_age: Duration) -> Outcome {
    let limit = humantime::format_duration(max_age);
    let Some((id, at)) = record::last_success(settings) else {
        return Outcome::new(
            Status::Fail,
            format!("no backup drill has passed yet (limit {limit}); run `ccops backup drill`"),
        );
    };
    let age = (chrono::Utc::now() - at).to_std().unwrap_or_default();
    let detail =
        format!("last passing drill (backup {id}) is {} old (limit {limit})", crate::util::human_duration(age));
    let mut status = if age > max_age { Status::Fail } else { Status::Ok };
    let detail = match leftover(settings) {
        Some(copy) => {
            status = status.max(Status::Warn);
            format!(
                "{detail}; a killed drill left its copy `{copy}` on the engine: the next `ccops backup drill` removes it"
            )
        }
        None => detail,
    };
    Outcome::new(status, detail).metric("age", age.as_secs_f64(), "s")
}

/// The copy a killed drill left (its folder is there while no drill runs).
fn leftover(settings: &Settings) -> Option<String> {
    let root = record::root(settings);
    if crate::lock::is_held(&root) {
        return None;
    }
    std::fs::read_dir(&root)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
}
