//! The kinds of data a backup set holds, and the one registry of them ([`ALL`]). A kind is
//! one file (postgres.rs, pgbase.rs, mysql.rs, redis.rs, volume.rs, command.rs): a unit type implementing [`Kind`] (its word
//! in the manifest, which of its components ccops.yaml configures, which one a stored
//! file restores into, how a stored file is read back) and a component type implementing
//! [`Component`] (how it is named, dumped and put back). Plan, create, verify, restore and
//! drill go through the registry and these two traits and never name a kind. Adding a
//! kind: docs/developers/adding-a-kind.md.

pub mod command;
pub mod mysql;
pub mod pgbase;
pub mod postgres;
pub mod redis;
pub mod volume;

use std::path::Path;

use anyhow::Result;
use futures_util::future::BoxFuture;

use super::sink::Written;
use crate::compose::Model;
use crate::config::{Compression, Settings};
use crate::docker::Engine;
use crate::project::Project;

/// Every kind ccops backs up, in the order a set lists them. The one registration of a kind.
pub static ALL: &[&dyn Kind] =
    &[&postgres::Postgres, &pgbase::PgBase, &mysql::Mysql, &redis::Redis, &volume::Volume, &command::Command];

/// The kind whose manifest word is `word`.
pub fn by_word(word: &str) -> Option<&'static dyn Kind> {
    ALL.iter().copied().find(|k| k.word() == word)
}

/// One kind of data: stateless, registered once in [`ALL`].
pub trait Kind: Send + Sync {
    /// Its word: the manifest's `kind`, a `--only` token, listings. Fixed once sets exist.
    fn word(&self) -> &'static str;

    /// Where ccops.yaml configures it (`backup.postgres`), for messages.
    fn config_key(&self) -> &'static str;

    /// The components of this kind that ccops.yaml configures; `model` names volumes.
    fn configured(&self, s: &Settings, model: &Model) -> Vec<Box<dyn Component>>;

    /// The component a stored file of this kind restores into. A set may have been
    /// planted (a bucket anyone with its keys can write): `rec` may only reach what
    /// ccops.yaml configures for backup, never another volume or service of the project.
    fn target(&self, cx: &Targets<'_>, rec: &Recorded<'_>) -> Result<Box<dyn Component>>;

    /// Read a stored file the way a restore would (its checksum is checked already); a
    /// note on what was read. `server` is the engine and a running container of the data's
    /// server, for the kinds whose check runs in one (`pg_restore --list`).
    fn check<'a>(&'a self, file: Stored<'a>, server: Option<(&'a Engine, &'a str)>) -> BoxFuture<'a, Result<String>>;

    /// Why a plain `ccops restore ID` leaves its stored files alone, if it does (a base
    /// backup is put back by `restore --to-time` only).
    fn not_restored(&self) -> Option<&'static str> {
        None
    }
}

impl std::fmt::Debug for dyn Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// One configured thing a backup copies and a restore puts back.
pub trait Component: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> &'static dyn Kind;

    /// The component name recorded in the manifest.
    fn name(&self) -> String;

    /// The service whose container runs the dump and the restore, if any: a data service.
    fn service(&self) -> Option<&str> {
        None
    }

    /// The database recorded in the manifest, if any.
    fn database(&self) -> Option<&str> {
        None
    }

    /// Words besides its kind, name and service that `--only` accepts for it.
    fn aliases(&self) -> Vec<&str> {
        vec![]
    }

    /// Its file in a set (before `.age`).
    fn file_name(&self, c: Compression) -> String;

    /// What a backup copies.
    fn describe(&self) -> String;

    /// What a restore replaces.
    fn describe_restore(&self) -> String;

    /// The service whose running container reads its stored file back in a check
    /// (`pg_restore --list` needs a Postgres server), if any.
    fn check_server(&self) -> Option<&str> {
        None
    }

    /// Why `ccops backup` leaves it out this time unless `--only` names it (a base backup
    /// that is not due yet), if it does.
    fn not_due(&self) -> Option<String> {
        None
    }

    /// Services a backup stops while it copies this (a volume's `stop_services`).
    fn stops(&self) -> &[String] {
        &[]
    }

    /// Services stopped while a restore replaces this, besides the application around
    /// a data service: a volume's users and its `stop_services`.
    fn users(&self, _model: &Model) -> Vec<String> {
        vec![]
    }

    /// Dump it into the file `path` (named `file` in the set).
    fn dump<'a>(&'a self, cx: &'a Dump<'a>, path: &'a Path, file: &'a str) -> BoxFuture<'a, Result<Dumped>>;

    /// Put the stored file back into the live data.
    fn restore<'a>(&'a self, p: &'a Project, engine: &'a Engine, file: Stored<'a>) -> BoxFuture<'a, Result<()>>;

    /// " (stops a, b meanwhile)" when a backup stops services for it, else "".
    fn stop_note(&self) -> String {
        if self.stops().is_empty() { String::new() } else { format!(" (stops {} meanwhile)", self.stops().join(", ")) }
    }

    /// Whether a `--only` token names it: its kind, name, service or an alias.
    fn matches(&self, token: &str) -> bool {
        let t = token.trim();
        t == self.kind().word() || t == self.name() || self.service() == Some(t) || self.aliases().contains(&t)
    }
}

