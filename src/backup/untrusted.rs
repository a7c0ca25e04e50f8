//! Reading the files of a backup set as untrusted input: anyone with write access to the
//! backup folder (or a bucket a set was downloaded from) may have planted them, and ccops
//! reads them as root. A leaf, so the manifest and the layout both read through it.

use std::path::Path;

/// Open a file of a backup set for reading, as untrusted input: a symbolic link is not
/// followed (a planted `volume-x.tar.gz -> /etc/shadow` is refused), and only a regular
/// file is read (a FIFO or a device would block or never end). Opening does not block on
/// a FIFO, since the check comes after the open.
pub fn open_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other("it is a symbolic link, which ccops does not follow in a backup set")
            } else {
                e
            }
        })?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    Ok(f)
}

/// A small file of a set read whole, refused past `max` bytes without reading them.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = open_file(path)?;
    let mut out = Vec::new();
    f.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(std::io::Error::other(format!("it is larger than {max} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_files_are_opened_only_as_regular_files_without_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("real"), b"x").unwrap();
        std::os::unix::fs::symlink(p.join("real"), p.join("link")).unwrap();
        assert!(open_file(&p.join("real")).is_ok());
        assert!(open_file(&p.join("link")).unwrap_err().to_string().contains("symbolic link"));
        assert!(open_file(p).unwrap_err().to_string().contains("not a regular file"));
        let fifo = std::ffi::CString::new(p.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(open_file(&p.join("fifo")).unwrap_err().to_string().contains("not a regular file"));
        std::fs::write(p.join("big"), vec![b'x'; 100]).unwrap();
        assert!(read_capped(&p.join("big"), 99).is_err());
        assert_eq!(read_capped(&p.join("big"), 100).unwrap().len(), 100);
    }
}
