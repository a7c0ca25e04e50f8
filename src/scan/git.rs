//! What git knows about a file: tracked, ignored. Asked through the `git` command, so the
//! answer is exactly git's (nested .gitignore files, global excludes, the index). Without
//! git, or outside a checkout, there is nothing to ask and those rules stay silent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone)]
pub struct Git {
    pub top: PathBuf,
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir).stdin(Stdio::null()).stderr(Stdio::null());
    c
}

impl Git {
    /// The checkout `dir` is in, if any.
    pub fn discover(dir: &Path) -> Option<Git> {
        let out = git(dir).args(["rev-parse", "--show-toplevel"]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let top = String::from_utf8(out.stdout).ok()?;
        Some(Git { top: PathBuf::from(top.trim_end_matches(['\n', '\r'])) })
    }

    /// Whether `path` is in the index (committed or staged).
    pub fn is_tracked(&self, path: &Path) -> bool {
        let out = git(&self.top).args(["ls-files", "--error-unmatch", "--"]).arg(path).stdout(Stdio::null()).status();
        out.is_ok_and(|s| s.success())
    }

    /// Whether an untracked `path` is covered by an ignore rule.
    pub fn is_ignored(&self, path: &Path) -> bool {
        let out = git(&self.top).args(["check-ignore", "-q", "--"]).arg(path).stdout(Stdio::null()).status();
        out.is_ok_and(|s| s.success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_ignored_and_neither() {
        let d = tempfile::tempdir().unwrap();
        if !Command::new("git").arg("init").arg("-q").arg(d.path()).status().is_ok_and(|s| s.success()) {
            eprintln!("git is not installed; skipped");
            return;
        };
        std::fs::write(d.path().join(".gitignore"), ".env\n").unwrap();
        for f in [".env", ".env.prod", "tracked.env"] {
            std::fs::write(d.path().join(f), "A=1\n").unwrap();
        }
        assert!(git(d.path()).args(["add", "tracked.env"]).status().unwrap().success());
        let g = Git::discover(d.path()).expect("a checkout");
        assert!(g.is_tracked(&d.path().join("tracked.env")));
        assert!(!g.is_tracked(&d.path().join(".env")));
        assert!(g.is_ignored(&d.path().join(".env")));
        assert!(!g.is_ignored(&d.path().join(".env.prod")));
        assert!(Git::discover(Path::new("/")).is_none() || Path::new("/.git").exists());
    }
}
