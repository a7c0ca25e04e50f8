//! The command line itself: help, version, exit codes of usage errors.

use crate::support::{Dir, ccops};

#[test]
fn version_and_help_work_without_config() {
    let out: crate::support::Run = ccops().arg("--version").output().unwrap().into();
    out.code(0).stdout_has(env!("CARGO_PKG_VERSION"));
    let out: crate::support::Run = ccops().arg("--help").output().unwrap().into();
    for cmd in [
        "deploy",
        "rollback",
        "releases",
        "scale",
        "migrate",
        "health",
        "backup",
        "restore",
        "scan",
        "config",
        "init",
        "doctor",
        "completions",
    ] {
        out.stdout_has(cmd);
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let d = Dir::new();
    let r = d.run(&["backup", "--frobnicate"]);
    r.code(2).stderr_has("--frobnicate");
}

#[test]
fn no_config_anywhere_says_how_to_fix_it() {
    let d = Dir::new();
    let r = d.run(&["config", "check"]);
    r.code(2).stderr_has("no ccops.yaml").stderr_has("ccops init");
    assert!(!r.stderr.contains("Os {"), "debug dump in {}", r.stderr);
}

#[test]
fn the_log_file_is_created_private_and_never_through_a_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new();
    let log = d.join("ccops.log");
    d.run(&["--log-file", log.to_str().unwrap(), "config", "check"]).code(2);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("no ccops.yaml"), "{logged}");
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);

    // A link planted at the log's name: nothing is appended to what it points at, and
    // the operator is told the log is not written.
    let victim = d.join("victim");
    std::fs::write(&victim, "keep me\n").unwrap();
    let link = d.join("planted.log");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let r = d.run(&["--log-file", link.to_str().unwrap(), "config", "check"]);
    r.code(2).stderr_has("cannot write the log file").stderr_has("symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
}
