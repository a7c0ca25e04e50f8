//! `ccops backup schedule`: the one crontab line of the current user that runs this
//! project's nightly backup. It replaces `setup-backup-cron.sh`.
//!
//! The line ends with a marker comment naming the config file (`# ccops-backup
//! /srv/app/ccops.yaml`), so each project on a host owns exactly one line and ccops can
//! find, replace or remove it without touching anything else in the crontab: every
//! other byte (entries, comments, `MAILTO=`) is written back as it was read.
//! The text work is pure and unit-tested; the I/O is `crontab -l` and `crontab -`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::AsyncWriteExt;

use crate::config::Settings;
use crate::output;
use crate::status::ExitStatus;

/// The schedule used when `--cron` is not given: every night at 02:00 (cron's time zone).
pub const DEFAULT_CRON: &str = "0 2 * * *";
/// The comment that starts every marker; the config path follows it.
const MARKER_PREFIX: &str = "# ccops-backup ";
/// The same for the line of the project's backup drill.
const DRILL_MARKER_PREFIX: &str = "# ccops-drill ";
/// When `--drill weekly` and `--drill monthly` run: early Sunday, and early on the 1st,
/// two hours after the nightly backup's default so the drill tests that night's set.
pub const DRILL_WEEKLY: &str = "0 4 * * 0";
pub const DRILL_MONTHLY: &str = "0 4 1 * *";
/// The log file in the state directory that the line appends to.
const LOG_FILE: &str = "cron.log";

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

fn marker_of(config: &Path, drill: bool) -> String {
    if drill { drill_marker(config) } else { marker(config) }
}

fn what(drill: bool) -> &'static str {
    if drill { "drill" } else { "backup" }
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
fn our_lines<'a>(current: &'a str, marker: &'a str) -> impl Iterator<Item = &'a str> {
    current.lines().filter(move |l| is_ours(l, marker))
}

