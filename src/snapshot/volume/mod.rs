//! Named volumes: the files read straight from the volume's folder where ccops may, else
//! streamed out of a helper container that mounts the volume (created, never started:
//! the engine mounts volumes for archive reads); owners, modes,
//! symlinks and empty folders kept. Restore checks every entry first, moves the current
//! contents aside inside the volume, extracts, and puts them back if anything fails.
//! Past 400 lines for its tests (about 350 lines of code); the archive format and its
//! checks are archive.rs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::docker::Engine;
use crate::state::{self, Entry, VolumeSide};

mod archive;
use archive::ASIDE_PREFIX;
pub use archive::check_archive;

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
/// The helper container of a read through the engine is journaled, so a ccops killed
/// mid-read leaves none behind for long: the next run removes it.
pub async fn dump<W: AsyncWrite + Unpin>(
    engine: &Engine,
    source: &Source,
    volume: &str,
    out: &mut W,
    state_dir: &Path,
) -> Result<()> {
    match source {
        Source::Host(dir) => dump_dir(dir, volume, out).await,
        Source::Engine(image) => dump_engine(engine, image, volume, out, state_dir).await,
    }
}

async fn dump_engine<W: AsyncWrite + Unpin>(
    engine: &Engine,
    image: &str,
    volume: &str,
    out: &mut W,
    state_dir: &Path,
) -> Result<()> {
    let helper = engine.create_helper(image, vec![format!("{volume}:{MOUNT}:ro")], labels()).await?;
    let entry = Entry::Helper { container: helper.clone() };
    if let Err(e) = state::journal_add(state_dir, std::slice::from_ref(&entry)) {
        engine.remove(&helper).await.ok();
        return Err(e);
    }
    state::failpoint("volume-helper-created");
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
    if engine.remove(&helper).await.is_ok() {
        state::journal_remove(state_dir, std::slice::from_ref(&entry)).ok();
    }
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

/// Replace the volume's contents with the archive streamed by `tar` (plain or gzip).
/// The old contents are moved aside first and put back if the extraction fails; each
/// phase is in the journal of `state_dir` first, so a killed ccops is put right by the
/// next run ([`recover`]).
pub async fn restore<S>(engine: &Engine, image: &str, volume: &str, tar: S, state_dir: &Path) -> Result<()>
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    let side = VolumeSide {
        volume: volume.to_string(),
        image: image.to_string(),
        aside: format!("{ASIDE_PREFIX}{}", std::process::id()),
    };
    // Recorded before the helper exists: the next run removes a helper left by a kill.
    state::journal_add(state_dir, &[Entry::VolumeMovedAside(side.clone())])?;
    let helper =
        match engine.create_helper_running(image, vec![format!("{volume}:{MOUNT}")], helper_labels(volume)).await {
            Ok(h) => h,
            Err(e) => {
                state::journal_remove(state_dir, &[Entry::VolumeMovedAside(side)])?;
                return Err(e);
            }
        };
    let res = replace(engine, &helper, &side, tar, state_dir).await;
    engine.remove(&helper).await.ok();
    res
}

/// The labels of a restore's helper: a killed ccops' leftover is found by its volume.
fn helper_labels(volume: &str) -> HashMap<String, String> {
    let mut l = labels();
    l.insert(HELPER_VOLUME.to_string(), volume.to_string());
    l
}

const HELPER_VOLUME: &str = "ccops.volume";

async fn sh(engine: &Engine, helper: &str, script: &str) -> Result<()> {
    let (code, _, err) = engine.exec_capture(helper, &["sh", "-c", script], &[]).await?;
    if code != 0 {
        bail!("{}", err.trim());
    }
    Ok(())
}

/// Each entry of the current folder but `keep`, as `$f` in `body` (dot files included).
fn each_entry(keep: &[&str], body: &str) -> String {
    let skip: Vec<String> = keep.iter().map(|k| format!("[ \"$f\" = '{k}' ] && continue;")).collect();
    format!("for f in * .[!.]* ..?*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; {} {body}; done", skip.join(" "))
}

/// The names beside the folder `aside`: a marker that the move aside is complete
/// (extraction may have begun), one that the new files are discarded (only moving back
/// is left), and the folder they are discarded into. They start with [`ASIDE_PREFIX`]
/// too, so no archive that passed [`check_archive`] holds them.
fn markers(aside: &str) -> [String; 3] {
    [format!("{aside}.moved"), format!("{aside}.back"), format!("{aside}.discard")]
}

