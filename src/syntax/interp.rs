//! Compose interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
//! `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`, `$VAR` and `$$`, read by one tokenizer.
//! Each reader asks it what it needs: config expands with its variables ([`interpolate`]);
//! init expands what it knows and shows the rest as written ([`expand_known`]); scan reads
//! a file as written, whatever the shell that runs it exports, so `${VAR:-default}` reads
//! as its default and a variable without one is unknown ([`resolve`]); deploy, init and
//! scan list the variables a text refers to ([`references`], [`all_references`]).
//! Over 400 lines with its tests (about 330 without): the tokenizer and the readings built
//! on it stay in one file so that they cannot drift apart again.

use std::collections::{BTreeMap, BTreeSet};

/// What an expression does when its variable is missing: unset, or with the `:` form
/// also empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `$VAR`, `${VAR}`: the value (empty when unset).
    Value,
    /// `${VAR:-x}`, `${VAR-x}`: `x` in place of a missing value.
    Default,
    /// `${VAR:?msg}`, `${VAR?msg}`: an error saying `msg`.
    Required,
    /// `${VAR:+x}`, `${VAR+x}`: `x` when the value is there, else nothing.
    Alternative,
    /// Anything else after the name (`${VAR bad}`, `${VAR:}`).
    Invalid,
}

/// One `${...}` or `$VAR` expression, borrowed from the text it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr<'a> {
    /// The variable's name; empty when `${` is not followed by one.
    pub name: &'a str,
    pub op: Op,
    /// The `:` form (`:-`, `:?`, `:+`): an empty value counts as missing.
    pub colon: bool,
    /// What follows the operator, as written: the default, message or alternative.
    pub arg: &'a str,
    /// The whole expression as written, from `$` to its closing `}`.
    pub text: &'a str,
    /// Byte offset of its `$` in the text it was read in.
    pub at: usize,
}

impl<'a> Expr<'a> {
    /// The text used when the variable is missing (`${VAR:-x}`, `${VAR-x}`).
    pub fn default(&self) -> Option<&'a str> {
        (self.op == Op::Default).then_some(self.arg)
    }

    /// Compose refuses to start without the variable (`${VAR:?msg}`, `${VAR?msg}`).
    pub fn required(&self) -> bool {
        self.op == Op::Required
    }
}

/// One piece of a text, as the tokenizer reads it.
enum Piece<'a> {
    /// Literal text; `$$` reads as a piece `$`.
    Text(&'a str),
    Expr(Expr<'a>),
    /// A `${` at this byte offset that no `}` closes; reading goes on after its `$`.
    Unclosed(usize),
}

/// The tokenizer: `text` as literal pieces and expressions, outermost only.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut lit) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let (piece, next) = match bytes.get(i + 1) {
            Some(b'$') => (Piece::Text(&text[i..=i]), i + 2),
            Some(b'{') => match closing(text, i + 1) {
                Some(close) => (Piece::Expr(braced(text, i, close)), close + 1),
                None => (Piece::Unclosed(i), i + 1),
            },
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let end = ident_end(text, i + 1);
                let name = &text[i + 1..end];
                (Piece::Expr(Expr { name, op: Op::Value, colon: false, arg: "", text: &text[i..end], at: i }), end)
            }
            // A `$` before anything else is a literal `$`.
            _ => {
                i += 1;
                continue;
            }
        };
        if lit < i {
            out.push(Piece::Text(&text[lit..i]));
        }
        out.push(piece);
        i = next;
        lit = next;
    }
    if lit < bytes.len() {
        out.push(Piece::Text(&text[lit..]));
    }
    out
}

/// Byte index of the `}` that closes the `{` at `open`.
fn closing(text: &str, open: usize) -> Option<usize> {
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

/// Where the name that starts at `from` ends: letters, digits and `_`.
fn ident_end(text: &str, from: usize) -> usize {
    text[from..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |e| from + e)
}

/// The expression `${...}` from the `$` at `at` to the `}` at `close`.
fn braced(text: &str, at: usize, close: usize) -> Expr<'_> {
    let end = ident_end(&text[..close], at + 2);
    let (name, rest) = (&text[at + 2..end], &text[end..close]);
    let (colon, after) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (op, arg) = match after.as_bytes().first() {
        None if !colon => (Op::Value, ""),
        Some(b'-') => (Op::Default, &after[1..]),
        Some(b'?') => (Op::Required, &after[1..]),
        Some(b'+') => (Op::Alternative, &after[1..]),
        _ => (Op::Invalid, rest),
    };
    Expr { name, op, colon, arg, text: &text[at..=close], at }
}

