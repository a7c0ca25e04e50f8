//! `ccops backup schedule` against the real crontab of the user running the tests.
//!
//! The crontab is shared state outside the test folder: the original table is saved first
//! and put back by a guard even if an assertion fails, and everything happens in one test
//! function so no two tests ever touch the crontab at once.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::Dir;

/// The table as `crontab -l` prints it; none at all is empty.
fn crontab_l() -> String {
    let out = Command::new("crontab")
        .arg("-l")
        .env("LC_ALL", "C")
        .output()
        .expect("run `crontab -l` (install the `cron` package to run this test)");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no crontab for"), "crontab -l failed: {err}");
        return String::new();
    }
    String::from_utf8(out.stdout).expect("crontab is UTF-8")
}

fn crontab_set(content: &str) {
    let mut child = Command::new("crontab").arg("-").stdin(Stdio::piped()).spawn().expect("run `crontab -`");
    child.stdin.take().unwrap().write_all(content.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "crontab - refused:\n{content}");
}

/// Puts the user's crontab back as it was, on success and on panic alike.
struct CrontabGuard {
    original: Option<String>,
}

impl CrontabGuard {
    fn save() -> Self {
        let out = Command::new("crontab").arg("-l").env("LC_ALL", "C").output().expect("run `crontab -l`");
        CrontabGuard {
            original: out.status.success().then(|| String::from_utf8(out.stdout).expect("crontab is UTF-8")),
        }
    }
}

impl Drop for CrontabGuard {
    fn drop(&mut self) {
        match &self.original {
            Some(text) => crontab_set(text),
            None => {
                let _ = Command::new("crontab").arg("-r").stderr(Stdio::null()).status();
            }
        }
    }
}

fn project(d: &Dir) {
    d.write("docker-compose.yml", "services:\n  app:\n    image: ccops-test/base:latest\n");
    d.write("ccops.yaml", "project: sched\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml]\n");
}

/// The lines of `tab` that belong to the project at `dir`.
fn ours<'a>(tab: &'a str, dir: &Path) -> Vec<&'a str> {
    let marker = format!("# ccops-backup {}", dir.join("ccops.yaml").display());
    tab.lines().filter(|l| l.ends_with(&marker)).collect()
}

#[test]
fn schedule_installs_replaces_prints_and_removes_one_line() {
    let _guard = CrontabGuard::save();
    let foreign = "MAILTO=\"ops@example.com\"\n# the team's own jobs\n17 4 * * * /usr/bin/true # foreign\n";
    crontab_set(foreign);

    let d = Dir::new();
    project(&d);
    // The child's working folder is what getcwd says: the canonical path.
    let root = d.path().canonicalize().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_ccops")).canonicalize().unwrap();

    // Install: one line with absolute paths, the quiet backup and the log in .ccops/.
    d.run(&["backup", "schedule"]).code(0).stderr_has("installed");
    let tab = crontab_l();
    assert!(tab.starts_with(foreign), "the other lines must come first, unchanged:\n{tab}");
    let lines = ours(&tab, &root);
    assert_eq!(lines.len(), 1, "{tab}");
    let line = lines[0];
    assert!(line.starts_with("0 2 * * * "), "{line}");
    for part in [
        format!("cd '{}' && ", root.display()),
        format!("'{}' --config '{}'", exe.display(), root.join("ccops.yaml").display()),
        " --env 'prod' --quiet backup >> ".to_string(),
        format!("'{}' 2>&1", root.join(".ccops/cron.log").display()),
    ] {
        assert!(line.contains(&part), "line lacks {part:?}: {line}");
    }
    let mode = std::fs::metadata(root.join(".ccops")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the log folder is private");

    // Install again, also through a relative --config: still exactly one line.
    d.run(&["backup", "schedule"]).code(0).stderr_has("already installed");
    d.run(&["-c", "./ccops.yaml", "backup", "schedule"]).code(0).stderr_has("already installed");
    assert_eq!(crontab_l(), tab);

    // Another schedule replaces the line.
    d.run(&["backup", "schedule", "--cron", "30 3 * * mon-fri"]).code(0).stderr_has("replaced");
    let tab = crontab_l();
    let lines = ours(&tab, &root);
    assert_eq!(lines.len(), 1, "{tab}");
    assert!(lines[0].starts_with("30 3 * * mon-fri cd "), "{tab}");
    assert!(tab.starts_with(foreign), "{tab}");

    // --print shows the line and changes nothing.
    let r = d.run(&["backup", "schedule", "--cron", "0 5 * * *", "--print"]);
    r.code(0).stdout_has("0 5 * * * cd '").stdout_has("--quiet backup");
    assert_eq!(crontab_l(), tab);

    // --dry-run shows the change and changes nothing.
    let r = d.run(&["backup", "schedule", "--cron", "0 6 * * *", "--dry-run"]);
    r.code(0).stdout_has("- 30 3 * * mon-fri cd ").stdout_has("+ 0 6 * * * cd ").stderr_has("dry run");
    assert_eq!(crontab_l(), tab);

    // A bad schedule is a usage error and changes nothing.
    for bad in ["61 * * * *", "0 2 * *", "@often", "0 2 * * funday"] {
        d.run(&["backup", "schedule", "--cron", bad]).code(2).stderr_has("is not a valid cron schedule");
        assert_eq!(crontab_l(), tab, "after --cron {bad:?}");
    }

    // A second project on the host gets its own line.
    let d2 = Dir::new();
    project(&d2);
    let root2 = d2.path().canonicalize().unwrap();
    d2.run(&["backup", "schedule"]).code(0);
    let tab2 = crontab_l();
    assert_eq!(ours(&tab2, &root).len(), 1, "{tab2}");
    assert_eq!(ours(&tab2, &root2).len(), 1, "{tab2}");

    // --remove takes this project's line only.
    d.run(&["backup", "schedule", "--remove", "--dry-run"]).code(0).stdout_has("- 30 3 * * mon-fri");
    assert_eq!(crontab_l(), tab2);
    d.run(&["backup", "schedule", "--remove"]).code(0).stderr_has("removed");
    let tab = crontab_l();
    assert!(ours(&tab, &root).is_empty(), "{tab}");
    assert_eq!(ours(&tab, &root2).len(), 1, "{tab}");
    d2.run(&["backup", "schedule", "--remove"]).code(0);
    assert_eq!(crontab_l(), foreign, "the other lines, MAILTO and comments are kept byte for byte");

    // Removing what is not there says so and succeeds.
    d.run(&["backup", "schedule", "--remove"]).code(0).stderr_has("nothing to remove");
    assert_eq!(crontab_l(), foreign);
}
