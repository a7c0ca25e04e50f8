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

/// One piece of a pattern.
enum Token<'a> {
    Byte(u8),
    /// `?`: one byte, not `/`.
    One,
    /// `*`: any run of bytes without `/`.
    Star,
    /// `**` (and a `/` after it): any run of whole segments; at the end, anything at all.
    Stars,
    /// `[...]`: the bytes inside the brackets, negated with `^` or `!`.
    Class(&'a [u8], bool),
}

fn tokens(p: &[u8]) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' if p.get(i + 1) == Some(&b'*') => {
                out.push(Token::Stars);
                i += if p.get(i + 2) == Some(&b'/') { 3 } else { 2 };
            }
            b'*' => {
                out.push(Token::Star);
                i += 1;
            }
            b'?' => {
                out.push(Token::One);
                i += 1;
            }
            b'[' => match p[i..].iter().position(|&c| c == b']') {
                Some(len) => {
                    let class = &p[i + 1..i + len];
                    let (negate, class) = match class.first() {
                        Some(b'^' | b'!') => (true, &class[1..]),
                        _ => (false, class),
                    };
                    out.push(Token::Class(class, negate));
                    i += len + 1;
                }
                None => {
                    out.push(Token::Byte(b'['));
                    i += 1;
                }
            },
            b'\\' if i + 1 < p.len() => {
                out.push(Token::Byte(p[i + 1]));
                i += 2;
            }
            c => {
                out.push(Token::Byte(c));
                i += 1;
            }
        }
    }
    out
}

fn in_class(class: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            if class[i] <= c && c <= class[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if class[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// Glob match where `*` and `?` stay within one path segment and `**` spans segments.
/// The pattern is untrusted: it is matched by walking the set of positions of `s` each
/// token can reach, in O(tokens x len(s)^2), never by backtracking (`*a*a*a*a*...b` would
/// take exponential time) nor by recursion (a pattern of a million bytes).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let toks = tokens(p);
    let mut reach = vec![false; s.len() + 1];
    reach[0] = true;
    for (n, t) in toks.iter().enumerate() {
        let mut next = vec![false; s.len() + 1];
        for i in (0..=s.len()).filter(|&i| reach[i]) {
            match t {
                // One byte: nothing to take at the end of `s`.
                Token::Byte(_) | Token::One | Token::Class(..) if i == s.len() => {}
                Token::Byte(want) => next[i + 1] |= s[i] == *want,
                Token::One => next[i + 1] |= s[i] != b'/',
                Token::Class(class, negate) => next[i + 1] |= in_class(class, s[i]) != *negate,
                Token::Star => {
                    next[i] = true;
                    for j in i..s.len() {
                        if s[j] == b'/' {
                            break;
                        }
                        next[j + 1] = true;
                    }
                }
                Token::Stars if n + 1 == toks.len() => return true,
                Token::Stars => {
                    for j in i..=s.len() {
                        next[j] |= j == i || s[j - 1] == b'/';
                    }
                }
            }
        }
        if !next.contains(&true) {
            return false;
        }
        reach = next;
    }
    reach[s.len()]
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

    #[test]
    fn hostile_patterns_match_in_bounded_time() {
        // Backtracking would try every way to split `.env.production` among 200 stars.
        let stars = format!("{}z", "*.".repeat(200));
        let started = std::time::Instant::now();
        let d = DockerIgnore::parse(&format!("{stars}\n{}\n{}\n", "a".repeat(1 << 20), "?".repeat(1 << 20)));
        assert!(!d.excludes(".env.production"));
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
        assert!(glob(b"**", b"a/b") && glob(b"a/**/c", b"a/x/y/c") && glob(b"a/**", b"a/b"));
        assert!(glob(b"[a-c]x", b"bx") && !glob(b"[!a-c]x", b"bx") && glob(b"[x", b"[x"));
        assert!(glob(b"\\*", b"*") && !glob(b"\\*", b"a") && !glob(b"a?", b"a/"));
        assert!(!glob(b"x", b"") && glob(b"*", b"") && !glob(b"*", b"a/b"));
    }
}
