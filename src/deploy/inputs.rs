//! What one deploy works from, settled before anything changes: the version, the
//! compose files read, the services and their replicas, the migrations, the release
//! before. The sequence (run.rs) and the dry run (dry_run.rs) read the same value.

use std::collections::BTreeMap;

use super::migrate::Mode;
use super::record::Release;
use crate::compose::{Compose, Model};
use crate::project::Project;

/// What one deploy works from, settled before anything changes.
pub(super) struct Plan<'a> {
    pub(super) p: &'a Project,
    pub(super) version: String,
    pub(super) compose: Compose,
    pub(super) model: Model,
    pub(super) services: Vec<String>,
    pub(super) deps: BTreeMap<String, Vec<String>>,
    pub(super) replicas: BTreeMap<String, u32>,
    pub(super) migrate: Option<Mode>,
    pub(super) previous: Option<Release>,
}
