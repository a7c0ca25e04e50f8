//! `--image`: trivy's vulnerability findings for the project's images, merged into the
//! report under trivy's own IDs (CVE-..., GHSA-...). trivy is optional: without it the
//! scan says so once and goes on.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::finding::{Finding, Severity};

/// An image to scan, and where the compose file names it.
#[derive(Debug, Clone)]
pub struct ImageTarget {
    pub image: String,
    pub service: String,
    /// Other services that run the same image (their suppressions apply too).
    pub also: Vec<String>,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    #[serde(default)]
    results: Vec<TrivyResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    #[serde(default)]
    target: String,
    #[serde(default)]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    pkg_name: String,
    #[serde(default)]
    installed_version: String,
    #[serde(default)]
    fixed_version: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    title: String,
    #[serde(rename = "PrimaryURL", default)]
    primary_url: String,
}

fn severity(s: &str) -> Severity {
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Info,
    }
}

/// Findings of one `trivy image --format json` document.
pub fn parse(json: &str, t: &ImageTarget) -> Result<Vec<Finding>> {
    let doc: Output = serde_json::from_str(json).context("trivy printed something that is not its JSON report")?;
    let mut out: Vec<Finding> = Vec::new();
    for r in doc.results {
        for v in r.vulnerabilities {
            let key = format!("{}:{}:{}", t.image, v.pkg_name, v.installed_version);
            if out.iter().any(|f| f.rule == v.id && f.key == key) {
                continue;
            }
            let title = if v.title.is_empty() { v.id.clone() } else { v.title.clone() };
            let message =
                format!("`{}` {} in image `{}` ({}): {title}", v.pkg_name, v.installed_version, t.image, r.target);
            let fix = if v.fixed_version.is_empty() {
                "No fixed version yet: watch the advisory, or move to a base image without the package.".to_string()
            } else {
                format!(
                    "Upgrade `{}` to {} (rebuild on a newer base image or bump the image tag).",
                    v.pkg_name, v.fixed_version
                )
            };
            let mut f = Finding::external(&v.id, severity(&v.severity), &title, &t.file, t.line, t.column, message)
                .service(&t.service)
                .key(key)
                .fix(fix);
            f.help_uri = (!v.primary_url.is_empty()).then_some(v.primary_url);
            f.related.clone_from(&t.also);
            out.push(f);
        }
    }
    Ok(out)
}

/// Run trivy on each image. None when trivy is not installed.
pub fn scan(targets: &[ImageTarget]) -> Option<Vec<Finding>> {
    let probe = Command::new("trivy")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return None;
    }
    let mut out = Vec::new();
    for t in targets {
        crate::output::status(format!("trivy: scanning image {}", t.image));
        let run = Command::new("trivy")
            .args(["image", "--format", "json", "--quiet", &t.image])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        let o = match run {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                crate::output::warn(format!("trivy could not run on `{}`: {e}; image skipped", t.image));
                continue;
            }
            Ok(o) => o,
        };
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
            crate::output::warn(format!("trivy failed on `{}` ({last}); image skipped", t.image));
            continue;
        }
        match parse(&String::from_utf8_lossy(&o.stdout), t) {
            Ok(f) => out.extend(f),
            Err(e) => crate::output::warn(format!("`{}`: {e:#}; image skipped", t.image)),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANNED: &str = r#"{
      "SchemaVersion": 2,
      "ArtifactName": "postgres:15",
      "Results": [
        {"Target": "postgres:15 (debian 12.5)", "Class": "os-pkgs", "Type": "debian",
         "Vulnerabilities": [
           {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.11",
            "FixedVersion": "3.0.13", "Severity": "HIGH", "Title": "openssl: a flaw",
            "PrimaryURL": "https://avd.aquasec.com/nvd/cve-2024-0001"},
           {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.11", "Severity": "HIGH"},
           {"VulnerabilityID": "CVE-2023-9999", "PkgName": "zlib", "InstalledVersion": "1.2", "Severity": "UNKNOWN"}
         ]},
        {"Target": "usr/local/bin/gosu", "Class": "lang-pkgs", "Type": "gobinary"}
      ]
    }"#;

    #[test]
    fn merges_vulnerabilities_under_their_own_ids() {
        let t = ImageTarget {
            image: "postgres:15".into(),
            service: "db".into(),
            also: vec!["replica".into()],
            file: "/p/compose.yaml".into(),
            line: 7,
            column: 12,
        };
        let f = parse(CANNED, &t).unwrap();
        assert_eq!(f.len(), 2, "duplicates are merged");
        assert_eq!((f[0].rule.as_str(), f[0].severity, f[0].line), ("CVE-2024-0001", Severity::High, 7));
        assert_eq!(f[0].service.as_deref(), Some("db"));
        assert!(f[0].fix.contains("3.0.13"), "{}", f[0].fix);
        assert_eq!(f[0].help_uri.as_deref(), Some("https://avd.aquasec.com/nvd/cve-2024-0001"));
        assert_eq!(f[0].related, ["replica"]);
        assert_eq!((f[1].rule.as_str(), f[1].severity), ("CVE-2023-9999", Severity::Info));
        assert!(f[1].fix.starts_with("No fixed version"));
        assert!(parse("not json", &t).is_err());
    }
}
