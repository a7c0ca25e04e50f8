//! An operator's own commands, run by exec in a service's container: one whose stdout is
//! the data, one that reads it back on stdin. Their exit status decides; the last lines
//! of their stderr go into the error.

use anyhow::{Result, bail};
use tokio::io::{AsyncRead, AsyncWrite};

use super::last_lines;
use crate::docker::Engine;

/// Stream the stdout of `argv` into `out`.
pub async fn dump<W: AsyncWrite + Unpin>(engine: &Engine, container: &str, argv: &[String], out: &mut W) -> Result<()> {
    let cmd: Vec<&str> = argv.iter().map(String::as_str).collect();
    let o = engine.exec_stream(container, &cmd, &[], out, None::<tokio::io::Empty>).await?;
    if o.exit_code != 0 {
        bail!("`{}` failed (exit {}): {}", argv.join(" "), o.exit_code, last_lines(&o.stderr));
    }
    Ok(())
}

/// Run `argv` with `src` on its stdin (a restore or a verify); its output is dropped.
pub async fn feed<R: AsyncRead + Unpin + Send + 'static>(
    engine: &Engine,
    container: &str,
    argv: &[String],
    src: R,
) -> Result<()> {
    let cmd: Vec<&str> = argv.iter().map(String::as_str).collect();
    let o = engine.exec_stream(container, &cmd, &[], &mut tokio::io::sink(), Some(src)).await?;
    if o.exit_code != 0 {
        bail!("`{}` failed (exit {}): {}", argv.join(" "), o.exit_code, last_lines(&o.stderr));
    }
    Ok(())
}
