//! `ccops backup drill`: prove a backup set restores, and time it. The set (local, or
//! downloaded from a remote into the drill's own folder) passes the same trust checks
//! as a restore, is restored into a throwaway copy of the project (copy.rs), the copy is
//! started and waited for, the configured checks run (checks.rs), and the copy is
//! removed again, also when anything fails or on Ctrl-C.
//!
//! The live project is never touched: the copy has its own compose project name, so its
//! containers, volumes and network are its own, and nothing is published on the host.
//! Everything a drill leaves on disk lives in `<state>/drill/<copy>/` (the copy's compose
//! file, a download, the restore's own journal), whose existence is the record that the
//! copy may exist: a drill killed with SIGKILL leaves that folder, and the next drill
//! removes the copy it names from the engine before it starts.

pub mod checks;
pub mod copy;
pub mod record;
mod report;

pub use record::root;
use report::Component;
pub use report::{Report, render};

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use super::remote::locate::{self, Source};
use super::remote::transfer;
use super::restore::{self, Step};
use super::{trust, verify};
use crate::compose::Flavour;
use crate::config::Settings;
use crate::docker::Engine;
use crate::output;
use crate::project::Project;

/// The record of a copy in its folder: what the next drill reads after a kill.
const RECORD: &str = "drill.json";

/// Run a drill of the set `source` holds ([`locate::for_drill`] chooses it).
/// Call with the drill lock held and leftovers removed ([`clean_leftovers`]).
/// A drill that ran returns its report (failed checks included); `Err` when it could not
/// start (untrusted set) or was interrupted, after the copy is removed.
pub async fn drill(live: &Project, source: Source) -> Result<Report> {
    let s = &live.settings;
    let engine = live.engine()?;
    let (id, place) = source.describe();
    output::log_field("backup_id", &id);
    let name = copy::copy_name(&s.project, &id);
    let dir = root(s).join(&name);
    crate::util::create_private_dir(&dir)?;
    let record = serde_json::json!({
        "copy": name, "project": s.project, "backup_id": id, "pid": std::process::id(),
        "started_at": chrono::Utc::now().to_rfc3339(),
    });
    crate::util::write_atomic(&dir.join(RECORD), record.to_string().as_bytes(), 0o600)?;
    let target = s.file.backup.drill.target_rto;
    let mut report = Report {
        id: id.clone(),
        source: place.clone(),
        copy: name.clone(),
        target_rto_seconds: target.map(|t| t.as_secs_f64()),
        ..Default::default()
    };
    output::status(format!("drill of backup {id} ({place}) in the throwaway copy `{name}`:"));
    // The copy is thrown away: a run dropped mid-step (Ctrl-C) leaves nothing to put right.
    let result = tokio::select! {
        r = run(live, engine, source, &dir, &mut report) => r,
        () = crate::util::wait_interrupt() => Err(crate::error::Interrupted.into()),
    };
    let t = Instant::now();
    output::status(format!("removing the copy `{name}` ..."));
    let removed = remove_copy(engine, &dir, &name).await;
    report.step("teardown", t, false);
    let mut errors = Vec::new();
    if let Err(e) = &result {
        if crate::error::classify(e) == crate::status::ExitStatus::Interrupted {
            if let Err(e) = &removed {
                output::error(format!("{e:#}; the next `ccops backup drill` removes what is left"));
            }
            return result.map(|()| report);
        }
        errors.push(format!("{e:#}"));
    }
    match removed {
        Ok(list) => report.removed = list,
        Err(e) => errors.push(format!("{e:#}")),
    }
    report.error = (!errors.is_empty()).then(|| errors.join("; "));
    report.within_target = target.map(|t| report.rto_seconds <= t.as_secs_f64());
    report.ok = report.error.is_none() && report.checks.iter().all(|c| c.ok);
    if report.ok
        && let Err(e) = record::write_success(s, &id, report.rto_seconds)
    {
        output::warn(format!("the drill passed, but it could not be recorded for `health`: {e:#}"));
    }
    Ok(report)
}

