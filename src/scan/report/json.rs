//! `--format json`: one document with the findings, the suppressed findings and a summary.

use serde_json::{Value, json};

use super::View;
use crate::scan::finding::{Finding, severity_name};

fn finding(v: &View<'_>, f: &Finding) -> Value {
    let file = v.rel(&f.file);
    let mut o = json!({
        "rule": f.rule,
        "severity": severity_name(f.severity),
        "title": f.title,
        "file": file,
        "line": f.line,
        "column": f.column,
        "service": f.service,
        "message": f.message,
        "fix": f.fix,
        "environments": f.environments,
        "fingerprint": f.fingerprint(&file),
    });
    // Only on the summaries of the findings cap: how many findings each stands for.
    if f.unlisted > 0 {
        o["unlisted"] = json!(f.unlisted);
    }
    o
}

pub fn render(v: &View<'_>) -> Value {
    let findings: Vec<Value> = v.shown().map(|f| finding(v, f)).collect();
    let suppressed: Vec<Value> = v
        .report
        .suppressed
        .iter()
        .map(|s| {
            let mut o = finding(v, &s.finding);
            o["reason"] = json!(s.by.reason);
            o["suppressed_by"] = json!({ "file": v.rel(&s.by.file), "line": s.by.line });
            o
        })
        .collect();
    let mut summary = json!({
        "total": findings.len(),
        "suppressed": v.suppressed(),
        "unlisted": v.unlisted(),
        "below_min_severity": v.hidden(),
        "min_severity": severity_name(v.min),
        "fail_on": severity_name(v.fail_on),
        "failed": v.failed(),
    });
    for (sev, n) in v.counts() {
        summary[severity_name(sev)] = json!(n);
    }
    json!({
        "tool": { "name": "ccops", "version": env!("CARGO_PKG_VERSION") },
        "root": v.report.root,
        "config": v.report.config.as_ref().map(|c| v.rel(c)),
        "environments": v.report.environments,
        "files": v.report.files.iter().map(|p| v.rel(p)).collect::<Vec<_>>(),
        "findings": findings,
        "suppressed": suppressed,
        "summary": summary,
    })
}
