//! One project's line in the crontab: what it runs, the marker comment that ends it, and
//! the pure text work of putting it in, taking it out and finding it again.
//!
//! The line ends with a marker comment naming the config file (`# ccops-backup
//! /srv/app/ccops.yaml`), so each project on a host owns exactly one line and ccops can
//! find, replace or remove it without touching anything else in the crontab: every
//! other byte (entries, comments, `MAILTO=`) is written back as it was read.

use std::path::Path;

/// The comment that starts every marker; the config path follows it.
const MARKER_PREFIX: &str = "# ccops-backup ";
/// The same for the line of the project's backup drill.
const DRILL_MARKER_PREFIX: &str = "# ccops-drill ";

/// What one crontab line runs. Paths must be absolute: cron starts in `$HOME`.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub cron: &'a str,
    pub exe: &'a Path,
    pub config: &'a Path,
    pub work_dir: &'a Path,
    pub env: &'a str,
    pub log: &'a Path,
    /// `--upload REMOTE` for the nightly run, so it goes off-site too.
    pub upload: Option<&'a str>,
    /// The line runs `backup drill` (its own line and marker) instead of the backup.
    pub drill: bool,
}

/// The marker that identifies the line of the project whose config is `config`.
pub fn marker(config: &Path) -> String {
    cron_escape(&format!("{MARKER_PREFIX}{}", config.display()))
}

/// The marker of the drill line of the project whose config is `config`.
pub fn drill_marker(config: &Path) -> String {
    cron_escape(&format!("{DRILL_MARKER_PREFIX}{}", config.display()))
}

/// The marker of the backup line, or with `drill` of the drill line.
pub fn marker_of(config: &Path, drill: bool) -> String {
    if drill { drill_marker(config) } else { marker(config) }
}

/// The crontab line for `e`, marker included, without the newline.
pub fn entry_line(e: &Entry) -> String {
    let cron = e.cron.split_whitespace().collect::<Vec<_>>().join(" ");
    let upload = e.upload.map(|r| format!(" --upload {}", sh_quote(r))).unwrap_or_default();
    let what = if e.drill { " drill".to_string() } else { upload };
    let command = format!(
        "cd {} && {} --config {} --env {} --quiet backup{what} >> {} 2>&1",
        sh_quote(&e.work_dir.display().to_string()),
        sh_quote(&e.exe.display().to_string()),
        sh_quote(&e.config.display().to_string()),
        sh_quote(e.env),
        sh_quote(&e.log.display().to_string()),
    );
    format!("{cron} {} {}", cron_escape(&command), marker_of(e.config, e.drill))
}

/// `s` as one single-quoted shell word: `it's` → `'it'\''s'`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// cron turns an unescaped `%` into a newline (the rest becomes stdin); `\%` is a `%`,
/// inside shell quotes too, since cron strips the backslash before the shell sees it.
fn cron_escape(s: &str) -> String {
    s.replace('%', r"\%")
}

/// Whether `line` is the one `marker` owns. A commented-out copy counts too, so that
/// installing again does not leave a disabled duplicate behind.
fn is_ours(line: &str, marker: &str) -> bool {
    line.trim_end().ends_with(marker)
}

