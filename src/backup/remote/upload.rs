//! Uploading local sets to a store, with the bookkeeping of failures: a set whose upload
//! fails stays local and is marked pending for that remote (pending.rs); the next
//! `backup --upload` or `backup push all-pending` uploads it first.

use anyhow::Result;

use super::pending;
use crate::backup::layout::{self, LocalSet};
use crate::backup::trust;
use crate::config::Settings;
use crate::output;
use crate::storage::Store;

/// Upload one set; on failure it stays local and is marked pending for that remote.
pub async fn upload(s: &Settings, store: &dyn Store, set: &LocalSet) -> Result<()> {
    // A set that fails its signature check here is not spread to the remote.
    let set = &trust::signed_local(s, set)?;
    let name = store.name();
    output::status(format!("uploading backup {} to remote `{name}` ...", set.id));
    let t = std::time::Instant::now();
    match super::transfer::send(store, set).await {
        Ok(bytes) => {
            pending::remove(&s.state_dir, name, &set.id)?;
            output::status(format!(
                "uploaded backup {} to remote `{name}`: {} in {}",
                set.id,
                crate::util::human_bytes(bytes),
                crate::util::human_duration(t.elapsed())
            ));
            Ok(())
        }
        Err(e) => {
            pending::add(&s.state_dir, name, &set.id)?;
            Err(e.context(format!(
                "backup {} is kept locally and marked \"upload pending\"; `ccops backup push all-pending --remote {name}` retries (the next `backup --upload {name}` does too)",
                set.id
            )))
        }
    }
}

/// Upload the sets still pending for this remote. A failure is handed to `report` and
/// the next set goes on; returns whether all went up.
pub async fn push_pending(s: &Settings, store: &dyn Store, report: impl Fn(&anyhow::Error)) -> bool {
    let ids = pending::read(&s.state_dir).remove(store.name()).unwrap_or_default();
    let sets = layout::list(&s.backup_dir).unwrap_or_default();
    let mut all_ok = true;
    for id in ids {
        match sets.iter().find(|x| x.id == id && x.complete) {
            Some(set) => {
                if let Err(e) = upload(s, store, set).await {
                    report(&e);
                    all_ok = false;
                }
            }
            None => {
                output::warn(format!("backup {id} was pending upload but is no longer here; forgetting it"));
                let _ = pending::remove(&s.state_dir, store.name(), &id);
            }
        }
    }
    all_ok
}

/// `backup push`: the local set `id` (or `latest`), or with `all-pending` every set
/// pending for this remote. Returns whether everything went up; a failure of a named set
/// is an error.
pub async fn push(s: &Settings, store: &dyn Store, id: &str, report: impl Fn(&anyhow::Error)) -> Result<bool> {
    if id == "all-pending" {
        let n = pending::read(&s.state_dir).get(store.name()).map_or(0, |x| x.len());
        if n == 0 {
            output::status(format!("no backup is pending upload to remote `{}`", store.name()));
            return Ok(true);
        }
        return Ok(push_pending(s, store, report).await);
    }
    let sets = layout::list(&s.backup_dir)?;
    let set = layout::resolve(&sets, id)?.clone();
    upload(s, store, &set).await?;
    Ok(true)
}
