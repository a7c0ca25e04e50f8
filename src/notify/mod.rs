//! Telling the world how an operation went (SPEC §2 `notify:`), through two side channels:
//! a webhook message for people (webhook.rs) and dead-man's-switch pings for a monitor
//! such as healthchecks.io (ping.rs). This file holds what both share: the event, its
//! outcome, and one HTTP POST with a timeout and retries.
//!
//! Both are side channels. A receiver that is down, slow or refuses the request is
//! retried a little, then reported as a warning; it never changes the outcome or the exit
//! code of the operation, and never holds the operation up for long. Their URLs carry
//! their own token (Slack's do, a ping URL is its check's secret), so they are masked like
//! a secret and only their host is ever printed.

mod ping;
mod webhook;

pub use ping::Ping;
pub use webhook::after;

use std::time::Duration;

use crate::error::classify;
use crate::output;
use crate::status::ExitStatus;

/// What happened, as the caller knows it. Build it with struct-update syntax:
/// `Event { command: "deploy", version: Some(v), duration: started.elapsed(), ..Default::default() }`.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// backup, backup drill, restore, deploy, rollback.
    pub command: &'static str,
    /// The release a deploy or rollback installed (or tried to).
    pub version: Option<String>,
    /// The backup set written, or restored.
    pub backup_id: Option<String>,
    pub duration: Duration,
    /// Why it failed, when the result alone does not say (an `Ok(Failure)` status).
    pub error: Option<String>,
    /// A drill's measured recovery time (download + verify + restore + healthy).
    pub rto: Option<Duration>,
    /// The operation this one is a step of: "the deploy of v1.1.0" for the backup a
    /// deploy takes first.
    pub part_of: Option<String>,
}

/// How an operation ended, as notifications, pings and metrics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Interrupted,
    /// Stopped before it changed anything: another operation holds the project lock, or a
    /// usage or configuration problem (exit 2) such as a weak secret in production.
    Refused,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
            Outcome::Refused => "refused",
        }
    }

    /// The outcome of a command's result, and the error text when it failed.
    pub fn of(result: &anyhow::Result<ExitStatus>) -> (Outcome, Option<String>) {
        match result {
            Ok(ExitStatus::Success | ExitStatus::Code(0)) => (Outcome::Success, None),
            Ok(ExitStatus::Interrupted) => (Outcome::Interrupted, Some("interrupted".into())),
            Ok(ExitStatus::Usage) => (Outcome::Refused, Some("refused (exit status 2)".into())),
            Ok(other) => (Outcome::Failure, Some(format!("ended with exit status {}", other.code()))),
            Err(e) => (Outcome::of_error(e), Some(format!("{e:#}"))),
        }
    }

    /// The outcome of a command that ended with error `e`.
    pub fn of_error(e: &anyhow::Error) -> Outcome {
        match classify(e) {
            ExitStatus::Interrupted => Outcome::Interrupted,
            ExitStatus::Usage => Outcome::Refused,
            _ if e.chain().any(|c| c.is::<crate::lock::LockHeld>()) => Outcome::Refused,
            _ => Outcome::Failure,
        }
    }
}

/// How hard one kind of request tries: each attempt's time limits, and the pause before
/// each retry (as many retries as pauses).
struct Delivery {
    attempt: Duration,
    connect: Duration,
    backoff: &'static [Duration],
}

/// What is POSTed.
enum Body<'a> {
    Json(&'a serde_json::Value),
    Text(String),
}

