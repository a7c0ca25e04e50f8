//! Object stores: where copies of local files live besides the local folder. A store
//! puts, gets, lists and deletes objects by key and knows nothing of what they hold
//! (backup sets are the backup module's business, `backup::remote`). Each `remotes:`
//! entry of ccops.yaml opens one store; today S3 and S3-compatible stores (s3/).
//!
//! A new kind of store (a local folder, SFTP, Azure) is one file here implementing
//! [`Store`] (store.rs), and its arm in [`connect`]; nothing in backup/ changes.
//!
//! The driver reads its settings straight from `config::Remote`: that struct is the
//! schema of a remote, and a copy of it here would only repeat its fields; config is
//! the core every layer reads, and it imports nothing from here.

pub mod hash;
#[cfg(test)]
pub mod memory;
pub mod s3;
pub mod store;

use anyhow::Result;

use crate::config::{Remote, Settings, closest};

pub use store::{Store, TooLarge, download, get_small};

/// The remote called `name` in ccops.yaml (an unknown name is a usage error).
pub fn remote<'a>(s: &'a Settings, name: &str) -> Result<&'a Remote> {
    s.file.remotes.get(name).ok_or_else(|| {
        let names: Vec<&str> = s.file.remotes.keys().map(String::as_str).collect();
        let hint = match closest(name, names.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if names.is_empty() => "ccops.yaml defines no `remotes:`".to_string(),
            None => format!("remotes: {}", names.join(", ")),
        };
        crate::usage!("unknown remote `{name}`; {hint}")
    })
}

/// How hard a store tries before a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// Retries with backoff, long timeouts: transfers, prune, a remote asked for by name.
    Persistent,
    /// One retry, short timeouts: what is shown beside local data and must not hold it up.
    Quick,
}

/// Open the store a remote describes. Each kind of store registers here.
pub async fn connect(name: &str, r: &Remote) -> Result<Box<dyn Store>> {
    connect_with(name, r, Patience::Persistent).await
}

/// [`connect`], trying as hard as `patience` says.
pub async fn connect_with(name: &str, r: &Remote, patience: Patience) -> Result<Box<dyn Store>> {
    Ok(Box::new(s3::S3Store::connect(name, r, patience).await?))
}

/// Open the remote called `name` in ccops.yaml.
pub async fn open(s: &Settings, name: &str) -> Result<Box<dyn Store>> {
    connect(name, remote(s, name)?).await
}

/// Connect to a remote and prove it is writable: put a small object and remove it.
pub async fn probe(s: &Settings, name: &str) -> Result<String> {
    let store = open(s, name).await?;
    let key = format!(".ccops-probe-{}", std::process::id());
    store.put(&key, b"ccops probe\n".to_vec()).await?;
    store.delete(&key).await?;
    Ok(format!("{} is reachable and writable", store.describe()))
}