/// Every expression in `text`, outermost only, in order.
pub fn references(text: &str) -> Vec<Expr<'_>> {
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Expr(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Every expression in `text` and in the defaults, messages and alternatives written
/// inside them (`${A:-${B}}` refers to A and B), each before those inside it.
pub fn all_references(text: &str) -> Vec<Expr<'_>> {
    fn walk<'a>(text: &'a str, depth: usize, out: &mut Vec<Expr<'a>>) {
        if depth > MAX_NESTING {
            return;
        }
        for e in references(text) {
            let arg = e.arg;
            let inside = matches!(e.op, Op::Default | Op::Required | Op::Alternative);
            out.push(e);
            if inside {
                walk(arg, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(text, 0, &mut out);
    out
}

/// Where variable values come from.
pub trait Lookup {
    /// The value of `name`; `None` when it is unset.
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl Lookup for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// The result of interpolating one string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    /// Whether any `$` expression was expanded.
    pub expanded: bool,
    /// The variables whose own value went into `value` (a secret among them means the
    /// value must be masked whole when shown).
    pub used: BTreeSet<String>,
}

/// How deep `${A:-${B:-...}}` may nest: far past any real file, well short of the stack
/// (each level is a few calls deep).
const MAX_NESTING: usize = 32;

/// Interpolate `text` as Compose does: an unset variable without a default is empty. The
/// error is the message of a `${VAR:?message}` that fired, or a syntax problem, with the
/// byte offset of the (outermost) expression in `text`.
pub fn interpolate(text: &str, vars: &impl Lookup) -> Result<Interpolated, (usize, String)> {
    run(text, vars, true, 0)
}

/// Expand what `vars` knows and leave the rest as written: an unset variable without a
/// default, a required one that is missing and anything malformed stay as they are in
/// `text`, so they can be shown as such (`init` reads files before the env file is done).
pub fn expand_known(text: &str, vars: &impl Lookup) -> String {
    // Not strict, every expression that fails is written as it is: nothing fails here.
    run(text, vars, false, 0).map_or_else(|_| text.to_string(), |r| r.value)
}

fn run(text: &str, vars: &impl Lookup, strict: bool, depth: usize) -> Result<Interpolated, (usize, String)> {
    if depth > MAX_NESTING {
        return Err((0, format!("`${{` is nested more than {MAX_NESTING} deep")));
    }
    let mut out = Interpolated { value: String::with_capacity(text.len()), ..Interpolated::default() };
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.value.push_str(t),
            Piece::Unclosed(at) if strict => return Err((at, "unclosed `${` in value".to_string())),
            Piece::Unclosed(at) => {
                out.value.push_str(&text[at..]);
                break;
            }
            Piece::Expr(e) => {
                out.expanded = true;
                match eval(&e, vars, strict, depth) {
                    Ok(r) => {
                        out.value.push_str(&r.value);
                        out.used.extend(r.used);
                    }
                    Err(msg) if strict => return Err((e.at, msg)),
                    Err(_) => out.value.push_str(e.text),
                }
            }
        }
    }
    Ok(out)
}

/// The value of one expression. Not strict, an unset variable is an error too (the
/// caller then writes the expression as it is).
fn eval(e: &Expr<'_>, vars: &impl Lookup, strict: bool, depth: usize) -> Result<Interpolated, String> {
    if e.name.is_empty() {
        return Err(format!("`{}` does not start with a variable name", e.text));
    }
    let value = vars.lookup(e.name);
    let present = if e.colon { value.is_some_and(|v| !v.is_empty()) } else { value.is_some() };
    let own = || match value {
        None if !strict => Err(format!("variable `{}` is not set", e.name)),
        _ => Ok(Interpolated {
            value: value.unwrap_or_default().to_string(),
            expanded: true,
            used: BTreeSet::from([e.name.to_string()]),
        }),
    };
    let nested = |s: &str| run(s, vars, strict, depth + 1).map_err(|(_, m)| m);
    match e.op {
        Op::Value => own(),
        Op::Default if present => own(),
        Op::Default => nested(e.arg),
        Op::Required if present => own(),
        Op::Required => {
            let msg = if e.arg.is_empty() { "is required".to_string() } else { nested(e.arg)?.value };
            Err(format!("variable `{}` is not set: {msg}", e.name))
        }
        Op::Alternative if present => nested(e.arg),
        Op::Alternative => Ok(Interpolated { expanded: true, ..Interpolated::default() }),
        Op::Invalid => Err(format!(
            "`{}` is not a valid interpolation; use ${{VAR}}, ${{VAR:-default}} or ${{VAR:?message}}",
            e.text
        )),
    }
}

/// A value with every expression replaced by its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub text: String,
    /// Some expression had no default: `text` holds the `unknown` marker in its place.
    pub unknown: bool,
}

/// `text` as written, defaults in place of expressions (`$$` becomes `$`); an expression
/// without a default reads as empty and makes the result `unknown`.
pub fn resolve(text: &str) -> Resolved {
    resolve_with(text, "")
}

/// `resolve`, writing `unknown` where an expression has no default.
pub fn resolve_with(text: &str, unknown: &str) -> Resolved {
    resolve_at(text, unknown, 0)
}

fn resolve_at(text: &str, unknown: &str, depth: usize) -> Resolved {
    let mut out = Resolved { text: String::new(), unknown: false };
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.text.push_str(t),
            Piece::Unclosed(_) => out.text.push('$'),
            Piece::Expr(e) => match e.default() {
                Some(d) if depth < MAX_NESTING => {
                    let inner = resolve_at(d, unknown, depth + 1);
                    out.unknown |= inner.unknown;
                    out.text.push_str(&inner.text);
                }
                _ => {
                    out.unknown = true;
                    out.text.push_str(unknown);
                }
            },
        }
    }
    out
}

