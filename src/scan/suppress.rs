//! Suppressions: `scan.ignore` in ccops.yaml and `x-ccops-ignore` on a compose service (or
//! at the top of a compose file, for every service). A suppressed finding is counted, not
//! listed; a suppression without a reason, or of a rule that does not exist, is a finding
//! of its own (SUP001, SUP002), which nothing suppresses.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::compose::{Files, Service};
use super::finding::Finding;
use super::rules::catalog;
use super::yaml::Node;
use crate::config::ConfigError;

/// An ignore covers the findings of `rule` (in any case) of `service`, or of the services
/// a finding is `related` to; see [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub rule: String,
    /// None: every service (and findings of no service).
    pub service: Option<String>,
    pub reason: Option<String>,
    /// Where it is written, for SUP findings and the JSON report.
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

/// A finding left out of the report, and why.
#[derive(Debug, Clone)]
pub struct Suppressed {
    pub finding: Finding,
    pub by: Ignore,
}

/// `scan:` of ccops.yaml. Its shape is checked here (exit 2 with the line) because a
/// suppression that silently does not apply is worse than none.
pub fn from_config(path: &Path, scan: Option<&Node>) -> Result<Vec<Ignore>> {
    let bad = |n: &Node, msg: String| -> anyhow::Error {
        ConfigError::at(path, Some(n.pos.line), Some(n.pos.col), msg).into()
    };
    let Some(scan) = scan.filter(|n| !n.is_null()) else { return Ok(Vec::new()) };
    if !scan.is_map() {
        return Err(bad(scan, "`scan` must be a mapping (with `ignore:`)".into()));
    }
    for (k, _) in scan.as_map() {
        if k.as_str() != Some("ignore") {
            return Err(bad(
                k,
                format!("unknown key `{}` in `scan`; did you mean `ignore`?", k.as_str().unwrap_or("?")),
            ));
        }
    }
    let mut out = Vec::new();
    for item in scan.get("ignore").map(Node::as_seq).unwrap_or_default() {
        if !item.is_map() {
            return Err(bad(
                item,
                "each `scan.ignore` entry is a mapping: {rule: ID, service: NAME, reason: \"...\"}".into(),
            ));
        }
        for (k, _) in item.as_map() {
            let key = k.as_str().unwrap_or("?");
            if !["rule", "service", "reason"].contains(&key) {
                let hint = crate::config::closest(key, ["rule", "service", "reason"])
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(bad(k, format!("unknown key `{key}` in a `scan.ignore` entry{hint}")));
            }
        }
        let Some(rule) = item.get("rule").and_then(Node::as_str) else {
            return Err(bad(item, "a `scan.ignore` entry needs `rule:` (e.g. CMP012)".into()));
        };
        out.push(Ignore {
            rule: rule.trim().to_string(),
            service: item.get("service").and_then(Node::as_str).map(str::to_string),
            reason: item
                .get("reason")
                .and_then(Node::as_str)
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            file: path.to_path_buf(),
            line: item.pos.line,
            col: item.pos.col,
        });
    }
    Ok(out)
}

/// `x-ccops-ignore` of a service (`service` Some) or of the whole file. Three forms:
/// `[CMP012]`, `[{rule: CMP012, reason: "..."}]` and `{CMP012: "reason"}`.
pub fn from_node(node: Option<&Node>, service: Option<&str>, files: &Files) -> Vec<Ignore> {
    let Some(node) = node.filter(|n| !n.is_null()) else { return Vec::new() };
    let make = |rule: &str, reason: Option<&str>, at: &Node| Ignore {
        rule: rule.trim().to_string(),
        service: service.map(str::to_string),
        reason: reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_string),
        file: files.path(at.pos.file).to_path_buf(),
        line: at.pos.line,
        col: at.pos.col,
    };
    let mut out = Vec::new();
    if node.is_map() {
        for (k, v) in node.as_map() {
            if let Some(rule) = k.as_str() {
                out.push(make(rule, v.as_str(), k));
            }
        }
        return out;
    }
    for item in node.as_seq() {
        match (item.as_str(), item.get("rule").and_then(Node::as_str)) {
            (Some(rule), _) => out.push(make(rule, None, item)),
            (None, Some(rule)) => out.push(make(rule, item.get("reason").and_then(Node::as_str), item)),
            (None, None) => crate::output::warn(format!(
                "scan: {}:{}: an `x-ccops-ignore` entry needs a rule ID; ignored",
                files.path(item.pos.file).display(),
                item.pos.line
            )),
        }
    }
    out
}

/// `x-ccops-ignore` of a service.
pub fn of_service(svc: &Service<'_>, files: &Files) -> Vec<Ignore> {
    from_node(svc.node.get("x-ccops-ignore"), Some(svc.name), files)
}

/// A rule ID that looks like one of ccops' own but is not in the catalogue. IDs with a
/// dash (CVE-..., GHSA-...) belong to trivy and are taken as written.
fn unknown_rule(id: &str) -> bool {
    catalog::find(&id.to_ascii_uppercase()).is_none() && !id.contains('-')
}

/// SUP001 and SUP002 for every suppression, each reported once.
pub fn check(ignores: &[Ignore]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: HashSet<(String, PathBuf, usize, String)> = HashSet::new();
    for i in ignores {
        let mut push = |f: Finding| {
            let f = match &i.service {
                Some(s) => f.service(s),
                None => f,
            };
            if seen.insert((f.rule.clone(), f.file.clone(), f.line, f.key.clone())) {
                out.push(f);
            }
        };
        if i.reason.is_none() {
            push(
                Finding::new("SUP001", &i.file, i.line, i.col, format!("suppression of {} has no reason", i.rule))
                    .key(&i.rule),
            );
        }
        if unknown_rule(&i.rule) {
            push(
                Finding::new("SUP002", &i.file, i.line, i.col, format!("suppression of `{}`: no such rule", i.rule))
                    .key(&i.rule),
            );
        }
    }
    out
}

