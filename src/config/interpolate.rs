//! `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`,
//! `${VAR:+alt}`, `$VAR` and `$$`, as Docker Compose interpolates them.

use std::collections::BTreeMap;

/// Where variable values come from, and which of them are secrets.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    secret: std::collections::BTreeSet<String>,
    from_file: std::collections::BTreeSet<String>,
}

impl Vars {
    pub fn insert(&mut self, name: &str, value: String, secret: bool) {
        if secret || is_secret_name(name) {
            self.secret.insert(name.to_string());
        }
        self.values.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.contains(name)
    }

    /// Values to mask wherever they appear in free text (messages, logs). Every env-file
    /// value is masked in `config show` field by field; in free text a project name like
    /// `commandcenter` from the env file must stay readable, so only values that are
    /// secret by name, came from a `*_FILE`, or look like a credential are masked.
    pub fn secret_values(&self) -> impl Iterator<Item = &String> {
        self.secret
            .iter()
            .filter_map(|n| self.values.get(n).map(|v| (n, v)))
            .filter(|(n, v)| {
                !v.is_empty() && (is_secret_name(n) || self.from_file.contains(*n) || looks_like_credential(v))
            })
            .map(|(_, v)| v)
    }

    /// Record that `name` came from a `NAME_FILE` secret file.
    pub fn mark_from_file(&mut self, name: &str) {
        self.from_file.insert(name.to_string());
    }
}

/// A name that says it holds a secret (SPEC §1 Output): it contains PASSWORD, SECRET or
/// TOKEN, or one of its `_`-separated words is KEY or PASS (SECRET_KEY, STRIPE_API_KEY,
/// APIKEY, DB_PASS), so that MONKEY, KEYBOARD_LAYOUT or the shell's PWD are not secrets.
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN"].iter().any(|w| up.contains(w))
        || up.split(['_', '-', '.']).any(|word| matches!(word, "KEY" | "KEYS" | "APIKEY" | "PASS"))
}

/// A URL with a password in it, or a long token of letters and digits.
fn looks_like_credential(v: &str) -> bool {
    if v.contains("://") && v.contains('@') {
        return true;
    }
    let token = v.len() >= 16 && !v.contains(char::is_whitespace) && !v.contains('/');
    token && v.chars().any(|c| c.is_ascii_digit()) && v.chars().any(|c| c.is_ascii_alphabetic())
}

/// The result of interpolating one string.
#[derive(Debug, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    /// A secret variable contributed to the value: mask it whole when showing it.
    pub uses_secret: bool,
    /// Whether any `$` expression was expanded.
    pub expanded: bool,
}

/// Interpolate `text`. The error is the message of a `${VAR:?message}` that fired, or a
/// syntax problem, with the byte offset of the expression in `text`.
pub fn interpolate(text: &str, vars: &Vars) -> Result<Interpolated, (usize, String)> {
    interpolate_at(text, vars, 0)
}

/// How deep `${A:-${B:-...}}` may nest: far past any real config, well short of the
/// stack (each level is a few calls deep).
const MAX_NESTING: usize = 32;

