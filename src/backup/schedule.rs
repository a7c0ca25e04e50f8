//! `ccops backup schedule`: install, print or remove the one crontab line of the current
//! user that runs this project's nightly backup (or its drill). It replaces
//! `setup-backup-cron.sh`. The line, its marker and the crontab I/O are `crate::schedule`'s;
//! this module decides what the line runs and reports the change.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Settings;
use crate::output;
use crate::schedule::{self, DEFAULT_CRON, DrillEvery, Entry, crontab};
use crate::status::ExitStatus;

/// The log file in the state directory that the line appends to.
const LOG_FILE: &str = "cron.log";

fn what(drill: bool) -> &'static str {
    if drill { "drill" } else { "backup" }
}

/// `ccops backup schedule`: install (default), print or remove this project's line.
pub async fn schedule(
    settings: &Settings,
    cron: &str,
    upload: Option<&str>,
    remove: bool,
    print: bool,
    dry_run: bool,
    drill: Option<DrillEvery>,
) -> Result<ExitStatus> {
    if let Some(r) = upload {
        crate::storage::remote(settings, r)?;
    }
    let config = absolute(&settings.config_file)?;
    if remove || drill == Some(DrillEvery::Off) {
        return remove_entry(&config, dry_run, drill.is_some()).await;
    }
    let cron = drill.and_then(DrillEvery::cron).unwrap_or(cron);
    if let Err(why) = schedule::validate_cron(cron) {
        return Err(crate::usage!(
            "`{cron}` is not a valid cron schedule: {why}; write five fields like \"{DEFAULT_CRON}\" (minute hour day-of-month month day-of-week) or a shorthand like @daily"
        ));
    }
    let exe = std::env::current_exe().context("cannot find the path of the running ccops binary")?;
    let work_dir = absolute(&settings.base_dir)?;
    let log = absolute(&settings.state_dir)?.join(LOG_FILE);
    for p in [&exe, &config, &work_dir, &log] {
        if p.to_string_lossy().contains(['\n', '\r']) {
            return Err(crate::usage!(
                "`{}` contains a line break, which a crontab line cannot hold; move the project to a plain path",
                p.display()
            ));
        }
    }
    if settings.env_name.contains(['\n', '\r']) {
        return Err(crate::usage!("environment `{}` contains a line break; rename it", settings.env_name));
    }
    let line = schedule::entry_line(&Entry {
        cron,
        exe: &exe,
        config: &config,
        work_dir: &work_dir,
        env: &settings.env_name,
        log: &log,
        upload: upload.filter(|_| drill.is_none()),
        drill: drill.is_some(),
    });
    if print {
        // The line appends to the log: its folder must exist wherever the line is pasted.
        if let Some(dir) = log.parent() {
            crate::util::create_private_dir(dir)?;
        }
        if output::json_mode() {
            output::json(&serde_json::json!({ "entry": line }));
        } else {
            output::data(&line);
        }
        return Ok(ExitStatus::Success);
    }
    install_entry(&config, &line, &log, dry_run, drill.is_some()).await
}

/// Install `line` as the entry of `config`, replacing the one there.
async fn install_entry(config: &Path, line: &str, log: &Path, dry_run: bool, drill: bool) -> Result<ExitStatus> {
    let marker = schedule::marker_of(config, drill);
    let what = what(drill);
    let current = crontab::read().await?;
    let next = schedule::with_entry(&current, line, &marker);
    let old: Vec<&str> = schedule::our_lines(&current, &marker).collect();
    if next == current {
        report("unchanged", &[], dry_run);
        output::status(format!("the {what} entry for `{}` is already installed: {line}", config.display()));
        return Ok(ExitStatus::Success);
    }
    let changes = diff(&old, Some(line));
    if dry_run {
        report(if old.is_empty() { "install" } else { "replace" }, &changes, true);
        output::status("dry run: the crontab was not changed; run again without --dry-run to install the entry");
        return Ok(ExitStatus::Success);
    }
    // The line appends to the log; a missing folder would make every run fail silently.
    if let Some(dir) = log.parent() {
        crate::util::create_private_dir(dir)?;
    }
    crontab::write(&next).await?;
    let done = if old.is_empty() { "installed" } else { "replaced" };
    report(done, &changes, false);
    output::status(format!(
        "{done} the {what} entry for `{}`; its output goes to `{}`; check it with `crontab -l`",
        config.display(),
        log.display()
    ));
    if !crontab::daemon_running() {
        output::warn(
            "no cron daemon seems to be running here; the entry runs only once cron is started (e.g. `systemctl enable --now cron`)",
        );
    }
    Ok(ExitStatus::Success)
}

/// Remove the entry of `config`; its absence is not an error.
async fn remove_entry(config: &Path, dry_run: bool, drill: bool) -> Result<ExitStatus> {
    let marker = schedule::marker_of(config, drill);
    let what = what(drill);
    let current = crontab::read().await?;
    let (next, found) = schedule::without_entry(&current, &marker);
    if !found {
        report("absent", &[], dry_run);
        output::status(format!("no {what} entry for `{}` in the crontab; nothing to remove", config.display()));
        return Ok(ExitStatus::Success);
    }
    let changes = diff(&schedule::our_lines(&current, &marker).collect::<Vec<_>>(), None);
    if dry_run {
        report("remove", &changes, true);
        output::status("dry run: the crontab was not changed; run again without --dry-run to remove the entry");
        return Ok(ExitStatus::Success);
    }
    crontab::write(&next).await?;
    report("removed", &changes, false);
    output::status(format!("removed the {what} entry for `{}` from the crontab", config.display()));
    Ok(ExitStatus::Success)
}

/// The change as `-` (removed) and `+` (added) lines.
fn diff(old: &[&str], new: Option<&str>) -> Vec<String> {
    old.iter().map(|l| format!("- {l}")).chain(new.map(|l| format!("+ {l}"))).collect()
}

/// The outcome on stdout: the changed lines, or one JSON document with `--json`.
fn report(action: &str, changes: &[String], dry_run: bool) {
    if output::json_mode() {
        output::json(&serde_json::json!({ "action": action, "dry_run": dry_run, "changes": changes }));
    } else if !changes.is_empty() {
        output::data(changes.join("\n"));
    }
}

/// `p` as an absolute path without `.` components; symlinks are kept on purpose, so a
/// project reached through `/srv/app -> releases/42` keeps following the link.
fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot make `{}` an absolute path", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_name_the_same_line_however_they_were_given() {
        // `-c ./ccops.yaml` and the discovered `ccops.yaml` must share one marker.
        assert_eq!(absolute(Path::new("/srv/app/./ccops.yaml")).unwrap(), Path::new("/srv/app/ccops.yaml"));
        assert!(absolute(Path::new("ccops.yaml")).unwrap().is_absolute());
    }

    #[test]
    fn diff_lists_removed_then_added_lines() {
        assert_eq!(diff(&["old"], Some("new")), vec!["- old", "+ new"]);
        assert_eq!(diff(&[], Some("new")), vec!["+ new"]);
        assert_eq!(diff(&["old"], None), vec!["- old"]);
    }
}
