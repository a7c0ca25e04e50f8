//! Reading an env file for ccops.yaml, with config's error messages; the lines are parsed
//! by `crate::syntax::envfile`. Every value read from one is treated as a secret (SPEC §1
//! Output).

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use crate::syntax::envfile;

/// Parse an env file into its variables, in file order of precedence (last wins).
pub fn read(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = crate::util::read_small_file(path, crate::util::MAX_CONFIG_FILE_BYTES).map_err(|e| {
        ConfigError::file(
            path,
            format!(
                "cannot read the env file ({}); create it (e.g. from .env.example) or fix `env_file` in ccops.yaml",
                crate::util::io_reason(&e)
            ),
        )
    })?;
    envfile::parse(&text).map_err(|(line, msg)| ConfigError::at(path, Some(line), None, msg))
}