/// Split findings into those reported and those an ignore covers.
pub fn apply(findings: Vec<Finding>, ignores: &[Ignore]) -> (Vec<Finding>, Vec<Suppressed>) {
    // The first ignore that matches, found by (rule, service) instead of by trying each:
    // a compose file of 10 000 services, each with its `x-ccops-ignore`, must not compare
    // every finding with every suppression.
    let mut first: HashMap<(String, Option<&str>), usize> = HashMap::new();
    for (n, i) in ignores.iter().enumerate() {
        first.entry((i.rule.to_ascii_uppercase(), i.service.as_deref())).or_insert(n);
    }
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    for f in findings {
        let rule = f.rule.to_ascii_uppercase();
        let services = std::iter::once(None)
            .chain(f.service.as_deref().map(Some))
            .chain(f.related.iter().map(|r| Some(r.as_str())));
        let by = services.filter_map(|s| first.get(&(rule.clone(), s)).copied()).min();
        match by.filter(|_| !f.rule.starts_with("SUP")) {
            Some(n) => suppressed.push(Suppressed { finding: f, by: ignores[n].clone() }),
            None => kept.push(f),
        }
    }
    (kept, suppressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::yaml;

    fn node(text: &str) -> Node {
        yaml::parse(text, 0).unwrap()
    }

    #[test]
    fn config_entries_and_their_errors() {
        let p = Path::new("/x/ccops.yaml");
        let n = node("scan:\n  ignore:\n    - {rule: CMP012, service: worker, reason: slice}\n    - rule: CMP019\n");
        let ig = from_config(p, n.get("scan")).unwrap();
        assert_eq!(ig.len(), 2);
        assert_eq!((ig[0].service.as_deref(), ig[0].reason.as_deref(), ig[0].line), (Some("worker"), Some("slice"), 3));
        assert_eq!((ig[1].reason.as_deref(), ig[1].line), (None, 4));
        let n = node("scan:\n  ignore:\n    - {rule: CMP012, resaon: x}\n");
        let e = from_config(p, n.get("scan")).unwrap_err().to_string();
        assert!(e.contains("ccops.yaml:3:") && e.contains("did you mean `reason`"), "{e}");
        let n = node("scan:\n  ignroe: []\n");
        assert!(from_config(p, n.get("scan")).is_err());
    }

    #[test]
    fn service_forms_and_sup_findings() {
        let mut files = Files::default();
        files.add(Path::new("/x/compose.yaml"));
        let list = node("x: [CMP001, {rule: CMP019, reason: writes to /tmp}, {rule: CMP99, reason: typo}]\n");
        let ig = from_node(list.get("x"), Some("web"), &files);
        assert_eq!(ig.len(), 3);
        let map = node("x: {CMP012: \"host slice\"}\n");
        assert_eq!(from_node(map.get("x"), Some("web"), &files)[0].reason.as_deref(), Some("host slice"));
        let sup = check(&ig);
        let ids: Vec<_> = sup.iter().map(|f| (f.rule.as_str(), f.key.as_str())).collect();
        assert_eq!(ids, [("SUP001", "CMP001"), ("SUP002", "CMP99")]);
        assert!(check(&from_node(map.get("x"), Some("web"), &files)).is_empty());
        assert!(!unknown_rule("CVE-2024-1234"));
    }

    #[test]
    fn apply_matches_rule_and_service() {
        let ig = Ignore {
            rule: "CMP012".into(),
            service: Some("worker".into()),
            reason: None,
            file: "c".into(),
            line: 1,
            col: 1,
        };
        let f = |svc: &str| Finding::new("CMP012", "f", 1, 1, "m").service(svc);
        let mut built = Finding::new("CMP012", "Dockerfile", 1, 1, "m");
        built.related = vec!["worker".into()];
        let (kept, sup) = apply(vec![f("worker"), f("web"), built, Finding::new("SUP001", "c", 1, 1, "m")], &[ig]);
        assert_eq!(sup.len(), 2);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].service.as_deref(), Some("web"));
    }

    #[test]
    fn apply_takes_the_first_matching_ignore_by_service_or_related() {
        let ig = |rule: &str, service: Option<&str>, reason: &str| Ignore {
            rule: rule.into(),
            service: service.map(str::to_string),
            reason: Some(reason.into()),
            file: PathBuf::from("c"),
            line: 1,
            col: 1,
        };
        let ignores = [ig("cmp012", Some("b"), "first"), ig("CMP012", None, "all"), ig("CMP013", Some("a"), "a")];
        let mut shared = Finding::new("CMP012", "Dockerfile", 1, 1, "m");
        shared.related = vec!["a".into(), "b".into()];
        let own = Finding::new("CMP013", "c", 2, 1, "m").service("a");
        let other = Finding::new("CMP013", "c", 3, 1, "m").service("z");
        let (kept, sup) = apply(vec![shared, own, other], &ignores);
        let reasons: Vec<_> = sup.iter().map(|s| s.by.reason.as_deref().unwrap()).collect();
        assert_eq!(reasons, ["first", "a"]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].service.as_deref(), Some("z"));
    }
}
