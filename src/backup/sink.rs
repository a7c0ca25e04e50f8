//! A file being written from a stream: compressed (gzip or zstd) and hashed on a
//! blocking thread while the async side keeps receiving, so network, compression and
//! disk overlap and nothing is held whole in memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use tokio::io::DuplexStream;

use crate::config::Compression;
/// The hashing writer lives with the stores, which hash what they upload and download.
pub use crate::storage::hash::{HashWriter, Written};

/// How a stream is stored.
#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    /// As it comes (pg_dump -Fc is compressed already).
    Raw,
    Compressed(Compression),
}

/// The async end to write into, and the thread that stores it.
pub struct Sink {
    pub writer: DuplexStream,
    job: tokio::task::JoinHandle<Result<Written>>,
}

const PIPE: usize = 4 << 20;

impl Sink {
    /// Create `path` (0600) and start storing what is written into `writer`.
    pub fn create(path: &Path, encoding: Encoding) -> Result<Sink> {
        let file = open_private(path)?;
        let (writer, reader) = tokio::io::duplex(PIPE);
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        let path: PathBuf = path.to_path_buf();
        let job =
            tokio::task::spawn_blocking(move || store(bridge, file, encoding).map_err(|e| write_error(&path, &e)));
        Ok(Sink { writer, job })
    }

    /// Close the stream and wait for the file to be complete and fsynced.
    pub async fn finish(self) -> Result<Written> {
        drop(self.writer);
        self.job.await.map_err(|e| anyhow!("the writer thread failed: {e}"))?
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> anyhow::Error {
    anyhow!("cannot write `{}`: {}", path.display(), crate::util::io_reason(e))
}

/// Open a new file readable by its owner only.
pub fn open_private(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| write_error(path, &e))
}

/// Compress `input` into `out` as `encoding` says; returns `out` when everything is in.
fn encode<W: Write>(mut input: impl std::io::Read, mut out: W, encoding: Encoding) -> std::io::Result<W> {
    match encoding {
        Encoding::Raw => {
            copy(&mut input, &mut out)?;
            Ok(out)
        }
        Encoding::Compressed(c) => {
            let mut z = crate::backup::compress::writer(out, c);
            copy(&mut input, &mut z)?;
            z.finish()
        }
    }
}

/// `std::io::copy` with reads of up to 1 MiB: each read from the async side costs a
/// hand-over between threads, and 8 KiB reads made that the bottleneck of a backup.
fn copy(input: &mut impl std::io::Read, out: &mut impl Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// input → compression → age encryption (when configured) → hash → file. The hash is of
/// what is stored, so verify needs no key.
fn store(input: impl std::io::Read, file: std::fs::File, encoding: Encoding) -> std::io::Result<Written> {
    let out = HashWriter::new(std::io::BufWriter::with_capacity(1 << 20, Writeback::new(file)));
    let out = match crate::backup::crypto::encryptor()? {
        None => encode(input, out, encoding)?,
        Some(enc) => encode(input, enc.wrap_output(out)?, encoding)?.finish()?,
    };
    let (buf, written) = out.finish();
    let file = buf.into_inner().map_err(|e| e.into_error())?.file;
    file.sync_all()?;
    Ok(written)
}

/// A file whose pages go to the disk while it is written, not all at the final fsync:
/// every [`WRITEBACK`] bytes, writing back that stretch is started and the stretch before
/// it is waited for. The fsync at the end then has little left to do, and a fast producer
/// cannot pile up gigabytes of dirty pages.
struct Writeback {
    file: std::fs::File,
    written: u64,
    /// Where the stretch being written back starts, and where the one before it started.
    mark: u64,
    prev: Option<u64>,
}

const WRITEBACK: u64 = 8 << 20;

impl Writeback {
    fn new(file: std::fs::File) -> Self {
        Writeback { file, written: 0, mark: 0, prev: None }
    }

    #[cfg(target_os = "linux")]
    fn push(&mut self) {
        use std::os::fd::AsRawFd;
        let fd = self.file.as_raw_fd();
        let len = (self.written - self.mark) as i64;
        // SAFETY: plain syscalls on an open descriptor; failures only lose the head start
        // (the final fsync still writes everything), so they are ignored.
        unsafe {
            libc::sync_file_range(fd, self.mark as i64, len, libc::SYNC_FILE_RANGE_WRITE);
            if let Some(prev) = self.prev {
                let flags =
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
                libc::sync_file_range(fd, prev as i64, (self.mark - prev) as i64, flags);
            }
        }
        self.prev = Some(self.mark);
        self.mark = self.written;
    }

    #[cfg(not(target_os = "linux"))]
    fn push(&mut self) {
        self.mark = self.written;
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.mark >= WRITEBACK {
            self.push();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// SHA-256 and size of a file, read in large blocks.
pub fn hash_file(path: &Path) -> Result<Written> {
    let mut f = super::untrusted::open_file(path)
        .map_err(|e| anyhow!("cannot read `{}`: {}", path.display(), crate::util::io_reason(&e)))?;
    let mut w = HashWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut w)
        .map_err(|e| anyhow!("cannot read `{}`: {}", path.display(), crate::util::io_reason(&e)))?;
    Ok(w.finish().1)
}
