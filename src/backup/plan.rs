//! What a backup or restore covers: the configured components, narrowed by `--only`.

use anyhow::Result;

use super::manifest::Kind;
use crate::config::{Compression, PostgresTarget, RedisTarget, Settings, VolumeTarget};

#[derive(Debug, Clone)]
pub enum Item {
    Postgres(PostgresTarget),
    Redis(RedisTarget),
    /// The volume as configured, and the engine's name of it.
    Volume(VolumeTarget, String),
}

impl Item {
    pub fn kind(&self) -> Kind {
        match self {
            Item::Postgres(_) => Kind::Postgres,
            Item::Redis(_) => Kind::Redis,
            Item::Volume(..) => Kind::Volume,
        }
    }

    /// The component name recorded in the manifest.
    pub fn name(&self) -> String {
        match self {
            Item::Postgres(t) => format!("{}-{}", t.service, t.database),
            Item::Redis(t) => t.service.clone(),
            Item::Volume(v, _) => v.name.clone(),
        }
    }

    pub fn service(&self) -> Option<&str> {
        match self {
            Item::Postgres(t) => Some(&t.service),
            Item::Redis(t) => Some(&t.service),
            Item::Volume(..) => None,
        }
    }

    /// The service whose container runs the dump, if any.
    pub fn exec_service(&self) -> Option<&str> {
        self.service()
    }

    pub fn file_name(&self, c: Compression) -> String {
        let ext = super::compress::extension(c);
        match self {
            Item::Postgres(_) => format!("postgres-{}.dump", self.name()),
            Item::Redis(t) => format!("redis-{}.rdb{ext}", t.service),
            Item::Volume(v, _) => format!("volume-{}.tar{ext}", v.name),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Item::Postgres(t) => format!("postgres database `{}` of service `{}`", t.database, t.service),
            Item::Redis(t) => format!("redis service `{}`", t.service),
            Item::Volume(v, full) => format!("volume `{}` ({full})", v.name),
        }
    }

    pub fn stop_note(&self) -> String {
        match self {
            Item::Volume(v, _) if !v.stop_services.is_empty() => {
                format!(" (stops {} meanwhile)", v.stop_services.join(", "))
            }
            _ => String::new(),
        }
    }

    /// Whether a `--only` token names this item: its kind, name, service, database or volume.
    pub fn matches(&self, token: &str) -> bool {
        let t = token.trim();
        t == self.kind().word()
            || t == self.name()
            || self.service() == Some(t)
            || matches!(self, Item::Postgres(p) if p.database == t)
            || matches!(self, Item::Volume(_, full) if full == t)
    }
}

/// The configured items, narrowed by `only` (an unknown token is a usage error).
pub fn select(s: &Settings, model: &crate::compose::Model, only: &[String]) -> Result<Vec<Item>> {
    let b = &s.file.backup;
    let mut items: Vec<Item> = Vec::new();
    items.extend(b.postgres.iter().cloned().map(Item::Postgres));
    items.extend(b.redis.iter().cloned().map(Item::Redis));
    items.extend(b.volumes.iter().cloned().map(|v| {
        let full = model.volume_name(&v.name).map_or_else(|| format!("{}_{}", s.project, v.name), String::from);
        Item::Volume(v, full)
    }));
    if items.is_empty() {
        return Err(crate::usage!(
            "nothing to back up: {} lists no `backup.postgres`, `backup.redis` or `backup.volumes`",
            s.config_file.display()
        ));
    }
    narrow(items, only)
}

pub fn narrow(items: Vec<Item>, only: &[String]) -> Result<Vec<Item>> {
    let only: Vec<&String> = only.iter().filter(|t| !t.trim().is_empty()).collect();
    if only.is_empty() {
        return Ok(items);
    }
    for t in &only {
        if !items.iter().any(|i| i.matches(t)) {
            let names: Vec<String> = items.iter().map(Item::name).collect();
            return Err(crate::usage!(
                "--only `{t}` matches nothing; use a kind (postgres, redis, volume) or a name: {}",
                names.join(", ")
            ));
        }
    }
    Ok(items.into_iter().filter(|i| only.iter().any(|t| i.matches(t))).collect())
}
