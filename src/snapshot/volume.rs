//! Named volumes: the files read straight from the volume's folder where ccops may, else
//! streamed out of a helper container that mounts the volume (created, never started:
//! the engine mounts volumes for archive reads); owners, modes,
//! symlinks and empty folders kept. Restore checks every entry first, moves the current
//! contents aside inside the volume, extracts, and puts them back if anything fails.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::docker::Engine;

const MOUNT: &str = "/ccops-volume";

fn labels() -> HashMap<String, String> {
    HashMap::from([("ccops.helper".to_string(), "true".to_string())])
}

/// Where a volume's files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The volume's folder on this machine, read by GNU tar (see `Engine::local_volume_dir`).
    Host(PathBuf),
    /// The engine's archive API, through a helper container made from this image.
    Engine(String),
}

/// Stream a tar of the volume's contents (entries `./...`, numeric owners) into `out`.
pub async fn dump<W: AsyncWrite + Unpin>(engine: &Engine, source: &Source, volume: &str, out: &mut W) -> Result<()> {
    match source {
        Source::Host(dir) => dump_dir(dir, volume, out).await,
        Source::Engine(image) => dump_engine(engine, image, volume, out).await,
    }
}

async fn dump_engine<W: AsyncWrite + Unpin>(engine: &Engine, image: &str, volume: &str, out: &mut W) -> Result<()> {
    let helper = engine.create_helper(image, vec![format!("{volume}:{MOUNT}:ro")], labels()).await?;
    let res = async {
        let mut stream = engine.download(&helper, &format!("{MOUNT}/."));
        // Checked between chunks so the helper is always removed below.
        while let Some(chunk) = tokio::select! {
            c = stream.next() => c,
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        } {
            let chunk =
                chunk.map_err(|e| anyhow!("reading volume `{volume}` failed: {}", crate::docker::short_err(&e)))?;
            out.write_all(&chunk).await.map_err(|e| anyhow!("{}", crate::util::io_reason(&e)))?;
        }
        out.flush().await.ok();
        Ok(())
    }
    .await;
    engine.remove(&helper).await.ok();
    res
}

/// Whether `tar` on PATH is GNU tar (the folder read relies on its options and exit
/// statuses; BusyBox's and BSD's differ).
pub async fn gnu_tar() -> bool {
    let out = tokio::process::Command::new("tar").arg("--version").stdin(std::process::Stdio::null()).output().await;
    out.is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("tar (GNU tar)"))
}

/// GNU tar over the folder: owners as numbers (the container's users, not this machine's
/// names), hard links kept. Exit status 1 means a file changed while it was read, which
/// only services left running (not in `stop_services`) can do: the archive is complete,
/// and the operator is told which files.
async fn dump_dir<W: AsyncWrite + Unpin>(dir: &Path, volume: &str, out: &mut W) -> Result<()> {
    let mut child = tokio::process::Command::new("tar")
        .args(["--numeric-owner", "-cf", "-", "-C"])
        .arg(dir)
        .arg(".")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow!("cannot run `tar` to read volume `{volume}`: {}", crate::util::io_reason(&e)))?;
    let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        bail!("`tar` for volume `{volume}` has no output pipes");
    };
    let errors = tokio::spawn(tar_messages(stderr));
    let mut buf = vec![0u8; 256 << 10];
    loop {
        // Dropping the child on an early return kills tar.
        let n = tokio::select! {
            r = stdout.read(&mut buf) => {
                r.map_err(|e| anyhow!("reading volume `{volume}` failed: {}", crate::util::io_reason(&e)))?
            }
            _ = crate::util::wait_interrupt() => return Err(crate::error::Interrupted.into()),
        };
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).await.map_err(|e| anyhow!("{}", crate::util::io_reason(&e)))?;
    }
    out.flush().await.ok();
    let status = child.wait().await.map_err(|e| anyhow!("`tar` for volume `{volume}`: {e}"))?;
    let errors = errors.await.unwrap_or_default();
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => {
            crate::output::warn(format!("volume `{volume}` changed while it was read: {errors}"));
            Ok(())
        }
        _ => bail!("reading volume `{volume}` from `{}` failed: {errors}", dir.display()),
    }
}

/// Lines of tar's messages quoted; a volume where thousands of files change says so in
/// a count, not in thousands of lines.
const TAR_LINES: usize = 5;

/// Read tar's stderr to its end (tar must never block on it), keeping the first
/// [`TAR_LINES`] lines and counting the rest. File names need not be UTF-8.
async fn tar_messages(stderr: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut reader = tokio::io::BufReader::new(stderr);
    let (mut kept, mut more, mut line) = (Vec::new(), 0usize, Vec::new());
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if kept.len() < TAR_LINES {
            kept.push(text.to_string());
        } else {
            more += 1;
        }
    }
    let mut s = kept.join(" / ");
    if s.is_empty() {
        s = "no message".into();
    }
    if more > 0 {
        s += &format!(" (and {more} more line{})", if more == 1 { "" } else { "s" });
    }
    s
}

/// Check a stored volume archive before it touches anything: it reads whole, and no entry
/// escapes the volume (`..`, absolute paths, links pointing out). Returns the entry count.
pub fn check_archive(mut reader: impl Read) -> Result<usize> {
    let mut archive = tar::Archive::new(&mut reader);
    let mut count = 0;
    for entry in archive.entries().map_err(|e| anyhow!("not a tar archive: {e}"))? {
        let entry = entry.map_err(|e| anyhow!("the archive is damaged after {count} entries: {e}"))?;
        let path = entry.path().map_err(|e| anyhow!("an entry has an unreadable name: {e}"))?.into_owned();
        let inside = normalize(Path::new(""), &path)
            .ok_or_else(|| anyhow!("entry `{}` would escape the volume", path.display()))?;
        if let Some(target) = entry.link_name().map_err(|e| anyhow!("entry `{}`: {e}", path.display()))? {
            let kind = entry.header().entry_type();
            let base = if kind.is_hard_link() { Path::new("") } else { inside.parent().unwrap_or(Path::new("")) };
            if normalize(base, &target).is_none() {
                bail!("entry `{}` links to `{}`, outside the volume", path.display(), target.display());
            }
        }
        count += 1;
    }
    Ok(count)
}

