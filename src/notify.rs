//! Notifications (SPEC §2 `notify:`): after a backup, restore, deploy or rollback, one
//! JSON POST to a Slack- or Mattermost-compatible incoming webhook, on failure and, when
//! `on:` asks for it, on success.
//!
//! A notification is a side channel. A webhook that is down, slow or refuses the message
//! is retried a few times, then reported as a warning; it never changes the outcome or
//! the exit code of the operation it reports. The webhook URL carries its own token
//! (Slack's do), so it is masked like a secret and only its host is ever printed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{NotifyOn, Settings};
use crate::output;
use crate::status::ExitStatus;

/// Attempts per notification, and the pause before each retry.
const BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// One attempt may take this long in all (connect, send, answer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest error text put into a message; the full text is in the log.
const MAX_ERROR_CHARS: usize = 1500;

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
}

/// How an operation ended, as a notification reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Interrupted,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// The outcome of a command's result, and the error text when it failed.
    pub fn of(result: &anyhow::Result<ExitStatus>) -> (Outcome, Option<String>) {
        match result {
            Ok(ExitStatus::Success | ExitStatus::Code(0)) => (Outcome::Success, None),
            Ok(ExitStatus::Interrupted) => (Outcome::Interrupted, Some("interrupted".into())),
            Ok(other) => (Outcome::Failure, Some(format!("ended with exit status {}", other.code()))),
            Err(e) => {
                let outcome = if crate::error::classify(e) == ExitStatus::Interrupted {
                    Outcome::Interrupted
                } else {
                    Outcome::Failure
                };
                (outcome, Some(format!("{e:#}")))
            }
        }
    }
}

/// Send the notification `settings` asks for after an operation ended with `result`.
/// Never fails: a webhook problem is a warning on stderr and in the log.
pub async fn after(settings: &Settings, event: &Event, result: &anyhow::Result<ExitStatus>) {
    let Some(url) = settings.file.notify.webhook_url.as_deref() else { return };
    output::add_secrets([url.to_string()]);
    let (outcome, error) = Outcome::of(result);
    let wanted = match outcome {
        Outcome::Success => NotifyOn::Success,
        Outcome::Failure | Outcome::Interrupted => NotifyOn::Failure,
    };
    if !settings.file.notify.on.contains(&wanted) {
        return;
    }
    let error = event.error.clone().or(error).map(|e| truncate(&output::redact(&e), MAX_ERROR_CHARS));
    let message = Message {
        project: &settings.project,
        environment: &settings.env_name,
        host: &crate::util::hostname(),
        event,
        outcome,
        error: error.as_deref(),
    };
    let body = payload(&message);
    let host = host_of(url);
    // Interrupted: someone is waiting for ccops to exit; one attempt only.
    let retries = if outcome == Outcome::Interrupted { 0 } else { BACKOFF.len() };
    match send(url, &body, retries).await {
        Ok(()) => output::debug(format!("notification sent to the webhook at {host}")),
        Err(why) => output::warn(format!(
            "could not notify the webhook at {host} ({why}); the {} itself ended as {}: the notification failing does not change that",
            event.command,
            outcome.word()
        )),
    }
}

/// Everything a message says.
pub struct Message<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub host: &'a str,
    pub event: &'a Event,
    pub outcome: Outcome,
    pub error: Option<&'a str>,
}

