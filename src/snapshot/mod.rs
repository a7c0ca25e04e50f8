//! Dump and restore one kind of data: a Postgres or MySQL/MariaDB database, a Redis
//! dataset, a volume, or the output of an operator's own command.

pub mod command;
pub mod mysql;
pub mod pgbase;
pub mod pgrecover;
pub mod postgres;
mod recover;
pub mod redis;
pub mod tee;
pub mod volume;
pub mod walreceiver;

pub use recover::recover;

/// The value of `KEY` in a container's `KEY=value` environment list.
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// The last three non-empty lines of a command's stderr, for an error message.
pub fn last_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    if tail.is_empty() { "no message".into() } else { tail }
}
