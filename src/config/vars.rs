//! The variables ccops.yaml is interpolated with (env file, process environment, `*_FILE`
//! secrets), and which of their values are secrets to mask. The `${...}` syntax itself is
//! read by `crate::syntax::interp`.

use std::collections::{BTreeMap, BTreeSet};

use crate::syntax::interp::Lookup;
use crate::syntax::secrets::is_secret_name;

/// Where variable values come from, and which of them are secrets.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    secret: BTreeSet<String>,
    from_file: BTreeSet<String>,
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

impl Lookup for Vars {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

/// A URL with a password in it, or a long token of letters and digits.
fn looks_like_credential(v: &str) -> bool {
    if v.contains("://") && v.contains('@') {
        return true;
    }
    let token = v.len() >= 16 && !v.contains(char::is_whitespace) && !v.contains('/');
    token && v.chars().any(|c| c.is_ascii_digit()) && v.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn values_that_use_a_secret_are_masked_whole() {
        let mut v = Vars::default();
        v.insert("HOST", "db".into(), false);
        v.insert("DB_PASSWORD", "s3cret".into(), false);
        let uses_secret =
            |s: &str| crate::syntax::interp::interpolate(s, &v).unwrap().used.iter().any(|n| v.is_secret(n));
        assert!(uses_secret("postgres://u:${DB_PASSWORD}@h"));
        assert!(!uses_secret("${HOST}"));
    }
}
