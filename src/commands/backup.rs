//! `ccops backup [list|verify|push|prune|drill|schedule]`.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::backup::{create, layout, prune, remote, schedule, trust, verify};
use crate::cli::{BackupArgs, BackupCommand, BackupCreateArgs};
use crate::lock::Lock;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;
use crate::storage::{pending, s3::S3Store};

pub async fn run(ctx: &Ctx, args: BackupArgs) -> Result<ExitStatus> {
    match args.command {
        None => take_observed(ctx, args.create).await,
        Some(BackupCommand::List { remote: Some(r) }) => list_remote(ctx, &r).await,
        Some(BackupCommand::List { remote: None }) => list(ctx).await,
        Some(BackupCommand::Verify { id, remote: Some(r) }) => verify_remote(ctx, &id, &r).await,
        Some(BackupCommand::Verify { id, remote: None }) => verify(ctx, &id).await,
        Some(BackupCommand::Push { id, remote }) => {
            let result = push(ctx, &id, &remote).await;
            if let Ok(s) = ctx.settings(None) {
                crate::metrics::record_upload(&s, &remote, matches!(result, Ok(ExitStatus::Success)));
            }
            result
        }
        Some(BackupCommand::Prune { remote, dry_run }) => {
            let s = ctx.settings(None)?;
            let _lock = Lock::acquire(&s.state_dir, "backup prune", Duration::ZERO).await?;
            if let Some(r) = remote {
                let store = S3Store::connect(&r, crate::storage::remote(&s, &r)?).await?;
                let deleted = remote::prune(&store, &s.file.backup.retention, dry_run.dry_run).await?;
                if output::json_mode() {
                    output::json(&serde_json::json!({ "remote": r, "deleted": deleted }));
                }
                return Ok(ExitStatus::Success);
            }
            let out = prune::prune(&s, dry_run.dry_run)?;
            if output::json_mode() {
                output::json(&serde_json::to_value(&out)?);
            }
            Ok(ExitStatus::Success)
        }
        Some(BackupCommand::Drill { id, from }) => drill_observed(ctx, id, from).await,
        Some(BackupCommand::Schedule { cron, upload, remove, print, drill, dry_run }) => {
            let s = ctx.settings(None)?;
            schedule::schedule(&s, &cron, upload.as_deref(), remove, print, dry_run.dry_run, drill).await
        }
    }
}

async fn take(ctx: &Ctx, a: BackupCreateArgs) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    if let Some(r) = &a.upload {
        crate::storage::remote(&s, r)?;
    }
    let project = Project::open(s).await?;
    let s = &project.settings;
    if a.dry_run.dry_run {
        create::create(&project, &create::Options { only: a.only, tags: a.tag, dry_run: true }).await?;
        return Ok(ExitStatus::Success);
    }
    let _lock = Lock::acquire(&s.state_dir, "backup", Duration::ZERO).await?;
    // What a killed run left half done is put right before anything is read.
    if let Ok(engine) = project.engine() {
        crate::snapshot::recover(engine, &s.state_dir).await?;
    }
    // Sets whose upload failed before go first.
    let store = match &a.upload {
        Some(r) => Some(S3Store::connect(r, crate::storage::remote(s, r)?).await?),
        None => None,
    };
    if let Some(store) = &store {
        push_pending(s, store).await;
    }
    let m = create::create(&project, &create::Options { only: a.only, tags: a.tag, dry_run: false }).await?;
    let mut status = ExitStatus::Success;
    if let (Some(store), Some(m)) = (&store, &m) {
        let set = layout::resolve(&layout::list(&s.backup_dir)?, &m.id)?.clone();
        if let Err(e) = upload(s, store, &set).await {
            // Ctrl-C during the upload: the set is kept and pending; exit 130, not 1.
            if e.chain().any(|c| c.is::<crate::error::Interrupted>()) {
                return Err(e);
            }
            crate::commands::report(&e);
            status = ExitStatus::Failure;
        }
    }
    if !a.no_prune {
        // The set is complete: a failing prune is worth a warning, not a failed backup.
        if let Err(e) = prune::prune(s, false) {
            output::warn(format!("backup done, but pruning old backups failed: {e:#}"));
        }
    }
    if let (Some(m), true) = (m, output::json_mode()) {
        output::json(&serde_json::to_value(&m)?);
    }
    Ok(status)
}

