//! Size and SHA-256 of bytes as they pass: what a store hands back for an object it
//! wrote or read, and what the backup sink computes for the files it stores. A leaf:
//! it knows files and hashes, nothing of stores or backups.

use std::io::Write;

use sha2::{Digest, Sha256};

/// What was written: stored bytes and their SHA-256.
#[derive(Debug, Clone)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

impl Written {
    /// Size and SHA-256 of bytes held in memory.
    pub fn of(data: &[u8]) -> Written {
        Written { bytes: data.len() as u64, sha256: hex::encode(Sha256::digest(data)) }
    }
}

/// A `Write` that hashes and counts what passes through to the file.
pub struct HashWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter { inner, hasher: Sha256::new(), bytes: 0 }
    }

    pub fn finish(self) -> (W, Written) {
        (self.inner, Written { bytes: self.bytes, sha256: hex::encode(self.hasher.finalize()) })
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_and_the_bytes_agree() {
        let mut w = HashWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (inner, got) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(got.sha256, Written::of(b"abc").sha256);
        assert_eq!(got.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(got.bytes, 3);
    }
}
