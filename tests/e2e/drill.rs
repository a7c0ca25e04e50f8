//! `ccops backup drill` on the example stack: a set restored into a throwaway copy,
//! checked, timed and removed, while the live project stays exactly as it was; a set
//! from an empty database failing its row count; a set only on S3, with and without the
//! live project running; a drill killed with SIGKILL cleaned up by the next one.

use std::process::Command;

use crate::remote::{S3, newest_id, run};
use crate::stack::{Flavour, Stack};

/// The drill checks of these tests, with a webhook and a metrics textfile when given.
fn configure(s: &Stack, extra: &str) {
    s.edit(
        "ccops.yaml",
        "  compression: gzip\n",
        "  compression: gzip\n  drill:\n    target_rto: 10m\n    checks:\n      - name: notes\n        sql: \"SELECT * FROM notes\"\n        min_rows: 3\n      - name: first-note\n        sql: \"SELECT body FROM notes ORDER BY id LIMIT 1\"\n        equals: \"note 1\"\n      - name: sessions\n        redis_keys_min: 2\n      - name: document\n        file_exists: /app/storage/docs/a.txt\n        service: backend\n",
    );
    if !extra.is_empty() {
        let p = s.path().join("ccops.yaml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{text}\n{extra}\n")).unwrap();
    }
}

