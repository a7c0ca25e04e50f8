//! `ccops backup drill [ID] [--from REMOTE]`: the drill lock (drills only: a drill never
//! touches the live project, so nightly backups are not held up), the copies killed
//! drills left removed, the set chosen, then the drill, its report, metrics and
//! notification.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::Ctx;
use crate::backup::drill::{self, Report};
use crate::backup::remote::locate;
use crate::lock::Lock;
use crate::notify::{Outcome, Ping};
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

/// The drill between its start and end pings, then its metrics and notification
/// (best-effort, never change the result).
pub async fn run(ctx: &Ctx, id: String, from: Option<String>) -> Result<ExitStatus> {
    let started = Instant::now();
    let ping = match ctx.settings(None) {
        Ok(s) => Ping::start(&s, "backup drill").await,
        Err(_) => None,
    };
    let mut picked = None;
    let result = drill_set(ctx, id, from, &mut picked).await;
    let Ok(s) = ctx.settings(None) else { return result.map(|(st, _)| st) };
    let report = result.as_ref().ok().and_then(|(_, r)| r.as_ref());
    let ok = report.is_some_and(|r| r.ok);
    let reached = report.filter(|r| r.steps.iter().any(|st| st.step == "healthy"));
    let rto = reached.map(|r| Duration::from_secs_f64(r.rto_seconds));
    let checks: Vec<(String, bool)> =
        report.map(|r| r.checks.iter().map(|c| (c.name.clone(), c.ok)).collect()).unwrap_or_default();
    // A refused drill (another drill holds the lock, a usage error) tried nothing: no record.
    if !result.as_ref().is_err_and(|e| Outcome::of_error(e) == Outcome::Refused) {
        crate::metrics::record_drill(&s, ok, rto, &checks);
    }
    let error = report.filter(|r| !r.ok).map(|r| {
        let failed: Vec<&str> = r.checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
        match (&r.error, failed.is_empty()) {
            (Some(e), _) => e.clone(),
            (None, false) => format!("checks failed: {}", failed.join(", ")),
            (None, true) => "the drill failed".into(),
        }
    });
    let event = crate::notify::Event {
        command: "backup drill",
        backup_id: report.map(|r| r.id.clone()).or(picked),
        duration: started.elapsed(),
        error,
        rto,
        ..Default::default()
    };
    let result = result.map(|(st, _)| st);
    if let Some(p) = ping {
        p.end(&s, &event, &result).await;
    }
    crate::notify::after(&s, &event, &result).await;
    result
}

/// Run the drill; `picked` gets the ID of the set once it is chosen (an interrupted
/// drill returns no report).
async fn drill_set(
    ctx: &Ctx,
    id: String,
    from: Option<String>,
    picked: &mut Option<String>,
) -> Result<(ExitStatus, Option<Report>)> {
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    if let Some(r) = &from {
        crate::storage::remote(&s, r)?;
    }
    let project = Project::open(s).await?;
    let s = &project.settings;
    let engine = project.engine()?;
    let _lock = Lock::acquire(&drill::root(s), "backup drill", Duration::ZERO).await?;
    drill::clean_leftovers(engine, s).await?;
    let source = locate::for_drill(s, &id, from.as_deref()).await?;
    *picked = Some(source.describe().0);
    let report = drill::drill(&project, source).await?;
    if output::json_mode() {
        output::json(&serde_json::to_value(&report)?);
    } else {
        output::data(drill::render(&report));
    }
    if report.ok {
        output::status(format!(
            "drill of backup {} passed: RTO {}",
            report.id,
            crate::util::human_duration(Duration::from_secs_f64(report.rto_seconds))
        ));
        Ok((ExitStatus::Success, Some(report)))
    } else {
        output::error(format!(
            "drill of backup {} failed{}",
            report.id,
            report.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        ));
        Ok((ExitStatus::Failure, Some(report)))
    }
}

/// `--to-time` / `--to-latest`: a PostgreSQL service recovered to a point in a scratch
/// volume, checked and timed, the live service untouched (no ID: the base is chosen by
/// the time). Under the drill lock, like any drill.
pub async fn to_point(
    ctx: &Ctx,
    id: &str,
    from: Option<String>,
    to_time: Option<String>,
    service: Option<String>,
) -> Result<ExitStatus> {
    use crate::backup::restore::pitr;
    crate::util::cleanup_aware();
    if id != "latest" {
        return Err(crate::usage!(
            "--to-time and --to-latest choose their base backup themselves; drop the backup ID `{id}`"
        ));
    }
    let target = match &to_time {
        Some(t) => pitr::Target::Time(pitr::parse_time(t)?),
        None => pitr::Target::Latest,
    };
    let project = Project::open(ctx.settings(None)?).await?;
    let s = &project.settings;
    let _lock = Lock::acquire(&drill::root(s), "backup drill", Duration::ZERO).await?;
    let d = pitr::drill(&project, target, service.as_deref(), from.as_deref()).await?;
    let rto = crate::util::human_duration(Duration::from_secs_f64(d.seconds));
    if output::json_mode() {
        output::json(&serde_json::json!({
            "service": d.service,
            "base_backup": d.base_set,
            "last_transaction": d.last_transaction,
            "recovery_seconds": d.seconds,
            "ok": true,
        }));
    }
    output::status(format!(
        "drill to a point of service `{}` passed: recovered from the base backup of set {} in {rto}{}",
        d.service,
        d.base_set,
        d.last_transaction.as_deref().map(|t| format!(", last transaction at {t}")).unwrap_or_default()
    ));
    Ok(ExitStatus::Success)
}
