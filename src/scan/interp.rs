//! Compose interpolation, read statically. The scan judges files as written, whatever the
//! shell that runs it exports: `${VAR:-default}` reads as its default, and a variable with
//! no default is unknown (no finding may depend on its value).

/// One `${...}` or `$VAR` expression in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub name: String,
    /// `Some` for `${VAR:-x}` and `${VAR-x}`: the text used when the variable is unset.
    pub default: Option<String>,
    /// `${VAR:?msg}` / `${VAR?msg}`: Compose refuses to start without the variable.
    pub required: bool,
}

/// A value with every expression replaced by its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub text: String,
    /// Some expression had no default: `text` holds an empty string in its place.
    pub unknown: bool,
}

/// Byte index of the `}` that closes the `{` at `open`.
fn closing(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_inner(inner: &str) -> Expr {
    let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    let mut e = Expr { name: name.to_string(), default: None, required: false };
    for (op, is_default) in [(":-", true), ("-", true), (":?", false), ("?", false)] {
        if let Some(arg) = rest.strip_prefix(op) {
            if is_default {
                e.default = Some(arg.to_string());
            } else {
                e.required = true;
            }
            return e;
        }
    }
    e
}

/// Walk `text`, calling `f` for each literal piece (`Err`) and each expression (`Ok`).
fn walk(text: &str, mut f: impl FnMut(Result<Expr, &str>)) {
    let bytes = text.as_bytes();
    let (mut i, mut lit) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => {
                f(Err(&text[lit..i + 1]));
                i += 2;
                lit = i;
            }
            Some(b'{') => {
                let Some(close) = closing(text, i + 1) else {
                    i += 1;
                    continue;
                };
                f(Err(&text[lit..i]));
                f(Ok(parse_inner(&text[i + 2..close])));
                i = close + 1;
                lit = i;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let end = text[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(text.len(), |e| i + 1 + e);
                f(Err(&text[lit..i]));
                f(Ok(Expr { name: text[i + 1..end].to_string(), default: None, required: false }));
                i = end;
                lit = i;
            }
            _ => i += 1,
        }
    }
    f(Err(&text[lit..]));
}

/// Every expression in `text`, outermost only.
pub fn exprs(text: &str) -> Vec<Expr> {
    let mut out = Vec::new();
    walk(text, |p| {
        if let Ok(e) = p {
            out.push(e);
        }
    });
    out
}

/// `text` with defaults in place of expressions (`$$` becomes `$`).
pub fn resolve(text: &str) -> Resolved {
    resolve_with(text, "")
}

/// `resolve`, writing `unknown` where an expression has no default.
pub fn resolve_with(text: &str, unknown: &str) -> Resolved {
    let mut out = Resolved { text: String::new(), unknown: false };
    walk(text, |p| match p {
        Err(lit) => out.text.push_str(lit),
        Ok(Expr { default: Some(d), .. }) => {
            let inner = resolve_with(&d, unknown);
            out.unknown |= inner.unknown;
            out.text.push_str(&inner.text);
        }
        Ok(_) => {
            out.unknown = true;
            out.text.push_str(unknown);
        }
    });
    out
}

/// Whether the value is nothing but one expression (`${DB_PASSWORD}`, `$TOKEN`), i.e. it
/// holds no literal of its own besides a default.
pub fn is_only_expr(text: &str) -> bool {
    let mut exprs = 0;
    let mut literal = false;
    walk(text.trim(), |p| match p {
        Ok(_) => exprs += 1,
        Err(lit) => literal |= !lit.is_empty(),
    });
    exprs == 1 && !literal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_expressions_with_defaults() {
        let e = exprs("postgres://u:${DB_PASSWORD:-changeme}@db/${DB:?set DB} $HOME $$LIT");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].name, "DB_PASSWORD");
        assert_eq!(e[0].default.as_deref(), Some("changeme"));
        assert!(e[1].required && e[1].default.is_none());
        assert_eq!(e[2].name, "HOME");
    }

    #[test]
    fn resolves_defaults_and_marks_unknowns() {
        assert_eq!(
            resolve("${BIND:-127.0.0.1}:5432:5432"),
            Resolved { text: "127.0.0.1:5432:5432".into(), unknown: false }
        );
        assert_eq!(resolve("app:${TAG}"), Resolved { text: "app:".into(), unknown: true });
        assert_eq!(resolve("${A:-${B:-x}}y"), Resolved { text: "xy".into(), unknown: false });
        assert_eq!(resolve("a$$b"), Resolved { text: "a$b".into(), unknown: false });
        assert_eq!(resolve_with("${IP}:80", "?").text, "?:80");
    }

    #[test]
    fn only_an_expression_is_not_a_literal() {
        assert!(is_only_expr("${DB_PASSWORD}"));
        assert!(is_only_expr("${DB_PASSWORD:-changeme}"));
        assert!(is_only_expr("$TOKEN"));
        assert!(!is_only_expr("secret${X}"));
        assert!(!is_only_expr("hunter2"));
        assert!(!is_only_expr("${A}${B}"));
    }
}
