//! What a backup or restore covers: the configured components of every kind, narrowed by
//! `--only`.

use anyhow::Result;

use super::kinds::{self, Component};
use crate::config::Settings;

/// One configured component, of any kind.
pub type Item = Box<dyn Component>;

/// The configured items, narrowed by `only` (an unknown token is a usage error).
pub fn select(s: &Settings, model: &crate::compose::Model, only: &[String]) -> Result<Vec<Item>> {
    let items: Vec<Item> = kinds::ALL.iter().flat_map(|k| k.configured(s, model)).collect();
    if items.is_empty() {
        let mut keys: Vec<String> = kinds::ALL.iter().map(|k| format!("`{}`", k.config_key())).collect();
        // A base backup (pgbase) is configured under backup.postgres too.
        keys.dedup();
        return Err(crate::usage!("nothing to back up: {} lists no {}", s.config_file.display(), either(&keys)));
    }
    narrow(items, only)
}

/// Without `--only`, leave out what is not due (a base backup younger than its period),
/// saying so; with it, what it names is taken.
fn due(items: Vec<Item>, only: &[&String]) -> Vec<Item> {
    if !only.is_empty() {
        return items;
    }
    items
        .into_iter()
        .filter(|i| match i.not_due() {
            Some(why) => {
                crate::output::status(format!(
                    "  skipping {}: {why} (`--only {}` takes it now)",
                    i.describe(),
                    i.kind().word()
                ));
                false
            }
            None => true,
        })
        .collect()
}

pub fn narrow(items: Vec<Item>, only: &[String]) -> Result<Vec<Item>> {
    let only: Vec<&String> = only.iter().filter(|t| !t.trim().is_empty()).collect();
    if only.is_empty() {
        return Ok(due(items, &only));
    }
    for t in &only {
        if !items.iter().any(|i| i.matches(t)) {
            let names: Vec<String> = items.iter().map(|i| i.name()).collect();
            let words: Vec<&str> = kinds::ALL.iter().map(|k| k.word()).collect();
            return Err(crate::usage!(
                "--only `{t}` matches nothing; use a kind ({}) or a name: {}",
                words.join(", "),
                names.join(", ")
            ));
        }
    }
    Ok(items.into_iter().filter(|i| only.iter().any(|t| i.matches(t))).collect())
}

/// "a, b or c".
fn either(words: &[String]) -> String {
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_name_every_kind_as_before() {
        let mut keys: Vec<String> = kinds::ALL.iter().map(|k| format!("`{}`", k.config_key())).collect();
        keys.dedup();
        assert_eq!(
            either(&keys),
            "`backup.postgres`, `backup.mysql`, `backup.redis`, `backup.volumes` or `backup.commands`"
        );
    }
}
