//! What ccops remembers between runs, in the state directory (SPEC §4): the desired
//! number of replicas per service of each environment.

use std::collections::BTreeMap;

use crate::config::Settings;

/// Replica counts set by `ccops scale` for the settings' environment (empty when none).
pub fn desired_scale(s: &Settings) -> BTreeMap<String, u32> {
    let path = s.state_dir.join(format!("scale-{}.json", s.env_name));
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// Containers ccops stopped and has not started again yet. Written before stopping, so a
/// ccops killed with SIGKILL mid-operation leaves a note the next operation acts on.
fn journal_path(state_dir: &std::path::Path) -> std::path::PathBuf {
    state_dir.join("stopped.json")
}

pub fn record_stopped(state_dir: &std::path::Path, stopped: &[(String, String)]) -> anyhow::Result<()> {
    crate::util::create_private_dir(state_dir)?;
    let text = serde_json::to_string(stopped)?;
    crate::util::write_atomic(&journal_path(state_dir), text.as_bytes(), 0o600)
}

pub fn clear_stopped(state_dir: &std::path::Path) {
    let _ = std::fs::remove_file(journal_path(state_dir));
}

/// Start containers a killed ccops left stopped. Call with the project lock held.
pub async fn recover_stopped(engine: &crate::docker::Engine, state_dir: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(journal_path(state_dir)) else { return };
    let list: Vec<(String, String)> = serde_json::from_str(&text).unwrap_or_default();
    for (id, name) in &list {
        crate::output::warn(format!(
            "a previous ccops run stopped {name} and did not start it again (it was killed); starting it"
        ));
        if let Err(e) = engine.start(id).await {
            crate::output::error(format!("{e:#}"));
        }
    }
    clear_stopped(state_dir);
}

fn scale_path(s: &Settings) -> std::path::PathBuf {
    s.state_dir.join(format!("scale-{}.json", s.env_name))
}

/// Save the replica counts `ccops scale` set for the settings' environment (the whole
/// map: merge with `desired_scale` first). `deploy` and `health` read them back.
pub fn save_desired_scale(s: &Settings, scale: &BTreeMap<String, u32>) -> anyhow::Result<()> {
    crate::util::create_private_dir(&s.state_dir)?;
    let text = serde_json::to_string_pretty(scale)?;
    crate::util::write_atomic(&scale_path(s), text.as_bytes(), 0o600)
}

/// The deployment history of the settings' environment: a JSON array of releases.
pub fn releases_path(s: &Settings) -> std::path::PathBuf {
    s.state_dir.join(format!("releases-{}.json", s.env_name))
}
