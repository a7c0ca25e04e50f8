//! What `backup list` shows, as values: one row per set, local (with the remotes and
//! pending uploads that hold it too) or on one remote. The command prints them.
//!
//! The local listing asks every remote where its sets are, but a remote must not make
//! it slow or noisy: each is opened with [`Patience::Quick`] (one retry, short
//! timeouts) and given [`REMOTE_TIMEOUT`] in all; one that fails is one warning line
//! and the local sets are listed as ever.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{RemoteSet, list, pending};
use crate::backup::layout::{self, LocalSet};
use crate::backup::manifest::Manifest;
use crate::config::Settings;
use crate::output;
use crate::storage::{self, Patience, Store};

/// How long one remote may take to list its sets beside the local listing. An
/// unreachable one fails sooner ([`Patience::Quick`]); this bounds one that answers slowly.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(15);

/// Which listing a row comes from, and what only that one knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A set in the local folder: its layout and whether it holds only some components.
    Local { legacy: bool, partial: bool },
    /// A set on a remote, as its manifest there says.
    Remote,
    /// In the local listing, a set that is only on a remote: nothing but its ID is known.
    RemoteOnly,
}

/// One set as `backup list` shows it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub created: DateTime<Utc>,
    pub environment: Option<String>,
    pub tags: Vec<String>,
    pub bytes: u64,
    /// `kind:name` of each component.
    pub components: Vec<String>,
    pub complete: bool,
    /// One word: complete, incomplete, damaged, future, download...
    pub state: &'static str,
    /// Why the set cannot be used, when it is damaged.
    pub damaged: Option<String>,
    /// Where it lives: `local`, remote names, `<remote>: upload pending`.
    pub at: Vec<String>,
    pub origin: Origin,
}

impl Row {
    fn of_manifest(id: &str, created: DateTime<Utc>, m: Option<&Manifest>, origin: Origin) -> Row {
        Row {
            id: id.to_string(),
            created,
            environment: m.map(|m| m.environment.clone()),
            tags: m.map(|m| m.tags.clone()).unwrap_or_default(),
            bytes: m.map_or(0, Manifest::total_bytes),
            components: m
                .map(|m| m.components.iter().map(|c| format!("{}:{}", c.kind.word(), c.name)).collect())
                .unwrap_or_default(),
            complete: true,
            state: "complete",
            damaged: None,
            at: Vec::new(),
            origin,
        }
    }

    fn local(x: &LocalSet) -> Row {
        let origin = Origin::Local { legacy: x.legacy.is_some(), partial: x.complete && !x.full() };
        let mut row = Row::of_manifest(&x.id, x.created, x.manifest.as_ref(), origin);
        row.bytes = x.bytes();
        row.components = components(x);
        row.complete = x.complete;
        row.state = x.state();
        row.damaged = x.damaged.clone();
        row
    }

    fn remote(x: &RemoteSet, remote: &str) -> Row {
        let mut row = Row::of_manifest(&x.id, x.created, x.manifest.as_ref(), Origin::Remote);
        row.complete = x.complete();
        row.state = x.state();
        row.damaged = x.damaged.clone();
        row.at = vec![remote.to_string()];
        row
    }

    /// The row as `backup list --json` prints it.
    pub fn to_json(&self) -> Value {
        let mut row = Map::new();
        row.insert("id".into(), self.id.as_str().into());
        row.insert("created".into(), self.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into());
        row.insert("environment".into(), self.environment.clone().into());
        row.insert("tags".into(), self.tags.clone().into());
        row.insert("bytes".into(), self.bytes.into());
        row.insert("components".into(), self.components.clone().into());
        row.insert("complete".into(), self.complete.into());
        row.insert("where".into(), self.at.clone().into());
        if let Origin::Local { legacy, partial } = self.origin {
            row.insert("layout".into(), if legacy { "legacy" } else { "ccops" }.into());
            row.insert("partial".into(), partial.into());
            row.insert("state".into(), self.state.into());
            if let Some(d) = &self.damaged {
                row.insert("damaged".into(), d.as_str().into());
            }
        }
        Value::Object(row)
    }
}

