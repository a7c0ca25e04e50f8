//! Running commands inside a project's containers: output streamed out as it comes,
//! input streamed in, nothing held whole in memory; the exit code waited for.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{Engine, short_err, short_id};

/// Bytes of an exec's output gathered before they are written on.
const BATCH: usize = 256 << 10;

/// The most of a command's stdout [`Engine::exec_capture`] holds; what comes after is read
/// and dropped, so a container that prints without end cannot fill ccops' memory.
const CAPTURE_MAX: usize = 8 << 20;

/// Keeps the first [`CAPTURE_MAX`] bytes written to it and notes whether more came.
#[derive(Default)]
struct Capped {
    kept: Vec<u8>,
    over: bool,
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let room = CAPTURE_MAX - self.kept.len();
        self.over |= buf.len() > room;
        self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// What a finished exec reported.
#[derive(Debug)]
pub struct ExecOutcome {
    pub exit_code: i64,
    /// The last part of stderr (bounded), for error messages.
    pub stderr: String,
}

impl Engine {
    /// Run `cmd` in a container; its stdout is streamed into `stdout` as it comes, `stdin`
    /// (if any) is streamed in. Nothing is held whole in memory.
    pub async fn exec_stream<W, R>(
        &self,
        container: &str,
        cmd: &[&str],
        env: &[String],
        stdout: &mut W,
        stdin: Option<R>,
    ) -> Result<ExecOutcome>
    where
        W: AsyncWrite + Unpin + ?Sized,
        R: AsyncRead + Unpin + Send + 'static,
    {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let exec = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    env: Some(env.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(stdin.is_some()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                anyhow!("cannot exec `{}` in container {}: {}", cmd.join(" "), short_id(container), short_err(&e))
            })?;
        let started = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| anyhow!("cannot start exec: {}", short_err(&e)))?;
        let StartExecResults::Attached { mut output, mut input } = started else {
            bail!("exec started detached");
        };
        let feeder = stdin.map(|mut r| {
            tokio::spawn(async move {
                let res = tokio::io::copy(&mut r, &mut input).await;
                let _ = input.shutdown().await;
                res
            })
        });
        let mut stderr = Vec::new();
        // Frames are a few KiB each; handing each one on woke the writer's thread a
        // thousand times a second, on a machine whose other core runs the dump itself.
        let mut batch = Vec::with_capacity(BATCH);
        let write_failed = |e: std::io::Error| anyhow!("cannot write exec output: {}", crate::util::io_reason(&e));
        while let Some(frame) = output.next().await {
            use bollard::container::LogOutput;
            match frame.map_err(|e| anyhow!("exec stream broke: {}", short_err(&e)))? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    batch.extend_from_slice(&message);
                    if batch.len() >= BATCH {
                        stdout.write_all(&batch).await.map_err(write_failed)?;
                        batch.clear();
                    }
                }
                LogOutput::StdErr { message } => {
                    stderr.extend_from_slice(&message);
                    if stderr.len() > 16 * 1024 {
                        stderr.drain(..stderr.len() - 8 * 1024);
                    }
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        stdout.write_all(&batch).await.map_err(write_failed)?;
        stdout.flush().await.ok();
        if let Some(f) = feeder {
            // The command is done with its output: input it did not read (`pg_restore
            // --list` stops after the table of contents) is not sent on; the engine would
            // read and discard all of it first. Its exit status says whether it was content.
            if !f.is_finished() {
                f.abort();
            }
            match f.await {
                Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    bail!("cannot stream input into `{}`: {}", cmd.join(" "), crate::util::io_reason(&e))
                }
                _ => {}
            }
        }
        let exit_code = self.exec_exit_code(&exec.id).await?;
        Ok(ExecOutcome { exit_code, stderr: String::from_utf8_lossy(&stderr).trim().to_string() })
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        // The exit code can lag the end of the stream by a moment, usually a few
        // milliseconds: look again soon, then less often (about 5 s in all).
        let mut pause = Duration::from_millis(2);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let info = self
                .docker
                .inspect_exec(exec_id)
                .await
                .map_err(|e| anyhow!("cannot inspect exec: {}", short_err(&e)))?;
            if info.running != Some(true) {
                return Ok(info.exit_code.unwrap_or(-1));
            }
            if std::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
        bail!("the command in the container did not report an exit code")
    }

    /// Run a short command and capture its stdout (bounded to what the command prints).
    /// A command that prints more than [`CAPTURE_MAX`] is an error, not a truncated
    /// answer: the container may be hostile, and a cut answer could be misread.
    pub async fn exec_capture(&self, container: &str, cmd: &[&str], env: &[String]) -> Result<(i64, String, String)> {
        let mut out = Capped::default();
        let o = self.exec_stream(container, cmd, env, &mut out, None::<tokio::io::Empty>).await?;
        if out.over {
            bail!(
                "`{}` in container {} printed more than {} MiB; ccops reads short answers only",
                cmd.join(" "),
                short_id(container),
                CAPTURE_MAX >> 20
            );
        }
        Ok((o.exit_code, String::from_utf8_lossy(&out.kept).into_owned(), o.stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn capture_keeps_a_short_answer_and_marks_an_endless_one() {
        let mut c = Capped::default();
        c.write_all(b"PONG\n").await.unwrap();
        assert_eq!((c.kept.as_slice(), c.over), (&b"PONG\n"[..], false));
        let chunk = vec![b'y'; 1 << 20];
        for _ in 0..9 {
            c.write_all(&chunk).await.unwrap();
        }
        assert!(c.over);
        assert_eq!(c.kept.len(), CAPTURE_MAX, "never more than the cap is held");
    }
}
