//! A writer that hands everything to its main writer and a copy to a second reader, for
//! as long as that reader reads. A check runs on a dump while it streams (pg_restore
//! reads the table of contents at the start and stops), instead of on the file after.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::PollSender;

/// Chunks (one per write: a batch of an exec's output, up to 256 KiB) the copy may hold
/// before the main writer waits for its reader.
const CHUNKS: usize = 16;

pub struct Tee<'a, W: ?Sized> {
    main: &'a mut W,
    /// None once the copy's reader is gone: the main writer goes on alone.
    copy: Option<PollSender<Bytes>>,
}

/// A tee over `main`, and the reader of its copy. The reader sees the end of the stream
/// when the tee is dropped.
pub fn tee<W: AsyncWrite + Unpin + ?Sized>(main: &mut W) -> (Tee<'_, W>, impl AsyncRead + Send + Unpin + 'static) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS);
    let chunks =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, io::Error>(b), rx)) });
    (Tee { main, copy: Some(PollSender::new(tx)) }, tokio_util::io::StreamReader::new(Box::pin(chunks)))
}

impl<W: AsyncWrite + Unpin + ?Sized> AsyncWrite for Tee<'_, W> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Room for the copy first: the main writer must not take bytes the copy then misses.
        if let Some(copy) = &mut this.copy
            && ready!(copy.poll_reserve(cx)).is_err()
        {
            this.copy = None;
        }
        let n = ready!(Pin::new(&mut *this.main).poll_write(cx, buf))?;
        if let Some(copy) = &mut this.copy
            && copy.send_item(Bytes::copy_from_slice(&buf[..n])).is_err()
        {
            this.copy = None;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().main).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.copy = None;
        Pin::new(&mut *this.main).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_copy_reads_what_the_main_writer_got() {
        let mut main = Vec::new();
        let (mut t, mut copy) = tee(&mut main);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            copy.read_to_end(&mut got).await.unwrap();
            got
        });
        for chunk in data.chunks(7_000) {
            t.write_all(chunk).await.unwrap();
        }
        drop(t);
        assert_eq!(reader.await.unwrap(), data);
        assert_eq!(main, data);
    }

    #[tokio::test]
    async fn the_main_writer_goes_on_when_the_copy_stops_reading() {
        let mut main = Vec::new();
        let (mut t, mut copy) = tee(&mut main);
        let mut head = [0u8; 5];
        let reader = tokio::spawn(async move {
            copy.read_exact(&mut head).await.unwrap();
            head
        });
        t.write_all(b"PGDMP").await.unwrap();
        assert_eq!(&reader.await.unwrap(), b"PGDMP");
        // The reader is gone; far more than the copy could hold still reaches the main writer.
        for _ in 0..CHUNKS * 4 {
            t.write_all(&[1u8; 1000]).await.unwrap();
        }
        drop(t);
        assert_eq!(main.len(), 5 + CHUNKS * 4 * 1000);
    }
}