/// Upload one set; on failure it stays local and is marked pending for that remote.
async fn upload(s: &crate::config::Settings, store: &S3Store, set: &layout::LocalSet) -> Result<()> {
    // A set that fails its signature check here is not spread to the remote.
    let set = &trust::signed_local(s, set)?;
    output::status(format!("uploading backup {} to remote `{}` ...", set.id, store.name));
    let t = std::time::Instant::now();
    match remote::push(store, set).await {
        Ok(bytes) => {
            pending::remove(&s.state_dir, &store.name, &set.id)?;
            output::status(format!(
                "uploaded backup {} to remote `{}`: {} in {}",
                set.id,
                store.name,
                crate::util::human_bytes(bytes),
                crate::util::human_duration(t.elapsed())
            ));
            Ok(())
        }
        Err(e) => {
            pending::add(&s.state_dir, &store.name, &set.id)?;
            Err(e.context(format!(
                "backup {} is kept locally and marked \"upload pending\"; `ccops backup push all-pending --remote {}` retries (the next `backup --upload {}` does too)",
                set.id, store.name, store.name
            )))
        }
    }
}

/// Upload the sets still pending for this remote; failures are reported, not fatal.
async fn push_pending(s: &crate::config::Settings, store: &S3Store) -> bool {
    let ids = pending::read(&s.state_dir).remove(&store.name).unwrap_or_default();
    let sets = layout::list(&s.backup_dir).unwrap_or_default();
    let mut all_ok = true;
    for id in ids {
        match sets.iter().find(|x| x.id == id && x.complete) {
            Some(set) => {
                if let Err(e) = upload(s, store, set).await {
                    crate::commands::report(&e);
                    all_ok = false;
                }
            }
            None => {
                output::warn(format!("backup {id} was pending upload but is no longer here; forgetting it"));
                let _ = pending::remove(&s.state_dir, &store.name, &id);
            }
        }
    }
    all_ok
}

async fn push(ctx: &Ctx, id: &str, r: &str) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    let s = ctx.settings(None)?;
    let store = S3Store::connect(r, crate::storage::remote(&s, r)?).await?;
    let _lock = Lock::acquire(&s.state_dir, "backup push", Duration::ZERO).await?;
    if id == "all-pending" {
        let n = pending::read(&s.state_dir).get(r).map_or(0, |x| x.len());
        if n == 0 {
            output::status(format!("no backup is pending upload to remote `{r}`"));
            return Ok(ExitStatus::Success);
        }
        return Ok(if push_pending(&s, &store).await { ExitStatus::Success } else { ExitStatus::Failure });
    }
    let sets = layout::list(&s.backup_dir)?;
    let set = layout::resolve(&sets, id)?.clone();
    upload(&s, &store, &set).await?;
    Ok(ExitStatus::Success)
}