/// `rel` resolved under `base`, or None when it is absolute or climbs out of the root.
fn normalize(base: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out: Vec<&std::ffi::OsStr> = base.iter().collect();
    for c in rel.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.iter().collect())
}

/// Replace the volume's contents with the archive streamed by `tar` (plain or gzip).
/// The old contents are moved aside first and put back if the extraction fails.
pub async fn restore<S>(engine: &Engine, image: &str, volume: &str, tar: S) -> Result<()>
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    let helper = engine.create_helper_running(image, vec![format!("{volume}:{MOUNT}")], labels()).await?;
    let res = replace(engine, &helper, volume, tar).await;
    engine.remove(&helper).await.ok();
    res
}

async fn sh(engine: &Engine, helper: &str, script: &str) -> Result<()> {
    let (code, _, err) = engine.exec_capture(helper, &["sh", "-c", script], &[]).await?;
    if code != 0 {
        bail!("{}", err.trim());
    }
    Ok(())
}

async fn replace<S>(engine: &Engine, helper: &str, volume: &str, tar: S) -> Result<()>
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    let aside = format!(".ccops-before-restore-{}", std::process::id());
    let move_aside = format!(
        "set -e; cd {MOUNT}; mkdir {aside}; for f in * .[!.]* ..?*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; [ \"$f\" = {aside} ] && continue; mv -- \"$f\" {aside}/; done"
    );
    sh(engine, helper, &move_aside)
        .await
        .map_err(|e| anyhow!("cannot prepare volume `{volume}` for the restore: {e}"))?;
    let extracted = engine.upload(helper, MOUNT, tar).await;
    let cleanup = if extracted.is_ok() && !crate::util::interrupted() {
        format!("rm -rf -- {MOUNT}/{aside}")
    } else {
        // Put the previous contents back exactly.
        format!(
            "set -e; cd {MOUNT}; for f in * .[!.]* ..?*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; [ \"$f\" = {aside} ] && continue; rm -rf -- \"$f\"; done; cd {aside}; for f in * .[!.]* ..?*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; mv -- \"$f\" ..; done; cd ..; rmdir {aside}"
        )
    };
    let cleaned = sh(engine, helper, &cleanup).await;
    match (extracted, cleaned) {
        (Ok(()), Ok(())) => crate::util::check_interrupt(),
        (Ok(()), Err(e)) => {
            crate::output::warn(format!("volume `{volume}` restored, but the previous contents are still in `{aside}` inside it: {e}"));
            Ok(())
        }
        (Err(e), Ok(())) => {
            crate::util::check_interrupt()?;
            Err(e.context(format!("restoring volume `{volume}` failed; its previous contents were put back")))
        }
        (Err(e), Err(e2)) => Err(e.context(format!(
            "restoring volume `{volume}` failed, and putting the previous contents back failed too ({e2}); they are in `{aside}` inside the volume"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tar_messages_are_quoted_up_to_a_few_lines() {
        assert_eq!(tar_messages(&b""[..]).await, "no message");
        let three = b"tar: ./f1: file changed as we read it\ntar: ./f2: file changed as we read it\n\ntar: ./f3: file changed as we read it\n";
        assert_eq!(
            tar_messages(&three[..]).await,
            "tar: ./f1: file changed as we read it / tar: ./f2: file changed as we read it / tar: ./f3: file changed as we read it"
        );
        // A name that is not UTF-8 is quoted lossily, and reading goes on past it.
        let mut many = b"tar: ./caf\xe9: file changed as we read it\n".to_vec();
        for i in 0..5000 {
            many.extend_from_slice(format!("tar: ./f{i}: file changed as we read it\n").as_bytes());
        }
        let m = tar_messages(&many[..]).await;
        assert!(m.starts_with("tar: ./caf\u{fffd}: file changed"), "{m}");
        assert!(m.ends_with("(and 4996 more lines)"), "{m}");
        assert_eq!(m.matches(" / ").count(), TAR_LINES - 1);
    }

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // set_path refuses `..`; write the raw name to build hostile archives.
        let name: &mut [u8] = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, &b"hi"[..]).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, path, target).unwrap();
    }

    #[test]
    fn accepts_a_normal_tree_with_inner_links() {
        let a = archive(|b| {
            file(b, "./a/b.txt");
            link(b, "./a/l", "b.txt");
            link(b, "./top", "a/../a/b.txt");
        });
        assert_eq!(check_archive(&a[..]).unwrap(), 3);
    }

    #[test]
    fn rejects_escapes() {
        let a = archive(|b| file(b, "../evil"));
        assert!(check_archive(&a[..]).unwrap_err().to_string().contains("`../evil` would escape"));
        let a = archive(|b| file(b, "/etc/passwd"));
        assert!(check_archive(&a[..]).is_err());
        let a = archive(|b| link(b, "./x", "/etc/shadow"));
        assert!(check_archive(&a[..]).unwrap_err().to_string().contains("outside the volume"));
        let a = archive(|b| link(b, "./d/x", "../../etc"));
        assert!(check_archive(&a[..]).is_err());
    }

    #[test]
    fn rejects_a_damaged_archive() {
        let mut a = archive(|b| file(b, "./ok"));
        a[0] ^= 0xff;
        assert!(check_archive(&a[..]).is_err());
    }
}
