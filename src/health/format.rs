//! The four renderings of a health report: table, json, nagios, prometheus.

use super::{Report, Status};
use crate::output;

pub fn table(r: &Report) -> String {
    let mut t = output::table(&["CHECK", "KIND", "STATUS", "DETAIL", "TIME"]);
    for c in &r.checks {
        t.add_row(vec![
            c.name.clone(),
            c.kind.to_string(),
            c.status.word().to_uppercase(),
            c.detail.clone(),
            format!("{} ms", c.duration.as_millis()),
        ]);
    }
    t.to_string()
}

/// The one-line verdict for stderr after a table.
pub fn summary(r: &Report) -> String {
    let failing: Vec<&str> = r.checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.name.as_str()).collect();
    let warning: Vec<&str> = r.checks.iter().filter(|c| c.status == Status::Warn).map(|c| c.name.as_str()).collect();
    let mut s = match r.status {
        Status::Ok => format!("healthy: all {} checks pass", r.checks.len()),
        Status::Warn => format!("healthy with warnings: {} of {} checks warn", warning.len(), r.checks.len()),
        Status::Fail => {
            format!("unhealthy: {} of {} checks fail ({})", failing.len(), r.checks.len(), failing.join(", "))
        }
    };
    if r.status == Status::Fail && !warning.is_empty() {
        s.push_str(&format!("; warnings: {}", warning.join(", ")));
    }
    s
}

pub fn json(r: &Report) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or_default()
}

/// Nagios plugin output: one line, `STATUS - summary | perfdata`, exit 0/1/2/3.
pub fn nagios(r: &Report) -> (String, u8) {
    let (word, code) = match r.status {
        Status::Ok => ("OK", 0),
        Status::Warn => ("WARNING", 1),
        Status::Fail => ("CRITICAL", 2),
    };
    let bad: Vec<String> =
        r.failing().map(|c| format!("{} {} ({})", c.name, c.status.word(), one_line(&c.detail))).collect();
    let text = if bad.is_empty() { format!("{} checks ok", r.checks.len()) } else { bad.join("; ") };
    let mut perf = vec![
        format!("checks={}", r.checks.len()),
        format!("failing={}", r.checks.iter().filter(|c| c.status == Status::Fail).count()),
        format!("warning={}", r.checks.iter().filter(|c| c.status == Status::Warn).count()),
    ];
    for c in &r.checks {
        perf.push(format!("'{}_time'={:.3}s", label(&c.name), c.duration.as_secs_f64()));
        // A metric `X_warn` / `X_crit` is the threshold of `X`: `'check_X'=v;warn;crit`.
        let threshold = |name: &str| c.metrics.iter().find(|m| m.0 == name).map(|m| format!("{}", m.1));
        for (name, v, unit) in &c.metrics {
            let companion = ["_warn", "_crit"]
                .iter()
                .any(|sfx| name.strip_suffix(sfx).is_some_and(|x| c.metrics.iter().any(|m| m.0 == x)));
            if *name == "time" || companion {
                continue;
            }
            let (warn, crit) = (threshold(&format!("{name}_warn")), threshold(&format!("{name}_crit")));
            let limits = match (warn, crit) {
                (None, None) => String::new(),
                (w, c) => format!(";{};{}", w.unwrap_or_default(), c.unwrap_or_default()),
            };
            perf.push(format!("'{}_{}'={v:.3}{unit}{limits}", label(&c.name), name));
        }
    }
    (format!("CCOPS {word} - {}: {text} | {}", r.project, perf.join(" ")), code)
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '|'], " ")
}

fn label(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Prometheus text exposition format (version 0.0.4).
pub fn prometheus(r: &Report) -> String {
    let base = format!("project=\"{}\",environment=\"{}\"", esc(&r.project), esc(&r.environment));
    let mut out = String::new();
    let mut family = |name: &str, help: &str, rows: Vec<(String, f64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, v) in rows {
            out.push_str(&format!("{name}{{{labels}}} {v}\n"));
        }
    };
    let per = |f: &dyn Fn(&super::CheckResult) -> f64| -> Vec<(String, f64)> {
        r.checks.iter().map(|c| (format!("{base},check=\"{}\",kind=\"{}\"", esc(&c.name), c.kind), f(c))).collect()
    };
    family(
        "ccops_health_check_up",
        "Whether the check passes (1) or not (0); warnings count as passing.",
        per(&|c| f64::from(u8::from(c.status != Status::Fail))),
    );
    family("ccops_health_check_status", "Check status: 0 ok, 1 warning, 2 failing.", per(&|c| status_num(c.status)));
    family("ccops_health_check_duration_seconds", "How long the check took.", per(&|c| c.duration.as_secs_f64()));
    for super::resources::Series { name, help, rows } in super::resources::series(r) {
        let rows = rows.into_iter().map(|(service, v)| (format!("{base},service=\"{}\"", esc(&service)), v));
        family(name, help, rows.collect());
    }
    family(
        "ccops_health_status",
        "Overall status: 0 ok, 1 warning, 2 failing.",
        vec![(base.clone(), status_num(r.status))],
    );
    out
}

fn status_num(s: Status) -> f64 {
    match s {
        Status::Ok => 0.0,
        Status::Warn => 1.0,
        Status::Fail => 2.0,
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::CheckResult;
    use std::time::Duration;

    fn report(statuses: &[Status]) -> Report {
        Report {
            project: "p".into(),
            environment: "prod".into(),
            status: statuses.iter().copied().max().unwrap_or(Status::Ok),
            checked_at: "now".into(),
            duration: Duration::from_millis(5),
            checks: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| CheckResult {
                    name: format!("c{i}"),
                    kind: "http",
                    status: *s,
                    detail: "HTTP 503 | x".into(),
                    duration: Duration::from_millis(12),
                    metrics: vec![("time".into(), 0.012, "s")],
                })
                .collect(),
        }
    }

    #[test]
    fn nagios_is_one_line_with_the_plugin_codes() {
        let (line, code) = nagios(&report(&[Status::Ok, Status::Fail]));
        assert_eq!(code, 2);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("CCOPS CRITICAL - p: c1 fail (HTTP 503   x) | checks=2 failing=1 warning=0"),
            "{line}"
        );
        assert_eq!(nagios(&report(&[Status::Warn])).1, 1);
        assert_eq!(nagios(&report(&[Status::Ok])).1, 0);
    }

    #[test]
    fn prometheus_has_help_type_and_labels() {
        let text = prometheus(&report(&[Status::Ok, Status::Fail]));
        assert!(text.contains("# TYPE ccops_health_check_up gauge"));
        assert!(
            text.contains("ccops_health_check_up{project=\"p\",environment=\"prod\",check=\"c1\",kind=\"http\"} 0")
        );
        assert!(text.contains("ccops_health_status{project=\"p\",environment=\"prod\"} 2"));
    }
}