/// A script that moves the volume's contents into the folder `aside`.
fn move_aside_script(aside: &str) -> String {
    let [moved, ..] = markers(aside);
    format!(
        "set -e; cd {MOUNT}; mkdir '{aside}'; {}; : > '{moved}'",
        each_entry(&[aside], &format!("mv -- \"$f\" '{aside}'/"))
    )
}

/// A script that puts the previous contents back, and that may be run again from the
/// start wherever it was stopped. Until the move aside is complete nothing new was
/// written, so the files still in place are old ones and stay. Once it is, the new files
/// go to a discard folder first, a marker says when that is over, then the old files
/// move back one by one.
fn put_back_script(aside: &str) -> String {
    let [moved, back, discard] = markers(aside);
    format!(
        "set -e; cd {MOUNT}; if [ -d '{aside}' ]; then if [ -e '{moved}' ] && [ ! -e '{back}' ]; then mkdir -p '{discard}'; {}; : > '{back}'; fi; cd '{aside}'; {}; cd {MOUNT}; rmdir '{aside}'; fi; rm -rf -- '{discard}' '{back}' '{moved}'",
        each_entry(&[aside, &moved, &back, &discard], &format!("mv -- \"$f\" '{discard}'/")),
        each_entry(&[], "mv -- \"$f\" ..")
    )
}

/// A script that deletes the previous contents once the restored ones are complete.
fn discard_script(aside: &str) -> String {
    let [moved, back, discard] = markers(aside);
    format!("cd {MOUNT} && rm -rf -- '{aside}' '{moved}' '{back}' '{discard}'")
}

async fn replace<S>(engine: &Engine, helper: &str, side: &VolumeSide, tar: S, state_dir: &Path) -> Result<()>
where
    S: futures_util::Stream<Item = bytes::Bytes> + Send + 'static,
{
    let (volume, aside) = (&side.volume, &side.aside);
    let moved = Entry::VolumeMovedAside(side.clone());
    let extracted = match sh(engine, helper, &move_aside_script(aside)).await {
        Ok(()) => {
            state::failpoint("volume-moved-aside");
            let r = engine.upload(helper, MOUNT, tar).await;
            state::failpoint("volume-extracted");
            r
        }
        Err(e) => Err(anyhow!("cannot prepare volume `{volume}` for the restore: {e}")),
    };
    if extracted.is_ok() && !crate::util::interrupted() {
        let restored = Entry::VolumeRestored(side.clone());
        state::journal_replace(state_dir, &moved, restored.clone())?;
        state::failpoint("volume-restored");
        match sh(engine, helper, &discard_script(aside)).await {
            Ok(()) => state::journal_remove(state_dir, &[restored])?,
            Err(e) => crate::output::warn(format!(
                "volume `{volume}` restored, but its previous contents are still in `{aside}` inside it ({e}); the next ccops run deletes them"
            )),
        }
        return crate::util::check_interrupt();
    }
    // Put the previous contents back exactly.
    let cleaned = sh(engine, helper, &put_back_script(aside)).await;
    if cleaned.is_ok() {
        state::journal_remove(state_dir, &[moved])?;
    }
    match (extracted, cleaned) {
        (_, Ok(())) if crate::util::interrupted() => Err(crate::error::Interrupted.into()),
        (Err(e), Ok(())) => {
            Err(e.context(format!("restoring volume `{volume}` failed; its previous contents were put back")))
        }
        (Ok(()), Ok(())) => Ok(()),
        (_, Err(e2)) => Err(anyhow!(
            "restoring volume `{volume}` failed, and putting the previous contents back failed too ({e2}); they are in `{aside}` inside the volume, and the next ccops run tries again"
        )),
    }
}

/// Put right a volume restore a killed ccops left: remove its helper, then put the
/// previous contents back (`finish` false) or delete them (`finish` true: the restored
/// contents were complete). Returns what was done.
pub async fn recover(engine: &Engine, side: &VolumeSide, finish: bool) -> Result<String> {
    remove_helpers(engine, &side.volume).await?;
    let helper = engine
        .create_helper_running(&side.image, vec![format!("{}:{MOUNT}", side.volume)], helper_labels(&side.volume))
        .await?;
    let script = if finish { discard_script(&side.aside) } else { put_back_script(&side.aside) };
    let done = sh(engine, &helper, &script).await;
    engine.remove(&helper).await.ok();
    done.map_err(|e| anyhow!("in volume `{}`: {e}", side.volume))?;
    Ok(if finish {
        format!(
            "volume `{}` keeps its restored contents (they were complete); the previous ones were deleted",
            side.volume
        )
    } else {
        format!("volume `{}` has its previous contents back (the restore into it was killed)", side.volume)
    })
}

