//! Dead-man's-switch pings (`notify.ping_url`, `notify.ping` in ccops.yaml) in the
//! protocol of healthchecks.io: a pinged command (backup, backup drill, restore, deploy, rollback)
//! POSTs `<url>/start` when it begins, `<url>` when it succeeds, and `<url>/fail` when it
//! fails, is interrupted or is refused, each with a short plain-text body: what ran, where,
//! how it ended and, on failure, the error's lines.
//!
//! The monitor raises the alarm when the end ping does not come in time (the run was
//! killed, the host is down, cron stopped): that is what ccops cannot say itself. Every
//! ping of one run carries the same `rid` (run ID) query parameter, so the monitor pairs a
//! start with its own end even when two runs overlap (a refused run beside a running one).
//!
//! A ping is quick or nothing: 5 s an attempt, one retry; then, once per run, a warning.

use std::time::Duration;

use super::{Body, Delivery, Event, Outcome, host_of, post};
use crate::config::Settings;
use crate::output;
use crate::status::ExitStatus;

/// Each attempt may take 5 s in all (3 s to connect); one retry, after 1 s.
const DELIVERY: Delivery =
    Delivery { attempt: Duration::from_secs(5), connect: Duration::from_secs(3), backoff: &[Duration::from_secs(1)] };
/// healthchecks.io keeps the first 10 kB of a self-hosted ping's body (100 kB hosted).
const MAX_BODY_BYTES: usize = 10_000;

/// The pings of one run, from its start ping to its end ping.
pub struct Ping {
    url: String,
    host: String,
    rid: String,
    command: &'static str,
    /// Why the start ping failed; reported with the end, so a run warns once.
    start_failed: Option<String>,
}

impl Ping {
    /// Ping the start of `command` (`backup`, `backup drill`, `restore`, `deploy`,
    /// `rollback`), when `settings` gives it a ping URL. Never fails.
    pub async fn start(settings: &Settings, command: &'static str) -> Option<Ping> {
        let key = command.strip_prefix("backup ").unwrap_or(command);
        let url = settings.file.notify.ping_url_of(key)?.trim().to_string();
        output::add_secrets([url.clone()]);
        let mut ping = Ping { host: host_of(&url), url, rid: run_id(), command, start_failed: None };
        let body = format!("ccops {command} started {}", place(settings));
        match post(&ping.endpoint(Some("start")), Body::Text(body), &DELIVERY, DELIVERY.backoff.len()).await {
            Ok(()) => output::debug(format!("pinged the monitor at {}: {command} started", ping.host)),
            Err(why) => ping.start_failed = Some(why),
        }
        Some(ping)
    }

    /// Ping the end of the run: success, or `/fail` with the error's lines. Never fails:
    /// a ping that does not go through is a warning.
    pub async fn end(self, settings: &Settings, event: &Event, result: &anyhow::Result<ExitStatus>) {
        let (outcome, _) = Outcome::of(result);
        let body = end_body(settings, event, result);
        let (suffix, retries) = match outcome {
            Outcome::Success => (None, DELIVERY.backoff.len()),
            // Interrupted: someone is waiting for ccops to exit; one attempt only.
            Outcome::Interrupted => (Some("fail"), 0),
            Outcome::Failure | Outcome::Refused => (Some("fail"), DELIVERY.backoff.len()),
        };
        let sent = post(&self.endpoint(suffix), Body::Text(body), &DELIVERY, retries).await;
        let (host, command) = (&self.host, self.command);
        match (sent, self.start_failed) {
            (Ok(()), None) => output::debug(format!("pinged the monitor at {host}: {command} {}", outcome.word())),
            (Ok(()), Some(why)) => output::warn(format!(
                "could not send the start ping of the {command} to the monitor at {host} ({why}); its end ping went through"
            )),
            (Err(why), start) => output::warn(format!(
                "could not ping the monitor at {host} ({why}{}); the {command} itself ended as {}: the ping failing does not change that",
                if start.is_some() { "; the start ping failed too" } else { "" },
                outcome.word()
            )),
        }
    }