fn interpolate_at(text: &str, vars: &Vars, depth: usize) -> Result<Interpolated, (usize, String)> {
    if depth > MAX_NESTING {
        return Err((0, format!("`${{` is nested more than {MAX_NESTING} deep")));
    }
    let mut out = String::with_capacity(text.len());
    let mut uses_secret = false;
    let mut expanded = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            let ch = text[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let start = i;
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let close = matching_brace(text, i + 1).ok_or((start, "unclosed `${` in value".to_string()))?;
                let inner = &text[i + 2..close];
                let (v, s) = expand(inner, vars, depth).map_err(|m| (start, m))?;
                out.push_str(&v);
                uses_secret |= s;
                expanded = true;
                i = close + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                let name = &text[i + 1..j];
                out.push_str(vars.get(name).unwrap_or(""));
                uses_secret |= vars.is_secret(name);
                expanded = true;
                i = j;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(Interpolated { value: out, uses_secret, expanded })
}

fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, b) in text.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn expand(inner: &str, vars: &Vars, depth: usize) -> Result<(String, bool), String> {
    let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_end);
    if name.is_empty() {
        return Err(format!("`${{{inner}}}` does not start with a variable name"));
    }
    let value = vars.get(name);
    let secret = vars.is_secret(name);
    let set = value.is_some();
    let nonempty = value.is_some_and(|v| !v.is_empty());
    let nested = |s: &str| interpolate_at(s, vars, depth + 1).map(|r| (r.value, r.uses_secret)).map_err(|(_, m)| m);
    let own = || (value.unwrap_or("").to_string(), secret);
    match op {
        "" => Ok(own()),
        _ if op.starts_with(":-") => {
            if nonempty {
                Ok(own())
            } else {
                nested(&op[2..])
            }
        }
        _ if op.starts_with('-') => {
            if set {
                Ok(own())
            } else {
                nested(&op[1..])
            }
        }
        _ if op.starts_with(":?") || op.starts_with('?') => {
            let strict = op.starts_with(':');
            let ok = if strict { nonempty } else { set };
            if ok {
                Ok(own())
            } else {
                let msg = op.trim_start_matches(':').trim_start_matches('?');
                let msg = if msg.is_empty() { "is required".to_string() } else { nested(msg)?.0 };
                Err(format!("variable `{name}` is not set: {msg}"))
            }
        }
        _ if op.starts_with(":+") => {
            if nonempty {
                nested(&op[2..])
            } else {
                Ok((String::new(), false))
            }
        }
        _ if op.starts_with('+') => {
            if set {
                nested(&op[1..])
            } else {
                Ok((String::new(), false))
            }
        }
        _ => Err(format!(
            "`${{{inner}}}` is not a valid interpolation; use ${{VAR}}, ${{VAR:-default}} or ${{VAR:?message}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.insert("HOST", "db".into(), false);
        v.insert("EMPTY", String::new(), false);
        v.insert("DB_PASSWORD", "s3cret".into(), false);
        v
    }

    fn run(s: &str) -> String {
        interpolate(s, &vars()).unwrap().value
    }

    #[test]
    fn expands_every_form() {
        assert_eq!(run("${HOST}:5432"), "db:5432");
        assert_eq!(run("$HOST/x"), "db/x");
        assert_eq!(run("${NOPE:-fallback}"), "fallback");
        assert_eq!(run("${EMPTY:-fallback}"), "fallback");
        assert_eq!(run("${EMPTY-fallback}"), "");
        assert_eq!(run("${NOPE-x}"), "x");
        assert_eq!(run("${HOST:+yes}${NOPE:+no}"), "yes");
        assert_eq!(run("$$HOST"), "$HOST");
        assert_eq!(run("${NOPE:-${HOST}}"), "db");
        assert_eq!(run("price $5"), "price $5");
        assert_eq!(run("${NOPE}"), "");
    }

    #[test]
    fn required_variable_reports_its_message() {
        let err = interpolate("x ${NOPE:?set NOPE in .env}", &vars()).unwrap_err();
        assert_eq!(err, (2, "variable `NOPE` is not set: set NOPE in .env".to_string()));
        assert!(interpolate("${EMPTY?m}", &vars()).is_ok());
        assert!(interpolate("${EMPTY:?m}", &vars()).is_err());
    }

    #[test]
    fn secret_names() {
        for n in ["DB_PASSWORD", "SECRET_KEY", "API_TOKEN", "AWS_SECRET_ACCESS_KEY", "STRIPE_KEY", "APIKEY", "db_pass"]
        {
            assert!(is_secret_name(n), "{n}");
        }
        // PWD and OLDPWD are the shell's folders, not passwords.
        for n in ["MONKEY", "KEYBOARD_LAYOUT", "HOSTNAME", "APP_VERSION", "PWD", "OLDPWD"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn free_text_masks_only_credential_like_values() {
        let mut v = Vars::default();
        v.insert("POSTGRES_DB", "commandcenter".into(), true);
        v.insert("DB_PASSWORD", "pw".into(), true);
        v.insert("DATABASE_URL", "postgres://u:hunter2@db/x".into(), true);
        v.insert("API_TOKEN_X", "k".into(), false);
        v.insert("SESSION", "a8f3k2m9q7w1z5x4".into(), true);
        v.insert("CERT", "/run/cert".into(), true);
        v.mark_from_file("CERT");
        let masked: Vec<&String> = v.secret_values().collect();
        assert_eq!(masked, ["k", "/run/cert", "postgres://u:hunter2@db/x", "pw", "a8f3k2m9q7w1z5x4"]);
        assert!(v.is_secret("POSTGRES_DB"), "still masked field by field in config show");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Text made mostly of the characters interpolation reacts to.
        fn template() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("$".to_string()),
                Just("{".to_string()),
                Just("}".to_string()),
                Just(":-".to_string()),
                Just(":?".to_string()),
                Just("?".to_string()),
                Just("-".to_string()),
                Just(":+".to_string()),
                Just("+".to_string()),
                Just("HOST".to_string()),
                Just("NOPE".to_string()),
                Just("EMPTY".to_string()),
                Just("DB_PASSWORD".to_string()),
                Just("_".to_string()),
                Just("é".to_string()),
                Just(" ".to_string()),
                "[a-z0-9]{0,3}",
            ];
            prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

            #[test]
            fn never_panics_on_any_template(text in template()) {
                if let Err((at, _)) = interpolate(&text, &vars()) {
                    prop_assert!(at < text.len() && text.is_char_boundary(at), "{text:?} {at}");
                    prop_assert_eq!(&text[at..at + 1], "$");
                }
            }

            #[test]
            fn never_panics_on_any_string(text in any::<String>()) {
                let _ = interpolate(&text, &vars());
            }

            /// Text without `$` comes back as written, and `$$` is one `$`.
            #[test]
            fn plain_text_is_left_alone(text in "[^$]{0,40}") {
                let r = interpolate(&text, &vars()).unwrap();
                prop_assert_eq!(&r.value, &text);
                prop_assert!(!r.expanded && !r.uses_secret);
                let doubled = format!("$${text}$$");
                prop_assert_eq!(interpolate(&doubled, &vars()).unwrap().value, format!("${text}$"));
            }

            /// A secret's value only ever reaches a result that says it used a secret.
            #[test]
            fn a_secret_value_is_always_flagged(text in template()) {
                if let Ok(r) = interpolate(&text, &vars()) {
                    if r.value.contains("s3cret") && !text.contains("s3cret") {
                        prop_assert!(r.uses_secret, "{text:?} -> {:?}", r.value);
                    }
                }
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // Each `${X:-` nests one call deeper: 2000 of them once overflowed the stack.
        let nest = |n: usize| format!("a {}x{}", "${NOPE:-".repeat(n), "}".repeat(n));
        assert_eq!(run(&nest(MAX_NESTING)), "a x");
        let e = interpolate(&nest(2000), &vars()).unwrap_err();
        assert_eq!(e, (2, format!("`${{` is nested more than {MAX_NESTING} deep")));
    }

    #[test]
    fn marks_values_that_use_secrets() {
        assert!(interpolate("postgres://u:${DB_PASSWORD}@h", &vars()).unwrap().uses_secret);
        assert!(!interpolate("${HOST}", &vars()).unwrap().uses_secret);
    }
}
