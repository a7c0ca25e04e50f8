//! The current user's crontab, through the `crontab` command: read it whole, write it
//! whole, and tell whether a cron daemon runs to act on it.

use std::process::Stdio;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::AsyncWriteExt;

/// The current user's crontab; none at all reads as empty.
pub async fn read() -> Result<String> {
    let out = command().arg("-l").stdin(Stdio::null()).output().await.map_err(|e| spawn_error(&e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // `crontab -l` exits 1 with "no crontab for USER" when the user has none yet.
        if err.contains("no crontab for") {
            return Ok(String::new());
        }
        bail!("cannot read the crontab: `crontab -l` failed: {}", err.trim());
    }
    // Rewriting a lossily decoded table would alter the user's other lines.
    String::from_utf8(out.stdout)
        .map_err(|_| anyhow!("the crontab is not valid UTF-8; ccops leaves it alone: edit it with `crontab -e`"))
}

/// Replace the current user's crontab with `content`.
pub async fn write(content: &str) -> Result<()> {
    let mut child = command()
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(&e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(content.as_bytes()).await.context("cannot write the new crontab to `crontab -`")?;
    }
    let out = child.wait_with_output().await.context("`crontab -` did not finish")?;
    if !out.status.success() {
        bail!(
            "`crontab -` refused the new table ({}); the crontab was not changed",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn command() -> tokio::process::Command {
    let mut c = tokio::process::Command::new("crontab");
    // Its messages are matched above ("no crontab for"), so keep them in English.
    c.env("LC_ALL", "C").kill_on_drop(true);
    c
}

fn spawn_error(e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow!(
            "the `crontab` command is not installed; install the `cron` package (`apt-get install cron`; `cronie` on Fedora/RHEL), or add the line from `ccops backup schedule --print` to your scheduler by hand"
        )
    } else {
        anyhow!("cannot run `crontab`: {}", crate::util::io_reason(e))
    }
}

/// Whether a cron daemon (cron, crond, cronie, busybox crond) is running, by process name.
pub fn daemon_running() -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else { return true };
    procs.flatten().any(|p| {
        std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| matches!(c.trim(), "cron" | "crond" | "cronie"))
    })
}
