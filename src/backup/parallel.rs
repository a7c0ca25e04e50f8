//! Parallel gzip: input is cut into 1 MiB chunks, each compressed on its own core as a
//! gzip member, and the members are written in order. Concatenated members are a
//! standard gzip file (RFC 1952 §2.2): `gunzip`, `tar -xzf` and every zlib read it.
//! Memory stays bounded: at most two chunks per core are in flight.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

const CHUNK: usize = 1 << 20;

type Job = (u64, Vec<u8>);
type Done = (u64, io::Result<Vec<u8>>);

pub struct ParGzWriter<W: Write> {
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

impl<W: Write> ParGzWriter<W> {
    pub fn new(out: W, level: u32, threads: usize) -> Self {
        let threads = threads.max(1);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let rx = job_rx.clone();
                let tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = rx.lock().map(|r| r.recv());
                        let Ok(Ok((seq, data))) = job else { break };
                        let mut enc = flate2::write::GzEncoder::new(
                            Vec::with_capacity(data.len() / 2),
                            flate2::Compression::new(level),
                        );
                        let res = enc.write_all(&data).and_then(|()| enc.finish());
                        if tx.send((seq, res)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        ParGzWriter {
            out,
            buf: Vec::with_capacity(CHUNK),
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
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
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
            // An empty input is still a valid (empty) gzip file.
            let empty = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6)).finish()?;
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

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
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

    fn round_trip(data: &[u8], threads: usize) {
        let mut w = ParGzWriter::new(Vec::new(), 6, threads);
        for piece in data.chunks(77_777) {
            w.write_all(piece).unwrap();
        }
        let gz = w.finish().unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn output_is_the_input_in_order() {
        let data: Vec<u8> = (0..5 * CHUNK + 12_345).map(|i| (i % 251) as u8 ^ (i / 7919) as u8).collect();
        round_trip(&data, 2);
        round_trip(&data, 1);
        round_trip(&data[..10], 3);
        round_trip(&[], 2);
    }

    #[test]
    fn gunzip_reads_it() {
        let data = b"hello, members\n".repeat(200_000);
        let mut w = ParGzWriter::new(Vec::new(), 6, 2);
        w.write_all(&data).unwrap();
        let gz = w.finish().unwrap();
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