/// Whether the value is nothing but one expression (`${DB_PASSWORD}`, `$TOKEN`), i.e. it
/// holds no literal of its own besides a default.
pub fn is_only_expr(text: &str) -> bool {
    matches!(pieces(text.trim()).as_slice(), [Piece::Expr(_)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("HOST", "db"), ("EMPTY", ""), ("DB_PASSWORD", "s3cret")].map(|(k, v)| (k.to_string(), v.to_string())).into()
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
    fn syntax_errors_name_the_expression() {
        let e = |s: &str| interpolate(s, &vars()).unwrap_err();
        assert_eq!(e("a ${HOST"), (2, "unclosed `${` in value".to_string()));
        assert_eq!(e("${:-x}"), (0, "`${:-x}` does not start with a variable name".to_string()));
        assert!(e("${HOST bad}").1.starts_with("`${HOST bad}` is not a valid interpolation"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // Each `${X:-` nests one call deeper: 2000 of them once overflowed the stack.
        let nest = |n: usize| format!("a {}x{}", "${NOPE:-".repeat(n), "}".repeat(n));
        assert_eq!(run(&nest(MAX_NESTING)), "a x");
        let e = interpolate(&nest(2000), &vars()).unwrap_err();
        assert_eq!(e, (2, format!("`${{` is nested more than {MAX_NESTING} deep")));
        assert!(resolve(&nest(2000)).unknown);
        // Past the limit the expression stays as written.
        assert_eq!(expand_known(&nest(2000), &vars()), format!("a {}", &nest(2000 - MAX_NESTING)[2..]));
    }

    #[test]
    fn records_the_variables_whose_value_was_used() {
        let used = |s: &str| interpolate(s, &vars()).unwrap().used.into_iter().collect::<Vec<_>>();
        assert_eq!(used("postgres://u:${DB_PASSWORD}@$HOST"), ["DB_PASSWORD", "HOST"]);
        assert_eq!(used("${NOPE:-${HOST}}"), ["HOST"]);
        assert_eq!(used("${HOST:+x}"), Vec::<String>::new());
    }

    #[test]
    fn expand_known_leaves_the_unknown_as_written() {
        let v: BTreeMap<String, String> = [("A", "x"), ("E", "")].map(|(k, v)| (k.to_string(), v.to_string())).into();
        assert_eq!(expand_known("${A}-${A:-d}-${B:-d}-${E:-d}-${E-d}-$A-$$-${B}", &v), "x-x-d-d--x-$-${B}");
        assert_eq!(expand_known("${A:?set it} ${B:?set it} $B ${A bad} ${A", &v), "x ${B:?set it} $B ${A bad} ${A");
    }

    #[test]
    fn lists_references_outermost_or_all() {
        let text = "postgres://u:${DB_PASSWORD:-changeme}@db/${DB:?set DB} $HOME $$LIT ${A:-${B-x}} $ $1";
        let r = references(text);
        let names: Vec<&str> = r.iter().map(|e| e.name).collect();
        assert_eq!(names, ["DB_PASSWORD", "DB", "HOME", "A"]);
        assert_eq!(r[0].default(), Some("changeme"));
        assert!(r[1].required() && r[1].default().is_none());
        assert_eq!((r[3].text, r[3].default()), ("${A:-${B-x}}", Some("${B-x}")));
        let all: Vec<(&str, Option<&str>)> = all_references(text).iter().map(|e| (e.name, e.default())).collect();
        assert_eq!(all[3..], [("A", Some("${B-x}")), ("B", Some("x"))]);
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
        assert_eq!(resolve("${A"), Resolved { text: "${A".into(), unknown: false });
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
        assert!(!is_only_expr("$$A"));
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
                let _ = expand_known(&text, &vars());
                let _ = all_references(&text);
            }

            #[test]
            fn never_panics_on_any_string(text in any::<String>()) {
                let _ = interpolate(&text, &vars());
                let _ = expand_known(&text, &vars());
            }

            /// Text without `$` comes back as written, and `$$` is one `$`.
            #[test]
            fn plain_text_is_left_alone(text in "[^$]{0,40}") {
                let r = interpolate(&text, &vars()).unwrap();
                prop_assert_eq!(&r.value, &text);
                prop_assert!(!r.expanded && r.used.is_empty());
                let doubled = format!("$${text}$$");
                prop_assert_eq!(interpolate(&doubled, &vars()).unwrap().value, format!("${text}$"));
            }

            /// A variable's value only ever reaches a result that says it was used.
            #[test]
            fn a_used_value_is_always_recorded(text in template()) {
                if let Ok(r) = interpolate(&text, &vars()) {
                    if r.value.contains("s3cret") && !text.contains("s3cret") {
                        prop_assert!(r.used.contains("DB_PASSWORD"), "{text:?} -> {:?}", r.value);
                    }
                }
            }
        }
    }
}
