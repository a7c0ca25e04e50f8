//! End-to-end tests: the real `ccops` binary against a real Docker engine, Compose v2
//! and v1, PostgreSQL, Redis and an S3-compatible server (scripts/rig starts them).
//! One test crate with one module per command keeps link time down.

mod stack;
mod support;

mod backup;
mod cli;
mod config;
mod crash;
mod deploy;
mod doctor;
mod drill;
mod errors;
mod generated;
mod health;
mod health_db;
mod health_resources;
mod hostile;
mod init;
mod mysql;
mod notify;
mod ping;
mod pitr_restore;
mod pitr_stream;
mod release;
mod remote;
mod remote_engine;
mod restore_window;
mod rollout;
mod scan;
mod schedule;
mod swarm_stack;
