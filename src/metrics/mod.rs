//! Metrics for node_exporter's textfile collector (SPEC §2 `metrics.textfile`): after a
//! backup, upload, restore, deploy, rollback or health run, the series of this project
//! and environment are updated in the textfile, written atomically, so Prometheus can
//! alert on "no successful backup in 26 h":
//!
//! ```text
//! time() - ccops_backup_last_success_timestamp_seconds > 26 * 3600
//! ```
//!
//! Every series carries `project` and `environment` labels. Writing metrics is a side
//! channel like notifications: a problem is a warning and never fails the operation.

pub mod textfile;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::Settings;
use crate::health::{Report, Status};
use crate::status::ExitStatus;
use textfile::Textfile;

/// How one `ccops backup` (or the backup a deploy takes first) ended.
#[derive(Debug, Clone, Default)]
pub struct BackupRun {
    /// A complete set was written (its upload may still have failed).
    pub ok: bool,
    /// Nothing was tried: another operation held the lock, or a usage error (exit 2).
    pub refused: bool,
    pub duration: Duration,
    /// Size of the set written.
    pub bytes: Option<u64>,
    /// The remote it was uploaded to, and whether that worked.
    pub upload: Option<(String, bool)>,
}

impl BackupRun {
    /// The run a `backup` command's result describes: `Ok(Failure)` means the set was
    /// written but its upload failed; an error means there is no new set.
    pub fn of(
        s: &Settings,
        result: &Result<ExitStatus>,
        id: Option<&str>,
        duration: Duration,
        upload: Option<&str>,
    ) -> BackupRun {
        let ok = result.is_ok() && id.is_some();
        let bytes = id.filter(|_| ok).and_then(|id| {
            let sets = crate::backup::layout::list(&s.backup_dir).ok()?;
            sets.into_iter().find(|x| x.id == id).map(|x| x.bytes())
        });
        let uploaded = matches!(result, Ok(ExitStatus::Success));
        let refused = crate::notify::Outcome::of(result).0 == crate::notify::Outcome::Refused;
        BackupRun { ok, refused, duration, bytes, upload: upload.map(|r| (r.to_string(), uploaded)) }
    }
}

/// How a deploy or rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployOutcome {
    Success,
    Failure,
    /// The new release failed and the previous one was put back.
    RolledBack,
    /// Stopped before it changed anything: the lock was held, or a usage error such as a
    /// weak secret in production (exit 2).
    Refused,
}

impl DeployOutcome {
    /// How a `deploy` or `rollback` command's result ended.
    pub fn of(result: &Result<ExitStatus>) -> DeployOutcome {
        match result {
            Ok(ExitStatus::Success | ExitStatus::Code(0)) => DeployOutcome::Success,
            Err(e) if e.downcast_ref::<crate::error::RolledBack>().is_some() => DeployOutcome::RolledBack,
            Err(e) if crate::notify::Outcome::of_error(e) == crate::notify::Outcome::Refused => DeployOutcome::Refused,
            _ => DeployOutcome::Failure,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            DeployOutcome::Success => "success",
            DeployOutcome::Failure => "failure",
            DeployOutcome::RolledBack => "rolled_back",
            DeployOutcome::Refused => "refused",
        }
    }
}

const H_BACKUP_STATUS: &str = "Whether the last backup wrote a complete set (1) or failed (0).";
const H_BACKUP_RUN: &str = "When the last backup ended, successful or not (Unix time).";
const H_BACKUP_SUCCESS: &str = "When the last successful backup ended (Unix time).";
const H_BACKUP_SIZE: &str = "Size of the last successful backup set in bytes.";
const H_BACKUP_DURATION: &str = "How long the last successful backup took.";
const H_BACKUP_RUNS: &str = "Backups run, by outcome.";
const H_UPLOAD_STATUS: &str = "Whether the last upload to the remote worked (1) or not (0).";
const H_UPLOAD_SUCCESS: &str = "When the last successful upload to the remote ended (Unix time).";
const H_RESTORE_STATUS: &str = "Whether the last restore worked (1) or failed (0).";
const H_RESTORE_TIME: &str = "When the last restore ended (Unix time).";
const H_RESTORE_DURATION: &str = "How long the last restore took.";
const H_DRILL_STATUS: &str = "Whether the last backup drill passed (1) or not (0).";
const H_DRILL_RUN: &str = "When the last backup drill ended (Unix time).";
const H_DRILL_SUCCESS: &str = "When the last passing backup drill ended (Unix time).";
const H_DRILL_RTO: &str = "Recovery time the last backup drill measured: download, verify, restore, healthy.";
const H_DRILL_CHECK: &str = "Whether a check of the last backup drill passed (1) or not (0).";
const H_DEPLOYS: &str = "Deploys and rollbacks run, by command and outcome.";
const H_DEPLOY_TIME: &str = "When the last deploy or rollback ended (Unix time).";
const H_DEPLOY_STATUS: &str = "Whether the last deploy or rollback succeeded (1) or not (0).";
const H_DEPLOY_DURATION: &str = "How long the last deploy or rollback took.";
const H_DEPLOY_INFO: &str = "The last deploy or rollback: version, command and outcome as labels; always 1.";
const H_CHECK_STATUS: &str = "Health check status: 0 ok, 1 warning, 2 failing.";
const H_CHECK_UP: &str = "Whether the health check passes (1) or not (0); warnings count as passing.";
const H_HEALTH_STATUS: &str = "Overall health: 0 ok, 1 warning, 2 failing.";
const H_HEALTH_TIME: &str = "When the last health run ended (Unix time).";

