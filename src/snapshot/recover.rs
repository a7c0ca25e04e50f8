//! Putting right what a killed ccops left half done: the journal is state.rs's, the
//! knowledge of how to undo or finish a change is each kind's (postgres.rs, redis.rs,
//! volume/), and this dispatcher, above both, walks the one and calls the other.

use std::path::Path;

use crate::state::{self, Entry};

/// Put right what a killed ccops left half done, then start the containers it stopped.
/// Each change is undone, or finished when its new data was complete (see [`Entry`]).
/// Call with the project lock held. When a change cannot be put right, its entry stays
/// (the next run tries again) and the containers stay stopped: services must not start
/// on data in an unknown state.
pub async fn recover(engine: &crate::docker::Engine, state_dir: &Path) -> anyhow::Result<()> {
    let list = state::journal(state_dir)?;
    if list.is_empty() {
        return Ok(());
    }
    crate::output::warn(format!(
        "a previous ccops run was killed before it finished ({} unfinished); putting it right first",
        list.len()
    ));
    let mut failed = Vec::new();
    // Helpers last: a change put right above may need its helper (a Swarm Redis volume).
    let mut order: Vec<&Entry> = list.iter().collect();
    order.sort_by_key(|e| matches!(e, Entry::Helper { .. }));
    for e in order {
        let done = match e {
            Entry::Stopped { .. } => continue,
            // Kept while what needs it could not be put right.
            Entry::Helper { .. } if !failed.is_empty() => continue,
            Entry::VolumeMovedAside(v) => super::volume::recover(engine, v, false).await,
            Entry::VolumeRestored(v) => super::volume::recover(engine, v, true).await,
            Entry::PostgresStaging(p) | Entry::PostgresSwap(p) | Entry::PostgresSwapped(p) => {
                super::postgres::recover(engine, p, matches!(e, Entry::PostgresSwapped(_))).await
            }
            Entry::RedisRdbReplaced(r) => super::redis::recover(engine, r).await,
            Entry::Helper { container } => remove_helper(engine, container).await,
        };
        match done {
            Ok(what) => {
                crate::output::warn(format!("recovered: {what}"));
                state::journal_remove(state_dir, std::slice::from_ref(e))?;
            }
            Err(err) => {
                crate::output::error(format!("cannot put right the {e}: {err:#}"));
                failed.push(e.to_string());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "a previous ccops run was killed, and this could not be put right: {}; the services it stopped stay stopped; fix the cause and run `ccops restore` or `ccops backup` again (or, once you have put it right by hand, delete `{}`)",
            failed.join("; "),
            state::journal_path(state_dir).display()
        );
    }
    for e in &list {
        let Entry::Stopped { container, name } = e else { continue };
        match state::start_if_stopped(engine, container).await {
            Ok(true) => crate::output::warn(format!(
                "recovered: a previous ccops run stopped {name} and did not start it again (it was killed); started it"
            )),
            Ok(false) => {}
            Err(err) => {
                crate::output::error(format!("cannot start `{name}` again: {err:#}; start it by hand"));
                failed.push(name.clone());
            }
        }
        state::journal_remove(state_dir, std::slice::from_ref(e))?;
    }
    // A Swarm stack's services scaled to 0 for a stop window: their containers are gone.
    for name in engine.scale_back_stopped().await? {
        crate::output::warn(format!(
            "recovered: a previous ccops run scaled Swarm service {name} to 0 and did not scale it back (it was killed); scaled it back"
        ));
    }
    if !failed.is_empty() {
        anyhow::bail!("a previous ccops run was killed, and these could not be started again: {}", failed.join(", "));
    }
    // Scaled back, a Swarm service runs once its new task started: what this run does
    // next (a backup) needs its container.
    let short = engine.wait_stack_running(std::time::Duration::from_secs(120)).await;
    if !short.is_empty() {
        crate::output::warn(format!("Swarm service(s) {} have not all their tasks running yet", short.join(", ")));
    }
    Ok(())
}

/// Remove a helper container a killed run left; one already gone is fine.
async fn remove_helper(engine: &crate::docker::Engine, id: &str) -> anyhow::Result<String> {
    match engine.api().inspect_container(id, None).await {
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        _ => engine.remove(id).await?,
    }
    Ok(format!("removed helper container {}", crate::docker::short_id(id)))
}
