//! Build script: tells the binary which commit it is built from, for `ccops --version`
//! (src/version.rs formats it). Sets three variables for rustc:
//!
//! - `BUILD_COMMIT`: the short hash of HEAD, empty outside a git checkout of ccops (a
//!   source tarball, a copy given to `cargo install`);
//! - `BUILD_COMMIT_DATE`: HEAD's commit date, `YYYY-MM-DD` in UTC;
//! - `BUILD_DIRTY`: `1` when tracked files differ from HEAD (untracked ones do not count,
//!   as with `git describe --dirty`).
//!
//! It runs again when HEAD moves (the HEAD file, the branch ref it points at,
//! packed-refs), when the index changes, and when the binary's sources change, so the dirty
//! marker is current for every build that compiles something, and a build with nothing to
//! compile stays instant.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for watched in ["build.rs", "src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={watched}");
    }
    let (commit, date, dirty) = if is_own_checkout(&root) {
        watch_git(&root);
        let commit = git(&root, &["rev-parse", "--short", "HEAD"]).unwrap_or_default();
        let date =
            git(&root, &["show", "-s", "--format=%cd", "--date=format-local:%Y-%m-%d", "HEAD"]).unwrap_or_default();
        // --no-optional-locks: `status` would otherwise refresh and rewrite the index, which
        // this script watches, and every build would run it again.
        let changes = git(&root, &["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"]);
        (commit, date, changes.is_some_and(|c| !c.is_empty()))
    } else {
        (String::new(), String::new(), false)
    };
    println!("cargo:rustc-env=BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=BUILD_COMMIT_DATE={date}");
    println!("cargo:rustc-env=BUILD_DIRTY={}", if dirty { "1" } else { "" });
}

/// Whether `root` is the top of a git work tree: a copy of the sources unpacked inside some
/// other repository must not report that repository's commit.
fn is_own_checkout(root: &Path) -> bool {
    let Some(top) = git(root, &["rev-parse", "--show-toplevel"]) else { return false };
    match (Path::new(&top).canonicalize(), root.canonicalize()) {
        (Ok(top), Ok(root)) => top == root,
        _ => false,
    }
}

/// Asks cargo to run this script again when HEAD, its branch or the index change. The
/// paths come from git, since in a linked work tree `.git` is a file, not a folder.
fn watch_git(root: &Path) {
    let mut files = vec!["HEAD".to_string(), "index".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        files.push(branch);
    }
    for name in files {
        let Some(path) = git(root, &["rev-parse", "--git-path", &name]) else { continue };
        let path = root.join(path);
        // cargo reruns a script on every build when a watched path does not exist.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// The trimmed stdout of `git -C root ARGS`, or None when git is missing or fails.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(root).args(args).env("TZ", "UTC").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
