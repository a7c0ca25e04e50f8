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