/// One field of the five: its name, its range, and the names cron accepts for it.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59, names: &[] },
    Field { name: "hour", min: 0, max: 23, names: &[] },
    Field { name: "day-of-month", min: 1, max: 31, names: &[] },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    },
    // 0 and 7 are both Sunday.
    Field { name: "day-of-week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/// The `@` shorthands of Vixie cron and cronie.
const SPECIAL: [&str; 8] = ["@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// Check a schedule as cron reads it: five fields (`*`, numbers in range, names for
/// month and day of week, lists, ranges, `/step` after `*` or a range) or an `@`
/// shorthand. Stricter than cron where cron accepts nonsense (`5-1`, `*/5/2`).
pub fn validate_cron(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if let [one] = fields.as_slice() {
        if one.starts_with('@') {
            return if SPECIAL.contains(one) {
                Ok(())
            } else {
                Err(format!("`{one}` is not a cron shorthand (known: {})", SPECIAL.join(", ")))
            };
        }
    }
    if fields.len() != 5 {
        let n = fields.len();
        let extra = if n > 5 { ", and ccops adds the command itself" } else { "" };
        return Err(format!("it has {n} field{}, cron wants 5{extra}", if n == 1 { "" } else { "s" }));
    }
    for (text, field) in fields.iter().zip(FIELDS.iter()) {
        validate_field(text, field).map_err(|why| format!("{} field `{text}`: {why}", field.name))?;
    }
    Ok(())
}

fn validate_field(text: &str, f: &Field) -> Result<(), String> {
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty list item".into());
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(s) = step {
            let n: u32 = s.parse().map_err(|_| format!("step `{s}` is not a number"))?;
            if n == 0 {
                return Err("a step must be at least 1".into());
            }
            if range != "*" && !range.contains('-') {
                return Err(format!("a step needs `*` or a range before it (`*/{s}` or `{range}-{}/{s}`)", f.max));
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (value(a, f)?, value(b, f)?);
                if lo > hi {
                    return Err(format!("range `{range}` runs backwards; write it low-high"));
                }
            }
            None => {
                value(range, f)?;
            }
        }
    }
    Ok(())
}

/// A number in the field's range, or one of its names (`jan`, `mon`, any case).
fn value(text: &str, f: &Field) -> Result<u32, String> {
    if let Some((_, v)) = f.names.iter().zip(f.min..).find(|(n, _)| n.eq_ignore_ascii_case(text)) {
        return Ok(v);
    }
    let n: u32 = text.parse().map_err(|_| {
        if f.names.is_empty() {
            format!("`{text}` is not a number")
        } else {
            format!("`{text}` is not a number or a three-letter name like `{}`", f.names[0])
        }
    })?;
    if n < f.min || n > f.max {
        return Err(format!("{n} is outside {}-{}", f.min, f.max));
    }
    Ok(n)
}

/// `ccops backup schedule`: install (default), print or remove this project's line.
pub async fn schedule(
    settings: &Settings,
    cron: &str,
    upload: Option<&str>,
    remove: bool,
    print: bool,
    dry_run: bool,
    drill: Option<crate::cli::DrillEvery>,
) -> Result<ExitStatus> {
    use crate::cli::DrillEvery;
    if let Some(r) = upload {
        crate::storage::remote(settings, r)?;
    }
    let config = absolute(&settings.config_file)?;
    if remove || drill == Some(DrillEvery::Off) {
        return remove_entry(&config, dry_run, drill.is_some()).await;
    }
    let cron = match drill {
        Some(DrillEvery::Weekly) => DRILL_WEEKLY,
        Some(DrillEvery::Monthly) => DRILL_MONTHLY,
        _ => cron,
    };
    if let Err(why) = validate_cron(cron) {
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
    let line = entry_line(&Entry {
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
    let marker = marker_of(config, drill);
    let what = what(drill);
    let current = read_crontab().await?;
    let next = with_entry(&current, line, &marker);
    let old: Vec<&str> = our_lines(&current, &marker).collect();
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
    write_crontab(&next).await?;
    let done = if old.is_empty() { "installed" } else { "replaced" };
    report(done, &changes, false);
    output::status(format!(
        "{done} the {what} entry for `{}`; its output goes to `{}`; check it with `crontab -l`",
        config.display(),
        log.display()
    ));
    if !cron_daemon_running() {
        output::warn(
            "no cron daemon seems to be running here; the entry runs only once cron is started (e.g. `systemctl enable --now cron`)",
        );
    }
    Ok(ExitStatus::Success)
}

/// Remove the entry of `config`; its absence is not an error.
async fn remove_entry(config: &Path, dry_run: bool, drill: bool) -> Result<ExitStatus> {
    let marker = marker_of(config, drill);
    let what = what(drill);
    let current = read_crontab().await?;
    let (next, found) = without_entry(&current, &marker);
    if !found {
        report("absent", &[], dry_run);
        output::status(format!("no {what} entry for `{}` in the crontab; nothing to remove", config.display()));
        return Ok(ExitStatus::Success);
    }
    let changes = diff(&our_lines(&current, &marker).collect::<Vec<_>>(), None);
    if dry_run {
        report("remove", &changes, true);
        output::status("dry run: the crontab was not changed; run again without --dry-run to remove the entry");
        return Ok(ExitStatus::Success);
    }
    write_crontab(&next).await?;
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

/// The current user's crontab; none at all reads as empty.
async fn read_crontab() -> Result<String> {
    let out = crontab_command().arg("-l").stdin(Stdio::null()).output().await.map_err(|e| spawn_error(&e))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // `crontab -l` exits 1 with "no crontab for USER" when the user has none yet.
        if err.contains("no crontab for") {
            return Ok(String::new());
        }
        bail!("cannot read the crontab: `crontab -l` failed: {}", err.trim());
    }
    // Rewriting a lossily decoded table would alter the user's other lines.
    String::from_utf8(out.stdout)
        .map_err(|_| anyhow!("the crontab is not valid UTF-8; ccops leaves it alone: edit it with `crontab -e`"))
}

/// Replace the current user's crontab with `content`.
async fn write_crontab(content: &str) -> Result<()> {
    let mut child = crontab_command()
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(&e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(content.as_bytes()).await.context("cannot write the new crontab to `crontab -`")?;
    }
    let out = child.wait_with_output().await.context("`crontab -` did not finish")?;
    if !out.status.success() {
        bail!(
            "`crontab -` refused the new table ({}); the crontab was not changed",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn crontab_command() -> tokio::process::Command {
    let mut c = tokio::process::Command::new("crontab");
    // Its messages are matched above ("no crontab for"), so keep them in English.
    c.env("LC_ALL", "C").kill_on_drop(true);
    c
}

fn spawn_error(e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow!(
            "the `crontab` command is not installed; install the `cron` package (`apt-get install cron`; `cronie` on Fedora/RHEL), or add the line from `ccops backup schedule --print` to your scheduler by hand"
        )
    } else {
        anyhow!("cannot run `crontab`: {}", crate::util::io_reason(e))
    }
}

/// Whether a cron daemon (cron, crond, cronie, busybox crond) is running, by process name.
fn cron_daemon_running() -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else { return true };
    procs.flatten().any(|p| {
        std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| matches!(c.trim(), "cron" | "crond" | "cronie"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cron: &str) -> String {
        entry_line(&Entry {
            cron,
            exe: Path::new("/usr/local/bin/ccops"),
            config: Path::new("/srv/app/ccops.yaml"),
            work_dir: Path::new("/srv/app"),
            env: "production",
            log: Path::new("/srv/app/.ccops/cron.log"),
            upload: None,
            drill: false,
        })
    }

    const M: &str = "# ccops-backup /srv/app/ccops.yaml";

    #[test]
    fn the_nightly_line_can_upload() {
        let line = entry_line(&Entry {
            cron: "0 2 * * *",
            exe: Path::new("/usr/local/bin/ccops"),
            config: Path::new("/srv/app/ccops.yaml"),
            work_dir: Path::new("/srv/app"),
            env: "production",
            log: Path::new("/srv/app/.ccops/cron.log"),
            upload: Some("s3"),
            drill: false,
        });
        assert!(line.contains("--quiet backup --upload 's3' >> "), "{line}");
    }

    #[test]
    fn the_drill_line_has_its_own_marker_beside_the_backup_line() {
        let line = entry_line(&Entry {
            cron: DRILL_WEEKLY,
            exe: Path::new("/usr/local/bin/ccops"),
            config: Path::new("/srv/app/ccops.yaml"),
            work_dir: Path::new("/srv/app"),
            env: "production",
            log: Path::new("/srv/app/.ccops/cron.log"),
            upload: None,
            drill: true,
        });
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
        assert!(validate_cron(DRILL_WEEKLY).is_ok() && validate_cron(DRILL_MONTHLY).is_ok());
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
    fn good_schedules_pass() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 0-23/2 * * *",
            "5,35 8-18 * * mon-fri",
            "0 3 1 jan,JUL *",
            "0 3 * * 7",
            "0 3 * * 1-7",
            "0 3 * * sat,SUN",
            "59 23 31 12 6",
            "@daily",
            "@hourly",
            "@weekly",
            "@monthly",
            "@reboot",
            "  0   2 * * *  ",
        ] {
            assert_eq!(validate_cron(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for (bad, why) in [
            ("", "0 fields"),
            ("* * * *", "4 fields"),
            ("0 2 * * * /usr/bin/backup", "6 fields, cron wants 5, and ccops adds the command"),
            ("60 * * * *", "minute field `60`: 60 is outside 0-59"),
            ("0 24 * * *", "hour field `24`"),
            ("0 2 0 * *", "day-of-month field `0`: 0 is outside 1-31"),
            ("0 2 * 13 *", "month field `13`"),
            ("0 2 * * 8", "day-of-week field `8`"),
            ("0 2 * * sunday", "three-letter name like `sun`"),
            ("0 2 * mon *", "month field `mon`"),
            ("jan 2 * * *", "minute field `jan`: `jan` is not a number"),
            ("*/0 * * * *", "step must be at least 1"),
            ("5/10 * * * *", "needs `*` or a range"),
            ("*/5/2 * * * *", "step `5/2` is not a number"),
            ("5-1 * * * *", "runs backwards"),
            ("0 3 * * 1-sun", "runs backwards"),
            ("1,,2 * * * *", "empty list item"),
            ("@dayly", "not a cron shorthand"),
            ("@daily 0", "2 fields"),
        ] {
            let e = validate_cron(bad).expect_err(bad);
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

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
