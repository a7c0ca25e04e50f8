//! Dump and restore one kind of data: a Postgres database, a Redis dataset, a volume.

pub mod postgres;
mod recover;
pub mod redis;
pub mod tee;
pub mod volume;

pub use recover::recover;

/// The value of `KEY` in a container's `KEY=value` environment list.
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}
