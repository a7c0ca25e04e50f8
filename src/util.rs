//! Small helpers shared by the ops: signals, atomic files, small file reads, time (and the
//! I/O error wording of error.rs, under the name callers know).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

/// Kept here too, where most callers look for it; the wording lives with the errors.
pub use crate::error::io_reason;

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

/// Write `bytes` to `path` atomically: a new temporary file beside it, fsynced, renamed
/// over `path`. Nothing is written through a link: the temporary file is created
/// exclusively (`O_EXCL|O_NOFOLLOW`) under an unpredictable name, so a file or symlink
/// planted at that name only makes ccops pick another one, and `rename` replaces a
/// symlink found at `path` itself instead of following it.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let (mut f, tmp) = create_temp(dir, name, mode, random_u64)
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {}", path.display(), io_reason(&e)))?;
    let res = (|| -> std::io::Result<()> {
        f.write_all(bytes)?;
        // The umask may have narrowed `mode`; the caller's mode is what the reader needs.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
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

/// A new file `.<name>.<random>.tmp` in `dir`, created exclusively and never through a
/// symlink. A name that is taken (by a crashed run, or by someone who guessed it) is
/// passed over.
fn create_temp(
    dir: &Path,
    name: &str,
    mode: u32,
    mut random: impl FnMut() -> u64,
) -> std::io::Result<(std::fs::File, std::path::PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut last = None;
    for _ in 0..16 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", random()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
}

/// 64 bits no other process can predict: std seeds every `RandomState` from the
/// system's random source; the counter and clock make two calls differ.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}

/// fsync a directory so a rename in it survives a crash.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Create `dir` (and parents) with mode 0700 for the new ones; an existing `dir` is
/// tightened to 0700, since ccops keeps dumps, journals and locks in it.
///
/// A symlink in place of `dir` is followed only when root or the user running ccops owns
/// it, as when an operator links `/backups` to a mounted disk. A link owned by anyone
/// else was planted by whoever can write the parent folder (a project folder shared with
/// a deploy user, say): following it would let them choose where root writes backups
/// and which folder root makes private, so it is refused. Only the last component is
/// judged: the parents are the operator's own paths.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let fail = |e: std::io::Error| anyhow::anyhow!("cannot create folder `{}`: {}", dir.display(), io_reason(&e));
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() && !trusted_owner(m.uid()) => anyhow::bail!(
            "`{}` is a symbolic link owned by uid {}, not by root or the user running ccops; ccops does not follow it. Replace it with a folder, or with a link made by root",
            dir.display(),
            m.uid()
        ),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(fail)?;
    let m = std::fs::metadata(dir).map_err(fail)?;
    if m.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            anyhow::anyhow!("cannot make folder `{}` private (mode 0700): {}", dir.display(), io_reason(&e))
        })?;
    }
    Ok(())
}

/// Root, or the user ccops runs as.
fn trusted_owner(uid: u32) -> bool {
    // SAFETY: geteuid has no preconditions.
    uid == 0 || uid == unsafe { libc::geteuid() }
}

/// The largest configuration file ccops reads (ccops.yaml, an env file, a `*_FILE`
/// secret): real ones are a few KiB; a path pointing at a log, a disk image or
/// `/dev/zero` by mistake must fail at once instead of filling memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 << 20;

/// A small text file read whole: only a regular file (a FIFO or a device is refused
/// without blocking on it), at most `max` bytes. Symbolic links are followed: secrets
/// under `/run/secrets` often are links.
pub fn read_small_file(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {}", human_bytes(max))));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
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
    fn small_files_are_regular_and_capped() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "A=1\n").unwrap();
        assert_eq!(read_small_file(&f, 10).unwrap(), "A=1\n");
        assert!(read_small_file(&f, 3).unwrap_err().to_string().contains("larger than"));
        assert!(read_small_file(Path::new("/dev/zero"), 10).unwrap_err().to_string().contains("not a regular file"));
        assert!(read_small_file(d.path(), 10).unwrap_err().to_string().contains("not a regular file"));
        let fifo = std::ffi::CString::new(d.path().join("p").to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(read_small_file(&d.path().join("p"), 10).unwrap_err().to_string().contains("not a regular file"));
    }

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

    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn atomic_write_replaces_a_symlink_at_the_target_instead_of_following_it() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let target = d.path().join("out.prom");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_atomic(&target, b"new", 0o640).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(mode_of(&target), 0o640);
        // Only the two files: no temporary file is left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_planted_temporary_name_never_redirects_the_write() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        // The name the old code used (`.<name>.tmp<pid>`) and a dangling link beside it.
        std::os::unix::fs::symlink(&victim, d.path().join(format!(".c.yaml.tmp{}", std::process::id()))).unwrap();
        std::os::unix::fs::symlink(d.path().join("created"), d.path().join(".c.yaml.tmp")).unwrap();
        // A link (or file) at the name create_temp draws first makes it draw again.
        std::os::unix::fs::symlink(&victim, d.path().join(format!(".c.yaml.{:016x}.tmp", 1))).unwrap();
        std::os::unix::fs::symlink(d.path().join("created"), d.path().join(format!(".c.yaml.{:016x}.tmp", 2))).unwrap();
        let mut draws = [1u64, 2, 3].into_iter();
        let (mut f, tmp) = create_temp(d.path(), "c.yaml", 0o600, || draws.next().unwrap()).unwrap();
        f.write_all(b"x").unwrap();
        assert_eq!(tmp, d.path().join(format!(".c.yaml.{:016x}.tmp", 3)));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!d.path().join("created").exists());
        std::fs::remove_file(tmp).unwrap();
        for _ in 0..20 {
            write_atomic(&d.path().join("c.yaml"), b"project: x\n", 0o644).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!d.path().join("created").exists());
        assert_eq!(std::fs::read_to_string(d.path().join("c.yaml")).unwrap(), "project: x\n");
    }

    #[test]
    fn temporary_names_differ_from_call_to_call() {
        let names: std::collections::BTreeSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(names.len(), 1000);
    }

    #[test]
    fn an_existing_private_folder_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("backups");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        let nested = d.path().join("a/b/c");
        create_private_dir(&nested).unwrap();
        assert_eq!(mode_of(&nested), 0o700);
    }

    #[test]
    fn a_symlinked_folder_is_followed_only_when_root_or_we_own_the_link() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let disk = d.path().join("disk");
        std::fs::create_dir(&disk).unwrap();
        std::fs::set_permissions(&disk, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ours = d.path().join("backups");
        std::os::unix::fs::symlink(&disk, &ours).unwrap();
        create_private_dir(&ours).unwrap();
        assert_eq!(mode_of(&disk), 0o700, "the link's target is tightened");

        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // only root can give a link to another user
        }
        let elsewhere = d.path().join("etc");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
        let planted = d.path().join(".ccops");
        std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
        std::os::unix::fs::lchown(&planted, Some(65534), Some(65534)).unwrap();
        let e = create_private_dir(&planted).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link owned by uid 65534") && e.contains("does not follow it"), "{e}");
        assert_eq!(mode_of(&elsewhere), 0o755, "the target is left alone");
    }
}
