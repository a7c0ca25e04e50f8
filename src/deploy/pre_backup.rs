//! The backup a deploy takes before it changes anything (`deploy.backup_before`): only
//! what can be copied with every service running. Monitoring hears of it as of any
//! backup: the backup metrics and the webhook (which says whose step it was).

use std::time::Instant;

use anyhow::Result;

use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

/// The pre-deploy backup: every configured component that can be copied without
/// stopping a service (a deploy must not take the application down for a file copy; the
/// volumes a deploy does not change are in the nightly backups). None on a first deploy.
pub(super) async fn take(p: &Project, version: &str) -> Result<Option<String>> {
    let s = &p.settings;
    let engine = p.engine()?;
    if !super::containers(engine, &s.project, None).await?.iter().any(|c| c.is_running()) {
        output::status("  nothing runs yet (first deploy): nothing to back up");
        return Ok(None);
    }
    let items = match crate::backup::plan::select(s, &p.model, &[]) {
        Ok(i) => i,
        Err(_) => {
            output::status("  no backup components configured (`backup:` in ccops.yaml)");
            return Ok(None);
        }
    };
    let (take, skip): (Vec<_>, Vec<_>) = items.iter().partition(|i| i.stop_note().is_empty());
    for i in &skip {
        output::status(format!(
            "  leaving out {}: copying it{} would take the application down",
            i.describe(),
            i.stop_note()
        ));
    }
    if take.is_empty() {
        output::status("  every configured component needs a service stopped: no pre-deploy backup");
        return Ok(None);
    }
    let only = if skip.is_empty() { vec![] } else { take.iter().map(|i| i.name()).collect() };
    let opts =
        crate::backup::create::Options { only, tags: vec!["pre-deploy".into(), version.to_string()], dry_run: false };
    let started = Instant::now();
    let (result, id) = match crate::backup::create::create(p, &opts).await {
        Ok(m) => (Ok(ExitStatus::Success), m.map(|m| m.id)),
        Err(e) => {
            let id = crate::backup::create::failed_id(&e);
            (Err(e), id)
        }
    };
    let run = crate::metrics::BackupRun::of(s, &result, id.as_deref(), started.elapsed(), None);
    crate::metrics::record_backup(s, &run);
    let event = crate::notify::Event {
        command: "backup",
        backup_id: id.clone(),
        duration: started.elapsed(),
        part_of: Some(format!("the deploy of {version}")),
        ..Default::default()
    };
    crate::notify::after(s, &event, &result).await;
    result.map(|_| id)
}
