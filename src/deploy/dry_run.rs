//! `ccops deploy --dry-run`: the plan a deploy would carry out (hooks, the pre-deploy
//! backup, images to build or pull, pending migrations, the rollout per service), shown
//! and changing nothing.

use std::collections::BTreeMap;

use anyhow::Result;

use super::inputs::Plan;
use super::migrate::{self, Mode};
use super::record::ImageRecord;
use super::record::first_line;
use super::{images, rollout};
use crate::output;

/// `--dry-run`: what would be built, backed up, migrated and replaced.
pub(super) async fn show(plan: &Plan<'_>) -> Result<()> {
    let p = plan.p;
    let s = &p.settings;
    let engine = p.engine()?;
    let d = &s.file.deploy;
    output::status(format!("dry run: the plan to deploy {} to `{}`", plan.version, s.env_name));
    for h in &d.hooks.pre_deploy {
        output::status(format!("  pre_deploy hook: {h}"));
    }
    if d.backup_before {
        let items = crate::backup::plan::select(s, &p.model, &[]).unwrap_or_default();
        let (take, skip): (Vec<_>, Vec<_>) = items.iter().partition(|i| i.stop_note().is_empty());
        let names: Vec<String> = take.iter().map(|i| i.name()).collect();
        output::status(format!(
            "  backup (pre-deploy, {}): {}",
            plan.version,
            if names.is_empty() { "nothing".into() } else { names.join(", ") }
        ));
        for i in skip {
            output::status(format!("    leaving out {}{}", i.describe(), i.stop_note()));
        }
    }
    let mut wanted: BTreeMap<String, ImageRecord> = BTreeMap::new();
    for svc in &plan.services {
        let r = images::reference(&plan.compose, &plan.model, svc);
        let has_build = plan.model.services.get(svc).is_some_and(|x| x.has_build);
        let rec = images::inspect(engine, &r).await?;
        output::status(format!(
            "  image {svc}: {} `{r}`{}",
            if has_build { "build" } else { "pull" },
            if rec.is_some() { " (present)" } else { "" }
        ));
        // An image not built yet differs from whatever runs.
        wanted
            .insert(svc.clone(), rec.unwrap_or(ImageRecord { image: r, id: "(to be built)".into(), digests: vec![] }));
    }
    match &plan.migrate {
        None => output::status("  migrations: none"),
        Some(mode @ Mode::Sql { .. }) => match migrate::status(&plan.compose, engine, mode).await {
            Ok(st) => {
                let pending: Vec<&str> = st.pending().iter().map(|r| r.name.as_str()).collect();
                output::status(format!(
                    "  migrations: {}",
                    if pending.is_empty() { "none pending".into() } else { pending.join(", ") }
                ));
            }
            Err(e) => output::status(format!("  migrations: cannot read their status now ({})", first_line(&e))),
        },
        Some(mode) => output::status(format!("  migrations: {} with {}", mode.describe(), plan.version)),
    }
    let rollout = if engine.is_swarm() {
        output::status(format!(
            "  rollout: `docker stack deploy {}`; Swarm replaces the tasks of each changed service by its deploy.update_config",
            plan.compose.project
        ));
        let (_, notes) = super::swarm::stack_file(&super::config_value(&plan.compose).await?, &plan.replicas);
        for n in notes {
            output::status(format!("    Swarm ignores {n}"));
        }
        serde_json::json!({"stack_deploy": plan.compose.project})
    } else {
        let cx =
            rollout::Ctx { compose: &plan.compose, engine, model: &plan.model, timeout: d.timeout, drain: d.drain };
        output::status("  rollout:");
        let plans = rollout::plan(&cx, &plan.services, &plan.replicas, &mut wanted, false).await?;
        rollout::show(&plans);
        serde_json::to_value(plans)?
    };
    if output::json_mode() {
        output::json(&serde_json::json!({
            "dry_run": true,
            "version": plan.version,
            "environment": s.env_name,
            "previous_version": plan.previous.as_ref().map(|r| r.version.clone()),
            "rollout": rollout,
        }));
    }
    output::status("dry run: nothing was changed");
    Ok(())
}
