//! Env files as Compose reads them: `KEY=value` lines, `export ` prefixes, quotes, inline
//! and whole-line comments. Config reads them strictly (a bad line is an error with its
//! number); init and scan take the lines that parse and pass over the rest.

use std::collections::BTreeMap;

/// One `KEY=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    pub key: String,
    /// Quotes removed; in double quotes `\n`, `\"` and `\\` are escapes; an unquoted value
    /// ends at ` #`.
    pub value: String,
}

/// The variable lines of an env file in order, blank lines and comments left out. A line
/// that is not `KEY=value`, or whose key is no variable name, is an error with its line
/// number and what is wrong.
pub fn entries(text: &str) -> impl Iterator<Item = Result<Entry, (usize, String)>> + '_ {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Some(Err((i + 1, format!("expected KEY=value, found `{}`", first_word(line)))));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            return Some(Err((i + 1, format!("`{}` is not a valid variable name", first_word(key)))));
        }
        Some(Ok(Entry { line: i + 1, key: key.to_string(), value: unquote(value.trim()) }))
    })
}

/// Parse an env file into its variables (a later line wins); the first bad line is the
/// error.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    entries(text).map(|e| e.map(|e| (e.key, e.value))).collect()
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].to_string();
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        return v[1..v.len() - 1].replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\");
    }
    // An unquoted value ends at ` #` (an inline comment).
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_compose_accepts() {
        let text = "# c\nA=1\nexport B = two \nC=\"x y\\n\"\nD='$raw'\nE=v # note\nF=\n";
        let v = parse(text).unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two");
        assert_eq!(v["C"], "x y\n");
        assert_eq!(v["D"], "$raw");
        assert_eq!(v["E"], "v");
        assert_eq!(v["F"], "");
    }

    #[test]
    fn rejects_a_line_without_equals_with_its_line_number() {
        assert_eq!(parse("A=1\nnonsense here\n").unwrap_err().0, 2);
        assert_eq!(parse("A B=1\n").unwrap_err(), (1, "`A` is not a valid variable name".to_string()));
    }

    #[test]
    fn entries_keep_their_line_numbers_and_errors_do_not_stop_them() {
        let got: Vec<Result<(usize, String), usize>> = entries("# c\n\nA=1\nnonsense\nexport B='x'\n")
            .map(|e| e.map(|e| (e.line, e.key)).map_err(|(line, _)| line))
            .collect();
        assert_eq!(got, [Ok((3, "A".to_string())), Err(4), Ok((5, "B".to_string()))]);
    }
}
