//! Parallel compression: input is cut into chunks, each compressed on its own core as a
//! gzip member or a zstd frame, and written in order. Concatenated members are a
//! standard gzip file (RFC 1952 §2.2): `gunzip`, `tar -xzf` and every zlib read it;
//! concatenated frames are a standard zstd stream (RFC 8878 §3.1) that `zstd -d` reads.
//! Memory stays bounded, whatever the input's size: at most two chunks per core are in
//! flight, and each core keeps one compressor.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The format of the chunks, with its level.
#[derive(Debug, Clone, Copy)]
pub enum Codec {
    Gzip(u32),
    Zstd(i32),
}

impl Codec {
    /// Input per chunk: gzip's window is 32 KiB, so 1 MiB loses nothing; zstd's is larger
    /// (a few MiB at the levels used), and 4 MiB frames compress as well as one stream
    /// within a fraction of a percent.
    fn chunk(self) -> usize {
        match self {
            Codec::Gzip(_) => 1 << 20,
            Codec::Zstd(_) => 4 << 20,
        }
    }

    /// One compressor per thread: the function compressing a chunk into a member or frame.
    fn compressor(self) -> io::Result<ChunkFn> {
        Ok(match self {
            Codec::Gzip(level) => Box::new(move |data: &[u8]| {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::new(level));
                enc.write_all(data)?;
                enc.finish()
            }),
            Codec::Zstd(level) => {
                let mut z = zstd::bulk::Compressor::new(level)?;
                z.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
                Box::new(move |data: &[u8]| z.compress(data))
            }
        })
    }
}

type Job = (u64, Vec<u8>);
/// Compresses one chunk into a member or frame.
type ChunkFn = Box<dyn FnMut(&[u8]) -> io::Result<Vec<u8>>>;
type Done = (u64, io::Result<Vec<u8>>);

pub struct ParallelWriter<W: Write> {
    codec: Codec,
    out: W,
    buf: Vec<u8>,
    jobs: Option<mpsc::SyncSender<Job>>,
    done: mpsc::Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_send: u64,
    next_write: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    max_in_flight: u64,
}

impl<W: Write> ParallelWriter<W> {
    pub fn new(out: W, codec: Codec, threads: usize) -> Self {
        let threads = threads.max(1);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let rx = job_rx.clone();
                let tx = done_tx.clone();
                std::thread::spawn(move || {
                    let mut compress = codec.compressor();
                    loop {
                        let job = rx.lock().map(|r| r.recv());
                        let Ok(Ok((seq, data))) = job else { break };
                        let res = match &mut compress {
                            Ok(f) => f(&data),
                            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                        };
                        if tx.send((seq, res)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        ParallelWriter {
            codec,
            out,
            buf: Vec::with_capacity(codec.chunk()),
            jobs: Some(job_tx),
            done: done_rx,
            workers,
            next_send: 0,
            next_write: 0,
            ready: BTreeMap::new(),
            max_in_flight: 2 * threads as u64,
        }
    }

    fn send_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(self.codec.chunk()));
        while self.next_send - self.next_write >= self.max_in_flight {
            self.collect(true)?;
        }
        let jobs = self.jobs.as_ref().ok_or_else(|| io::Error::other("compressor finished"))?;
        jobs.send((self.next_send, chunk)).map_err(|_| io::Error::other("compression thread stopped"))?;
        self.next_send += 1;
        self.collect(false)
    }

    /// Write finished members in order; with `block`, wait for at least one.
    fn collect(&mut self, block: bool) -> io::Result<()> {
        let mut first = block;
        loop {
            let msg = if first {
                first = false;
                self.done.recv().map_err(|_| io::Error::other("compression thread stopped"))?
            } else {
                match self.done.try_recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            };
            let (seq, res) = msg;
            self.ready.insert(seq, res?);
        }
        while let Some(data) = self.ready.remove(&self.next_write) {
            self.out.write_all(&data)?;
            self.next_write += 1;
        }
        Ok(())
    }

    /// Compress what is left, write every member, and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.send_chunk()?;
        if self.next_send == 0 {
            // An empty input is still a valid (empty) compressed file.
            let empty = self.codec.compressor()?(&[])?;
            self.out.write_all(&empty)?;
        }
        while self.next_write < self.next_send {
            self.collect(true)?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.out.flush()?;
        // Move `out` out of a type that has no Drop impl.
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let chunk = self.codec.chunk();
        let room = chunk - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == chunk {
            self.send_chunk()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn compress(data: &[u8], codec: Codec, threads: usize) -> Vec<u8> {
        let mut w = ParallelWriter::new(Vec::new(), codec, threads);
        for piece in data.chunks(77_777) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn decode(packed: &[u8], codec: Codec) -> Vec<u8> {
        let mut back = Vec::new();
        match codec {
            Codec::Gzip(_) => flate2::read::MultiGzDecoder::new(packed).read_to_end(&mut back),
            Codec::Zstd(_) => zstd::stream::read::Decoder::new(packed).unwrap().read_to_end(&mut back),
        }
        .unwrap();
        back
    }

    #[test]
    fn output_is_the_input_in_order() {
        let data: Vec<u8> = (0..9 * (1 << 20) + 12_345).map(|i| (i % 251) as u8 ^ (i / 7919) as u8).collect();
        for codec in [Codec::Gzip(6), Codec::Zstd(3)] {
            for (input, threads) in [(&data[..], 2), (&data[..], 1), (&data[..10], 3), (&[][..], 2)] {
                let packed = compress(input, codec, threads);
                assert_eq!(decode(&packed, codec), input, "{codec:?}, {} bytes, {threads} threads", input.len());
            }
        }
    }

    #[test]
    fn a_flipped_byte_in_zstd_output_is_caught() {
        let data = b"frames with checksums\n".repeat(400_000);
        let mut packed = compress(&data, Codec::Zstd(3), 2);
        let mid = packed.len() / 2;
        packed[mid] ^= 0x40;
        let mut back = Vec::new();
        let read = zstd::stream::read::Decoder::new(&packed[..]).unwrap().read_to_end(&mut back);
        assert!(read.is_err() || back != data, "a damaged stream decoded as the original");
    }

    #[test]
    fn gunzip_reads_it() {
        let data = b"hello, members\n".repeat(200_000);
        let gz = compress(&data, Codec::Gzip(6), 2);
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || stdin.write_all(&gz).unwrap());
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}