/// Record a `ccops backup` (and its upload, if it had one). A refused one only counts:
/// it tried nothing, so the last backup is still the one before.
pub fn record_backup(s: &Settings, run: &BackupRun) {
    update(s, |t, base| {
        if run.refused {
            t.add("ccops_backup_runs_total", H_BACKUP_RUNS, &with(base, &[("outcome", "refused")]), 1.0);
            return;
        }
        let now = now();
        t.set("ccops_backup_last_status", H_BACKUP_STATUS, "gauge", base, f64::from(u8::from(run.ok)));
        t.set("ccops_backup_last_run_timestamp_seconds", H_BACKUP_RUN, "gauge", base, now);
        let outcome = if run.ok { "success" } else { "failure" };
        t.add("ccops_backup_runs_total", H_BACKUP_RUNS, &with(base, &[("outcome", outcome)]), 1.0);
        if run.ok {
            t.set("ccops_backup_last_success_timestamp_seconds", H_BACKUP_SUCCESS, "gauge", base, now);
            t.set("ccops_backup_last_duration_seconds", H_BACKUP_DURATION, "gauge", base, secs(run.duration));
            if let Some(b) = run.bytes {
                t.set("ccops_backup_last_size_bytes", H_BACKUP_SIZE, "gauge", base, b as f64);
            }
        }
        if let Some((remote, ok)) = &run.upload {
            upload(t, base, remote, *ok, now);
        }
    });
}

/// Record an upload on its own (`ccops backup push`).
pub fn record_upload(s: &Settings, remote: &str, ok: bool) {
    update(s, |t, base| upload(t, base, remote, ok, now()));
}

fn upload(t: &mut Textfile, base: &[(&str, &str)], remote: &str, ok: bool, now: f64) {
    let labels = with(base, &[("remote", remote)]);
    t.set("ccops_backup_last_upload_status", H_UPLOAD_STATUS, "gauge", &labels, f64::from(u8::from(ok)));
    if ok {
        t.set("ccops_backup_last_upload_success_timestamp_seconds", H_UPLOAD_SUCCESS, "gauge", &labels, now);
    }
}

/// Record a `ccops restore`.
pub fn record_restore(s: &Settings, ok: bool, duration: Duration) {
    update(s, |t, base| {
        t.set("ccops_restore_last_status", H_RESTORE_STATUS, "gauge", base, f64::from(u8::from(ok)));
        t.set("ccops_restore_last_timestamp_seconds", H_RESTORE_TIME, "gauge", base, now());
        t.set("ccops_restore_last_duration_seconds", H_RESTORE_DURATION, "gauge", base, secs(duration));
    });
}

/// Record a `ccops backup drill`: its outcome; on success its time; the RTO it measured
/// (when it got that far, passing or not) and each check's result (checks no longer
/// configured go).
pub fn record_drill(s: &Settings, ok: bool, rto: Option<Duration>, checks: &[(String, bool)]) {
    update(s, |t, base| {
        let now = now();
        t.set("ccops_drill_last_status", H_DRILL_STATUS, "gauge", base, f64::from(u8::from(ok)));
        t.set("ccops_drill_last_run_timestamp_seconds", H_DRILL_RUN, "gauge", base, now);
        if ok {
            t.set("ccops_drill_last_success_timestamp_seconds", H_DRILL_SUCCESS, "gauge", base, now);
        }
        if let Some(rto) = rto {
            t.set("ccops_drill_rto_seconds", H_DRILL_RTO, "gauge", base, secs(rto));
        }
        if !checks.is_empty() {
            t.remove("ccops_drill_check_ok", base);
        }
        for (name, passed) in checks {
            let labels = with(base, &[("check", name)]);
            t.set("ccops_drill_check_ok", H_DRILL_CHECK, "gauge", &labels, f64::from(u8::from(*passed)));
        }
    });
}