fn seed(s: &Stack, rows: u32) {
    s.psql("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text)");
    if rows > 0 {
        s.psql(&format!("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, {rows}) g"));
    }
    s.redis(&["SET", "session:a", "1"]);
    s.redis(&["SET", "session:b", "2"]);
    s.exec("backend", &["sh", "-c", "mkdir -p /app/storage/docs && echo 'hello docs' > /app/storage/docs/a.txt"]);
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything of the live project a drill must not change: its containers (IDs, states,
/// start times), volumes, network, and the data in each store.
fn live_state(s: &Stack) -> String {
    let label = format!("label=com.docker.compose.project={}", s.project);
    let mut out = docker(&["ps", "-a", "--no-trunc", "--filter", &label, "--format", "{{.ID}} {{.Names}} {{.State}}"]);
    let ids: Vec<String> = out.split_whitespace().step_by(3).map(String::from).collect();
    for id in ids {
        out += &docker(&["inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", &id]);
    }
    out += &docker(&["volume", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    out += &docker(&["network", "ls", "--filter", &label, "--format", "{{.ID}} {{.Name}}"]);
    out += &s.psql("SELECT count(*) || ':' || md5(coalesce(string_agg(body, ',' ORDER BY id), '')) FROM notes");
    let mut keys: Vec<String> = s.redis(&["KEYS", "*"]).lines().map(String::from).collect();
    keys.sort();
    out += &keys.join(",");
    out += &s.exec("backend", &["sh", "-c", "cd /app/storage && find . -type f -exec md5sum {} + | sort"]);
    out
}

/// Containers, volumes and networks of the copy still on the engine.
fn leftovers(copy: &str) -> Vec<String> {
    let label = format!("label=com.docker.compose.project={copy}");
    let mut v = Vec::new();
    for kind in [&["ps", "-a"][..], &["volume", "ls"], &["network", "ls"]] {
        let mut args = kind.to_vec();
        args.extend(["--filter", &label, "-q"]);
        v.extend(docker(&args).lines().map(|l| format!("{} {l}", kind[0])));
    }
    v
}

fn copy_of(s: &Stack, id: &str) -> String {
    format!("{}-drill-{}", s.project, id.replace('_', ""))
}

#[test]
fn a_drill_of_the_latest_set_passes_leaves_the_live_project_as_it_was_and_reports() {
    let hook = crate::notify::Hook::start();
    let s = Stack::up("drill", Flavour::V2);
    let prom = s.path().join("metrics/ccops.prom");
    // node_exporter's textfile folder exists before anything writes to it.
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    configure(
        &s,
        &format!(
            "notify:\n  webhook_url: {}\n  on: [failure, success]\nmetrics:\n  textfile: metrics/ccops.prom",
            hook.url("/hooks/drill")
        ),
    );
    s.edit("ccops.yaml", "  backup_max_age: 26h\n", "  backup_max_age: 26h\n  drill_max_age: 8d\n");
    seed(&s, 5);
    s.ccops(&["backup"]).code(0);
    let id = newest_id(&s);
    let drill_age = |s: &Stack| {
        let h = s.ccops(&["--json", "health"]).json();
        h["checks"].as_array().unwrap().iter().find(|c| c["name"] == "drill-age").cloned().unwrap()
    };
    assert_eq!(drill_age(&s)["status"], "fail", "no drill has passed yet");

    let before = live_state(&s);
    let r = s.ccops(&["--json", "backup", "drill"]);
    r.code(0).stderr_has("passed: RTO");
    let j = r.json();
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["id"], id.as_str());
    assert_eq!(j["source"], "local");
    let steps: Vec<&str> = j["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["prepare", "verify", "restore", "healthy", "checks", "teardown"]);
    let in_rto: f64 = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["in_rto"] == true)
        .map(|s| s["seconds"].as_f64().unwrap())
        .sum();
    let rto = j["rto_seconds"].as_f64().unwrap();
    assert!(rto > 0.0 && (rto - in_rto).abs() < 0.5, "{j}");
    assert_eq!(j["within_target"], true);
    let checks = j["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4);
    assert!(checks.iter().all(|c| c["ok"] == true), "{j}");
    assert_eq!(checks[0]["got"], "5");
    assert_eq!(j["data"]["components"].as_array().unwrap().len(), 3);
    assert!(j["data"]["redis_keys"]["redis"].as_u64().unwrap() >= 2);

    assert_eq!(live_state(&s), before, "the live project changed");
    assert_eq!(leftovers(&copy_of(&s, &id)), Vec::<String>::new());
    assert!(!s.path().join(".ccops/drill").join(copy_of(&s, &id)).exists());

    // Operations: metrics, the webhook, and health's drill_max_age.
    let text = std::fs::read_to_string(&prom).unwrap();
    for series in ["ccops_drill_last_success_timestamp_seconds", "ccops_drill_rto_seconds", "ccops_drill_last_status"] {
        assert!(text.lines().any(|l| l.starts_with(series)), "{series} missing:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("ccops_drill_check_ok{") && l.contains("check=\"notes\"") && l.ends_with(" 1")),
        "{text}"
    );
    let got = hook.wait_for(1);
    let body = &got.last().unwrap().body;
    assert!(body["text"].as_str().unwrap().contains(&format!("ccops backup drill succeeded (backup {id})")), "{body}");
    assert!(body["ccops"]["rto_seconds"].as_f64().unwrap() > 0.0, "{body}");
    assert_eq!(drill_age(&s)["status"], "ok");
}

#[test]
fn a_set_of_an_empty_database_fails_its_row_count_and_a_killed_drill_is_cleaned_by_the_next() {
    let s = Stack::up("drillfail", Flavour::V2);
    configure(&s, "");
    seed(&s, 0);
    s.ccops(&["backup"]).code(0);
    let empty = newest_id(&s);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.psql("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 4) g");
    s.ccops(&["backup"]).code(0);
    let full = newest_id(&s);
    assert_ne!(empty, full);

    let before = live_state(&s);
    let r = s.ccops(&["--json", "backup", "drill", &empty]);
    r.code(1).stderr_has("failed");
    let j = r.json();
    assert_eq!(j["ok"], false);
    let notes = j["checks"].as_array().unwrap().iter().find(|c| c["name"] == "notes").unwrap();
    assert_eq!((notes["ok"].as_bool(), notes["got"].as_str()), (Some(false), Some("0")), "{j}");
    assert_eq!(leftovers(&copy_of(&s, &empty)), Vec::<String>::new(), "teardown after a failed check");
    assert_eq!(live_state(&s), before);

    // Killed once the copy's databases run: the copy stays, recorded in the state folder.
    let r = s.ccops_env(&["backup", "drill"], &[("CCOPS_FAILPOINT", "drill-prepared")]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    let copy = copy_of(&s, &full);
    assert!(!leftovers(&copy).is_empty(), "the failpoint killed the drill after the copy started");
    assert!(s.path().join(".ccops/drill").join(&copy).is_dir());
    assert_eq!(live_state(&s), before);

    // The next drill removes it first, then runs (table output).
    let r = s.ccops(&["backup", "drill", "latest"]);
    r.code(0).stderr_has("was killed before it removed its copy").stdout_has("RTO").stdout_has("result: PASSED");
    assert_eq!(leftovers(&copy), Vec::<String>::new());
    assert!(!s.path().join(".ccops/drill").join(&copy).exists());
    assert_eq!(live_state(&s), before);
}

#[test]
fn a_set_only_on_s3_drills_also_without_the_live_project() {
    let s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    let s = Stack::up("drills3", Flavour::V2);
    configure(&s, "");
    seed(&s, 3);
    run(&s, &s3, &["backup", "--upload", "s3"]).code(0);
    let id = newest_id(&s);
    std::fs::remove_dir_all(s.path().join("backups").join(&id)).unwrap();

    let before = live_state(&s);
    let r = run(&s, &s3, &["--json", "backup", "drill", "latest", "--from", "s3"]);
    r.code(0);
    let j = r.json();
    assert_eq!(
        (j["ok"].as_bool(), j["source"].as_str(), j["id"].as_str()),
        (Some(true), Some("s3"), Some(id.as_str())),
        "{j}"
    );
    assert_eq!(j["steps"][0]["step"], "download");
    assert_eq!(j["steps"][0]["in_rto"], true);
    assert_eq!(live_state(&s), before);
    assert_eq!(leftovers(&copy_of(&s, &id)), Vec::<String>::new());
    assert!(!s.path().join("backups").join(&id).exists(), "the download is the drill's own, not a local set");

    // A new server: no live containers, volumes or network; the images are there.
    s.compose(&["down", "-v", "-t", "2"]);
    let r = run(&s, &s3, &["backup", "drill", "--from", "s3"]);
    r.code(0).stdout_has("RTO").stdout_has("download");
    assert_eq!(leftovers(&copy_of(&s, &id)), Vec::<String>::new());
    assert_eq!(leftovers(&s.project), Vec::<String>::new(), "the drill started nothing of the live project");
}

#[test]
fn schedule_drill_prints_its_own_weekly_line() {
    let d = crate::support::Dir::new();
    d.write("ccops.yaml", "project: shop\nenvironments:\n  production: {}\n");
    let r = d.run(&["backup", "schedule", "--drill", "weekly", "--print"]);
    r.code(0).stdout_has("0 4 * * 0 cd ").stdout_has("--quiet backup drill >> ").stdout_has("# ccops-drill ");
    let r = d.run(&["backup", "schedule", "--drill", "monthly", "--print"]);
    r.code(0).stdout_has("0 4 1 * * ");
}
