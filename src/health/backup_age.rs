//! `backup_max_age`: the newest complete backup is younger than the limit.

use std::time::Duration;

use super::{Outcome, Status};
use crate::config::Settings;

pub fn check(settings: &Settings, max_age: Duration) -> Outcome {
    let newest = match crate::backup::newest_complete(&settings.backup_dir) {
        Ok(n) => n,
        Err(e) => return Outcome::new(Status::Fail, format!("{e:#}")),
    };
    let Some((id, at)) = newest else {
        return Outcome::new(Status::Warn, format!("no backup yet in {}", settings.backup_dir.display()));
    };
    let age = (chrono::Utc::now() - at).to_std().unwrap_or_default();
    let detail = format!(
        "newest complete backup {id} is {} old (limit {})",
        crate::util::human_duration(age),
        humantime::format_duration(max_age)
    );
    let status = if age > max_age { Status::Fail } else { Status::Ok };
    Outcome::new(status, detail).metric("age", age.as_secs_f64(), "s")
}
