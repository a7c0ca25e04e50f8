//! The checks `ccops config check` (and `wal stream` before it starts) make of the
//! `pitr` blocks, without a server: what PostgreSQL would refuse later, said now.

use anyhow::Result;

use crate::config::Settings;

/// Refuse what cannot work (a slot name PostgreSQL rejects, a `wal_max_delay` under a
/// second); return warnings for what may (a password variable ccops cannot see here may
/// be in the container's environment).
pub fn check(s: &Settings) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for (i, t) in s.file.backup.postgres.iter().enumerate() {
        let Some(p) = t.pitr.as_ref().filter(|p| p.enabled) else { continue };
        let key = format!("backup.postgres[{i}].pitr");
        let slot = super::archive::slot_name(t);
        if !valid_slot(&slot) {
            return Err(crate::usage!(
                "{key}.slot `{slot}` is not a replication slot name: use 1 to 63 lowercase letters, digits and `_`"
            ));
        }
        if p.wal_max_delay < std::time::Duration::from_secs(1) {
            return Err(crate::usage!("{key}.wal_max_delay must be at least 1s"));
        }
        match &p.password_variable {
            Some(v) if s.vars.get(v).is_none() => warnings.push(format!(
                "{key}.password_variable `{v}` is set neither in the env file nor the environment; the container's environment must have it"
            )),
            None => warnings.push(format!(
                "{key} has no password_variable: `ccops wal stream` connects over TCP and needs one (base backups use the socket)"
            )),
            Some(_) => {}
        }
    }
    Ok(warnings)
}

/// What PostgreSQL accepts as a replication slot name.
fn valid_slot(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_are_what_postgres_accepts() {
        assert!(valid_slot("ccops_postgres"));
        for bad in ["", "Ccops", "a-b", &"x".repeat(64)] {
            assert!(!valid_slot(bad), "{bad}");
        }
    }
}
