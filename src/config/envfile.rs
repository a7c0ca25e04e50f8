//! `.env` files as Compose reads them: `KEY=value` lines, `export ` prefixes, quotes,
//! comments. Every value read from one is treated as a secret (SPEC §1 Output).

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;

/// Parse an env file into its variables, in file order of precedence (last wins).
pub fn read(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = crate::util::read_small_file(path, crate::util::MAX_CONFIG_FILE_BYTES).map_err(|e| {
        ConfigError::file(
            path,
            format!(
                "cannot read the env file ({}); create it (e.g. from .env.example) or fix `env_file` in ccops.yaml",
                crate::util::io_reason(&e)
            ),
        )
    })?;
    parse(&text).map_err(|(line, msg)| ConfigError::at(path, Some(line), None, msg))
}

pub fn parse(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut vars = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err((i + 1, format!("expected KEY=value, found `{}`", first_word(line))));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            return Err((i + 1, format!("`{}` is not a valid variable name", first_word(key))));
        }
        vars.insert(key.to_string(), unquote(value.trim()));
    }
    Ok(vars)
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
    }
}
