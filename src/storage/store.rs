//! What every store is: the [`Store`] trait, and what callers build on any store
//! (streamed download through a hash with a size limit, small objects read whole).

use std::io::Write;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use indicatif::ProgressBar;

use super::hash::{HashWriter, Written};

/// What a store's operations return: boxed, so stores can sit behind `&dyn Store`.
pub type Fut<'a, T> = BoxFuture<'a, Result<T>>;

/// An object being read: its declared length, when the store says, and its bytes as
/// they arrive.
pub struct Object {
    pub len: Option<u64>,
    pub body: BoxStream<'static, Result<bytes::Bytes>>,
}

/// A place that keeps objects under `/`-separated keys. Keys are relative to the
/// store's own root (an S3 remote's `prefix` is the driver's business).
pub trait Store: Send + Sync {
    /// The remote's name in ccops.yaml, for messages.
    fn name(&self) -> &str;

    /// Where the objects are, for messages (`bucket `b``).
    fn describe(&self) -> String;

    /// Upload a local file to `key`, streamed (in parts when the store has them), and
    /// return the size and SHA-256 of what was read, so the caller can check it against
    /// what it expected. `file` is opened by the caller, which decides what may be read;
    /// `path` names it in messages. `bar` advances by the bytes sent.
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        file: std::fs::File,
        path: &'a Path,
        bar: &'a ProgressBar,
    ) -> Fut<'a, Written>;

    /// Put a small object from memory.
    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> Fut<'a, ()>;

    /// Start reading an object; None when there is no such object.
    fn get<'a>(&'a self, key: &'a str) -> Fut<'a, Option<Object>>;

    /// Every key under `prefix`, at any depth.
    fn list<'a>(&'a self, prefix: &'a str) -> Fut<'a, Vec<String>>;

    /// The names of the folders right under `prefix` (`<prefix><name>/...`).
    fn folders<'a>(&'a self, prefix: &'a str) -> Fut<'a, Vec<String>>;

    /// Delete an object (deleting one that does not exist is no error).
    fn delete<'a>(&'a self, key: &'a str) -> Fut<'a, ()>;
}

/// Stream an object through `out` (hashing what passes, on a blocking thread); returns
/// `out` and the size and SHA-256 of what was written. At most `limit` bytes are read:
/// an object larger than the caller expects is cut off with an error rather than
/// filling the disk. Ctrl-C stops it with [`crate::error::Interrupted`].
pub async fn download<W: Write + Send + 'static>(
    store: &dyn Store,
    key: &str,
    out: W,
    limit: u64,
    bar: &ProgressBar,
) -> Result<(W, Written)> {
    let Some(obj) = store.get(key).await? else {
        bail!("remote `{}` has no object `{key}` (deleted?)", store.name());
    };
    let mut body = obj.body;
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<(W, Written)> {
        let mut w = HashWriter::new(out);
        for chunk in rx {
            w.write_all(&chunk)?;
        }
        Ok(w.finish())
    });
    let mut failure = None;
    let mut seen: u64 = 0;
    loop {
        let next = tokio::select! {
            n = body.next() => n,
            () = crate::util::wait_interrupt() => { failure = Some(anyhow::Error::new(crate::error::Interrupted)); break; }
        };
        match next {
            Some(Ok(chunk)) => {
                seen = seen.saturating_add(chunk.len() as u64);
                if seen > limit {
                    failure = Some(anyhow!(
                        "`{key}` on remote `{}` is larger than the {limit} bytes its manifest says; stopped reading it",
                        store.name()
                    ));
                    break;
                }
                bar.inc(chunk.len() as u64);
                if tx.send(chunk).is_err() {
                    break;
                }
            }
            Some(Err(e)) => {
                failure = Some(anyhow!("downloading `{key}` broke off: {e:#}"));
                break;
            }
            None => break,
        }
    }
    drop(tx);
    let written = writer.await.map_err(|e| anyhow!("{e}"))?;
    if let Some(f) = failure {
        return Err(f);
    }
    written.map_err(|e| anyhow!("cannot write what `{key}` holds: {}", crate::util::io_reason(&e)))
}

/// A small object (a manifest) whole, or None when it does not exist. An object of
/// more than `max` bytes is refused with [`TooLarge`], by its declared length or as it
/// streams.
pub async fn get_small(store: &dyn Store, key: &str, max: u64) -> Result<Option<Vec<u8>>> {
    let too_big = || {
        anyhow::Error::new(TooLarge(format!(
            "`{key}` on remote `{}` is larger than {max} bytes; not reading it",
            store.name()
        )))
    };
    let Some(obj) = store.get(key).await? else { return Ok(None) };
    if obj.len.is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let mut body = obj.body;
    let mut data = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| anyhow!("reading `{key}` failed: {e:#}"))?;
        if (data.len() + chunk.len()) as u64 > max {
            return Err(too_big());
        }
        data.extend_from_slice(&chunk);
    }
    Ok(Some(data))
}

/// An object larger than the caller allowed: a caller may branch on it (a listing
/// reports that one entry as damaged instead of failing as a whole).
#[derive(Debug)]
pub struct TooLarge(String);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TooLarge {}