/// Record a deploy or rollback (`command`: "deploy" | "rollback") of `version`. A refused
/// one only counts: nothing changed, so the last deploy is still the one before.
pub fn record_deploy(s: &Settings, command: &str, version: &str, outcome: DeployOutcome, duration: Duration) {
    update(s, |t, base| {
        t.add("ccops_deploys_total", H_DEPLOYS, &with(base, &[("command", command), ("outcome", outcome.word())]), 1.0);
        if outcome == DeployOutcome::Refused {
            return;
        }
        t.set("ccops_deploy_last_timestamp_seconds", H_DEPLOY_TIME, "gauge", base, now());
        let ok = outcome == DeployOutcome::Success;
        t.set("ccops_deploy_last_status", H_DEPLOY_STATUS, "gauge", base, f64::from(u8::from(ok)));
        t.set("ccops_deploy_last_duration_seconds", H_DEPLOY_DURATION, "gauge", base, secs(duration));
        // One info series per project and environment: the old version's goes.
        t.remove("ccops_deploy_last_info", base);
        let info = with(base, &[("command", command), ("version", version), ("outcome", outcome.word())]);
        t.set("ccops_deploy_last_info", H_DEPLOY_INFO, "gauge", &info, 1.0);
    });
}

const H_WAL_LAST: &str = "When `ccops wal stream` last stored WAL of the service (Unix time).";
const H_WAL_BYTES: &str =
    "Bytes of WAL `ccops wal stream` stored for the service (compressed, partial copies included).";

/// Record what `ccops wal stream` stored for `service` (from its `stream.json`).
pub fn record_wal(s: &Settings, service: &str, r: &crate::backup::wal::archive::Record) {
    let Some(at) = r.shipped_at() else { return };
    update(s, |t, base| {
        let labels = with(base, &[("service", service)]);
        t.set("ccops_wal_last_segment_timestamp_seconds", H_WAL_LAST, "gauge", &labels, at.timestamp() as f64);
        t.set("ccops_wal_bytes_shipped_total", H_WAL_BYTES, "counter", &labels, r.bytes_shipped as f64);
    });
}

/// Record the status of every check of a health run; checks no longer configured go.
pub fn record_health(s: &Settings, r: &Report) {
    update(s, |t, base| {
        t.remove("ccops_health_check_status", base);
        t.remove("ccops_health_check_up", base);
        for c in &r.checks {
            let labels = with(base, &[("check", &c.name), ("kind", c.kind)]);
            t.set("ccops_health_check_status", H_CHECK_STATUS, "gauge", &labels, status_num(c.status));
            t.set("ccops_health_check_up", H_CHECK_UP, "gauge", &labels, f64::from(u8::from(c.status != Status::Fail)));
        }
        // Per-service resource series; a service that went takes its series with it.
        for crate::health::resources::Series { name, help, rows } in crate::health::resources::series(r) {
            t.remove(name, base);
            for (service, v) in rows {
                t.set(name, help, "gauge", &with(base, &[("service", &service)]), v);
            }
        }
        t.set("ccops_health_status", H_HEALTH_STATUS, "gauge", base, status_num(r.status));
        t.set("ccops_health_last_run_timestamp_seconds", H_HEALTH_TIME, "gauge", base, now());
    });
}

fn status_num(s: Status) -> f64 {
    match s {
        Status::Ok => 0.0,
        Status::Warn => 1.0,
        Status::Fail => 2.0,
    }
}

/// Apply `change` to the textfile, if one is configured; warn when that fails.
fn update(s: &Settings, change: impl FnOnce(&mut Textfile, &[(&str, &str)])) {
    let Some(p) = s.file.metrics.textfile.as_deref() else { return };
    let path = s.resolve_path(p);
    let base = [("project", s.project.as_str()), ("environment", s.env_name.as_str())];
    if let Err(e) = update_file(&path, |t| change(t, &base)) {
        crate::output::warn(format!("{e:#}; the operation itself is not affected"));
    }
}

/// Read, change and atomically replace the textfile, under a lock so that two ccops
/// runs (two projects sharing the file) do not lose each other's update.
pub fn update_file(path: &Path, change: impl FnOnce(&mut Textfile)) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        anyhow::bail!(
            "cannot write metrics to `{}`: folder `{}` does not exist; create it (node_exporter's --collector.textfile.directory) or fix `metrics.textfile`",
            path.display(),
            dir.display()
        );
    }
    let _lock =
        FileLock::take(&lock_path(path)).with_context(|| format!("cannot lock metrics file `{}`", path.display()))?;
    let mut t = match read_no_follow(path) {
        Ok(text) => Textfile::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Textfile::default(),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
            "metrics file `{}` is a symbolic link; ccops neither reads nor writes through links there. Remove the link, or point `metrics.textfile` at a plain file",
            path.display()
        ),
        Err(e) => anyhow::bail!("cannot read metrics file `{}`: {}", path.display(), crate::util::io_reason(&e)),
    };
    change(&mut t);
    // node_exporter runs as its own user: the file must be readable by others.
    crate::util::write_atomic(path, t.render().as_bytes(), 0o644)
}

