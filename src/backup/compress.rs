//! Compression and decompression of stored files, by file extension.

use std::io::{Read, Write};
use std::path::Path;

use crate::config::Compression;

/// The gzip encoder ccops writes with (zlib-rs backend, level 6 like `gzip`).
pub fn gzip_writer<W: Write>(w: W) -> flate2::write::GzEncoder<W> {
    flate2::write::GzEncoder::new(w, flate2::Compression::new(6))
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

/// A reader of the decompressed content of `path`, chosen by its extension.
pub fn open_decoded(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let name = path.to_string_lossy();
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::with_buffer(f)?)
    } else {
        Box::new(f)
    })
}
