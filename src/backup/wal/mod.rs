//! Point-in-time recovery of PostgreSQL: the WAL archive beside the backup sets. A base
//! backup is a component of a set (kind `pgbase`); the WAL that follows it lives in one
//! folder per service ([`layout`]), written by `ccops wal stream` ([`stream`]), checked
//! by `ccops wal verify` ([`archive`]) and read by `ccops restore --to-time` / `--to-latest`
//! ([`recover`]).

pub mod archive;
pub mod check;
pub mod layout;
pub mod recover;
pub mod retention;
pub mod settings;
pub mod stream;
