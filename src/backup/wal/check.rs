//! `ccops wal verify` and `wal status`: is a service's WAL archive whole from the start
//! of its oldest kept base backup to the newest stored segment (locally, or on a remote),
//! and how fresh is it (`stream.json` against `wal_max_delay`).

use std::time::Duration;

use anyhow::Result;
use chrono::Utc;

use super::archive::{self, Continuity, Record};
use super::layout::{self, Segment};
use crate::project::Project;
use crate::storage::Store;

/// What a check found for one service.
#[derive(Debug)]
pub struct Report {
    pub service: String,
    /// `local` or the remote's description.
    pub place: String,
    pub continuity: Continuity,
    /// The first segment the oldest kept base backup needs from the archive, if any.
    pub base_start: Option<Segment>,
    pub record: Option<Record>,
    pub max_delay: Duration,
}

impl Report {
    /// How long ago `wal stream` last stored something.
    pub fn age(&self) -> Option<Duration> {
        let at = self.record.as_ref()?.shipped_at()?;
        (Utc::now() - at).to_std().ok().or(Some(Duration::ZERO))
    }

    pub fn whole(&self) -> bool {
        self.continuity.gaps.is_empty()
    }

    /// Lines for a person.
    pub fn lines(&self) -> Vec<String> {
        let c = &self.continuity;
        let mut out = vec![match (c.first, c.last) {
            (Some(a), Some(b)) => format!(
                "WAL of service `{}` ({}): {a} to {b}, {} whole segment(s){}",
                self.service,
                self.place,
                c.segments,
                if self.base_start.is_some() { ", what the oldest kept base backup needs" } else { "" }
            ),
            _ => format!("WAL of service `{}` ({}): no segment stored yet", self.service, self.place),
        }];
        if c.last.is_some() {
            if self.whole() {
                out.push("no gap".into());
            }
            out.extend(c.gaps.iter().map(|g| format!("gap: {g}")));
        }
        out.push(match (self.age(), &self.record) {
            (Some(age), Some(r)) => format!(
                "last stored {} ago, up to {} on timeline {} (wal_max_delay {}){}",
                crate::util::human_duration(age),
                r.last_lsn,
                r.timeline,
                crate::util::human_duration(self.max_delay),
                if age > self.max_delay { ": older than wal_max_delay; is `ccops wal stream` running?" } else { "" }
            ),
            _ => "`ccops wal stream` has stored nothing here yet".into(),
        });
        out
    }

    pub fn json(&self) -> serde_json::Value {
        let c = &self.continuity;
        serde_json::json!({
            "service": self.service,
            "place": self.place,
            "first": c.first.map(|s| s.to_string()),
            "last": c.last.map(|s| s.to_string()),
            "segments": c.segments,
            "gaps": c.gaps.iter().map(|g| serde_json::json!({"from": g.from.to_string(), "to": g.to.to_string()})).collect::<Vec<_>>(),
            "last_shipped_at": self.record.as_ref().map(|r| r.last_shipped_at.clone()),
            "last_lsn": self.record.as_ref().map(|r| r.last_lsn.clone()),
            "age_seconds": self.age().map(|a| a.as_secs()),
            "wal_max_delay_seconds": self.max_delay.as_secs(),
        })
    }
}

/// Check the archive of `service` (the only PITR entry when None), locally or on `remote`.
pub async fn check(p: &Project, service: Option<&str>, remote: Option<&dyn Store>) -> Result<Report> {
    let t = super::stream::entry(p, service)?;
    let s = &p.settings;
    let dir = layout::local_dir(&s.backup_dir, &t.service);
    let (files, place) = match remote {
        None => (archive::local_files(&dir)?, "local".to_string()),
        Some(store) => {
            let prefix = layout::remote_prefix("", &t.service);
            (archive::remote_files(&store.list(&prefix).await?, &prefix), store.describe())
        }
    };
    let base_start = archive::oldest_base(s, &t.service).as_ref().and_then(archive::needed_after);
    Ok(Report {
        service: t.service.clone(),
        place,
        continuity: archive::continuity(&files, base_start),
        base_start,
        record: Record::read(&dir),
        max_delay: t.pitr.as_ref().map(|p| p.wal_max_delay).unwrap_or_default(),
    })
}
