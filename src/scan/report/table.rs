//! `--format table`: one table per file (severity, rule, service, line, message and fix),
//! then one summary line.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::View;
use crate::scan::cap::{PER_RULE_AND_FILE, thousands};
use crate::scan::finding::{Finding, severity_name};

pub fn render(v: &View<'_>) -> String {
    let mut by_file: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for f in v.shown() {
        by_file.entry(v.rel(&f.file)).or_default().push(f);
    }
    let mut out = String::new();
    for (file, findings) in &by_file {
        let mut t = crate::output::table(&["SEVERITY", "RULE", "SERVICE", "LINE", "MESSAGE"]);
        for f in findings {
            let message = if f.fix.is_empty() { f.message.clone() } else { format!("{}\nfix: {}", f.message, f.fix) };
            t.add_row(vec![
                severity_name(f.severity).to_string(),
                f.rule.clone(),
                f.service.clone().unwrap_or_else(|| "-".to_string()),
                f.line.to_string(),
                message,
            ]);
        }
        let _ = write!(out, "{file}\n{t}\n\n");
    }
    out.push_str(&summary(v));
    out
}

/// `5 findings (1 critical, 2 high, 2 low); 1 suppressed; 3 below --min-severity not shown`,
/// and how many the findings cap left out when it did.
pub fn summary(v: &View<'_>) -> String {
    let shown = v.shown().count();
    let mut s = if shown == 0 {
        format!("no findings in {} files", v.report.files.len())
    } else {
        let parts: Vec<String> = v
            .counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(sev, n)| format!("{n} {}", severity_name(sev)))
            .collect();
        format!("{shown} finding{} ({})", if shown == 1 { "" } else { "s" }, parts.join(", "))
    };
    let unlisted = v.unlisted();
    if unlisted > 0 {
        let _ = write!(
            s,
            "; {} more not listed (at most {} of one rule in one file)",
            thousands(unlisted),
            PER_RULE_AND_FILE
        );
    }
    let _ = write!(s, "; {} suppressed", v.suppressed());
    let hidden = v.hidden();
    if hidden > 0 {
        let _ = write!(s, "; {hidden} below --min-severity {} not shown", severity_name(v.min));
    }
    if v.failed() {
        let _ = write!(s, "; failing: findings at or above {}", severity_name(v.fail_on));
    }
    s
}
