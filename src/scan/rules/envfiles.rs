//! Env files: tracked by git with secrets in them (SEC003), not ignored by git (SEC004),
//! readable by other users (SEC005). Only files that hold a secret-named variable with a
//! value, or are named `.env*`, are judged; templates (`.env.example`) never are.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::scan::finding::Finding;
use crate::scan::git::Git;
use crate::scan::read::Tree;
use crate::syntax::envfile;
use crate::syntax::secrets::is_secret_name;

/// Env-file names that are templates, meant to be committed.
pub fn is_template(name: &str) -> bool {
    [".example", ".sample", ".template", ".dist", ".tmpl", ".tpl", ".defaults"].iter().any(|s| name.ends_with(s))
}

/// Secret-named variables with a non-empty value, with their lines.
fn secrets(text: &str) -> Vec<(String, usize)> {
    envfile::entries(text)
        .flatten()
        .filter(|e| is_secret_name(&e.key) && !e.value.is_empty())
        .map(|e| (e.key, e.line))
        .collect()
}

fn names(list: &[(String, usize)]) -> String {
    let mut shown: Vec<String> = list.iter().take(3).map(|(n, _)| format!("`{n}`")).collect();
    if list.len() > 3 {
        shown.push(format!("and {} more", list.len() - 3));
    }
    shown.join(", ")
}

/// The findings of one env file, read through `tree` (an env file that is a device, a
/// FIFO, too large or outside the tree is SCN001/SCN002 and not read).
pub fn check(path: &Path, git: Option<&Git>, tree: &Tree) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = match tree.read_lossy(path) {
        Ok(text) => text,
        Err(r) => return r.finding(&format!("env file `{name}`"), path, 1, 1).into_iter().collect(),
    };
    if is_template(&name) {
        return out;
    }
    let found = secrets(&text);
    if found.is_empty() && !name.starts_with(".env") {
        return out;
    }
    if let Some(git) = git.filter(|g| path.starts_with(&g.top)) {
        if git.is_tracked(path) {
            if let Some((_, line)) = found.first() {
                let msg = format!("`{name}` is tracked by git and holds {}", names(&found));
                out.push(Finding::new("SEC003", path, *line, 1, msg).key("tracked"));
            }
        } else if !git.is_ignored(path) {
            out.push(Finding::new("SEC004", path, 1, 1, format!("`{name}` is not ignored by git")).key("not-ignored"));
        }
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            let msg = format!("`{name}` has mode {mode:o}: every user on the host can read it");
            out.push(
                Finding::new("SEC005", path, 1, 1, msg)
                    .key("mode")
                    .fix(format!("`chmod 600 {name}` (or 640 with the deploying group).")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const T: Tree = Tree::anywhere();

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn rules(f: &[Finding]) -> Vec<(&str, usize)> {
        f.iter().map(|f| (f.rule.as_str(), f.line)).collect()
    }

    #[test]
    fn sec005_world_readable_and_templates() {
        let d = tempfile::tempdir().unwrap();
        let open = write(d.path(), ".env", "# x\nDB_PASSWORD=hunter2\n", 0o644);
        assert_eq!(rules(&check(&open, None, &T)), [("SEC005", 1)]);
        let closed = write(d.path(), ".env.prod", "DB_PASSWORD=hunter2\n", 0o600);
        assert!(check(&closed, None, &T).is_empty());
        let tpl = write(d.path(), ".env.example", "DB_PASSWORD=changeme\n", 0o644);
        assert!(check(&tpl, None, &T).is_empty());
        let plain = write(d.path(), "app.env", "LOG_LEVEL=debug\n", 0o644);
        assert!(check(&plain, None, &T).is_empty(), "no secret and not a dotenv file");
        assert!(!check(&open, None, &T)[0].message.contains("hunter2"));
    }

    #[test]
    fn sec003_and_sec004_with_git() {
        let d = tempfile::tempdir().unwrap();
        if !Command::new("git").args(["init", "-q"]).arg(d.path()).status().is_ok_and(|s| s.success()) {
            eprintln!("git is not installed; skipped");
            return;
        }
        write(d.path(), ".gitignore", ".env.local\n", 0o644);
        let tracked = write(d.path(), "prod.env", "LOG=1\nAPI_TOKEN=abc\nSECRET_KEY=x\n", 0o600);
        let loose = write(d.path(), ".env", "A=1\n", 0o600);
        let ignored = write(d.path(), ".env.local", "DB_PASSWORD=x\n", 0o600);
        let plain_tracked = write(d.path(), "public.env", "LOG_LEVEL=info\n", 0o600);
        assert!(
            Command::new("git")
                .arg("-C")
                .arg(d.path())
                .args(["add", "prod.env", "public.env"])
                .status()
                .unwrap()
                .success()
        );
        let git = Git::discover(d.path()).unwrap();
        let f = check(&tracked, Some(&git), &T);
        assert_eq!(rules(&f), [("SEC003", 2)]);
        assert!(f[0].message.contains("`API_TOKEN`, `SECRET_KEY`"), "{}", f[0].message);
        assert_eq!(rules(&check(&loose, Some(&git), &T)), [("SEC004", 1)]);
        assert!(check(&ignored, Some(&git), &T).is_empty());
        assert!(check(&plain_tracked, Some(&git), &T).is_empty());
    }
}
