//! The drill report: the time of each step and the recovery time (RTO) they add up to,
//! what was restored, the checks; `--json` prints it as it is, [`render`] as tables.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::checks;
use crate::output;

/// How long one step took; `in_rto` when it is part of the recovery time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepTime {
    pub step: &'static str,
    pub seconds: f64,
    pub in_rto: bool,
}

/// What was restored.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Data {
    pub bytes: u64,
    pub components: Vec<Component>,
    /// Keys per Redis service after the restore.
    pub redis_keys: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Component {
    pub kind: &'static str,
    pub name: String,
    pub bytes: u64,
}

/// The drill report: `--json` prints it as it is.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub id: String,
    /// `local`, or the remote it was downloaded from.
    pub source: String,
    /// The copy's compose project name.
    pub copy: String,
    pub ok: bool,
    pub steps: Vec<StepTime>,
    /// download + verify + prepare + restore + healthy: the time from "we need this set"
    /// to "the application answers on it".
    pub rto_seconds: f64,
    pub target_rto_seconds: Option<f64>,
    pub within_target: Option<bool>,
    pub checks: Vec<checks::Outcome>,
    pub data: Data,
    /// What failed, when the drill did not get through.
    pub error: Option<String>,
    /// What teardown removed from the engine.
    pub removed: Vec<String>,
}

impl Report {
    pub(super) fn step(&mut self, step: &'static str, since: Instant, in_rto: bool) {
        let seconds = (since.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        output::status(format!("  {step}: {}", crate::util::human_duration(since.elapsed())));
        self.steps.push(StepTime { step, seconds, in_rto });
        self.rto_seconds =
            (self.steps.iter().filter(|s| s.in_rto).map(|s| s.seconds).sum::<f64>() * 10.0).round() / 10.0;
    }
}

/// The report as tables: steps with their times and the RTO, then the checks.
pub fn render(r: &Report) -> String {
    let mut t = output::table(&["STEP", "TIME", "IN RTO"]);
    for st in &r.steps {
        t.add_row(vec![
            st.step.to_string(),
            crate::util::human_duration(Duration::from_secs_f64(st.seconds)),
            if st.in_rto { "yes" } else { "" }.to_string(),
        ]);
    }
    let rto = crate::util::human_duration(Duration::from_secs_f64(r.rto_seconds));
    let target = match (r.target_rto_seconds, r.within_target) {
        (Some(t), Some(ok)) => format!(
            " (target {}: {})",
            crate::util::human_duration(Duration::from_secs_f64(t)),
            if ok { "met" } else { "MISSED" }
        ),
        _ => String::new(),
    };
    let mut out = format!("drill of backup {} ({}) in copy `{}`\n{t}\nRTO {rto}{target}\n", r.id, r.source, r.copy);
    let comps: Vec<String> = r.data.components.iter().map(|c| format!("{} {}", c.kind, c.name)).collect();
    out.push_str(&format!("data: {}, {}", crate::util::human_bytes(r.data.bytes), comps.join(", ")));
    for (svc, n) in &r.data.redis_keys {
        out.push_str(&format!(", redis `{svc}` {n} keys"));
    }
    out.push('\n');
    if !r.checks.is_empty() {
        let mut c = output::table(&["CHECK", "KIND", "RESULT", "EXPECTED", "GOT"]);
        for x in &r.checks {
            c.add_row(vec![
                x.name.clone(),
                x.kind.to_string(),
                if x.ok { "OK" } else { "FAIL" }.to_string(),
                x.expected.clone(),
                x.got.clone(),
            ]);
        }
        out.push_str(&format!("{c}\n"));
    }
    out.push_str(if r.ok { "result: PASSED" } else { "result: FAILED" });
    if let Some(e) = &r.error {
        out.push_str(&format!(" ({e})"));
    }
    out
}
