//! Reading a file of an untrusted repository. `ccops scan` runs in CI on pull requests, so
//! every path it follows (a compose file, `extends.file`, `build.dockerfile`, an env file,
//! a `.dockerignore`) may have been written to hurt it: `/dev/zero`, a FIFO that never
//! yields, a symlink to the runner's secrets, a file of gigabytes. This module is the one
//! door: only regular files, inside the scanned tree, up to a size cap.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::finding::Finding;

/// The largest file scan reads. Hand-written compose files and Dockerfiles are a few KiB
/// (the largest of the corpus is 8 KiB; generated stacks of hundreds of services stay
/// under 1 MiB); 2 MiB leaves room for those while keeping one file's parse to tens of
/// MiB of memory.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug)]
pub enum Refusal {
    /// Not there: an ordinary mistake (a Dockerfile not written yet), not an attack.
    Missing,
    /// Another error of the system (permission denied...).
    Io(std::io::Error),
    /// A folder, FIFO, socket or device: reading one blocks or never ends.
    NotRegular(&'static str),
    TooLarge,
    /// The path (or a symlink on it) leaves the tree being scanned.
    Outside,
}

impl Refusal {
    /// The rule of a refusal a hostile repository can cause on purpose: such a file is
    /// reported as a finding, so that it cannot hide what it holds from `--fail-on`. None
    /// for a refusal anyone can meet (a missing file stays a warning, as it always was).
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            Refusal::Outside => Some("SCN002"),
            Refusal::NotRegular(_) | Refusal::TooLarge => Some("SCN001"),
            Refusal::Missing | Refusal::Io(_) => None,
        }
    }

    /// The finding for a hostile refusal, at the place `subject` is written (or the file
    /// itself, line 1).
    pub fn finding(&self, subject: &str, at: &Path, line: usize, col: usize) -> Option<Finding> {
        let msg = format!("{subject} is not scanned: {self}");
        Some(Finding::new(self.rule()?, at, line, col, msg).key(subject))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Missing => write!(f, "no such file or directory"),
            Refusal::Io(e) => write!(f, "{}", crate::util::io_reason(e)),
            Refusal::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            Refusal::TooLarge => write!(f, "it is larger than {} MiB", MAX_FILE_BYTES >> 20),
            Refusal::Outside => write!(f, "it lies outside the scanned tree (the git checkout, or the folder scanned)"),
        }
    }
}

fn kind_of(t: std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else {
        Some("not a file")
    }
}

fn io(e: std::io::Error) -> Refusal {
    if e.kind() == std::io::ErrorKind::NotFound { Refusal::Missing } else { Refusal::Io(e) }
}

/// The tree scan may read. Paths outside it are not followed: a report (uploaded as SARIF,
/// printed in a public CI log) must not carry a line of `/proc/self/environ` or of the
/// runner's home because a pull request pointed `dockerfile:` there. The tree is the git
/// checkout when the project is in one, so the `../common.yml` of a monorepo still reads.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// None: anywhere (unit tests, which build their own folders).
    top: Option<PathBuf>,
}

impl Tree {
    /// No boundary: for unit tests, which build their own folders.
    pub const fn anywhere() -> Tree {
        Tree { top: None }
    }

    /// Files under `top` (made free of symlinks here, as the paths checked against it are).
    pub fn under(top: &Path) -> Tree {
        Tree { top: Some(std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf())) }
    }

    /// Whether `path` may be read, without opening it (opening a FIFO blocks, opening some
    /// devices acts on them).
    pub fn check(&self, path: &Path) -> Result<(), Refusal> {
        // A device or a FIFO is named as such wherever it is: `dockerfile: /dev/zero` is
        // an attempt on the scan, not a host file an operator keeps outside the repository.
        let meta = std::fs::metadata(path).map_err(io)?;
        if let Some(kind) = kind_of(meta.file_type()) {
            return Err(Refusal::NotRegular(kind));
        }
        if let Some(top) = &self.top {
            let real = std::fs::canonicalize(path).map_err(io)?;
            if !real.starts_with(top) {
                return Err(Refusal::Outside);
            }
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(Refusal::TooLarge);
        }
        Ok(())
    }

    /// The bytes of `path`, when it passes [`Tree::check`]. The checks are made again on
    /// the opened handle (the file may have changed between the two), and the read stops
    /// at the cap whatever the size said (files of /proc say 0).
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, Refusal> {
        self.check(path)?;
        // O_NONBLOCK: if a FIFO was swapped in after the check, open returns at once.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if let Some(kind) = kind_of(meta.file_type()) {
            return Err(Refusal::NotRegular(kind));
        }
        let mut out = Vec::with_capacity(usize::try_from(meta.len().min(MAX_FILE_BYTES)).unwrap_or(0));
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut out).map_err(io)?;
        if out.len() as u64 > MAX_FILE_BYTES {
            return Err(Refusal::TooLarge);
        }
        Ok(out)
    }

    /// `read` as text; bytes that are not UTF-8 become U+FFFD (a Latin-1 comment in a
    /// Dockerfile must not hide its instructions from the rules).
    pub fn read_lossy(&self, path: &Path) -> Result<String, Refusal> {
        self.read(path).map(|b| String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("Dockerfile");
        std::fs::write(&p, "FROM a:1\n").unwrap();
        assert_eq!(Tree::under(d.path()).read(&p).unwrap(), b"FROM a:1\n");
        std::fs::write(&p, b"# caf\xe9\nFROM a:1\n").unwrap();
        assert_eq!(Tree::default().read_lossy(&p).unwrap(), "# caf\u{fffd}\nFROM a:1\n");
    }

    #[test]
    fn devices_folders_and_fifos_are_not_opened() {
        let t = Tree::default();
        assert!(matches!(t.read(Path::new("/dev/zero")), Err(Refusal::NotRegular("a character device"))));
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(t.read(d.path()), Err(Refusal::NotRegular("a folder"))));
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = t.read(&fifo).unwrap_err();
        assert!(matches!(e, Refusal::NotRegular("a FIFO")) && e.rule() == Some("SCN001"), "{e:?}");
        assert!(matches!(t.read(&d.path().join("nothing")), Err(Refusal::Missing)));
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("compose.yaml");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(MAX_FILE_BYTES).unwrap();
        assert_eq!(Tree::default().read(&p).unwrap().len() as u64, MAX_FILE_BYTES);
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = Tree::default().read(&p).unwrap_err();
        assert!(matches!(e, Refusal::TooLarge) && e.to_string().contains("2 MiB"), "{e}");
    }

    #[test]
    fn paths_and_symlinks_out_of_the_tree_are_refused() {
        let outer = tempfile::tempdir().unwrap();
        let top = outer.path().join("repo");
        std::fs::create_dir(&top).unwrap();
        std::fs::write(outer.path().join("secret"), "TOKEN=x\n").unwrap();
        std::fs::write(top.join(".env"), "A=1\n").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret"), top.join("link.env")).unwrap();
        let t = Tree::under(&top);
        assert!(t.read(&top.join(".env")).is_ok());
        std::fs::create_dir(top.join("sub")).unwrap();
        assert!(t.read(&top.join("sub/../.env")).is_ok());
        assert!(matches!(t.read(&top.join("../secret")), Err(Refusal::Outside)));
        let e = t.read(&top.join("link.env")).unwrap_err();
        assert!(e.to_string().contains("outside the scanned tree"), "{e}");
        assert!(matches!(t.read(Path::new("/etc/hostname")), Err(Refusal::Outside) | Err(Refusal::Missing)));
    }
}
