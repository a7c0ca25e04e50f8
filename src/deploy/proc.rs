//! Child processes of a deploy (compose build/up/run, hooks): each in its own process
//! group, so a Ctrl-C in the terminal reaches ccops alone and ccops decides what stops;
//! output forwarded line by line through the printer (redacted, logged).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Result, anyhow};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::output;

/// Where a child's output lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Status lines, indented (hooks, migrations).
    Status,
    /// Only with --verbose (build and up chatter); the tail is kept for errors.
    Debug,
    /// A tool run by `compose run`: its lines as status, Compose's own at --verbose.
    Tool,
}

/// Lines Compose prints about its containers ("Creating x ... done", "Container x Started").
pub fn is_compose_chatter(l: &str) -> bool {
    let t = l.trim();
    (t.starts_with("Creating ") && (t.ends_with("done") || t.ends_with("...")))
        || t.starts_with("Container ")
        || t.starts_with("Network ")
}

/// What a signal does to a running child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// Terminate it (builds, hooks, migrations: a killed psql rolls its transaction back).
    Stop,
    /// Let it finish (`compose up`: seconds, and half of one is worse than all of it).
    Finish,
}

pub struct Finished {
    pub code: i32,
    /// The last lines of output (stdout and stderr as they came).
    pub lines: Vec<String>,
}

impl Finished {
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&String> = self.lines.iter().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n  ")
    }
}

const KEEP: usize = 200;

/// Run `cmd` to the end. `Err(Interrupted)` when a signal stopped it (`OnSignal::Stop`).
pub async fn run(mut cmd: tokio::process::Command, label: &str, show: Show, on_signal: OnSignal) -> Result<Finished> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| anyhow!("cannot run {label}: {}", crate::util::io_reason(&e)))?;
    let pid = child.id();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        });
    }
    drop(tx);
    let mut kept: Vec<String> = Vec::new();
    let mut keep = |l: String| {
        match show {
            Show::Status => output::status(format!("    {l}")),
            Show::Tool if !is_compose_chatter(&l) => output::status(format!("    {l}")),
            Show::Debug | Show::Tool => output::debug(format!("    {l}")),
        }
        kept.push(l);
        if kept.len() > KEEP {
            kept.drain(..kept.len() - KEEP);
        }
    };
    let mut signalled = false;
    let status = loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(l) => keep(l),
                None => break child.wait().await,
            },
            _ = crate::util::wait_interrupt(), if on_signal == OnSignal::Stop && !signalled => {
                signalled = true;
                output::warn(format!("stopping {label}"));
                terminate(pid).await;
            }
        }
    };
    let status = status.map_err(|e| anyhow!("{label} did not finish: {}", crate::util::io_reason(&e)))?;
    if signalled {
        return Err(anyhow::Error::new(crate::error::Interrupted).context(format!("{label} was stopped")));
    }
    Ok(Finished { code: status.code().unwrap_or(-1), lines: kept })
}

/// SIGTERM to the child's process group, SIGKILL if it lingers.
async fn terminate(pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let group = -(pid as i32);
    // SAFETY: signalling a process group we created.
    unsafe { libc::kill(group, libc::SIGTERM) };
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        // SAFETY: as above; ESRCH once it is gone is harmless.
        unsafe { libc::kill(group, libc::SIGKILL) };
    });
}