async fn run(live: &Project, engine: &Engine, source: Source, dir: &Path, report: &mut Report) -> Result<()> {
    let s = &live.settings;
    let copy = open_copy(live, engine, dir, &report.copy).await?;
    let set = match source {
        Source::Local(set) => trust::signed_local(s, &set)?,
        Source::Remote(store, rs) => {
            // As `restore --from`: signature and targets checked before a byte is downloaded.
            let rs = locate::vet(s, &*store, &rs, &dir.join("download"), false, |p| restore::check_targets(&copy, p))
                .await?;
            let t = Instant::now();
            let got = transfer::fetch(&*store, &rs, &dir.join("download")).await?;
            report.step("download", t, true);
            trust::signed_local(s, &got)?
        }
    };
    trust::check_encrypted(s, &set, false)?;
    let steps = restore::steps_of(&copy, &set)?;
    report.data.bytes = set.bytes();
    if let Some(m) = &set.manifest {
        report.data.components = m
            .components
            .iter()
            .map(|c| Component { kind: c.kind.word(), name: c.name.clone(), bytes: c.bytes })
            .collect();
    }
    let timeout = s.file.backup.drill.timeout.unwrap_or(s.file.deploy.timeout);
    let cp = &copy.settings.project;

    // Prepare: the copy created (volumes, network, containers), its databases started.
    let t = Instant::now();
    output::status("creating the copy and starting its data services ...");
    copy.compose.run(&["up", "--no-start"]).await?;
    let data: BTreeSet<String> = steps.iter().filter_map(|st| st.component.service().map(String::from)).collect();
    if !data.is_empty() {
        let mut args = vec!["up", "-d"];
        args.extend(data.iter().map(String::as_str));
        copy.compose.run(&args).await?;
        wait_ready(&copy, engine, data.iter().cloned().collect(), timeout).await?;
    }
    report.step("prepare", t, true);
    crate::state::failpoint("drill-prepared");

    // Verify every file, pg_restore --list in the copy's database server.
    let t = Instant::now();
    let server = match restore::check_server(&steps) {
        Some(svc) => Some(engine.running_container(cp, svc).await?.id),
        None => None,
    };
    output::status(format!("verifying backup {} ...", set.id));
    let files = verify::verify(&set, Some(engine), server.as_deref()).await;
    let wanted: Vec<String> = steps.iter().map(Step::file_name).collect();
    let bad: Vec<String> = files
        .iter()
        .filter(|c| !c.ok && wanted.contains(&c.file))
        .map(|c| format!("`{}`: {}", c.file, c.detail))
        .collect();
    if !bad.is_empty() {
        bail!("backup {} failed verification: {}", set.id, bad.join("; "));
    }
    report.step("verify", t, true);

    let t = Instant::now();
    restore::run_steps(&copy, engine, &steps).await?;
    report.step("restore", t, true);
    crate::util::check_interrupt()?;

    // The application on the restored data, as the compose files start it.
    let t = Instant::now();
    output::status("starting the application in the copy ...");
    copy.compose.run(&["up", "-d"]).await?;
    wait_ready(&copy, engine, copy.model.services.keys().cloned().collect(), timeout).await?;
    report.step("healthy", t, true);

    let t = Instant::now();
    for r in &s.file.backup.redis {
        if let Ok(n) = redis_keys(engine, cp, &r.service).await {
            report.data.redis_keys.insert(r.service.clone(), n);
        }
    }
    if s.file.backup.drill.checks.is_empty() {
        output::warn(
            "`backup.drill.checks` is empty: the drill proves the set restores and the application starts, not that the data is there",
        );
    }
    report.checks = checks::run(&copy.settings, engine, cp).await;
    report.step("checks", t, false);
    Ok(())
}