    /// `<url>[/suffix]?rid=<run ID>`, the URL's own query (e.g. `create=1`) kept.
    fn endpoint(&self, suffix: Option<&str>) -> String {
        let Ok(mut u) = reqwest::Url::parse(&self.url) else { return self.url.clone() };
        if let (Some(s), Ok(mut path)) = (suffix, u.path_segments_mut()) {
            path.pop_if_empty().push(s);
        }
        u.query_pairs_mut().append_pair("rid", &self.rid);
        u.into()
    }
}

/// "for project `p`, environment `e`, on host".
fn place(s: &Settings) -> String {
    format!("for project `{}`, environment `{}`, on {}", s.project, s.env_name, crate::util::hostname())
}

/// The end ping's text: one line that says how the run ended, then the error's lines
/// (secrets masked), cut to what the monitor keeps.
fn end_body(s: &Settings, e: &Event, result: &anyhow::Result<ExitStatus>) -> String {
    let (outcome, _) = Outcome::of(result);
    let verb = match outcome {
        Outcome::Success => "succeeded",
        Outcome::Failure => "FAILED",
        Outcome::Interrupted => "was interrupted",
        Outcome::Refused => "was REFUSED",
    };
    let subject = match (&e.version, &e.backup_id) {
        (Some(v), _) => format!(" (version {v})"),
        (None, Some(id)) => format!(" (backup {id})"),
        (None, None) => String::new(),
    };
    let code = match result {
        Ok(st) => st.code(),
        Err(err) => crate::error::classify(err).code(),
    };
    let mut text = format!(
        "ccops {} {verb}{subject} {}, in {} (exit status {code})",
        e.command,
        place(s),
        crate::util::human_duration(e.duration)
    );
    if outcome == Outcome::Refused {
        text.push_str("; nothing was changed");
    }
    let error = e.error.clone().or_else(|| result.as_ref().err().map(crate::error::chain_text));
    if let Some(err) = error {
        text.push('\n');
        text.push_str(&err);
    }
    cut(&output::redact(&text), MAX_BODY_BYTES)
}

/// `text` within `max` bytes: its first line and as much of its end as fits (an error's
/// last lines are its root cause).
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let first = text.lines().next().unwrap_or_default();
    let first = &first[..floor(first, max / 2)];
    let marker = "\n[…]\n";
    let room = max.saturating_sub(first.len() + marker.len());
    let mut from = text.len() - room;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    format!("{first}{marker}{}", &text[from..])
}

/// The largest char boundary of `s` at or below `i`.
fn floor(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A random UUID (version 4), as healthchecks.io expects a run ID.
fn run_id() -> String {
    let (a, b) = (crate::util::random_u64(), crate::util::random_u64());
    let hi = (a & !0xF000) | 0x4000;
    let lo = (b & !(0xC << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(url: &str) -> Ping {
        Ping { url: url.into(), host: host_of(url), rid: "r1".into(), command: "backup", start_failed: None }
    }

    #[test]
    fn endpoints_keep_the_checks_url_and_add_the_run_id() {
        let p = ping("https://hc-ping.com/0b2f");
        assert_eq!(p.endpoint(Some("start")), "https://hc-ping.com/0b2f/start?rid=r1");
        assert_eq!(p.endpoint(None), "https://hc-ping.com/0b2f?rid=r1");
        let p = ping("https://hc-ping.com/key/nightly-backup/?create=1");
        assert_eq!(p.endpoint(Some("fail")), "https://hc-ping.com/key/nightly-backup/fail?create=1&rid=r1");
    }

    #[test]
    fn run_ids_are_version_4_uuids_and_differ() {
        let (a, b) = (run_id(), run_id());
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{a}");
        assert!(parts[2].starts_with('4') && "89ab".contains(&parts[3][..1]), "{a}");
    }

    #[test]
    fn a_long_body_keeps_its_first_line_and_its_end() {
        let text = format!("ccops backup FAILED\n{}\n  caused by: connection refused", "é".repeat(20_000));
        let c = cut(&text, MAX_BODY_BYTES);
        assert!(c.len() <= MAX_BODY_BYTES, "{}", c.len());
        assert!(c.starts_with("ccops backup FAILED\n[…]\n") && c.ends_with("caused by: connection refused"));
        assert_eq!(cut("short", MAX_BODY_BYTES), "short");
    }
}
