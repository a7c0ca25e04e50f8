//! Deploy preflight on the variables, before anything changes: every `required_variables`
//! entry set and not empty, and no weak secret (`changeme`, `password`, a placeholder,
//! empty) in a production-like environment unless the operator allows it.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::config::{Settings, Vars};
use crate::output;
use crate::syntax::interp;
use crate::syntax::secrets::{is_secret_name, is_weak_value};

/// An environment whose name says it serves real users: production, prod, prd, live.
pub fn production_like(env: &str) -> bool {
    let e = env.to_ascii_lowercase();
    e.contains("prod") || e.split(['-', '_', '.']).any(|w| matches!(w, "prd" | "live"))
}

/// The variables a deploy depends on: `required_variables` and every variable the compose
/// files and ccops.yaml refer to, with the value they would get.
fn effective_values(s: &Settings) -> BTreeMap<String, String> {
    let mut texts: Vec<String> = s.compose_files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect();
    texts.extend(std::fs::read_to_string(&s.config_file).ok());
    effective(&texts, &s.vars, &s.env.required_variables)
}

/// `effective_values` of these texts: a variable's own value when set and not empty, else
/// the first default written with it (itself interpolated), else empty.
pub fn effective(texts: &[String], vars: &Vars, required: &[String]) -> BTreeMap<String, String> {
    let mut refs: BTreeMap<String, Option<&str>> = BTreeMap::new();
    for t in texts {
        for e in interp::all_references(t).into_iter().filter(|e| valid_name(e.name)) {
            let d = refs.entry(e.name.to_string()).or_default();
            if d.is_none() {
                *d = e.default();
            }
        }
    }
    for r in required {
        refs.entry(r.clone()).or_default();
    }
    refs.into_iter()
        .map(|(k, default)| {
            let default = || default.map(|d| interp::interpolate(d, vars).map_or_else(|_| d.to_string(), |r| r.value));
            let v = vars.get(&k).filter(|v| !v.is_empty()).map(String::from).or_else(default).unwrap_or_default();
            (k, v)
        })
        .collect()
}

/// A name Compose takes for a variable: `${1BAD}` is none.
fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// The secret-named variables among `values` whose value is weak.
pub fn weak_secrets(values: &BTreeMap<String, String>) -> Vec<&str> {
    values.iter().filter(|(k, v)| is_secret_name(k) && is_weak_value(v)).map(|(k, _)| k.as_str()).collect()
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
    let weak = weak_secrets(&values);
    if weak.is_empty() {
        return Ok(());
    }
    let what =
        format!("weak or placeholder secret(s): {} (empty, a well-known default or a placeholder)", weak.join(", "));
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
    fn effective_values_take_the_value_then_the_default() {
        let mut vars = Vars::default();
        vars.insert("SET", "k8Jq2vX0pL".into(), false);
        vars.insert("EMPTY", String::new(), false);
        let text = "a: ${DB_PASSWORD:-changeme}\nb: $SECRET_KEY/x ${PORT-80} $$NOT ${X:?msg} ${1BAD} $\n\
                    c: ${SET:-changeme} ${EMPTY:-postgres} ${A_TOKEN:-${SET}} ${B_TOKEN:-${NOPE:-admin}}";
        let v = effective(&[text.to_string()], &vars, &["REQ".to_string()]);
        let get = |k: &str| v.get(k).map(String::as_str);
        assert_eq!(get("DB_PASSWORD"), Some("changeme"));
        assert_eq!((get("SECRET_KEY"), get("PORT"), get("X"), get("REQ")), (Some(""), Some("80"), Some(""), Some("")));
        assert!(!v.contains_key("NOT") && !v.contains_key("1BAD"));
        assert_eq!((get("SET"), get("EMPTY")), (Some("k8Jq2vX0pL"), Some("postgres")));
        assert_eq!((get("A_TOKEN"), get("B_TOKEN"), get("NOPE")), (Some("k8Jq2vX0pL"), Some("admin"), Some("admin")));
        assert_eq!(weak_secrets(&v), ["B_TOKEN", "DB_PASSWORD", "SECRET_KEY"]);
    }
}
