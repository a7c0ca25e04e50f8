//! Where backup sets live besides the local folder: remotes of ccops.yaml (`remotes:`),
//! today S3 and S3-compatible stores.

pub mod pending;
pub mod s3;

use anyhow::Result;

use crate::config::{Remote, Settings, closest};

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

/// Connect to a remote and prove it is writable: put a small object and remove it.
pub async fn probe(s: &Settings, name: &str) -> Result<String> {
    let store = s3::S3Store::connect(name, remote(s, name)?).await?;
    store.probe().await?;
    Ok(format!("bucket `{}` is reachable and writable", store.bucket))
}
