//! The steps of a deploy or rollback: each announced on stderr as it starts
//! (`[4/10] backup`), timed, and recorded in the release with how it ended.

use std::time::Instant;

use super::record::StepRecord;
use crate::output;

pub struct Steps {
    total: usize,
    n: usize,
    current: Option<(String, Instant)>,
    pub records: Vec<StepRecord>,
}

impl Steps {
    pub fn new(total: usize) -> Steps {
        Steps { total, n: 0, current: None, records: Vec::new() }
    }

    /// Start step `name`; the previous one, if still open, is closed as ok.
    pub fn begin(&mut self, name: &str, title: impl AsRef<str>) {
        if self.current.is_some() {
            self.ok("");
        }
        self.n += 1;
        output::status(format!("[{}/{}] {}", self.n, self.total, title.as_ref()));
        self.current = Some((name.to_string(), Instant::now()));
    }

    /// Close the current step as ok.
    pub fn ok(&mut self, detail: impl Into<String>) {
        self.close("ok", detail.into());
    }

    /// A step that does not apply this time, announced and recorded.
    pub fn skip(&mut self, name: &str, title: impl AsRef<str>, why: impl Into<String>) {
        self.begin(name, title);
        let why = why.into();
        output::status(format!("  skipped: {why}"));
        self.close("skipped", why);
    }

    /// Close the current step as failed (or interrupted) with the error.
    pub fn fail(&mut self, e: &anyhow::Error) {
        let status =
            if crate::error::classify(e) == crate::status::ExitStatus::Interrupted { "interrupted" } else { "failed" };
        self.close(status, format!("{e:#}"));
    }

    /// The name of the step that is open (where a failure happened).
    pub fn open(&self) -> Option<&str> {
        self.current.as_ref().map(|(n, _)| n.as_str())
    }

    fn close(&mut self, status: &str, detail: String) {
        if let Some((name, t)) = self.current.take() {
            self.records.push(StepRecord {
                name,
                status: status.into(),
                duration_ms: t.elapsed().as_millis() as u64,
                detail,
            });
        }
    }
}