/// The JSON body: `text` and `attachments[].fields` as Slack and Mattermost incoming
/// webhooks read them, plus the same facts flat under `ccops` for other receivers.
pub fn payload(m: &Message) -> Value {
    let e = m.event;
    let (icon, verb, color) = match m.outcome {
        Outcome::Success => (":white_check_mark:", "succeeded", "good"),
        Outcome::Failure => (":x:", "FAILED", "danger"),
        Outcome::Interrupted => (":warning:", "was interrupted", "warning"),
    };
    let subject = match (&e.version, &e.backup_id) {
        (Some(v), _) => format!(" (version {v})"),
        (None, Some(id)) => format!(" (backup {id})"),
        (None, None) => String::new(),
    };
    let mut text = format!(
        "{icon} ccops {} {verb}{subject} for project `{}`, environment `{}`, on {}",
        e.command, m.project, m.environment, m.host
    );
    if let Some(err) = m.error {
        text.push_str(&format!(": {}", err.lines().next().unwrap_or(err)));
    }
    let duration = crate::util::human_duration(e.duration);
    let mut fields = vec![
        field("command", e.command, true),
        field("project", m.project, true),
        field("environment", m.environment, true),
        field("host", m.host, true),
    ];
    if let Some(v) = &e.version {
        fields.push(field("version", v, true));
    }
    if let Some(id) = &e.backup_id {
        fields.push(field("backup ID", id, true));
    }
    fields.push(field("duration", &duration, true));
    if let Some(rto) = e.rto {
        fields.push(field("RTO", &crate::util::human_duration(rto), true));
    }
    fields.push(field("outcome", m.outcome.word(), true));
    if let Some(err) = m.error {
        fields.push(field("error", err, false));
    }
    json!({
        "username": "ccops",
        "text": text,
        "attachments": [{ "fallback": text, "color": color, "fields": fields }],
        "ccops": {
            "command": e.command,
            "project": m.project,
            "environment": m.environment,
            "host": m.host,
            "outcome": m.outcome.word(),
            "version": e.version,
            "backup_id": e.backup_id,
            "duration_seconds": (e.duration.as_secs_f64() * 1000.0).round() / 1000.0,
            "error": m.error,
            "rto_seconds": e.rto.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    })
}

fn field(title: &str, value: &str, short: bool) -> Value {
    json!({ "title": title, "value": value, "short": short })
}

/// POST `body`, retrying up to `retries` times what may pass on a second try (no
/// connection, a timeout, 429 or a 5xx answer); a 4xx answer is final: the same message
/// would be refused again.
async fn send(url: &str, body: &Value, retries: usize) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("ccops/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", e.without_url()))?;
    let mut last = String::new();
    let mut attempts = 0;
    for attempt in 0..=retries.min(BACKOFF.len()) {
        attempts += 1;
        if attempt > 0 {
            output::debug(format!("notification attempt {attempt} failed ({last}); retrying"));
            tokio::time::sleep(BACKOFF[attempt - 1]).await;
        }
        match client.post(url).json(body).send().await {
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
            // Without the URL: it holds the webhook's token.
            Err(e) if e.is_timeout() => last = format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()),
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

/// The host (and port) of a URL, the only part of a webhook URL that is safe to print.
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

    fn message<'a>(event: &'a Event, outcome: Outcome, error: Option<&'a str>) -> Value {
        payload(&Message { project: "cc", environment: "production", host: "web1", event, outcome, error })
    }

    #[test]
    fn failure_payload_has_slack_text_and_fields() {
        let e = Event {
            command: "backup",
            backup_id: Some("20240101_020000".into()),
            duration: Duration::from_secs(75),
            ..Default::default()
        };
        let v = message(&e, Outcome::Failure, Some("pg_dump failed\n  caused by: no such database"));
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with(":x: ccops backup FAILED (backup 20240101_020000) for project `cc`"), "{text}");
        assert!(text.ends_with(": pg_dump failed"), "{text}");
        let fields = v["attachments"][0]["fields"].as_array().unwrap();
        let get = |t: &str| fields.iter().find(|f| f["title"] == t).map(|f| f["value"].as_str().unwrap().to_string());
        assert_eq!(get("command").as_deref(), Some("backup"));
        assert_eq!(get("environment").as_deref(), Some("production"));
        assert_eq!(get("backup ID").as_deref(), Some("20240101_020000"));
        assert_eq!(get("duration").as_deref(), Some("1m 15s"));
        assert!(get("error").unwrap().contains("no such database"));
        assert_eq!(v["attachments"][0]["color"], "danger");
        assert_eq!(v["ccops"]["outcome"], "failure");
        assert_eq!(v["ccops"]["duration_seconds"], 75.0);
    }

    #[test]
    fn success_payload_names_the_version() {
        let e = Event { command: "deploy", version: Some("v1.1.0".into()), ..Default::default() };
        let v = message(&e, Outcome::Success, None);
        assert!(v["text"].as_str().unwrap().contains("deploy succeeded (version v1.1.0)"));
        assert!(v["ccops"]["error"].is_null());
        assert!(!v["attachments"][0]["fields"].as_array().unwrap().iter().any(|f| f["title"] == "error"));
    }

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
    fn only_the_host_of_a_webhook_is_shown() {
        assert_eq!(host_of("https://hooks.slack.com/services/T0/B0/secret"), "hooks.slack.com");
        assert_eq!(host_of("http://127.0.0.1:8080/hook"), "127.0.0.1:8080");
        assert_eq!(host_of("not a url"), "(an invalid URL)");
    }

    #[tokio::test]
    async fn refused_connection_is_an_error_after_retries_without_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let started = Instant::now();
        let err = send(&format!("http://127.0.0.1:{port}/T0/secret-token"), &json!({}), 2).await.unwrap_err();
        assert!(err.contains("after 3 attempt(s)"), "{err}");
        assert!(!err.contains("secret-token"), "{err}");
        assert!(started.elapsed() >= Duration::from_secs(4));
    }
}