/// The textfile folder is often writable by more than root (node_exporter's group): a
/// link planted at the file's name must not make root read another file into a
/// world-readable one. The write itself replaces whatever is at the name (write_atomic).
fn read_no_follow(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut text = String::new();
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// `.<name>.lock` beside the file: node_exporter reads only `*.prom`.
fn lock_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "metrics".into());
    path.with_file_name(format!(".{name}.lock"))
}

/// An exclusive `flock` held until dropped.
struct FileLock(std::fs::File);

impl FileLock {
    fn take(path: &Path) -> std::io::Result<FileLock> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        // Never through a link: a dangling one would make root create a file wherever it points.
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(FileLock(f))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking the descriptor locked in `take`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

fn now() -> f64 {
    chrono::Utc::now().timestamp() as f64
}

/// Seconds with millisecond precision.
fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_counts_as_rolled_back_only_when_the_previous_release_came_back() {
        assert_eq!(DeployOutcome::of(&Ok(ExitStatus::Success)), DeployOutcome::Success);
        // A failed migration's transaction "was rolled back": the release was not.
        let migration = anyhow::anyhow!("migration `20240701_add_tags` failed and was rolled back (at 1 of 2)")
            .context("deploy of v1.1.0 to `production` failed at step `migrate`; v1.0.0 (release #1) is still serving");
        assert_eq!(DeployOutcome::of(&Err(migration)), DeployOutcome::Failure);
        let back = anyhow::anyhow!("service `backend` is unhealthy")
            .context(crate::error::RolledBack("deploy of v1.2.0 failed; rolled back to v1.0.0 (release #1)".into()))
            .context("outer context a caller may add");
        assert_eq!(DeployOutcome::of(&Err(back)), DeployOutcome::RolledBack);
        assert_eq!(DeployOutcome::of(&Err(anyhow::anyhow!("lock held"))), DeployOutcome::Failure);
        let held = anyhow::Error::new(crate::lock::LockHeld("another ccops operation holds the project lock".into()));
        assert_eq!(DeployOutcome::of(&Err(held)), DeployOutcome::Refused);
        let weak = crate::usage!("refusing to deploy to production-like environment `prod` with weak secret(s)");
        assert_eq!(DeployOutcome::of(&Err(weak)), DeployOutcome::Refused);
    }

    #[test]
    fn updates_merge_into_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ccops.prom");
        std::fs::write(&p, "# HELP other_metric x\n# TYPE other_metric gauge\nother_metric 7\n").unwrap();
        for _ in 0..2 {
            update_file(&p, |t| {
                let base = [("project", "cc"), ("environment", "production")];
                t.add("ccops_backup_runs_total", H_BACKUP_RUNS, &with(&base, &[("outcome", "success")]), 1.0);
                t.set("ccops_backup_last_status", H_BACKUP_STATUS, "gauge", &base, 1.0);
            })
            .unwrap();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("other_metric 7"), "{text}");
        assert!(
            text.contains("ccops_backup_runs_total{project=\"cc\",environment=\"production\",outcome=\"success\"} 2"),
            "{text}"
        );
        assert!(text.contains("ccops_backup_last_status{project=\"cc\",environment=\"production\"} 1"), "{text}");
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn a_symlink_at_the_textfile_is_neither_read_nor_written_through() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("secret");
        std::fs::write(&secret, "root_only_metric 42\n").unwrap();
        let p = d.path().join("ccops.prom");
        std::os::unix::fs::symlink(&secret, &p).unwrap();
        let e = update_file(&p, |t| t.set("ccops_x", "h", "gauge", &[], 1.0)).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root_only_metric 42\n");
        assert!(std::fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_dangling_link_at_the_lock_creates_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ccops.prom");
        let elsewhere = d.path().join("nologin");
        std::os::unix::fs::symlink(&elsewhere, d.path().join(".ccops.prom.lock")).unwrap();
        let e = update_file(&p, |_| {}).unwrap_err();
        assert!(format!("{e:#}").contains("cannot lock metrics file"), "{e:#}");
        assert!(!elsewhere.exists());
        assert!(!p.exists());
    }

    #[test]
    fn a_missing_folder_is_named() {
        let e = update_file(Path::new("/nonexistent-ccops/textfile/ccops.prom"), |_| {}).unwrap_err();
        assert!(e.to_string().contains("folder `/nonexistent-ccops/textfile` does not exist"), "{e}");
    }
}