/// POST `body`, retrying up to `retries` times what may pass on a second try (no
/// connection, a timeout, 429 or a 5xx answer); a 4xx answer is final: the same request
/// would be refused again. The error never holds the URL (it holds a token).
async fn post(url: &str, body: Body<'_>, d: &Delivery, retries: usize) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(d.attempt)
        .connect_timeout(d.connect)
        .user_agent(concat!("ccops/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", e.without_url()))?;
    let mut last = String::new();
    let mut attempts = 0;
    for attempt in 0..=retries.min(d.backoff.len()) {
        attempts += 1;
        if attempt > 0 {
            output::debug(format!("attempt {attempt} failed ({last}); retrying"));
            tokio::time::sleep(d.backoff[attempt - 1]).await;
        }
        let request = match &body {
            Body::Json(v) => client.post(url).json(v),
            Body::Text(t) => client.post(url).header("content-type", "text/plain; charset=utf-8").body(t.clone()),
        };
        match request.send().await {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                last = format!(
                    "HTTP {status}{}",
                    if text.trim().is_empty() { String::new() } else { format!(": {}", truncate(text.trim(), 200)) }
                );
                if !(status.is_server_error() || status.as_u16() == 429) {
                    break;
                }
            }
            Err(e) if e.is_timeout() => last = format!("no answer within {}s", d.attempt.as_secs()),
            Err(e) if e.is_connect() => last = format!("cannot connect: {}", root_cause(&e)),
            Err(e) => last = root_cause(&e),
        }
    }
    Err(format!("{last}, after {attempts} attempt(s)"))
}

/// The cause of a reqwest error (e.g. "connection refused"), URL-free.
fn root_cause(e: &reqwest::Error) -> String {
    if let Some(cause) = crate::error::net_cause(e) {
        return cause.to_string();
    }
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    let text = source.to_string();
    if text.contains("://") { "request failed".to_string() } else { text }
}

/// The host (and port) of a URL, the only part of a webhook or ping URL safe to print.
fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "(no host)".into(),
        },
        Err(_) => "(an invalid URL)".into(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn outcome_of_results() {
        assert_eq!(Outcome::of(&Ok(ExitStatus::Success)).0, Outcome::Success);
        assert_eq!(Outcome::of(&Ok(ExitStatus::Failure)).0, Outcome::Failure);
        let err = anyhow::Error::new(crate::error::Interrupted).context("backup stopped");
        assert_eq!(Outcome::of(&Err(err)).0, Outcome::Interrupted);
        let (o, e) = Outcome::of(&Err(anyhow::anyhow!("root").context("top")));
        assert_eq!((o, e.as_deref()), (Outcome::Failure, Some("top: root")));
    }

    #[test]
    fn a_held_lock_or_a_usage_error_is_a_refusal() {
        let held = anyhow::Error::new(crate::lock::LockHeld("another ccops operation holds the project lock".into()));
        assert_eq!(Outcome::of(&Err(held.context("deploy of v1 refused"))).0, Outcome::Refused);
        let weak = crate::usage!("refusing to deploy to production-like environment `prod` with weak secret(s)");
        assert_eq!(Outcome::of(&Err(weak)).0, Outcome::Refused);
        assert_eq!(Outcome::of(&Ok(ExitStatus::Usage)).0, Outcome::Refused);
        assert_eq!(Outcome::Refused.word(), "refused");
    }

    #[test]
    fn only_the_host_of_a_url_is_shown() {
        assert_eq!(host_of("https://hooks.slack.com/services/T0/B0/secret"), "hooks.slack.com");
        assert_eq!(host_of("http://127.0.0.1:8080/hook"), "127.0.0.1:8080");
        assert_eq!(host_of("not a url"), "(an invalid URL)");
    }

    #[tokio::test]
    async fn refused_connection_is_an_error_after_retries_without_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let started = Instant::now();
        const D: Delivery = Delivery {
            attempt: Duration::from_secs(10),
            connect: Duration::from_secs(5),
            backoff: &[Duration::from_secs(1), Duration::from_secs(3)],
        };
        let d = D;
        let url = format!("http://127.0.0.1:{port}/T0/secret-token");
        let err = post(&url, Body::Json(&serde_json::json!({})), &d, 2).await.unwrap_err();
        assert!(err.contains("after 3 attempt(s)"), "{err}");
        assert!(!err.contains("secret-token"), "{err}");
        assert!(started.elapsed() >= Duration::from_secs(4));
    }
}
