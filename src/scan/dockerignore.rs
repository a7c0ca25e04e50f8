//! `.dockerignore` patterns as the builder reads them: globs with `*`, `?`, `[...]` and
//! `**`, `!` re-includes, and the last matching line wins. Used to tell whether `.git`
//! and `.env*` files would be sent to the builder.

pub struct DockerIgnore {
    rules: Vec<(bool, String)>,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> DockerIgnore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (negate, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                (negate, clean(p))
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        DockerIgnore { rules }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for (negate, pattern) in &self.rules {
            // A pattern that matches a parent folder covers everything inside it.
            let hit = prefixes(&path).any(|p| glob(pattern.as_bytes(), p.as_bytes()));
            if hit {
                excluded = !negate;
            }
        }
        excluded
    }
}

fn clean(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    parts.join("/")
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn prefixes(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(|(i, _)| &path[..i]).chain(std::iter::once(path))
}

/// Glob match where `*` and `?` stay within one path segment and `**` spans segments.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = p[2..].strip_prefix(b"/").unwrap_or(&p[2..]);
            (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && glob(rest, &s[i..])) || rest.is_empty()
        }
        Some(b'*') => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| glob(&p[1..], &s[i..])),
        Some(b'?') => s.first().is_some_and(|&c| c != b'/') && glob(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = p.iter().position(|&c| c == b']') else {
                return s.first() == Some(&b'[') && glob(&p[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some(b'^' | b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob(&p[end + 1..], &s[1..])
        }
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_negation() {
        let d = DockerIgnore::parse("# comment\n.git\n.env*\n!.env.example\nnode_modules/\n**/*.pem\n");
        assert!(d.excludes(".git"));
        assert!(d.excludes(".git/HEAD"));
        assert!(d.excludes(".env"));
        assert!(d.excludes(".env.production"));
        assert!(!d.excludes(".env.example"));
        assert!(d.excludes("node_modules/x/y.js"));
        assert!(d.excludes("certs/deep/key.pem"));
        assert!(!d.excludes("src/main.py"));
    }

    #[test]
    fn star_excludes_everything_until_reincluded() {
        let d = DockerIgnore::parse("*\n!src\n!requirements.txt\n");
        assert!(d.excludes(".env"));
        assert!(d.excludes(".git"));
        assert!(!d.excludes("src/app.py"));
        let d = DockerIgnore::parse("/.git\n./.env\n[.]env.*\n");
        assert!(d.excludes(".git") && d.excludes(".env") && d.excludes(".env.prod"));
        assert!(!DockerIgnore::parse(".env\n").excludes(".env.prod"));
    }
}
