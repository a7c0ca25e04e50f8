//! Retention on a store: the same rules and safety as the local folder (retention.rs).

use anyhow::Result;
use chrono::Utc;

use super::{key, list};
use crate::backup::manifest;
use crate::output;
use crate::storage::Store;

/// Apply the retention rules to a remote; same safety rules as local pruning.
pub async fn prune(
    store: &dyn Store,
    rules: &crate::config::Retention,
    settings: Option<&crate::config::Settings>,
    dry_run: bool,
) -> Result<Vec<(String, String)>> {
    use crate::backup::retention::{Candidate, Decision, decide};
    let sets = list(store).await?;
    let now = Utc::now();
    // The same rules as the local folder: damaged sets are reported and kept, partial
    // sets live by `days`, full and incomplete sets go through the retention rules.
    for d in sets.iter().filter(|s| s.damaged.is_some()) {
        output::warn(format!("keeping {} on remote `{}`: {}", d.id, store.name(), d.damaged.as_deref().unwrap_or("")));
    }
    let candidates: Vec<Candidate> = sets
        .iter()
        .filter(|s| s.damaged.is_none() && (s.full() || !s.complete()))
        .map(|s| Candidate { id: s.id.clone(), created: s.created, complete: s.complete() })
        .collect();
    let mut decisions = decide(&candidates, rules, now);
    let days = rules.days.unwrap_or(30);
    for s in sets.iter().filter(|s| s.complete() && !s.full()) {
        let old = (now - s.created).num_seconds() > i64::from(days) * 86_400;
        let reason = if old {
            format!("partial set older than {days} days")
        } else {
            format!("partial set younger than {days} days")
        };
        decisions.push(Decision { id: s.id.clone(), keep: !old, reasons: vec![reason] });
    }
    let mut deleted = Vec::new();
    for d in decisions {
        if d.keep {
            continue;
        }
        let why = d.reasons.join(", ");
        if dry_run {
            output::status(format!("would delete {} from remote `{}`: {why}", d.id, store.name()));
        } else {
            delete_set(store, &d.id).await?;
            output::status(format!("deleted {} from remote `{}`: {why}", d.id, store.name()));
        }
        deleted.push((d.id, why));
    }
    // The WAL archive on the remote follows the base backups kept there.
    if let Some(settings) = settings {
        let gone: std::collections::BTreeSet<&str> =
            deleted.iter().map(|(id, _): &(String, String)| id.as_str()).collect();
        let kept = sets.iter().filter(|x| !gone.contains(x.id.as_str())).filter_map(|x| x.manifest.as_ref());
        let keep = crate::backup::wal::retention::keep_from(settings, kept);
        crate::backup::wal::retention::prune_remote(store, &keep, dry_run).await?;
    }
    if deleted.is_empty() {
        output::status(format!("nothing to prune on remote `{}` ({} sets kept)", store.name(), sets.len()));
    }
    Ok(deleted)
}

/// Delete every object of a set, the manifest first, so a half-deleted set reads as
/// incomplete.
async fn delete_set(store: &dyn Store, id: &str) -> Result<()> {
    store.delete(&key(id, manifest::FILE)).await?;
    for k in store.list(&key(id, "")).await? {
        store.delete(&k).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryStore;

    async fn put_set(store: &MemoryStore, id: &str) {
        let manifest = format!(
            r#"{{"format":1,"id":"{id}","created_at":"x","project":"p","environment":"e","ccops_version":"0","components":[{{"kind":"redis","name":"redis","file":"redis.rdb.gz","bytes":3,"sha256":"{}","compression":"gzip","encrypted":false}}]}}"#,
            "ab".repeat(32)
        );
        store.put(&key(id, "redis.rdb.gz"), b"abc".to_vec()).await.unwrap();
        store.put(&key(id, manifest::FILE), manifest.into_bytes()).await.unwrap();
    }

    #[tokio::test]
    async fn an_old_set_goes_whole_and_what_is_no_set_stays() {
        let store = MemoryStore::default();
        put_set(&store, "20240101_000000").await;
        put_set(&store, "20240102_000000").await;
        store.put("notes/readme.txt", b"not a set".to_vec()).await.unwrap();
        let rules = crate::config::Retention {
            days: Some(30),
            keep_last: Some(1),
            keep_daily: Some(0),
            keep_weekly: Some(0),
            keep_monthly: Some(0),
        };

        let planned = prune(&store, &rules, None, true).await.unwrap();
        assert_eq!(planned.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["20240101_000000"]);
        assert_eq!(store.objects.lock().unwrap().len(), 5, "a dry run deletes nothing");

        prune(&store, &rules, None, false).await.unwrap();
        let left: Vec<String> = store.objects.lock().unwrap().keys().cloned().collect();
        assert_eq!(left, ["20240102_000000/manifest.json", "20240102_000000/redis.rdb.gz", "notes/readme.txt"]);
    }
}
