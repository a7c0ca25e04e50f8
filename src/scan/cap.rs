//! The findings cap: a report lists at most [`PER_RULE_AND_FILE`] findings of one rule in
//! one file, and one summary finding for the rest. A valid 2 MiB compose file of 100 000
//! empty services makes some 800 000 findings; listed in full they cost gigabytes of
//! memory and hundreds of MiB of report, and the CI job that scans a hostile pull request
//! is the one that pays. The summary keeps the rule and the highest severity of what it
//! stands for, so `--fail-on` decides exactly as it would on the full list.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::finding::Finding;
use super::paths;
use super::suppress::Suppressed;

/// The most findings of one rule in one file a report lists. A hand-written project has
/// tens of services and a generated stack a few hundred at most: 200 lists most of them
/// whole, one finding of each service. Past that, the 201st listing of the same rule in
/// the same file tells a reader nothing the first 200 did not, and GitHub code scanning
/// keeps only 5,000 results of a run anyway, so one rule must not crowd out the others.
pub const PER_RULE_AND_FILE: usize = 200;

/// The findings as a report lists them: for each rule and file, the first
/// [`PER_RULE_AND_FILE`] in `findings`' order, then one summary in place of the rest
/// (at the first of them), with their count, the highest of their severities and every
/// environment they were seen in. `root` is the folder the summary's message names the
/// file relative to, as the reports do.
pub fn findings(findings: Vec<Finding>, root: &Path) -> Vec<Finding> {
    let mut listed: HashMap<(String, PathBuf), usize> = HashMap::new();
    // Index in `out` of each (rule, file)'s summary, and how many it stands for.
    let mut summaries: HashMap<(String, PathBuf), (usize, usize)> = HashMap::new();
    let mut out = Vec::new();
    for f in findings {
        let key = (f.rule.clone(), f.file.clone());
        let n = listed.entry(key.clone()).or_default();
        if *n < PER_RULE_AND_FILE {
            *n += 1;
            out.push(f);
            continue;
        }
        match summaries.get_mut(&key) {
            Some((i, count)) => {
                *count += 1;
                let s = &mut out[*i];
                s.severity = s.severity.max(f.severity);
                for e in f.environments {
                    if !s.environments.contains(&e) {
                        s.environments.push(e);
                    }
                }
            }
            None => {
                summaries.insert(key, (out.len(), 1));
                out.push(f);
            }
        }
    }
    for ((rule, file), (i, count)) in summaries {
        let s = &mut out[i];
        s.message = format!(
            "… and {} more finding{} of {rule} in {} not listed (a report lists at most {PER_RULE_AND_FILE} of one rule in one file)",
            thousands(count),
            if count == 1 { "" } else { "s" },
            paths::relative(root, &file),
        );
        s.service = None;
        s.related.clear();
        // What the summary is about: stable, so its SARIF alert keeps its fingerprint.
        s.key = "findings not listed".to_string();
        s.unlisted = count;
    }
    out
}

/// `suppressed` as a report lists it: at most [`PER_RULE_AND_FILE`] of one rule in one
/// file, with the count of those left out.
pub fn suppressed(list: Vec<Suppressed>) -> (Vec<Suppressed>, usize) {
    let mut listed: HashMap<(String, PathBuf), usize> = HashMap::new();
    let mut left_out = 0;
    let mut out = Vec::new();
    for s in list {
        let n = listed.entry((s.finding.rule.clone(), s.finding.file.clone())).or_default();
        if *n < PER_RULE_AND_FILE {
            *n += 1;
            out.push(s);
        } else {
            left_out += 1;
        }
    }
    (out, left_out)
}

/// `12345` -> `12,345`: counts as people read them.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Severity;

    fn many(rule: &'static str, file: &str, n: usize) -> Vec<Finding> {
        (1..=n).map(|i| Finding::new(rule, file, i, 1, "m").service(&format!("s{i}")).key("k")).collect()
    }

    #[test]
    fn keeps_the_first_of_each_rule_and_file_and_sums_up_the_rest() {
        let extra = 12_345;
        let mut all = many("CMP012", "/p/compose.yaml", PER_RULE_AND_FILE + extra);
        // One of the rest is more severe than the rule's own: the summary must carry it.
        all[PER_RULE_AND_FILE + 7].severity = Severity::Critical;
        all[PER_RULE_AND_FILE + 9].environments = vec!["prod".into()];
        all.extend(many("CMP013", "/p/compose.yaml", 3));
        all.extend(many("CMP012", "/p/other.yaml", PER_RULE_AND_FILE));
        let out = findings(all, Path::new("/p"));

        assert_eq!(out.len(), PER_RULE_AND_FILE + 1 + 3 + PER_RULE_AND_FILE);
        let of = |rule: &str, file: &str| {
            out.iter().filter(|f| f.rule == rule && f.file == Path::new(file)).collect::<Vec<_>>()
        };
        let cmp012 = of("CMP012", "/p/compose.yaml");
        assert_eq!(cmp012.len(), PER_RULE_AND_FILE + 1);
        assert!(cmp012[..PER_RULE_AND_FILE].iter().enumerate().all(|(i, f)| f.line == i + 1 && f.unlisted == 0));
        let summary = cmp012[PER_RULE_AND_FILE];
        assert_eq!(summary.unlisted, extra);
        assert_eq!(summary.severity, Severity::Critical);
        assert_eq!(summary.line, PER_RULE_AND_FILE + 1, "at the first finding not listed");
        assert_eq!(summary.service, None);
        assert_eq!(summary.environments, ["prod"]);
        assert!(
            summary.message.contains("… and 12,345 more findings of CMP012 in compose.yaml not listed"),
            "{}",
            summary.message
        );
        assert_eq!(of("CMP013", "/p/compose.yaml").len(), 3);
        assert!(of("CMP012", "/p/other.yaml").iter().all(|f| f.unlisted == 0), "exactly the cap: no summary");
        // The gate sees what it saw on the full list.
        assert!(out.iter().any(|f| f.severity == Severity::Critical));
    }

    #[test]
    fn suppressed_findings_are_listed_to_the_cap_and_counted() {
        let by = crate::scan::suppress::Ignore {
            rule: "CMP012".into(),
            service: None,
            reason: Some("r".into()),
            file: "/p/ccops.yaml".into(),
            line: 1,
            col: 1,
        };
        let list = many("CMP012", "/p/compose.yaml", PER_RULE_AND_FILE + 5)
            .into_iter()
            .map(|finding| Suppressed { finding, by: by.clone() })
            .collect();
        let (kept, left_out) = suppressed(list);
        assert_eq!((kept.len(), left_out), (PER_RULE_AND_FILE, 5));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        let got: Vec<String> = [0, 7, 999, 1_000, 12_345, 1_234_567].into_iter().map(thousands).collect();
        assert_eq!(got, ["0", "7", "999", "1,000", "12,345", "1,234,567"]);
    }
}
