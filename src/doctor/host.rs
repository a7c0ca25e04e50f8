//! Doctor checks of this host's side: the backup folder and its newest set, the remotes
//! (a small probe object written and removed), notifications and the metrics textfile.

use std::path::Path;
use std::time::Duration;

use super::{Check, bounded};
use crate::config::Settings;

/// Age past which the newest backup is worth a warning, when `health.backup_max_age` is unset.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(26 * 3600);

/// The backup folder is writable, and the newest complete set is recent.
pub fn backups(s: &Settings) -> Check {
    if let Err(e) = writable(&s.backup_dir) {
        return Check::fail(
            "backups",
            format!("cannot write to `{}`: {e:#}", s.backup_dir.display()),
            "create the folder and give the user that runs ccops (and cron) write access",
        );
    }
    let max_age = s.file.health.backup_max_age.unwrap_or(DEFAULT_MAX_AGE);
    match crate::backup::newest_complete(&s.backup_dir) {
        Ok(Some((id, created))) => {
            let age = (chrono::Utc::now() - created).to_std().unwrap_or_default();
            let detail = format!(
                "newest complete backup {id}, {} ago, in `{}`",
                crate::util::human_duration(age),
                s.backup_dir.display()
            );
            if age > max_age {
                Check::warn(
                    "backups",
                    detail,
                    format!(
                        "older than {}: is the nightly job running? see `ccops backup schedule --print`",
                        humantime::format_duration(max_age)
                    ),
                )
            } else {
                Check::ok("backups", detail)
            }
        }
        Ok(None) => Check::warn(
            "backups",
            format!("no complete backup yet in `{}`", s.backup_dir.display()),
            "take one now with `ccops backup`",
        ),
        Err(e) => Check::fail("backups", format!("{e:#}"), format!("check the folder `{}`", s.backup_dir.display())),
    }
}

/// Create the folder if needed and prove a file can be written in it.
fn writable(dir: &Path) -> anyhow::Result<()> {
    crate::util::create_private_dir(dir)?;
    let probe = dir.join(format!(".ccops-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| anyhow::anyhow!("{}", crate::util::io_reason(&e)))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Each remote: credentials work and the bucket takes a write (a probe object, removed).
pub async fn remotes(checks: &mut Vec<Check>, s: &Settings) {
    if s.file.remotes.is_empty() {
        checks.push(Check::warn(
            "remotes",
            "no remote: every backup stays on this host, lost with it",
            "add an S3 remote under `remotes:` and upload with `ccops backup --upload NAME` (docs/disaster-recovery.md)",
        ));
        return;
    }
    for (name, r) in &s.file.remotes {
        let label = format!("remote {name}");
        match bounded(Duration::from_secs(60), crate::storage::probe(s, name)).await {
            Ok(detail) => checks.push(Check::ok(label, detail)),
            Err(e) => checks.push(Check::fail(
                label,
                format!("{e:#}"),
                format!(
                    "check `remotes.{name}` (bucket `{}`, region, endpoint) and the AWS credentials of the user running ccops (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role)",
                    r.bucket
                ),
            )),
        }
    }
}

pub fn notify(s: &Settings) -> Check {
    let n = &s.file.notify;
    let host_of = |url: &str| reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(String::from));
    // The nightly backup's dead-man's switch: a monitor that also sees a run that never came.
    let pings = n.ping_url_of("backup").and_then(host_of).map(|h| format!("; the backup pings {h}"));
    match &n.webhook_url {
        Some(url) => match host_of(url) {
            Some(h) => {
                let on: Vec<&str> =
                    n.on.iter()
                        .map(|o| if *o == crate::config::NotifyOn::Success { "success" } else { "failure" })
                        .collect();
                Check::ok("notify", format!("webhook at {h}, on {}{}", on.join(" and "), pings.unwrap_or_default()))
            }
            None => Check::fail(
                "notify",
                "`notify.webhook_url` is not a URL",
                "set it to the incoming-webhook URL of Slack or Mattermost",
            ),
        },
        None => match pings {
            Some(p) => Check::ok("notify", format!("no webhook{p}: its monitor reports a failed or missed run")),
            None => Check::warn(
                "notify",
                "no `notify.webhook_url` or `notify.ping_url`: a failed nightly backup is only written to the cron log",
                "set `notify.ping_url` to a dead-man's-switch check (healthchecks.io or alike) and/or `notify.webhook_url` to a Slack/Mattermost incoming webhook (docs/observability.md)",
            ),
        },
    }
}

/// The metrics textfile's folder exists and is writable (only when one is configured).
pub fn metrics(s: &Settings) -> Option<Check> {
    let path = s.resolve_path(s.file.metrics.textfile.as_deref()?);
    let dir = path.parent().unwrap_or(Path::new("/"));
    let probe = dir.join(format!(".ccops-doctor-{}", std::process::id()));
    Some(match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Check::ok("metrics", format!("textfile `{}` is writable", path.display()))
        }
        Err(e) => Check::fail(
            "metrics",
            format!("cannot write in `{}`: {}", dir.display(), crate::util::io_reason(&e)),
            "create the folder node_exporter reads (--collector.textfile.directory) and let this user write to it",
        ),
    })
}
