//! Compression and decompression of stored files, by file extension.

use std::io::{Read, Write};
use std::path::Path;

use crate::config::Compression;

/// The encoder ccops writes with, on every core: gzip at level 6 like `gzip`, zstd at
/// level 3 like `zstd`.
pub fn writer<W: Write>(w: W, c: Compression) -> super::parallel::ParallelWriter<W> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let codec = match c {
        Compression::Gzip => super::parallel::Codec::Gzip(6),
        Compression::Zstd => super::parallel::Codec::Zstd(3),
    };
    super::parallel::ParallelWriter::new(w, codec, cores)
}

pub fn extension(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => ".gz",
        Compression::Zstd => ".zst",
    }
}

pub fn word(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

/// A reader of the plain content of `path`, chosen by its extensions: `.age` decrypted,
/// then `.gz` or `.zst` decompressed.
pub fn open_decoded(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let file = super::untrusted::open_file(path)?;
    let full = path.to_string_lossy();
    let (name, raw): (&str, Box<dyn Read + Send>) = match full.strip_suffix(".age") {
        Some(inner) => {
            (inner, super::crypto::decrypt(path, file).map_err(|e| std::io::Error::other(format!("{e:#}")))?)
        }
        None => (&full, Box::new(file)),
    };
    let f = std::io::BufReader::with_capacity(1 << 20, raw);
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::with_buffer(f)?)
    } else {
        Box::new(f)
    })
}

/// The plain content of a stored file as an async reader (decoded on a thread). It ends
/// early once a signal arrived, so its consumer fails and cleans up.
pub fn decoded_async(path: &Path) -> crate::util::UntilInterrupt<tokio::io::DuplexStream> {
    let (w, r) = tokio::io::duplex(1 << 20);
    let path = path.to_path_buf();
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let mut out = tokio_util::io::SyncIoBridge::new_with_handle(w, handle);
        match open_decoded(&path) {
            Ok(mut r) => {
                if let Err(e) = std::io::copy(&mut r, &mut out) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        crate::output::error(format!("reading `{}` failed: {e}", path.display()));
                        poison(&mut out);
                    }
                }
            }
            Err(e) => {
                crate::output::error(format!("cannot read `{}`: {e}", path.display()));
                poison(&mut out);
            }
        }
        let _ = std::io::Write::flush(&mut out);
        let _ = out.shutdown();
    });
    crate::util::UntilInterrupt(r)
}

/// End a stream that failed half-way with bytes no consumer accepts (not a tar header,
/// not SQL, not an archive block), so that a cut never passes for a shorter whole.
fn poison(out: &mut impl Write) {
    let _ = out.write_all(&[0xff; 1024]);
}
