//! Doctor's crontab check: a line of the current user's crontab runs this project's
//! backup, either the one `ccops backup schedule` installs (found by its marker) or a
//! hand-written one that runs `ccops ... backup` with this config or in this folder.

use std::process::Stdio;

use super::Check;
use crate::config::Settings;

pub async fn check(s: &Settings) -> Check {
    let config = std::path::absolute(&s.config_file).unwrap_or_else(|_| s.config_file.clone());
    let base = std::path::absolute(&s.base_dir).unwrap_or_else(|_| s.base_dir.clone());
    let table = match read_crontab().await {
        Ok(t) => t,
        Err(why) => {
            return Check::warn(
                "cron",
                why,
                "install cron (`apt-get install cron`), or run the line of `ccops backup schedule --print` from your scheduler",
            );
        }
    };
    let marker = crate::backup::schedule::marker(&config);
    let found = find(&table, &marker, &config.display().to_string(), &base.display().to_string());
    let Some(line) = found else {
        return Check::warn(
            "cron",
            format!("no line of {}'s crontab runs `ccops backup` for `{}`", user(), config.display()),
            "install the nightly entry with `ccops backup schedule` (02:00; see --cron)",
        );
    };
    let schedule =
        line.split_whitespace().take(if line.starts_with('@') { 1 } else { 5 }).collect::<Vec<_>>().join(" ");
    if !daemon_running() {
        return Check::warn(
            "cron",
            format!("entry `{schedule}` found, but no cron daemon is running"),
            "start it: `systemctl enable --now cron`",
        );
    }
    if !s.file.remotes.is_empty() && !line.contains("--upload") {
        let remote = s.file.remotes.keys().next().cloned().unwrap_or_default();
        return Check::warn(
            "cron",
            format!("entry `{schedule}` backs up, but does not upload: the nightly set stays on this host"),
            format!("add `--upload {remote}` after `backup` in the entry (`crontab -e`)"),
        );
    }
    Check::ok("cron", format!("nightly entry `{schedule}`: {}", summary(line)))
}

/// The line that runs this project's backup, if any. Commented-out lines do not count.
pub fn find<'a>(table: &'a str, marker: &str, config: &str, base: &str) -> Option<&'a str> {
    let active = || table.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    if let Some(l) = active().find(|l| l.ends_with(marker)) {
        return Some(l);
    }
    active().find(|l| {
        let runs_backup = l.contains("ccops") && l.split_whitespace().any(|w| w == "backup");
        runs_backup && (l.contains(config) || l.contains(base))
    })
}

/// The command part of the line, without the marker and the redirections.
fn summary(line: &str) -> String {
    let cmd = line.split(" # ccops-backup ").next().unwrap_or(line);
    let cmd = cmd.split(" >>").next().unwrap_or(cmd);
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let skip = if line.starts_with('@') { 1 } else { 5 };
    words.iter().skip(skip).copied().collect::<Vec<_>>().join(" ")
}

async fn read_crontab() -> Result<String, String> {
    let out = tokio::process::Command::new("crontab")
        .arg("-l")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run `crontab -l`: {}", crate::util::io_reason(&e)))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("no crontab for") { Ok(String::new()) } else { Err(format!("`crontab -l` failed: {}", err.trim())) }
}

fn user() -> String {
    crate::util::operator().split('@').next().unwrap_or("this user").to_string()
}

/// A cron daemon (cron, crond, cronie) among the running processes.
fn daemon_running() -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else { return true };
    procs.flatten().any(|p| {
        std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| matches!(c.trim(), "cron" | "crond" | "cronie"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_marked_line_or_a_hand_written_one() {
        let marker = "# ccops-backup /srv/app/ccops.yaml";
        let ours = format!(
            "0 2 * * * cd '/srv/app' && '/usr/local/bin/ccops' --config '/srv/app/ccops.yaml' --env 'production' --quiet backup >> '/srv/app/.ccops/cron.log' 2>&1 {marker}"
        );
        let table = format!("MAILTO=ops\n# {ours}\n5 * * * * other\n{ours}\n");
        assert_eq!(find(&table, marker, "/srv/app/ccops.yaml", "/srv/app"), Some(ours.as_str()));
        assert_eq!(
            summary(&ours),
            "cd '/srv/app' && '/usr/local/bin/ccops' --config '/srv/app/ccops.yaml' --env 'production' --quiet backup"
        );
        let hand = "30 3 * * * cd /srv/app && ccops -q backup --upload s3";
        assert_eq!(find(hand, marker, "/srv/app/ccops.yaml", "/srv/app"), Some(hand));
        assert_eq!(find(&format!("# {hand}"), marker, "/srv/app/ccops.yaml", "/srv/app"), None);
        assert_eq!(find("30 3 * * * cd /srv/other && ccops backup", marker, "/srv/app/ccops.yaml", "/srv/app"), None);
    }
}
