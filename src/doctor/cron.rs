//! Doctor's crontab check: a line of the current user's crontab runs this project's
//! backup, either the one `ccops backup schedule` installs (found by its marker) or a
//! hand-written one that runs `ccops ... backup` with this config or in this folder.
//! Reading the table and finding the line are `crate::schedule`'s, shared with
//! `backup schedule`.

use super::Check;
use crate::config::Settings;
use crate::schedule::{self, crontab};

pub async fn check(s: &Settings) -> Check {
    let config = std::path::absolute(&s.config_file).unwrap_or_else(|_| s.config_file.clone());
    let base = std::path::absolute(&s.base_dir).unwrap_or_else(|_| s.base_dir.clone());
    let table = match crontab::read().await {
        Ok(t) => t,
        Err(why) => {
            return Check::warn(
                "cron",
                format!("{why:#}"),
                "install cron (`apt-get install cron`), or run the line of `ccops backup schedule --print` from your scheduler",
            );
        }
    };
    let marker = schedule::marker(&config);
    let found = schedule::find(&table, &marker, &config.display().to_string(), &base.display().to_string());
    let Some(line) = found else {
        return Check::warn(
            "cron",
            format!("no line of {}'s crontab runs `ccops backup` for `{}`", user(), config.display()),
            "install the nightly entry with `ccops backup schedule` (02:00; see --cron)",
        );
    };
    let when = schedule::schedule_of(line);
    if !crontab::daemon_running() {
        return Check::warn(
            "cron",
            format!("entry `{when}` found, but no cron daemon is running"),
            "start it: `systemctl enable --now cron`",
        );
    }
    if !s.file.remotes.is_empty() && !line.contains("--upload") {
        let remote = s.file.remotes.keys().next().cloned().unwrap_or_default();
        return Check::warn(
            "cron",
            format!("entry `{when}` backs up, but does not upload: the nightly set stays on this host"),
            format!("add `--upload {remote}` after `backup` in the entry (`crontab -e`)"),
        );
    }
    Check::ok("cron", format!("nightly entry `{when}`: {}", schedule::command_of(line)))
}

fn user() -> String {
    crate::util::operator().split('@').next().unwrap_or("this user").to_string()
}