/// The copy as a project of its own: its compose file written into `dir` from the live
/// project's model, run by the same Compose that printed that model.
async fn open_copy(live: &Project, engine: &Engine, dir: &Path, name: &str) -> Result<Project> {
    let flavour = live.compose.flavour;
    let config: serde_json::Value = match flavour {
        Flavour::V2 => serde_json::from_str(&live.compose.run(&["config", "--format", "json"]).await?)?,
        Flavour::V1 => {
            let y: serde_yaml::Value = serde_yaml::from_str(&live.compose.run(&["config"]).await?)
                .map_err(|e| anyhow!("cannot read `docker-compose config` output: {e}"))?;
            serde_json::to_value(y)?
        }
    };
    let mut present = BTreeSet::new();
    for (_, image) in copy::images(&config, &live.settings.project, flavour) {
        if engine.image_exists(&image).await {
            present.insert(image);
        }
    }
    let (config, warnings) = copy::copy_config(config, &live.settings.project, flavour, &present)?;
    for w in warnings {
        output::warn(w);
    }
    // Values are resolved in it, secrets too: private, in the private state folder.
    let file = dir.join("compose.json");
    crate::util::write_atomic(&file, &serde_json::to_vec_pretty(&config)?, 0o600)?;
    let mut cs = live.settings.clone();
    cs.project = name.to_string();
    cs.compose_files = vec![file];
    cs.env_file = None;
    cs.state_dir = dir.to_path_buf();
    cs.compose_override = Some(if flavour == Flavour::V2 { "v2" } else { "v1" }.into());
    Project::open(cs).await
}

/// Wait for every replica of `services` in the copy to be ready, all at once.
async fn wait_ready(copy: &Project, engine: &Engine, services: Vec<String>, timeout: Duration) -> Result<()> {
    let project = &copy.settings.project;
    let waits = services.iter().map(|svc| {
        let n = copy.model.services.get(svc).map_or(1, |x| x.replicas.max(1)) as usize;
        crate::deploy::wait::ready(engine, project, svc, None, n, timeout)
    });
    let failed: Vec<String> = futures_util::future::join_all(waits)
        .await
        .into_iter()
        .zip(&services)
        .filter_map(|(r, svc)| r.err().map(|e| format!("{svc}: {e:#}")))
        .collect();
    if !failed.is_empty() {
        bail!("the copy did not become healthy within {}: {}", humantime::format_duration(timeout), failed.join("; "));
    }
    Ok(())
}

async fn redis_keys(engine: &Engine, project: &str, service: &str) -> Result<u64> {
    let ctr = engine.running_container(project, service).await?;
    let (_, out, _) = engine.exec_capture(&ctr.id, &["redis-cli", "DBSIZE"], &[]).await?;
    out.trim().parse().map_err(|_| anyhow!("DBSIZE answered {out:?}"))
}

/// Remove the copy from the engine, then its folder (only once the engine has nothing
/// of it left, so that a failed removal is retried by the next drill).
async fn remove_copy(engine: &Engine, dir: &Path, name: &str) -> Result<Vec<String>> {
    let removed = copy::remove_project(engine, name).await?;
    std::fs::remove_dir_all(dir)
        .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
        .map_err(|e| anyhow!("cannot remove `{}`: {}", dir.display(), crate::util::io_reason(&e)))?;
    Ok(removed)
}

/// Remove the copies that killed drills left (their folders under [`root`]) from the
/// engine and the disk. Call with the drill lock held. Returns the copies removed.
pub async fn clean_leftovers(engine: &Engine, s: &Settings) -> Result<Vec<String>> {
    let root = root(s);
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => bail!("cannot read `{}`: {}", root.display(), crate::util::io_reason(&e)),
    };
    let mut cleaned = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Only a real folder named as this project's copies are: nothing else is removed.
        let is_dir = std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir());
        let ours = name.starts_with(&format!("{}-drill-", s.project))
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !is_dir || !ours {
            continue;
        }
        output::warn(format!("a drill was killed before it removed its copy `{name}`; removing it now"));
        let removed = remove_copy(engine, &e.path(), &name).await?;
        output::warn(format!("removed the copy `{name}` ({} objects)", removed.len()));
        cleaned.push(name);
    }
    Ok(cleaned)
}
