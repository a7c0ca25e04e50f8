//! Doctor's disk check: free space where backups are written against what one backup
//! holds (database sizes, Redis memory, volume sizes). Dumps compress, so the estimate
//! errs on the safe side; room for two sets is asked for, since a restore takes a safety
//! backup and retention keeps the previous set until the new one is complete.

use std::path::{Path, PathBuf};

use super::{Check, Level};
use crate::config::Settings;
use crate::docker::Engine;
use crate::util::human_bytes;

/// Sizes of what a backup copies; `None` when a part could not be measured.
#[derive(Debug, Default)]
pub struct Sizes {
    pub parts: Vec<(String, Option<u64>)>,
}

impl Sizes {
    pub fn add(&mut self, what: String, bytes: Option<u64>) {
        self.parts.push((what, bytes));
    }

    fn total(&self) -> u64 {
        self.parts.iter().filter_map(|(_, b)| *b).sum()
    }

    fn unknown(&self) -> Vec<&str> {
        self.parts.iter().filter(|(_, b)| b.is_none()).map(|(w, _)| w.as_str()).collect()
    }
}

pub fn check(s: &Settings, sizes: &Sizes) -> Check {
    let dir = existing_ancestor(&s.backup_dir);
    match free_bytes(&dir) {
        Ok(free) => verdict(&s.backup_dir, free, sizes),
        Err(e) => Check::fail(
            "disk",
            format!("cannot read the free space of `{}`: {e}", dir.display()),
            "check the backup folder's path and permissions",
        ),
    }
}

/// The verdict, pure: FAIL when one set does not fit, WARN when two do not.
pub fn verdict(dir: &Path, free: u64, sizes: &Sizes) -> Check {
    let need = sizes.total();
    if sizes.parts.iter().all(|(_, b)| b.is_none()) {
        return Check::ok(
            "disk",
            format!("{} free for `{}`; the size of a backup was not measured", human_bytes(free), dir.display()),
        );
    }
    let parts: Vec<String> =
        sizes.parts.iter().filter_map(|(w, b)| b.map(|b| format!("{w} {}", human_bytes(b)))).collect();
    let mut detail =
        format!("{} free for `{}`; a backup copies about {}", human_bytes(free), dir.display(), human_bytes(need));
    if !parts.is_empty() {
        detail.push_str(&format!(" ({})", parts.join(", ")));
    }
    let unknown = sizes.unknown();
    if !unknown.is_empty() {
        detail.push_str(&format!("; not measured: {}", unknown.join(", ")));
    }
    let level = if free < need {
        Level::Fail
    } else if free < need.saturating_mul(2) {
        Level::Warn
    } else {
        Level::Ok
    };
    let fix = "free space or move `backup.directory` to a larger filesystem (room for two sets: the new one and a safety backup)";
    match level {
        Level::Ok => Check::ok("disk", detail),
        Level::Warn => Check::warn("disk", detail, fix),
        Level::Fail => Check::fail("disk", detail, fix),
    }
}

/// The folder itself, or the nearest parent that exists (the backup folder is created
/// by the first backup).
fn existing_ancestor(p: &Path) -> PathBuf {
    let mut p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent.to_path_buf(),
            None => break,
        }
    }
    p
}

/// Bytes available to unprivileged users on the filesystem of `path`.
pub fn free_bytes(path: &Path) -> Result<u64, String> {
    use std::os::unix::ffi::OsStrExt;
    let c =
        std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| "the path contains a NUL byte".to_string())?;
    // SAFETY: `c` is a valid C string and `st` a properly sized out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(crate::util::io_reason(&std::io::Error::last_os_error()));
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// The size of a volume's files, read from its mount point on this host (a remote or
/// rootless engine keeps it out of reach: then it is not measured).
pub async fn volume_bytes(engine: &Engine, name: &str) -> anyhow::Result<u64> {
    let v = engine
        .api()
        .inspect_volume(name)
        .await
        .map_err(|e| anyhow::anyhow!("volume `{name}`: {}", crate::docker::short_err(&e)))?;
    let mount = PathBuf::from(v.mountpoint);
    if !mount.is_dir() {
        anyhow::bail!("the files of volume `{name}` are not on this host");
    }
    tokio::task::spawn_blocking(move || du(&mount))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot measure volume `{name}`: {e}"))
}

/// Apparent size of the files under `dir`, not following symlinks.
fn du(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let md = e.metadata()?;
            if md.is_dir() {
                stack.push(e.path());
            } else {
                total += md.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(parts: &[(&str, Option<u64>)]) -> Sizes {
        Sizes { parts: parts.iter().map(|(w, b)| (w.to_string(), *b)).collect() }
    }

    #[test]
    fn one_set_must_fit_two_should() {
        let s = sizes(&[("postgres app", Some(600)), ("volume files", Some(400)), ("redis cache", None)]);
        let dir = Path::new("/srv/backups");
        assert_eq!(verdict(dir, 999, &s).status, Level::Fail);
        assert_eq!(verdict(dir, 1999, &s).status, Level::Warn);
        let ok = verdict(dir, 4096, &s);
        assert_eq!(ok.status, Level::Ok);
        assert!(verdict(dir, 10, &Sizes::default()).detail.ends_with("not measured"));
        assert_eq!(
            ok.detail,
            "4.0 KiB free for `/srv/backups`; a backup copies about 1000 B (postgres app 600 B, volume files 400 B); not measured: redis cache"
        );
    }

    #[test]
    fn measures_a_folder_and_finds_the_existing_parent() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/f"), [0u8; 100]).unwrap();
        std::fs::write(d.path().join("g"), [0u8; 50]).unwrap();
        assert_eq!(du(d.path()).unwrap(), 150);
        assert_eq!(existing_ancestor(&d.path().join("x/y/z")), d.path());
        assert!(free_bytes(d.path()).unwrap() > 0);
    }
}