async fn list_remote(ctx: &Ctx, r: &str) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let store = S3Store::connect(r, crate::storage::remote(&s, r)?).await?;
    let sets = remote::list(&store).await?;
    if output::json_mode() {
        let rows: Vec<serde_json::Value> = sets
            .iter()
            .map(|x| {
                let m = x.manifest.as_ref();
                let comps = m
                    .map(|m| m.components.iter().map(|c| format!("{}:{}", c.kind.word(), c.name)).collect())
                    .unwrap_or_default();
                serde_json::Value::Object(json_row(
                    &x.id,
                    x.created,
                    m,
                    m.map_or(0, |m| m.total_bytes()),
                    comps,
                    x.complete(),
                    vec![r.to_string()],
                ))
            })
            .collect();
        output::json(&serde_json::Value::Array(rows));
        return Ok(ExitStatus::Success);
    }
    let mut t = output::table(&["ID", "CREATED (UTC)", "ENV", "TAGS", "SIZE", "STATE", "WHERE"]);
    for x in &sets {
        let m = x.manifest.as_ref();
        t.add_row(vec![
            x.id.clone(),
            x.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            m.map(|m| m.environment.clone()).unwrap_or_default(),
            m.map(|m| m.tags.join(",")).unwrap_or_default(),
            crate::util::human_bytes(m.map_or(0, |m| m.total_bytes())),
            x.state().to_string(),
            r.to_string(),
        ]);
    }
    let place = format!(" on remote `{r}`");
    remote::report_untrusted(sets.iter().map(|x| (x.id.as_str(), x.state(), x.damaged.as_deref())), &place);
    if sets.is_empty() {
        output::status(format!("no backups on remote `{r}`"));
    } else {
        output::data(t.to_string());
    }
    Ok(ExitStatus::Success)
}

async fn verify_remote(ctx: &Ctx, id: &str, r: &str) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let store = S3Store::connect(r, crate::storage::remote(&s, r)?).await?;
    let sets = remote::list(&store).await?;
    let set = remote::resolve(&sets, id, r)?;
    let set = trust::signed_remote(&s, &store, set).await?;
    let checks = remote::verify(&store, &set).await?;
    report_checks(&set.id, &checks, &format!(" on remote `{r}`"))
}

/// Where each set lives: `local`, the remotes that hold it, and pending uploads.
async fn locations(
    s: &crate::config::Settings,
    sets: &[layout::LocalSet],
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut at: std::collections::BTreeMap<String, Vec<String>> =
        sets.iter().map(|x| (x.id.clone(), vec!["local".to_string()])).collect();
    for (name, r) in &s.file.remotes {
        let listed = async { remote::list(&S3Store::connect(name, r).await?).await };
        match tokio::time::timeout(Duration::from_secs(20), listed).await {
            Ok(Ok(remote_sets)) => {
                for x in remote_sets.iter().filter(|x| x.complete()) {
                    at.entry(x.id.clone()).or_default().push(name.clone());
                }
            }
            Ok(Err(e)) => output::warn(format!("cannot list remote `{name}`: {e:#}")),
            Err(_) => output::warn(format!("listing remote `{name}` took too long; showing local sets only")),
        }
    }
    for (name, ids) in pending::read(&s.state_dir) {
        for id in ids {
            if let Some(w) = at.get_mut(&id) {
                w.push(format!("{name}: upload pending"));
            }
        }
    }
    at
}