/// Remove the helper containers a killed ccops left on `volume`: one still running
/// would go on changing the volume.
async fn remove_helpers(engine: &Engine, volume: &str) -> Result<()> {
    engine.remove_labelled(vec!["ccops.helper=true".to_string(), format!("{HELPER_VOLUME}={volume}")]).await
}

/// The restore's scripts run by `sh` in a folder standing for the volume, at each point a
/// kill can stop them.
#[cfg(test)]
mod restore_scripts {
    use super::*;

    const A: &str = ".ccops-before-restore-7";

    fn run(dir: &Path, script: &str) {
        let script = script.replace(MOUNT, &dir.display().to_string());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn tree(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                if e.file_type().unwrap().is_dir() {
                    out.push(format!("{rel}/"));
                    todo.push(e.path());
                } else {
                    out.push(format!("{rel}={}", std::fs::read_to_string(e.path()).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    fn old_contents(dir: &Path) -> Vec<String> {
        std::fs::create_dir_all(dir.join("d/e")).unwrap();
        for (f, t) in [("a", "old a"), (".h", "old h"), ("..x", "old x"), ("d/e/f", "old f"), ("b c", "old b")] {
            std::fs::write(dir.join(f), t).unwrap();
        }
        tree(dir)
    }

    fn extract_new(dir: &Path) {
        std::fs::write(dir.join("a"), "new a").unwrap();
        std::fs::create_dir_all(dir.join("n")).unwrap();
        std::fs::write(dir.join("n/m"), "new m").unwrap();
    }

    #[test]
    fn put_back_restores_the_old_contents_and_can_run_again() {
        let v = tempfile::tempdir().unwrap();
        let old = old_contents(v.path());
        run(v.path(), &move_aside_script(A));
        assert_eq!(tree(v.path()).iter().filter(|e| !e.starts_with(A)).count(), 0);
        extract_new(v.path());
        run(v.path(), &put_back_script(A));
        assert_eq!(tree(v.path()), old);
        run(v.path(), &put_back_script(A));
        assert_eq!(tree(v.path()), old);
    }

    #[test]
    fn a_move_aside_cut_short_keeps_the_files_still_in_place() {
        let v = tempfile::tempdir().unwrap();
        let old = old_contents(v.path());
        std::fs::create_dir(v.path().join(A)).unwrap();
        std::fs::rename(v.path().join("a"), v.path().join(A).join("a")).unwrap();
        std::fs::rename(v.path().join("d"), v.path().join(A).join("d")).unwrap();
        run(v.path(), &put_back_script(A));
        assert_eq!(tree(v.path()), old);
    }

    #[test]
    fn a_put_back_cut_short_is_finished_by_the_next_one() {
        // Killed while discarding the new files.
        let v = tempfile::tempdir().unwrap();
        let old = old_contents(v.path());
        run(v.path(), &move_aside_script(A));
        extract_new(v.path());
        std::fs::create_dir(v.path().join(format!("{A}.discard"))).unwrap();
        std::fs::rename(v.path().join("n"), v.path().join(format!("{A}.discard/n"))).unwrap();
        run(v.path(), &put_back_script(A));
        assert_eq!(tree(v.path()), old);

        // Killed while moving the old files back.
        let v = tempfile::tempdir().unwrap();
        let old = old_contents(v.path());
        run(v.path(), &move_aside_script(A));
        extract_new(v.path());
        std::fs::create_dir(v.path().join(format!("{A}.discard"))).unwrap();
        for f in ["a", "n"] {
            std::fs::rename(v.path().join(f), v.path().join(format!("{A}.discard/{f}"))).unwrap();
        }
        std::fs::write(v.path().join(format!("{A}.back")), "").unwrap();
        std::fs::rename(v.path().join(A).join("d"), v.path().join("d")).unwrap();
        run(v.path(), &put_back_script(A));
        assert_eq!(tree(v.path()), old);
    }

    #[test]
    fn discard_keeps_only_the_restored_contents() {
        let v = tempfile::tempdir().unwrap();
        old_contents(v.path());
        run(v.path(), &move_aside_script(A));
        extract_new(v.path());
        run(v.path(), &discard_script(A));
        assert_eq!(tree(v.path()), ["a=new a", "n/", "n/m=new m"]);
        run(v.path(), &discard_script(A));
        assert_eq!(tree(v.path()), ["a=new a", "n/", "n/m=new m"]);
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
}
