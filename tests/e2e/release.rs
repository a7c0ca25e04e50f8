//! `scripts/release` makes a .deb an operator can install: the artefacts check against
//! SHA256SUMS, the package holds the binary, man pages and completions where Debian keeps
//! them, and on a clean Debian 12 (the rig's `ccops-test/debian12` image, a fresh
//! container each run, never this host) it installs, `ccops --version` names the commit,
//! `man ccops` reads, bash completes `ccops back` to `backup`, and removing it leaves
//! nothing behind.
//!
//! The package is made from the binary under test (`--binary`), not a release build: CI
//! stays fast. That binary is linked dynamically against this machine's glibc; the image
//! is Debian 12 like the machine, so it runs there, and the package's `Depends: libc6 (>=
//! ...)`, read from the binary, is what dpkg checks in the container.

use std::path::Path;
use std::process::Command;

use crate::support::{Dir, Run, ccops};

const IMAGE: &str = "ccops-test/debian12:latest";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Run {
    cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}")).into()
}

/// The text between `=== name` and the next `===` line of the container's output.
fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let start = out.find(&format!("=== {name}\n")).unwrap_or_else(|| panic!("no section {name} in:\n{out}"));
    let rest = &out[start + name.len() + 5..];
    &rest[..rest.find("=== ").unwrap_or(rest.len())]
}

/// The short commit the binary should name: HEAD of this checkout, or none outside one.
fn expected_commit() -> Option<String> {
    let git = |args: &[&str]| {
        let out = Command::new("git").arg("-C").arg(repo()).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    (Path::new(&top).canonicalize().ok()? == repo().canonicalize().ok()?)
        .then(|| git(&["rev-parse", "--short", "HEAD"]))?
}

#[test]
fn the_deb_installs_and_works_on_a_clean_debian_12() {
    let version = env!("CARGO_PKG_VERSION");
    let out = Dir::new();
    run(Command::new("bash")
        .current_dir(repo())
        .arg("scripts/release")
        .args(["--binary", env!("CARGO_BIN_EXE_ccops"), "--out"])
        .arg(out.path()))
    .code(0)
    .stderr_has("wrote");
    let debarch = run(Command::new("dpkg").arg("--print-architecture")).stdout.trim().to_string();
    let deb = format!("ccops_{version}_{debarch}.deb");
    let binary = format!("ccops-{version}-{}-linux", std::env::consts::ARCH);

    // The sums check, and name both artefacts.
    let sums = run(Command::new("sha256sum").args(["-c", "SHA256SUMS"]).current_dir(out.path()));
    sums.code(0).stdout_has(&format!("{binary}: OK")).stdout_has(&format!("{deb}: OK"));

    // The package's files, where Debian keeps them.
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(out.join(&deb)));
    contents.code(0);
    for file in [
        "./usr/bin/ccops",
        "./usr/share/man/man1/ccops.1.gz",
        "./usr/share/man/man1/ccops-backup.1.gz",
        "./usr/share/man/man1/ccops-restore.1.gz",
        "./usr/share/bash-completion/completions/ccops",
        "./usr/share/zsh/vendor-completions/_ccops",
        "./usr/share/fish/vendor_completions.d/ccops.fish",
        "./usr/share/doc/ccops/copyright",
    ] {
        assert!(
            contents.stdout.lines().any(|l| l.ends_with(&format!(" {file}"))),
            "{file} not in the .deb:\n{}",
            contents.stdout
        );
    }
    let fields =
        run(Command::new("dpkg-deb").arg("--field").arg(out.join(&deb)).args(["Package", "Version", "Depends"]));
    fields
        .code(0)
        .stdout_has("Package: ccops\n")
        .stdout_has(&format!("Version: {version}\n"))
        .stdout_has("Depends: libc6 (>= 2.");

    // On a clean Debian 12: install, use, remove.
    let image = run(Command::new("docker").args(["image", "inspect", IMAGE]));
    assert_eq!(image.code, 0, "no image {IMAGE}: run scripts/rig\n{}", image.stderr);
    let script = format!(
        r#"set -eu
echo '=== install'; dpkg -i /release/{deb} 2>&1
echo '=== version'; ccops --version
echo '=== man'; MANPAGER=cat MANWIDTH=200 man ccops; MANPAGER=cat MANWIDTH=200 man ccops-backup
echo '=== completion'
set +eu   # bash-completion is written for interactive shells
. /usr/share/bash-completion/bash_completion
# What bash does on the first <Tab> after `ccops`: find the file by the command's name
# in the standard folder (124 means "loaded, complete again").
_completion_loader ccops
complete -p ccops
COMP_WORDS=(ccops back); COMP_CWORD=1; COMP_LINE='ccops back'; COMP_POINT=10
_ccops ccops back ccops; printf '%s\n' "${{COMPREPLY[@]}}"
set -e
echo '=== remove'; dpkg -r ccops 2>&1
for f in /usr/bin/ccops /usr/share/man/man1/ccops.1.gz /usr/share/bash-completion/completions/ccops; do
  if [ -e "$f" ]; then echo "left behind: $f"; fi
done
hash -r; command -v ccops || echo 'ccops: gone'
echo '=== end'
"#
    );
    let session = run(Command::new("docker")
        .args(["run", "--rm", "--network", "none", "-v"])
        .arg(format!("{}:/release:ro", out.path().display()))
        .args([IMAGE, "bash", "-c", &script]));
    session.code(0);
    let text = session.stdout.as_str();

    let reported = section(text, "version").trim();
    let host = run(ccops().arg("--version"));
    assert_eq!(reported, host.stdout.trim(), "the installed binary is not the one under test");
    assert!(reported.starts_with(&format!("ccops {version} (")), "{reported}");
    match expected_commit() {
        Some(commit) => assert!(reported.contains(&commit), "`{reported}` does not name commit {commit}"),
        None => assert!(reported.contains("commit unknown"), "{reported}"),
    }

    let man = section(text, "man");
    assert!(man.contains("ccops - Operate a Docker Compose application"), "man ccops lacks its NAME:\n{man}");
    assert!(man.contains("ccops-backup - "), "man ccops-backup lacks its NAME:\n{man}");

    let completion = section(text, "completion");
    assert!(
        completion.contains("-F _ccops") && completion.lines().any(|l| l == "backup"),
        "bash did not complete `ccops back`:\n{completion}"
    );

    let removed = section(text, "remove");
    assert!(removed.contains("ccops: gone") && !removed.contains("left behind"), "{removed}");
}
