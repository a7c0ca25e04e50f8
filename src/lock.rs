//! The operation lock (SPEC §4): one per project, guarding deploy, rollback, scale,
//! migrate, backup, restore and prune. It is an `flock` on `<state>/lock`, so the kernel
//! releases it when its process dies however it dies; the file records who holds it
//! (pid, host, user, command, start time) for the message the next operation prints.

use std::io::{Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub command: String,
    pub started_at: String,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    file: std::fs::File,
    path: PathBuf,
}

/// Another live process holds the lock.
#[derive(Debug)]
pub struct LockHeld(pub String);

impl std::fmt::Display for LockHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LockHeld {}

impl Lock {
    /// Take the project lock for `command`, waiting up to `wait` for a live holder.
    pub async fn acquire(state_dir: &Path, command: &str, wait: Duration) -> Result<Lock> {
        crate::util::create_private_dir(state_dir)?;
        let path = state_dir.join("lock");
        // Never through a symbolic link: one planted at the lock's name would make root
        // create (and later truncate) a file of someone else's choosing.
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| anyhow!("cannot open the lock file `{}`: {}", path.display(), crate::util::io_reason(&e)))?;
        let deadline = Instant::now() + wait;
        let mut announced = false;
        loop {
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let who = describe(&read_holder(&path));
            if Instant::now() >= deadline {
                return Err(LockHeld(format!(
                    "another ccops operation holds the project lock `{}`: {who}; wait for it to finish{}",
                    path.display(),
                    if wait.is_zero() { "" } else { " (waited too long)" }
                ))
                .into());
            }
            if !announced {
                crate::output::status(format!("waiting for the project lock: {who}"));
                announced = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // We hold it. A record left by a process that died is stale: say we take over.
        if let Some(old) = read_holder(&path).filter(|h| h.pid != std::process::id()) {
            crate::output::warn(format!("taking over a lock left by a process that is gone: {}", describe(&Some(old))));
        }
        let mut lock = Lock { file, path };
        lock.record(command)?;
        Ok(lock)
    }

    fn record(&mut self, command: &str) -> Result<()> {
        let (user, host) =
            crate::util::operator().split_once('@').map(|(u, h)| (u.to_string(), h.to_string())).unwrap_or_default();
        let h = Holder {
            pid: std::process::id(),
            host,
            user,
            command: command.to_string(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let text = serde_json::to_string(&h)?;
        let res =
            self.file.set_len(0).and_then(|()| self.file.rewind()).and_then(|()| self.file.write_all(text.as_bytes()));
        res.map_err(|e| anyhow!("cannot write the lock file `{}`: {}", self.path.display(), crate::util::io_reason(&e)))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Clear the record first so nobody reads a stale holder, then unlock.
        let _ = self.file.set_len(0);
        // SAFETY: unlocking our own descriptor.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Whether a live process holds the project lock now (without taking it): a journal is
/// an operation in progress while it is held, and a killed run's leftover once it is not.
pub fn is_held(state_dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(state_dir.join("lock"))
    else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; a lock we get is released at once.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return false;
    }
    true
}

fn read_holder(path: &Path) -> Option<Holder> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok())
}

fn describe(h: &Option<Holder>) -> String {
    match h {
        Some(h) => {
            format!("`ccops {}` (pid {} on {}, by {}, since {})", h.command, h.pid, h.host, h.user, h.started_at)
        }
        None => "a process that has not recorded itself yet".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_is_refused_with_the_first_named_then_succeeds_after_release() {
        let d = tempfile::tempdir().unwrap();
        let first = Lock::acquire(d.path(), "backup", Duration::ZERO).await.unwrap();
        // flock locks belong to the open file description: a second open conflicts.
        let err = Lock::acquire(d.path(), "restore", Duration::from_millis(300)).await.unwrap_err().to_string();
        assert!(err.contains("`ccops backup`") && err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        Lock::acquire(d.path(), "restore", Duration::ZERO).await.unwrap();
    }

    #[tokio::test]
    async fn is_held_tells_a_live_holder_from_none() {
        let d = tempfile::tempdir().unwrap();
        assert!(!is_held(d.path()));
        let l = Lock::acquire(d.path(), "backup", Duration::ZERO).await.unwrap();
        assert!(is_held(d.path()));
        drop(l);
        assert!(!is_held(d.path()));
    }

    #[tokio::test]
    async fn a_symlink_at_the_lock_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("lock")).unwrap();
        let err = Lock::acquire(d.path(), "backup", Duration::ZERO).await.unwrap_err().to_string();
        assert!(err.contains("lock file"), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[tokio::test]
    async fn a_dead_holders_record_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("lock"),
            r#"{"pid":999999,"host":"h","user":"u","command":"backup","started_at":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let _l = Lock::acquire(d.path(), "backup", Duration::ZERO).await.unwrap();
        let h = read_holder(&d.path().join("lock")).unwrap();
        assert_eq!(h.pid, std::process::id());
    }
}
