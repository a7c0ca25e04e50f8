//! A store in memory, for tests: the second implementation of [`Store`], so the backup
//! code above the trait is tested without a bucket (and shown to need none).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::anyhow;
use indicatif::ProgressBar;

use super::hash::Written;
use super::store::{Fut, Object, Store};

/// Objects by key, in memory.
#[derive(Default)]
pub struct MemoryStore {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn name(&self) -> &str {
        "memory"
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }

    fn put_file<'a>(
        &'a self,
        key: &'a str,
        file: std::fs::File,
        path: &'a Path,
        bar: &'a ProgressBar,
    ) -> Fut<'a, Written> {
        Box::pin(async move {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut data)
                .map_err(|e| anyhow!("cannot read `{}`: {e}", path.display()))?;
            bar.inc(data.len() as u64);
            let written = Written::of(&data);
            self.lock().insert(key.to_string(), data);
            Ok(written)
        })
    }

    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> Fut<'a, ()> {
        Box::pin(async move {
            self.lock().insert(key.to_string(), data);
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> Fut<'a, Option<Object>> {
        Box::pin(async move {
            Ok(self.lock().get(key).cloned().map(|data| {
                let len = Some(data.len() as u64);
                // Two chunks, so readers see a body that arrives in pieces.
                let mid = data.len() / 2;
                let chunks =
                    vec![Ok(bytes::Bytes::copy_from_slice(&data[..mid])), Ok(bytes::Bytes::from(data[mid..].to_vec()))];
                Object { len, body: Box::pin(futures_util::stream::iter(chunks)) }
            }))
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(async move { Ok(self.lock().keys().filter(|k| k.starts_with(prefix)).cloned().collect()) })
    }

    fn folders<'a>(&'a self, prefix: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(async move {
            let mut out: Vec<String> = self
                .lock()
                .keys()
                .filter_map(|k| k.strip_prefix(prefix)?.split_once('/').map(|(folder, _)| folder.to_string()))
                .collect();
            out.dedup();
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.lock().remove(key);
            Ok(())
        })
    }
}
