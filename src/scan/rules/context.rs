//! Build contexts: no .dockerignore (CTX001), or one that lets `.git` or `.env*` files
//! into the context (CTX002). BuildKit's `<Dockerfile>.dockerignore` wins over the
//! context's own file, as it does in a build.

use std::path::{Path, PathBuf};

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::dockerignore::DockerIgnore;
use crate::scan::finding::Finding;

/// Paths that must stay out of every build context.
const MUST_EXCLUDE: &[&str] = &[".git", ".env", ".env.production"];

/// The ignore file a build of `dockerfile` in `context` uses, if any.
pub fn ignore_file(context: &Path, dockerfile: Option<&Path>) -> Option<PathBuf> {
    let specific = dockerfile.map(|d| {
        let mut name = d.file_name().unwrap_or_default().to_os_string();
        name.push(".dockerignore");
        d.with_file_name(name)
    });
    // Whatever is there but a folder: a FIFO or a device is refused (SCN001) when read.
    let there = |p: &PathBuf| std::fs::metadata(p).is_ok_and(|m| !m.is_dir());
    specific.filter(there).or_else(|| Some(context.join(".dockerignore")).filter(there))
}

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let Some(b) = cx.build(svc) else { return };
    let Some(context) = &b.context else { return };
    if !context.is_dir() {
        return;
    }
    let at = b.node.entry("context").map_or(b.key, |(k, _)| k);
    let Some(file) = ignore_file(context, b.dockerfile.as_deref()) else {
        let msg = format!("build context `{}` has no .dockerignore", b.context_text);
        out.push(cx.at("CTX001", at, svc, msg).key("dockerignore"));
        return;
    };
    let text = match cx.files.tree.read_lossy(&file) {
        Ok(text) => text,
        Err(r) => match r.finding("this .dockerignore", &file, 1, 1) {
            Some(mut f) => {
                f.related = vec![svc.name.to_string()];
                out.push(f);
                return;
            }
            // Unreadable for an ordinary reason: judged as empty, which lets everything in.
            None => String::new(),
        },
    };
    let ignore = DockerIgnore::parse(&text);
    let missing: Vec<&str> = MUST_EXCLUDE.iter().copied().filter(|p| !ignore.excludes(p)).collect();
    if !missing.is_empty() {
        let mut f = Finding::new(
            "CTX002",
            &file,
            1,
            1,
            format!(".dockerignore lets {} into the build context", quoted(&missing)),
        )
        .key(missing.join(","));
        f.related = vec![svc.name.to_string()];
        out.push(f);
    }
}

fn quoted(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use crate::scan::rules::testing::scan;

    #[test]
    fn ctx001_context_without_dockerignore() {
        let yaml = "services:\n  a:\n    build: ./a\n  b:\n    build:\n      context: ./b\n  remote:\n    build: https://github.com/x/y.git\n";
        let files =
            [("a/Dockerfile", "FROM x:1\n"), ("b/Dockerfile", "FROM x:1\n"), ("b/.dockerignore", ".git\n.env*\n")];
        let s = scan(yaml, &files);
        assert_eq!(s.of("CTX001"), [("a".to_string(), 3)]);
        assert!(s.of("CTX002").is_empty());
    }

    #[test]
    fn ctx002_dockerignore_missing_env_or_git() {
        let yaml =
            "services:\n  a:\n    build: ./a\n  b:\n    build:\n      context: ./b\n      dockerfile: api.Dockerfile\n";
        let files = [
            ("a/Dockerfile", "FROM x:1\n"),
            ("a/.dockerignore", "node_modules\n.env\n"),
            ("b/api.Dockerfile", "FROM x:1\n"),
            ("b/.dockerignore", "*\n"),
            ("b/api.Dockerfile.dockerignore", ".git\n"),
        ];
        let s = scan(yaml, &files);
        let f: Vec<_> = s.findings.iter().filter(|f| f.rule == "CTX002").collect();
        assert_eq!(f.len(), 2);
        assert!(
            f[0].file.ends_with("a/.dockerignore") && f[0].message.contains("`.git`, `.env.production`"),
            "{:?}",
            f[0]
        );
        assert!(f[1].file.ends_with("api.Dockerfile.dockerignore") && f[1].message.contains("`.env`"), "{:?}", f[1]);
        assert_eq!(f[1].related, ["b"]);
    }
}
