//! `--format sarif`: SARIF 2.1.0 as GitHub code scanning reads it. Paths are relative to
//! the repository root when the project is in a git checkout (so alerts land on the
//! right files), else to the scanned folder, under `uriBaseId` `%SRCROOT%`. Fingerprints
//! hash rule, file, service and key, never the line, so moved code keeps its alert.

use serde_json::{Value, json};

use super::View;
use crate::scan::finding::{Finding, Severity, severity_name};
use crate::scan::paths;
use crate::scan::rules::catalog::{self, RULES};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where the tool is documented: the package's repository or homepage.
fn information_uri() -> &'static str {
    [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("https://crates.io/crates/ccops")
}

fn rule_doc(id: &str) -> Option<String> {
    let repo = env!("CARGO_PKG_REPOSITORY");
    (!repo.is_empty())
        .then(|| format!("{}/blob/main/docs/commands/scan.md#{}", repo.trim_end_matches('/'), id.to_ascii_lowercase()))
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's 0-10 scale: >= 9 critical, >= 7 high, >= 4 medium, else low.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// `CMP001` -> `ServiceRunsPrivileged`: SARIF's readable rule name.
fn pascal(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn descriptor(
    id: &str,
    severity: Severity,
    title: &str,
    why: &str,
    fix: &str,
    tags: &[&str],
    help_uri: Option<String>,
) -> Value {
    let mut r = json!({
        "id": id,
        "name": pascal(title),
        "shortDescription": { "text": title },
        "fullDescription": { "text": why },
        "help": {
            "text": format!("{why}\nFix: {fix}"),
            "markdown": format!("{why}\n\n**Fix:** {fix}"),
        },
        "defaultConfiguration": { "level": level(severity) },
        "properties": {
            "security-severity": security_severity(severity),
            "problem.severity": if level(severity) == "note" { "recommendation" } else { level(severity) },
            "precision": "high",
            "tags": tags,
        },
    });
    if let Some(uri) = help_uri {
        r["helpUri"] = json!(uri);
    }
    r
}

/// Catalogue rules first (stable indices), then external IDs in order of appearance.
fn rules(findings: &[&Finding]) -> (Vec<Value>, Vec<String>) {
    let mut ids: Vec<String> = RULES.iter().map(|r| r.id.to_string()).collect();
    let mut out: Vec<Value> =
        RULES.iter().map(|r| descriptor(r.id, r.severity, r.title, r.why, r.fix, r.tags, rule_doc(r.id))).collect();
    for f in findings {
        if catalog::find(&f.rule).is_none() && !ids.contains(&f.rule) {
            let why = format!("{} (reported by trivy)", f.title);
            out.push(descriptor(
                &f.rule,
                f.severity,
                &f.title,
                &why,
                &f.fix,
                &["security", "vulnerability", "image"],
                f.help_uri.clone(),
            ));
            ids.push(f.rule.clone());
        }
    }
    (out, ids)
}

pub fn render(v: &View<'_>) -> Value {
    let base =
        v.report.git_top.clone().filter(|top| v.report.root.starts_with(top)).unwrap_or_else(|| v.report.root.clone());
    let shown: Vec<&Finding> = v.shown().collect();
    let (rules, ids) = rules(&shown);
    let results: Vec<Value> = shown
        .iter()
        .map(|f| {
            let uri = paths::relative(&base, &f.file);
            let index = ids.iter().position(|id| *id == f.rule).unwrap_or(0);
            let text = if f.fix.is_empty() { f.message.clone() } else { format!("{}. Fix: {}", f.message, f.fix) };
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" },
                        "region": { "startLine": f.line.max(1), "startColumn": f.column.max(1) },
                    }
                }],
                "partialFingerprints": { "ccopsFindingHash/v1": f.fingerprint(&v.rel(&f.file)) },
                "properties": {
                    "severity": severity_name(f.severity),
                    "service": f.service,
                    "environments": f.environments,
                },
            });
            if f.unlisted > 0 {
                result["properties"]["unlisted"] = json!(f.unlisted);
            }
            result
        })
        .collect();
    let mut base_uri = format!("file://{}", base.display()).replace('\\', "/").replace(' ', "%20");
    if !base_uri.ends_with('/') {
        base_uri.push('/');
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ccops",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": information_uri(),
                    "rules": rules,
                }
            },
            "originalUriBaseIds": { "%SRCROOT%": { "uri": base_uri } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Report;

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            root: "/repo/app".into(),
            config: None,
            git_top: Some("/repo".into()),
            environments: vec!["default".into()],
            files: vec![],
            findings,
            suppressed: vec![],
            suppressed_unlisted: 0,
        }
    }

    #[test]
    fn results_point_into_the_repository_with_stable_rule_indices() {
        let f = Finding::new("SEC001", "/repo/app/compose.yaml", 9, 7, "m").service("db").key("DB_PASSWORD");
        let cve = Finding::external("CVE-2024-1", Severity::Critical, "t", "/repo/app/compose.yaml", 3, 5, "m");
        let r = report(vec![f, cve]);
        let doc = render(&View { report: &r, min: Severity::Info, fail_on: Severity::High });
        let run = &doc["runs"][0];
        let res = &run["results"][0];
        assert_eq!(res["ruleId"], "SEC001");
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][idx]["id"], "SEC001");
        assert_eq!(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "app/compose.yaml");
        assert_eq!(res["locations"][0]["physicalLocation"]["region"]["startLine"], 9);
        assert_eq!(res["level"], "error");
        let cve = &run["results"][1];
        assert_eq!(run["tool"]["driver"]["rules"][cve["ruleIndex"].as_u64().unwrap() as usize]["id"], "CVE-2024-1");
        assert_eq!(run["tool"]["driver"]["rules"][0]["properties"]["security-severity"], "9.5");
        assert_eq!(pascal("Image untagged or :latest"), "ImageUntaggedOrLatest");
    }
}
