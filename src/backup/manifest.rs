//! `manifest.json` (SPEC §3): what a backup set holds, with a SHA-256 per file. It is
//! written last; a folder without it is incomplete.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const FILE: &str = "manifest.json";
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub created_at: String,
    pub project: String,
    pub environment: String,
    pub ccops_version: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// True when the set holds only some of the configured components (`--only`, a
    /// pre-restore safety backup): never `latest`, never counted by `keep_last`.
    #[serde(default)]
    pub partial: bool,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Postgres,
    Redis,
    Volume,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Redis => "redis",
            Kind::Volume => "volume",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Component {
    pub kind: Kind,
    /// `<service>-<database>` for postgres, the service for redis, the volume's name.
    pub name: String,
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// none (pg_dump's own compression), gzip, zstd
    pub compression: String,
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Redis: DBSIZE when the snapshot was taken, read back after a restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest> {
        let p = dir.join(FILE);
        let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read `{}`", p.display()))?;
        let m: Manifest =
            serde_json::from_str(&text).with_context(|| format!("`{}` is not a valid manifest", p.display()))?;
        if m.format != FORMAT {
            anyhow::bail!(
                "`{}` has format {}, this ccops reads format {FORMAT}; use a newer ccops",
                p.display(),
                m.format
            );
        }
        Ok(m)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn total_bytes(&self) -> u64 {
        self.components.iter().map(|c| c.bytes).sum()
    }
}