async fn list(ctx: &Ctx) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let sets = layout::list(&s.backup_dir)?;
    let at = locations(&s, &sets).await;
    if output::json_mode() {
        let rows: Vec<serde_json::Value> = sets
            .iter()
            .map(|x| {
                let mut row = json_row(
                    &x.id,
                    x.created,
                    x.manifest.as_ref(),
                    x.bytes(),
                    components(x),
                    x.complete,
                    at.get(&x.id).cloned().unwrap_or_default(),
                );
                row.insert("layout".into(), if x.legacy.is_some() { "legacy" } else { "ccops" }.into());
                row.insert("partial".into(), (x.complete && !x.full()).into());
                row.insert("state".into(), x.state().into());
                if let Some(d) = &x.damaged {
                    row.insert("damaged".into(), d.as_str().into());
                }
                serde_json::Value::Object(row)
            })
            .chain(at.iter().filter(|(id, _)| !sets.iter().any(|x| &x.id == *id)).map(|(id, w)| {
                // On a remote only: what its listing says.
                let created = layout::parse_id(id).unwrap_or_default();
                serde_json::Value::Object(json_row(id, created, None, 0, vec![], true, w.clone()))
            }))
            .collect();
        output::json(&serde_json::Value::Array(rows));
        return Ok(ExitStatus::Success);
    }
    remote::report_untrusted(sets.iter().map(|x| (x.id.as_str(), x.state(), x.damaged.as_deref())), "");
    let mut t = output::table(&["ID", "CREATED (UTC)", "ENV", "TAGS", "SIZE", "COMPONENTS", "STATE", "WHERE"]);
    for x in &sets {
        let state = x.state();
        t.add_row(vec![
            x.id.clone(),
            x.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            x.manifest.as_ref().map(|m| m.environment.clone()).unwrap_or_default(),
            x.manifest.as_ref().map(|m| m.tags.join(",")).unwrap_or_default(),
            crate::util::human_bytes(x.bytes()),
            components(x).join(", "),
            state.to_string(),
            at.get(&x.id).map(|w| w.join(", ")).unwrap_or_default(),
        ]);
    }
    // Sets only on a remote.
    for (id, w) in at.iter().filter(|(id, _)| !sets.iter().any(|x| &x.id == *id)) {
        t.add_row(vec![
            id.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "complete".into(),
            w.join(", "),
        ]);
    }
    if sets.is_empty() && at.is_empty() {
        output::status(format!("no backups in {}", s.backup_dir.display()));
    } else {
        output::data(t.to_string());
    }
    Ok(ExitStatus::Success)
}

/// One set as `backup list --json` prints it.
fn json_row(
    id: &str,
    created: chrono::DateTime<chrono::Utc>,
    m: Option<&crate::backup::manifest::Manifest>,
    bytes: u64,
    components: Vec<String>,
    complete: bool,
    at: Vec<String>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut row = serde_json::Map::new();
    row.insert("id".into(), id.into());
    row.insert("created".into(), created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into());
    row.insert("environment".into(), m.map(|m| m.environment.clone()).into());
    row.insert("tags".into(), m.map(|m| m.tags.clone()).unwrap_or_default().into());
    row.insert("bytes".into(), bytes.into());
    row.insert("components".into(), components.into());
    row.insert("complete".into(), complete.into());
    row.insert("where".into(), at.into());
    row
}

fn components(x: &layout::LocalSet) -> Vec<String> {
    match (&x.manifest, &x.legacy) {
        (Some(m), _) => m.components.iter().map(|c| format!("{}:{}", c.kind.word(), c.name)).collect(),
        (None, Some(l)) => l
            .postgres
            .iter()
            .map(|(d, _)| format!("postgres:{d}"))
            .chain(l.volumes.iter().map(|(v, _)| format!("volume:{v}")))
            .chain(l.redis.iter().map(|_| "redis".to_string()))
            .collect(),
        _ => vec![],
    }
}

async fn verify(ctx: &Ctx, id: &str) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let sets = layout::list(&s.backup_dir)?;
    let set = trust::signed_local(&s, layout::resolve(&sets, id)?)?;
    // pg_restore --list runs in the postgres service when it is up here; on a machine
    // that only keeps backups (no engine, no compose) the checksums are still verified.
    let engine = crate::docker::Engine::connect(s.docker_host.as_deref()).await.ok();
    let mut pg = None;
    if let (Some(engine), Some(t)) = (&engine, s.file.backup.postgres.first()) {
        pg = engine.running_container(&s.project, &t.service).await.ok().map(|c| c.id);
    }
    if pg.is_none()
        && set
            .manifest
            .as_ref()
            .is_some_and(|m| m.components.iter().any(|c| c.kind == crate::backup::manifest::Kind::Postgres))
    {
        output::warn(
            "postgres is not running here: the dump is checked by its checksum only (not with pg_restore --list)",
        );
    }
    let checks = verify::verify(&set, engine.as_ref(), pg.as_deref()).await;
    report_checks(&set.id, &checks, "")
}

