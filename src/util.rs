//! Small helpers shared by the ops: I/O error wording, signals, atomic files, time.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

/// An I/O error as a person reads it: "No such file or directory", not `Os { code: 2 }`.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device".into(),
        Some(libc::EACCES) | Some(libc::EPERM) => "permission denied".into(),
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(_) => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
        None => e.to_string(),
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static CLEANUP_AWARE: AtomicBool = AtomicBool::new(false);
static NOTIFY: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Listen for SIGINT and SIGTERM. A read-only command ends at once with 130; a command
/// that declared `cleanup_aware()` is told through `interrupted()`/`wait_interrupt()` and
/// must clean up and return `Interrupted`. A second signal ends the process at once.
pub fn install_signal_handlers() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            if INTERRUPTED.swap(true, Ordering::SeqCst) || !CLEANUP_AWARE.load(Ordering::SeqCst) {
                crate::output::error("interrupted");
                std::process::exit(130);
            }
            crate::output::warn("interrupted: cleaning up (signal again to stop at once)");
            NOTIFY.notify_waiters();
        }
    });
}

/// The running command cleans up on a signal instead of being ended by it.
pub fn cleanup_aware() {
    CLEANUP_AWARE.store(true, Ordering::SeqCst);
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Err(Interrupted) once a signal arrived: call between steps.
pub fn check_interrupt() -> Result<()> {
    if interrupted() { Err(crate::error::Interrupted.into()) } else { Ok(()) }
}

/// Resolves when a signal arrives (use in `select!` around long operations).
pub async fn wait_interrupt() {
    loop {
        let n = NOTIFY.notified();
        if interrupted() {
            return;
        }
        n.await;
    }
}

/// An input that ends (EOF) once a signal arrived: the consumer (an engine upload, a
/// pg_restore) then fails on a truncated stream and the caller's cleanup runs, instead of
/// a future being dropped halfway through its work.
pub struct UntilInterrupt<R>(pub R);

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for UntilInterrupt<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if interrupted() {
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it, fsynced, renamed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp =
        dir.join(format!(".{}.tmp{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("file"), std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("cannot write `{}`: {}", path.display(), io_reason(&e));
    }
    Ok(())
}

/// fsync a directory so a rename in it survives a crash.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Create `dir` (and parents) with mode 0700 for the new ones.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| anyhow::anyhow!("cannot create folder `{}`: {}", dir.display(), io_reason(&e)))
}

/// `user@host` of whoever runs ccops, for locks and release records.
pub fn operator() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| {
        // SAFETY: getuid has no preconditions.
        format!("uid{}", unsafe { libc::getuid() })
    });
    format!("{user}@{}", hostname())
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Human size: 1.2 GiB.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Human duration, coarse: 3.2s, 4m 05s, 2h 10m, 3d 4h.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{:.1}s", d.as_secs_f64()),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Keep the heap from growing with the data streamed through it. glibc raises its mmap
/// threshold after the first large buffer is freed, and from then on serves the MiB-sized
/// chunk buffers of the compressors from per-thread arenas that it rarely gives back; a
/// fixed threshold returns each such buffer to the system when it is freed, which keeps
/// peak memory flat (docs/BENCHMARKS.md).
pub fn bound_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_duration(std::time::Duration::from_secs(125)), "2m 05s");
    }

    #[test]
    fn io_reasons_read_well() {
        let e = std::fs::read("/nonexistent/x").unwrap_err();
        assert_eq!(io_reason(&e), "no such file or directory");
    }
}
