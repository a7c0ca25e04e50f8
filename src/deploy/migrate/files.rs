//! Migration files of `sql_directory` mode, in dbmate's format: `YYYYMMDDHHMMSS_name.sql`
//! holding a `-- migrate:up` section and optionally a `-- migrate:down` one. The up
//! marker may carry `transaction:false` for statements that cannot run in a transaction.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The 14-digit timestamp: what `schema_migrations.version` holds.
    pub version: String,
    /// The file name without `.sql`.
    pub name: String,
    pub path: PathBuf,
    pub up: String,
    pub down: Option<String>,
    pub transaction: bool,
    /// sha256 of the whole file, recorded when applied: an applied file must not change.
    pub sha256: String,
}

/// The version of a migration file name, if it is one.
pub fn version_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".sql")?;
    let (v, rest) = stem.split_at_checked(14)?;
    (v.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with('_') && rest.len() > 1).then_some(v)
}

/// Split a file into its up and down sections, and the up section's transaction option.
pub fn sections(name: &str, text: &str) -> Result<(String, Option<String>, bool)> {
    let mut up: Option<(String, bool)> = None;
    let mut down: Option<String> = None;
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(opts) = t.strip_prefix("-- migrate:up") {
            if up.is_some() {
                bail!("`{name}` has two `-- migrate:up` sections");
            }
            let transaction = !opts.split_whitespace().any(|o| o == "transaction:false");
            up = Some((String::new(), transaction));
            current = Some("up");
            continue;
        }
        if t.starts_with("-- migrate:down") {
            down = Some(String::new());
            current = Some("down");
            continue;
        }
        let target = match current {
            Some("up") => up.as_mut().map(|(s, _)| s),
            Some(_) => down.as_mut(),
            None => None,
        };
        if let Some(s) = target {
            s.push_str(line);
            s.push('\n');
        }
    }
    let Some((up, transaction)) = up else {
        bail!("`{name}` has no `-- migrate:up` section (dbmate format: `-- migrate:up`, SQL, `-- migrate:down`, SQL)");
    };
    if up.trim().is_empty() {
        bail!("the `-- migrate:up` section of `{name}` is empty");
    }
    Ok((up, down.filter(|d| !d.trim().is_empty()), transaction))
}

/// Every migration of a folder, oldest first.
pub fn load(dir: &Path) -> Result<Vec<Migration>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!("cannot read the migrations folder `{}`: {}", dir.display(), crate::util::io_reason(&e))
    })?;
    let mut out: Vec<Migration> = Vec::new();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".sql") || !e.path().is_file() {
            continue;
        }
        let Some(version) = version_of(&file) else {
            bail!("`{}` is not a migration file name; name it YYYYMMDDHHMMSS_name.sql", e.path().display());
        };
        let bytes = std::fs::read(e.path())
            .map_err(|err| anyhow::anyhow!("cannot read `{}`: {}", e.path().display(), crate::util::io_reason(&err)))?;
        let text = String::from_utf8_lossy(&bytes);
        let (up, down, transaction) = sections(&file, &text)?;
        if let Some(other) = out.iter().find(|m| m.version == version) {
            bail!("`{file}` and `{}` have the same version {version}", other.name);
        }
        out.push(Migration {
            version: version.to_string(),
            name: file.trim_end_matches(".sql").to_string(),
            path: e.path(),
            up,
            down,
            transaction,
            sha256: hex::encode(Sha256::digest(&bytes)),
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert_eq!(version_of("20240101000000_create_notes.sql"), Some("20240101000000"));
        for bad in [
            "2024_x.sql",
            "20240101000000.sql",
            "20240101000000_.sql",
            "2024010100000a_x.sql",
            "x.sql",
            "20240101000000_x.txt",
        ] {
            assert_eq!(version_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn splits_sections() {
        let (up, down, tx) =
            sections("a", "-- comment\n-- migrate:up\nCREATE TABLE t (x int);\n\n-- migrate:down\nDROP TABLE t;\n")
                .unwrap();
        assert_eq!(up.trim(), "CREATE TABLE t (x int);");
        assert_eq!(down.as_deref().map(str::trim), Some("DROP TABLE t;"));
        assert!(tx);
        let (_, down, tx) =
            sections("a", "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (x);\n").unwrap();
        assert!(!tx && down.is_none());
        assert!(sections("a", "CREATE TABLE t ();").unwrap_err().to_string().contains("no `-- migrate:up`"));
        assert!(sections("a", "-- migrate:up\n\n-- migrate:down\nx").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn loads_a_folder_in_order_and_refuses_bad_names() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("20240201000000_b.sql"), "-- migrate:up\nSELECT 2;\n").unwrap();
        std::fs::write(d.path().join("20240101000000_a.sql"), "-- migrate:up\nSELECT 1;\n").unwrap();
        std::fs::write(d.path().join("README.md"), "not sql").unwrap();
        let all = load(d.path()).unwrap();
        assert_eq!(all.iter().map(|m| m.version.as_str()).collect::<Vec<_>>(), ["20240101000000", "20240201000000"]);
        assert_eq!(all[0].sha256.len(), 64);
        std::fs::write(d.path().join("init.sql"), "-- migrate:up\nSELECT 1;\n").unwrap();
        assert!(load(d.path()).unwrap_err().to_string().contains("YYYYMMDDHHMMSS_name.sql"));
    }
}
