//! Deploy preflight on the variables, before anything changes: every `required_variables`
//! entry set and not empty, and no weak secret (`changeme`, `password`, a placeholder,
//! empty) in a production-like environment unless the operator allows it.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::config::{Settings, is_secret_name};
use crate::output;

/// An environment whose name says it serves real users: production, prod, prd, live.
pub fn production_like(env: &str) -> bool {
    let e = env.to_ascii_lowercase();
    e.contains("prod") || e.split(['-', '_', '.']).any(|w| matches!(w, "prd" | "live"))
}

/// A value nobody should run production with: empty, a well-known default, a placeholder.
pub fn weak_value(v: &str) -> bool {
    let v = v.trim().to_ascii_lowercase();
    const EXACT: [&str; 16] = [
        "",
        "changeme",
        "change-me",
        "change_me",
        "password",
        "passw0rd",
        "secret",
        "admin",
        "root",
        "test",
        "default",
        "example",
        "123456",
        "12345678",
        "postgres",
        "redis",
    ];
    const PARTS: [&str; 6] = ["changeme", "change-me", "change_me", "replace-with", "replace_me", "placeholder"];
    EXACT.contains(&v.as_str()) || PARTS.iter().any(|p| v.contains(p))
}

/// `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `$NAME` references in a text:
/// name -> the default written with it, if any (`$$` is an escaped dollar).
pub fn references(text: &str) -> BTreeMap<String, Option<String>> {
    let mut out: BTreeMap<String, Option<String>> = BTreeMap::new();
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let braced = b.get(i + 1) == Some(&b'{');
        let start = if braced { i + 2 } else { i + 1 };
        let mut j = start;
        while j < b.len() && ident(b[j]) {
            j += 1;
        }
        if j == start || b[start].is_ascii_digit() {
            i = j.max(i + 1);
            continue;
        }
        let name = text[start..j].to_string();
        let mut default = None;
        if braced {
            let end = text[j..].find('}').map(|k| j + k).unwrap_or(b.len());
            let rest = &text[j..end];
            default = rest.strip_prefix(":-").or_else(|| rest.strip_prefix('-')).map(String::from);
            j = end;
        }
        let entry = out.entry(name).or_default();
        if entry.is_none() {
            *entry = default;
        }
        i = j + 1;
    }
    out
}

/// The variables a deploy depends on: `required_variables` and every variable the compose
/// files and ccops.yaml refer to, with the value they would get.
fn effective_values(s: &Settings) -> BTreeMap<String, String> {
    let mut refs: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut texts: Vec<String> = s.compose_files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect();
    texts.extend(std::fs::read_to_string(&s.config_file).ok());
    for t in &texts {
        for (k, d) in references(t) {
            let e = refs.entry(k).or_default();
            if e.is_none() {
                *e = d;
            }
        }
    }
    for r in &s.env.required_variables {
        refs.entry(r.clone()).or_default();
    }
    refs.into_iter()
        .map(|(k, default)| {
            let v = s.vars.get(&k).filter(|v| !v.is_empty()).map(String::from).or(default).unwrap_or_default();
            (k, v)
        })
        .collect()
}

/// Refuse (exit 2) what must not be deployed. Nothing has changed when this runs.
pub fn check(s: &Settings, allow_weak_secrets: bool) -> Result<()> {
    let values = effective_values(s);
    let missing: Vec<&String> =
        s.env.required_variables.iter().filter(|r| values.get(*r).is_none_or(|v| v.trim().is_empty())).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
        return Err(crate::usage!(
            "required variable(s) of environment `{}` not set or empty: {}; set them in {} or the environment",
            s.env_name,
            names.join(", "),
            s.env_file.as_ref().map_or("the env file".into(), |f| format!("`{}`", f.display()))
        ));
    }
    let weak: Vec<&String> =
        values.iter().filter(|(k, v)| is_secret_name(k) && weak_value(v)).map(|(k, _)| k).collect();
    if weak.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = weak.iter().map(|m| m.as_str()).collect();
    let what =
        format!("weak or placeholder secret(s): {} (empty, a well-known default or a placeholder)", names.join(", "));
    if production_like(&s.env_name) && !allow_weak_secrets {
        return Err(crate::usage!(
            "refusing to deploy to production-like environment `{}` with {what}; set real values, or pass --allow-weak-secrets",
            s.env_name
        ));
    }
    output::warn(format!("deploying with {what}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_like_names() {
        for n in ["production", "prod", "eu-prod", "Prod2", "live", "shop-prd"] {
            assert!(production_like(n), "{n}");
        }
        for n in ["staging", "dev", "default", "delivery", "olive"] {
            assert!(!production_like(n), "{n}");
        }
    }

    #[test]
    fn weak_values() {
        for v in ["", " ", "changeme", "Password", "replace-with-output-of-openssl-rand-base64-32", "my-placeholder"] {
            assert!(weak_value(v), "{v:?}");
        }
        for v in ["k8Jq2vX0pL", "correct horse battery staple"] {
            assert!(!weak_value(v), "{v:?}");
        }
    }

    #[test]
    fn finds_references_and_their_defaults() {
        let r = references("a: ${DB_PASSWORD:-changeme}\nb: $SECRET_KEY/x ${PORT-80} $$NOT ${X:?msg} ${1BAD} $");
        assert_eq!(r.get("DB_PASSWORD"), Some(&Some("changeme".to_string())));
        assert_eq!(r.get("SECRET_KEY"), Some(&None));
        assert_eq!(r.get("PORT"), Some(&Some("80".to_string())));
        assert_eq!(r.get("X"), Some(&None));
        assert!(!r.contains_key("NOT") && !r.contains_key("1BAD"));
    }
}
