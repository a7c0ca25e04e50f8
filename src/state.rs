//! What ccops remembers between runs, in the state directory (SPEC §4): the desired
//! number of replicas per service of each environment.

use std::collections::BTreeMap;

use crate::config::Settings;

/// Replica counts set by `ccops scale` for the settings' environment (empty when none).
pub fn desired_scale(s: &Settings) -> BTreeMap<String, u32> {
    let path = s.state_dir.join(format!("scale-{}.json", s.env_name));
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}