/// `current` with `line` installed: the first line owned by `marker` replaced in place,
/// any further copies dropped, or `line` appended. Every other line is kept as it was.
pub fn with_entry(current: &str, line: &str, marker: &str) -> String {
    let mut out = String::with_capacity(current.len() + line.len() + 1);
    let mut placed = false;
    for l in current.split_inclusive('\n') {
        if !is_ours(l, marker) {
            out.push_str(l);
        } else if !placed {
            out.push_str(line);
            out.push('\n');
            placed = true;
        }
    }
    if !placed {
        // crontab refuses a table whose last line has no newline.
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `current` without the lines owned by `marker`, and whether there were any.
pub fn without_entry(current: &str, marker: &str) -> (String, bool) {
    let mut removed = false;
    let mut out = String::with_capacity(current.len());
    for l in current.split_inclusive('\n') {
        if is_ours(l, marker) {
            removed = true;
        } else {
            out.push_str(l);
        }
    }
    (out, removed)
}

/// The lines owned by `marker` in `current`.
pub fn our_lines<'a>(current: &'a str, marker: &'a str) -> impl Iterator<Item = &'a str> {
    current.lines().filter(move |l| is_ours(l, marker))
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

/// The command part of the line, without the schedule, the marker and the redirections.
pub fn command_of(line: &str) -> String {
    let cmd = line.split(&format!(" {MARKER_PREFIX}")).next().unwrap_or(line);
    let cmd = cmd.split(" >>").next().unwrap_or(cmd);
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let skip = if line.starts_with('@') { 1 } else { 5 };
    words.iter().skip(skip).copied().collect::<Vec<_>>().join(" ")
}

/// The schedule part of a line: its five fields, or its `@` shorthand.
pub fn schedule_of(line: &str) -> String {
    line.split_whitespace().take(if line.starts_with('@') { 1 } else { 5 }).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::DRILL_WEEKLY;

    /// The line of the project in /srv/app.
    fn line(cron: &str, upload: Option<&str>, drill: bool) -> String {
        entry_line(&Entry {
            cron,
            exe: Path::new("/usr/local/bin/ccops"),
            config: Path::new("/srv/app/ccops.yaml"),
            work_dir: Path::new("/srv/app"),
            env: "production",
            log: Path::new("/srv/app/.ccops/cron.log"),
            upload,
            drill,
        })
    }

    fn entry(cron: &str) -> String {
        line(cron, None, false)
    }

    const M: &str = "# ccops-backup /srv/app/ccops.yaml";

    #[test]
    fn the_nightly_line_can_upload() {
        let line = line("0 2 * * *", Some("s3"), false);
        assert!(line.contains("--quiet backup --upload 's3' >> "), "{line}");
    }

    #[test]
    fn the_drill_line_has_its_own_marker_beside_the_backup_line() {
        let line = line(DRILL_WEEKLY, None, true);
        assert_eq!(
            line,
            "0 4 * * 0 cd '/srv/app' && '/usr/local/bin/ccops' --config '/srv/app/ccops.yaml' --env 'production' --quiet backup drill >> '/srv/app/.ccops/cron.log' 2>&1 # ccops-drill /srv/app/ccops.yaml"
        );
        let dm = drill_marker(Path::new("/srv/app/ccops.yaml"));
        let both = with_entry(&with_entry("", &entry("0 2 * * *"), M), &line, &dm);
        assert_eq!(both.lines().count(), 2, "{both}");
        let (left, found) = without_entry(&both, &dm);
        assert!(found);
        assert_eq!(left.trim_end(), entry("0 2 * * *"));
    }

    #[test]
    fn the_line_runs_the_quiet_backup_with_absolute_paths_and_a_marker() {
        assert_eq!(
            entry("0  2 * *\t*"),
            "0 2 * * * cd '/srv/app' && '/usr/local/bin/ccops' --config '/srv/app/ccops.yaml' --env 'production' --quiet backup >> '/srv/app/.ccops/cron.log' 2>&1 # ccops-backup /srv/app/ccops.yaml"
        );
        assert_eq!(marker(Path::new("/srv/app/ccops.yaml")), M);
    }

    #[test]
    fn quotes_and_percent_signs_survive_shell_and_cron() {
        let line = entry_line(&Entry {
            cron: "@daily",
            exe: Path::new("/opt/ccops"),
            config: Path::new("/srv/bob's 100% app/ccops.yaml"),
            work_dir: Path::new("/srv/bob's 100% app"),
            env: "prod",
            log: Path::new("/var/log/ccops.log"),
            upload: None,
            drill: false,
        });
        assert_eq!(
            line,
            r"@daily cd '/srv/bob'\''s 100\% app' && '/opt/ccops' --config '/srv/bob'\''s 100\% app/ccops.yaml' --env 'prod' --quiet backup >> '/var/log/ccops.log' 2>&1 # ccops-backup /srv/bob's 100\% app/ccops.yaml"
        );
        assert!(!line.replace(r"\%", "").contains('%'), "an unescaped % would cut the command: {line}");
    }

    #[test]
    fn installing_appends_once_and_keeps_everything_else() {
        let current = "MAILTO=ops@example.com\n# my jobs\n*/5 * * * * /usr/bin/true\n";
        let once = with_entry(current, &entry("0 2 * * *"), M);
        assert_eq!(once, format!("{current}{}\n", entry("0 2 * * *")));
        assert_eq!(with_entry(&once, &entry("0 2 * * *"), M), once);
        assert_eq!(with_entry("", &entry("0 2 * * *"), M), format!("{}\n", entry("0 2 * * *")));
        // A last line without its newline gets one: crontab would refuse the table.
        assert_eq!(with_entry("* * * * * x", "L # m", "# m"), "* * * * * x\nL # m\n");
    }

    #[test]
    fn installing_another_schedule_replaces_the_line_in_place() {
        let current = format!("A=1\n{}\n* * * * * other\n", entry("0 2 * * *"));
        let next = with_entry(&current, &entry("30 3 * * *"), M);
        assert_eq!(next, format!("A=1\n{}\n* * * * * other\n", entry("30 3 * * *")));
        // Duplicates (a line copied by hand, a disabled copy) collapse to one line.
        let doubled = format!("{}\n#{}\nx\n", entry("0 2 * * *"), entry("0 2 * * *"));
        assert_eq!(with_entry(&doubled, &entry("0 4 * * *"), M), format!("{}\nx\n", entry("0 4 * * *")));
    }

    #[test]
    fn other_projects_lines_are_not_ours() {
        let other = "0 2 * * * cd /x && ccops backup # ccops-backup /x/srv/app/ccops.yaml\n";
        let other2 = "0 2 * * * cd /x && ccops backup # ccops-backup /srv/app/ccops.yaml.old\n";
        let current = format!("{other}{other2}");
        assert_eq!(without_entry(&current, M), (current.clone(), false));
        assert_eq!(with_entry(&current, "L # ccops-backup /srv/app/ccops.yaml", M), format!("{current}L {M}\n"));
    }

    #[test]
    fn removing_takes_only_our_line_byte_for_byte() {
        let current =
            format!("MAILTO=\"\"\r\n  # indented comment \n\n{}\n0 1 * * * backup.sh  \n", entry("0 2 * * *"));
        let (next, removed) = without_entry(&current, M);
        assert!(removed);
        assert_eq!(next, "MAILTO=\"\"\r\n  # indented comment \n\n0 1 * * * backup.sh  \n");
        assert_eq!(without_entry(&next, M), (next.clone(), false));
        assert_eq!(without_entry("", M), (String::new(), false));
    }

    #[test]
    fn finds_the_marked_line_or_a_hand_written_one() {
        let marker = "# ccops-backup /srv/app/ccops.yaml";
        let ours = format!(
            "0 2 * * * cd '/srv/app' && '/usr/local/bin/ccops' --config '/srv/app/ccops.yaml' --env 'production' --quiet backup >> '/srv/app/.ccops/cron.log' 2>&1 {marker}"
        );
        let table = format!("MAILTO=ops\n# {ours}\n5 * * * * other\n{ours}\n");
        assert_eq!(find(&table, marker, "/srv/app/ccops.yaml", "/srv/app"), Some(ours.as_str()));
        assert_eq!(
            command_of(&ours),
            "cd '/srv/app' && '/usr/local/bin/ccops' --config '/srv/app/ccops.yaml' --env 'production' --quiet backup"
        );
        let hand = "30 3 * * * cd /srv/app && ccops -q backup --upload s3";
        assert_eq!(find(hand, marker, "/srv/app/ccops.yaml", "/srv/app"), Some(hand));
        assert_eq!(find(&format!("# {hand}"), marker, "/srv/app/ccops.yaml", "/srv/app"), None);
        assert_eq!(find("30 3 * * * cd /srv/other && ccops backup", marker, "/srv/app/ccops.yaml", "/srv/app"), None);
    }
}