/// Every local set, then the sets only on a remote, each with where it lives.
pub async fn local(s: &Settings) -> Result<Vec<Row>> {
    let sets = layout::list(&s.backup_dir)?;
    let at = locations(s, &sets).await;
    let mut rows: Vec<Row> = sets
        .iter()
        .map(|x| {
            let mut row = Row::local(x);
            row.at = at.get(&x.id).cloned().unwrap_or_default();
            row
        })
        .collect();
    for (id, w) in at.iter().filter(|(id, _)| !sets.iter().any(|x| &x.id == *id)) {
        let created = layout::parse_id(id).unwrap_or_default();
        let mut row = Row::of_manifest(id, created, None, Origin::RemoteOnly);
        row.at = w.clone();
        rows.push(row);
    }
    Ok(rows)
}

/// Where each set lives: `local`, the remotes that hold it, and pending uploads
/// (`<remote>: upload pending`). A remote that cannot be listed is one warning line.
async fn locations(s: &Settings, sets: &[LocalSet]) -> BTreeMap<String, Vec<String>> {
    let mut at: BTreeMap<String, Vec<String>> =
        sets.iter().map(|x| (x.id.clone(), vec!["local".to_string()])).collect();
    for (name, r) in &s.file.remotes {
        let listed = async { list(&*storage::connect_with(name, r, Patience::Quick).await?).await };
        let not_listed = |why: &str| output::warn(format!("remote `{name}`: not listed ({why}); local sets below"));
        match tokio::time::timeout(REMOTE_TIMEOUT, listed).await {
            Ok(Ok(remote_sets)) => {
                for x in remote_sets.iter().filter(|x| x.complete()) {
                    at.entry(x.id.clone()).or_default().push(name.clone());
                }
            }
            Ok(Err(e)) => {
                // The innermost cause: the outer ones say "listing failed on remote …".
                not_listed(&e.root_cause().to_string());
                output::raw_error(&e);
            }
            Err(_) => not_listed(&format!("no answer within {}s", REMOTE_TIMEOUT.as_secs())),
        }
    }
    for (name, ids) in pending::read(&s.state_dir) {
        for id in ids {
            if let Some(w) = at.get_mut(&id) {
                w.push(format!("{name}: upload pending"));
            }
        }
    }
    at
}

/// Every set on one remote, newest first.
pub async fn remote(store: &dyn Store) -> Result<Vec<Row>> {
    Ok(list(store).await?.iter().map(|x| Row::remote(x, store.name())).collect())
}

/// `kind:name` of each component of a local set, legacy sets included.
fn components(x: &LocalSet) -> Vec<String> {
    match (&x.manifest, &x.legacy) {
        (Some(m), _) => m.components.iter().map(|c| format!("{}:{}", c.kind.word(), c.name)).collect(),
        (None, Some(l)) => l
            .postgres
            .iter()
            .map(|(d, _)| format!("postgres:{d}"))
            .chain(l.volumes.iter().map(|(v, _)| format!("volume:{v}")))
            .chain(l.redis.iter().map(|_| "redis".to_string()))
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(row: &Row) -> Vec<String> {
        row.to_json().as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn only_local_rows_say_layout_partial_and_state() {
        let created = layout::parse_id("20240101_000000").unwrap();
        let common = ["bytes", "complete", "components", "created", "environment", "id", "tags", "where"];
        let remote_only = Row::of_manifest("20240101_000000", created, None, Origin::RemoteOnly);
        assert_eq!(keys(&remote_only), common);
        let mut local =
            Row::of_manifest("20240101_000000", created, None, Origin::Local { legacy: true, partial: false });
        local.damaged = Some("why".into());
        let json = local.to_json();
        assert_eq!(
            (json["layout"].as_str(), json["state"].as_str(), json["damaged"].as_str()),
            (Some("legacy"), Some("complete"), Some("why"))
        );
        assert_eq!(json["created"], "2024-01-01T00:00:00Z");
        assert_eq!(keys(&local).len(), common.len() + 4);
    }
}
