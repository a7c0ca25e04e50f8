//! The committed completions and man pages are what the binary generates, and they work:
//! bash completes commands and flags, groff renders the man page. (The unit test
//! `generated_files_are_up_to_date` regenerates them: CCOPS_REGENERATE=1.)

use std::path::Path;
use std::process::Command;

use crate::support::ccops;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn committed_completions_match_the_binary_and_complete_in_bash() {
    for (shell, file) in
        [("bash", "completions/ccops.bash"), ("zsh", "completions/_ccops"), ("fish", "completions/ccops.fish")]
    {
        let out = ccops().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let committed = std::fs::read_to_string(repo(file)).unwrap();
        // Not assert_eq: a diff of two whole scripts says less than the file's name.
        assert!(
            String::from_utf8_lossy(&out.stdout).trim_end() == committed.trim_end(),
            "{file} differs from `ccops completions {shell}`: CCOPS_REGENERATE=1 cargo test generated_files_are_up_to_date"
        );
    }
    let complete = |words: &str| -> String {
        let script = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); _ccops ccops \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            repo("completions/ccops.bash").display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let commands = complete("ccops ''");
    for c in ["backup", "restore", "doctor", "init", "health", "deploy"] {
        assert!(commands.lines().any(|l| l == c), "{c} not completed: {commands}");
    }
    let flags = complete("ccops backup --");
    assert!(flags.lines().any(|l| l == "--upload"), "{flags}");
    let formats = complete("ccops health --format ''");
    assert!(formats.lines().any(|l| l == "nagios"), "{formats}");
}

#[test]
fn the_man_page_renders() {
    let out =
        Command::new("groff").args(["-man", "-Tascii", "-P-bcou"]).arg(repo("docs/man/ccops.1")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["ccops", "doctor", "--log-format"] {
        assert!(text.contains(needle), "lacks {needle}:\n{text}");
    }
    assert!(repo("docs/man/ccops-backup.1").is_file());
}