/// What a dump needs around it.
pub struct Dump<'a> {
    pub p: &'a Project,
    pub engine: &'a Engine,
    pub compression: Compression,
    /// Whether the file can be read back here (not encrypted, or the private key is here).
    pub read_back: bool,
    /// Services the caller holds stopped: neither stopped nor started by the dump.
    pub held: &'a [String],
}

/// What a dump wrote, for the manifest.
pub struct Dumped {
    pub written: Written,
    /// none (pg_dump's own compression), gzip, zstd
    pub compression: String,
    /// Redis: DBSIZE when the snapshot was taken.
    pub keys: Option<u64>,
    /// pgbase: where the base backup starts and ends.
    pub base: Option<super::manifest::Base>,
}

/// A stored file of a set.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub path: &'a Path,
    /// In the replaced scripts' format (plain SQL, `docker cp` tar).
    pub legacy: bool,
}

/// What a restore maps a set's files onto: the project, and the set (for messages).
pub struct Targets<'a> {
    pub p: &'a Project,
    pub set_id: &'a str,
}

/// What a set says about one stored file: its manifest entry, or what a legacy file's
/// name tells (then `legacy`).
pub struct Recorded<'a> {
    pub name: &'a str,
    pub service: Option<&'a str>,
    pub database: Option<&'a str>,
    pub keys: Option<u64>,
    pub legacy: bool,
}

/// `kind` in a manifest: the kind's word, and only a registered one reads.
pub mod word {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Kind;

    pub fn serialize<S: Serializer>(k: &&'static dyn Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.word())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static dyn Kind, D::Error> {
        let w = String::deserialize(d)?;
        super::by_word(&w).ok_or_else(|| {
            let known: Vec<String> = super::ALL.iter().map(|k| format!("`{}`", k.word())).collect();
            D::Error::custom(format!("unknown variant `{w}`, expected one of {}", known.join(", ")))
        })
    }
}

/// Run a blocking read of a stored file on a thread.
pub(crate) async fn blocking<T: Send + 'static>(
    p: std::path::PathBuf,
    f: impl FnOnce(std::path::PathBuf) -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(move || f(p)).await.map_err(|e| anyhow::anyhow!("{e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once_and_found_by_its_word() {
        for k in ALL {
            assert_eq!(by_word(k.word()).map(|f| f.word()), Some(k.word()));
            assert_eq!(ALL.iter().filter(|o| o.word() == k.word()).count(), 1, "{} twice", k.word());
        }
        assert!(by_word("mongodb").is_none());
    }

    #[test]
    fn components_are_named_and_matched_as_sets_record_them() {
        let pg = postgres::Database(crate::config::PostgresTarget {
            service: "db".into(),
            database: "app".into(),
            user: "u".into(),
            pitr: None,
        });
        let rd = redis::Dataset { service: "cache".into(), keys: Some(3) };
        let vol = volume::NamedVolume { key: "files".into(), engine_name: "p_files".into(), stop: vec!["web".into()] };
        let z = Compression::Zstd;
        assert_eq!(
            [pg.file_name(z), rd.file_name(z), vol.file_name(z)],
            ["postgres-db-app.dump", "redis-cache.rdb.zst", "volume-files.tar.zst"]
        );
        for t in ["postgres", "db-app", "db", "app"] {
            assert!(pg.matches(t), "{t}");
        }
        assert!(rd.matches("redis") && rd.matches("cache") && !rd.matches("db"));
        assert!(vol.matches("volume") && vol.matches("files") && vol.matches("p_files") && !vol.matches("web"));
        assert_eq!(vol.stop_note(), " (stops web meanwhile)");
        assert_eq!(pg.stop_note(), "");
        assert_eq!(rd.describe_restore(), "redis service `cache` (3 keys; the current data is replaced)");
    }
}
