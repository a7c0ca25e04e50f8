//! `backup_max_age`: the newest complete backup is younger than the limit.

use std::time::Duration;

use super::{Outcome, Status};
use crate::config::Settings;

/// A set dated in the future (a wrong clock, or planted) never counts as fresh: it is
/// skipped, and named in the detail so the operator sees why.
pub fn check(settings: &Settings, max_age: Duration) -> Outcome {
    let sets = match crate::backup::layout::list(&settings.backup_dir) {
        Ok(s) => s,
        Err(e) => return Outcome::new(Status::Fail, format!("{e:#}")),
    };
    let future: Vec<&str> = sets.iter().filter(|s| s.full() && s.future()).map(|s| s.id.as_str()).collect();
    let skipped = if future.is_empty() {
        String::new()
    } else {
        format!("; ignored, dated in the future: {}", future.join(", "))
    };
    let Some((id, at)) = sets.iter().find(|s| s.full() && !s.future()).map(|s| (s.id.clone(), s.created)) else {
        return Outcome::new(Status::Warn, format!("no backup yet in {}{skipped}", settings.backup_dir.display()));
    };
    let age = (chrono::Utc::now() - at).to_std().unwrap_or_default();
    let detail = format!(
        "newest complete backup {id} is {} old (limit {})",
        crate::util::human_duration(age),
        humantime::format_duration(max_age)
    ) + &skipped;
    let status = if age > max_age { Status::Fail } else { Status::Ok };
    Outcome::new(status, detail).metric("age", age.as_secs_f64(), "s")
}