fn report_checks(id: &str, checks: &[verify::FileCheck], place: &str) -> Result<ExitStatus> {
    let failed: Vec<&verify::FileCheck> = checks.iter().filter(|c| !c.ok).collect();
    if output::json_mode() {
        output::json(&serde_json::json!({ "id": id, "ok": failed.is_empty(), "files": checks }));
    } else {
        let mut t = output::table(&["FILE", "KIND", "RESULT", "DETAIL"]);
        for c in checks {
            t.add_row(vec![
                c.file.clone(),
                c.kind.clone(),
                if c.ok { "OK" } else { "FAIL" }.to_string(),
                c.detail.clone(),
            ]);
        }
        output::data(t.to_string());
    }
    if failed.is_empty() {
        output::status(format!("backup {id}{place}: all {} files verified", checks.len()));
        Ok(ExitStatus::Success)
    } else {
        for c in &failed {
            output::error(format!("backup {id}{place}: `{}` failed verification: {}", c.file, c.detail));
        }
        Ok(ExitStatus::Failure)
    }
}

/// `backup` followed by its metrics and notification; both are best-effort and never
/// change the result.
async fn take_observed(ctx: &Ctx, a: BackupCreateArgs) -> Result<ExitStatus> {
    let (started, dry_run, upload) = (std::time::Instant::now(), a.dry_run.dry_run, a.upload.clone());
    let result = take(ctx, a).await;
    if dry_run {
        return result;
    }
    if let Ok(s) = ctx.settings(None) {
        let id = output::context("backup_id");
        let run = crate::metrics::BackupRun::of(&s, &result, id.as_deref(), started.elapsed(), upload.as_deref());
        crate::metrics::record_backup(&s, &run);
        let error = (run.ok && matches!(result, Ok(ExitStatus::Failure))).then(|| {
            format!(
                "backup {} was written, but its upload to `{}` failed; it is marked upload pending",
                id.as_deref().unwrap_or("?"),
                upload.as_deref().unwrap_or("?")
            )
        });
        let event = crate::notify::Event {
            command: "backup",
            backup_id: id,
            duration: started.elapsed(),
            error,
            ..Default::default()
        };
        crate::notify::after(&s, &event, &result).await;
    }
    result
}

/// `backup drill`: the drill lock (drills only: a drill never touches the live project,
/// so nightly backups are not held up), the copies killed drills left removed, then the
/// drill, its report, metrics and notification.
async fn drill_observed(ctx: &Ctx, id: String, from: Option<String>) -> Result<ExitStatus> {
    let started = std::time::Instant::now();
    let result = drill(ctx, id, from).await;
    let Ok(s) = ctx.settings(None) else { return result.map(|(st, _)| st) };
    let report = result.as_ref().ok().and_then(|(_, r)| r.as_ref());
    let ok = report.is_some_and(|r| r.ok);
    let reached = report.filter(|r| r.steps.iter().any(|st| st.step == "healthy"));
    let rto = reached.map(|r| Duration::from_secs_f64(r.rto_seconds));
    let checks: Vec<(String, bool)> =
        report.map(|r| r.checks.iter().map(|c| (c.name.clone(), c.ok)).collect()).unwrap_or_default();
    crate::metrics::record_drill(&s, ok, rto, &checks);
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
        backup_id: report.map(|r| r.id.clone()).or_else(|| output::context("backup_id")),
        duration: started.elapsed(),
        error,
        rto,
        ..Default::default()
    };
    let result = result.map(|(st, _)| st);
    crate::notify::after(&s, &event, &result).await;
    result
}

async fn drill(
    ctx: &Ctx,
    id: String,
    from: Option<String>,
) -> Result<(ExitStatus, Option<crate::backup::drill::Report>)> {
    use crate::backup::drill;
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
    let report = drill::drill(&project, &drill::Options { id, from }).await?;
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
