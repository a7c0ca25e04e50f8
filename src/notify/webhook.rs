//! The webhook message (SPEC §2 `notify.webhook_url`): after a backup, restore, deploy or
//! rollback, one JSON POST to a Slack- or Mattermost-compatible incoming webhook, on
//! failure and, when `on:` asks for it, on success.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Body, Delivery, Event, Outcome, host_of, post, truncate};
use crate::config::{NotifyOn, Settings};
use crate::output;
use crate::status::ExitStatus;

/// Each attempt may take 10 s in all (5 s to connect); two retries, after 1 s and 3 s.
const DELIVERY: Delivery = Delivery {
    attempt: Duration::from_secs(10),
    connect: Duration::from_secs(5),
    backoff: &[Duration::from_secs(1), Duration::from_secs(3)],
};
/// Longest error text put into a message; the full text is in the log.
const MAX_ERROR_CHARS: usize = 1500;

/// Send the notification `settings` asks for after an operation ended with `result`.
/// Never fails: a webhook problem is a warning on stderr and in the log.
pub async fn after(settings: &Settings, event: &Event, result: &anyhow::Result<ExitStatus>) {
    let Some(url) = settings.file.notify.webhook_url.as_deref() else { return };
    output::add_secrets([url.to_string()]);
    let (outcome, error) = Outcome::of(result);
    let wanted = match outcome {
        Outcome::Success => NotifyOn::Success,
        Outcome::Failure | Outcome::Interrupted | Outcome::Refused => NotifyOn::Failure,
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
    let retries = if outcome == Outcome::Interrupted { 0 } else { DELIVERY.backoff.len() };
    match post(url, Body::Json(&body), &DELIVERY, retries).await {
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
        Outcome::Refused => (":no_entry:", "was REFUSED", "warning"),
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
    if let Some(of) = &e.part_of {
        text.push_str(&format!(", as part of {of}"));
    }
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
    if let Some(of) = &e.part_of {
        fields.push(field("part of", of, true));
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
            "part_of": e.part_of,
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_step_of_another_operation_says_so_and_a_refusal_is_not_a_failure() {
        let e = Event {
            command: "backup",
            backup_id: Some("20240101_020000".into()),
            part_of: Some("the deploy of v1.1.0".into()),
            ..Default::default()
        };
        let v = message(&e, Outcome::Success, None);
        assert!(v["text"].as_str().unwrap().ends_with(", as part of the deploy of v1.1.0"), "{v}");
        assert_eq!(v["ccops"]["part_of"], "the deploy of v1.1.0");
        let e = Event { command: "deploy", version: Some("v2".into()), ..Default::default() };
        let v = message(&e, Outcome::Refused, Some("another ccops operation holds the project lock"));
        assert!(v["text"].as_str().unwrap().starts_with(":no_entry: ccops deploy was REFUSED (version v2)"), "{v}");
        assert_eq!(
            (v["ccops"]["outcome"].as_str(), v["attachments"][0]["color"].as_str()),
            (Some("refused"), Some("warning"))
        );
    }
}
