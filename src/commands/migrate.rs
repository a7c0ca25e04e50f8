//! `ccops migrate ENV [status] [--lock-wait DURATION] [--dry-run]`.

use anyhow::Result;

use super::Ctx;
use crate::cli::MigrateArgs;
use crate::deploy::migrate::{self, Mode};
use crate::deploy::{compose_for, live_version};
use crate::lock::Lock;
use crate::output;
use crate::project::Project;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: MigrateArgs) -> Result<ExitStatus> {
    crate::util::cleanup_aware();
    let project = Project::open(ctx.settings(Some(&a.env))?).await?;
    let s = &project.settings;
    let Some(mode) = migrate::mode(s)? else {
        return Err(crate::usage!("{} has no `migrate` section: nothing to run", s.config_file.display()));
    };
    let engine = project.engine()?;
    // The tool of the live release runs, not whatever the env file names.
    let compose = compose_for(&project.compose, s, live_version(s)?.as_deref());
    if a.action.as_deref() == Some("status") || a.dry_run.dry_run {
        let st = migrate::status(&compose, engine, &mode).await?;
        print_status(&st, &mode);
        if a.dry_run.dry_run && a.action.is_none() {
            output::status("dry run: nothing was changed");
            return Ok(ExitStatus::Success);
        }
        return Ok(if st.up_to_date { ExitStatus::Success } else { ExitStatus::Failure });
    }
    let lock_wait = a.lock_wait.map(Into::into).unwrap_or_default();
    let _lock = Lock::acquire(&s.state_dir, &format!("migrate {}", s.env_name), lock_wait).await?;
    crate::snapshot::recover(engine, &s.state_dir).await?;
    output::status(format!("migrations of `{}`: {}", s.env_name, mode.describe()));
    let rec = migrate::apply(&compose, engine, &mode).await?;
    output::status(match (&rec.before, &rec.after) {
        (b, Some(a)) if b.as_ref() != Some(a) => format!("schema now at {a}"),
        (_, Some(a)) => format!("schema at {a}"),
        _ => "done".to_string(),
    });
    if output::json_mode() {
        output::json(&serde_json::to_value(&rec)?);
    }
    Ok(ExitStatus::Success)
}

fn print_status(st: &migrate::Status, mode: &Mode) {
    if output::json_mode() {
        output::json(&serde_json::to_value(st).unwrap_or_default());
        return;
    }
    match mode {
        Mode::Sql { .. } => {
            let mut t = output::table(&["VERSION", "NAME", "STATE", "APPLIED AT"]);
            for r in &st.rows {
                t.add_row(vec![
                    r.version.clone(),
                    r.name.clone(),
                    r.state.to_string(),
                    r.applied_at.clone().unwrap_or_default(),
                ]);
            }
            output::data(t.to_string());
            let pending = st.pending().len();
            let changed = st.rows.iter().filter(|r| r.state == "changed").count();
            let line = format!(
                "{pending} pending, {changed} changed since applied, schema at {}",
                st.marker.as_deref().unwrap_or("nothing applied")
            );
            if st.up_to_date { output::status(line) } else { output::warn(line) }
        }
        Mode::Command { .. } => {
            for l in &st.output {
                output::data(l);
            }
            if !st.up_to_date {
                output::warn("the status command reports work to do (it exited non-zero)");
            }
        }
    }
}
