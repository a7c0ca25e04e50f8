//! `wal_max_age`: `ccops wal stream` stored WAL of each PITR service within the limit
//! (its `stream.json`). Missing counts as failing: point-in-time recovery is configured,
//! and nothing streams.

use std::time::Duration;

use super::{Outcome, Status};
use crate::backup::wal::{archive::Record, layout};
use crate::config::Settings;

/// One outcome per PITR-enabled `backup.postgres` entry: (service, outcome).
pub fn check(settings: &Settings, max_age: Duration) -> Vec<(String, Outcome)> {
    crate::backup::kinds::pgbase::targets(settings)
        .map(|t| {
            let dir = layout::local_dir(&settings.backup_dir, &t.service);
            let o = match Record::read(&dir).and_then(|r| r.shipped_at().map(|at| (r, at))) {
                None => Outcome::new(
                    Status::Fail,
                    format!("no WAL stored yet in {} (is `ccops wal stream` running?)", dir.display()),
                ),
                Some((r, at)) => {
                    let age = (chrono::Utc::now() - at).to_std().unwrap_or_default();
                    let detail = format!(
                        "WAL last stored {} ago, up to {} (limit {})",
                        crate::util::human_duration(age),
                        r.last_lsn,
                        humantime::format_duration(max_age)
                    );
                    let status = if age > max_age { Status::Fail } else { Status::Ok };
                    Outcome::new(status, detail).metric("age", age.as_secs_f64(), "s")
                }
            };
            (t.service.clone(), o)
        })
        .collect()
}
