//! `ccops releases ENV`: the deployment history, as a table or `--json`.

use anyhow::Result;

use super::Ctx;
use crate::cli::ReleasesArgs;
use crate::deploy::{history::History, table};
use crate::output;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, a: ReleasesArgs) -> Result<ExitStatus> {
    let s = ctx.settings(Some(&a.env))?;
    let h = History::load(&s)?;
    let live = h.current().map(|r| r.id);
    if output::json_mode() {
        output::json(&serde_json::json!({
            "project": s.project,
            "environment": s.env_name,
            "live": live,
            "releases": h.releases,
        }));
        return Ok(ExitStatus::Success);
    }
    if h.releases.is_empty() {
        output::status(format!(
            "no release of `{}` recorded yet; `ccops deploy {} VERSION` records the first",
            s.env_name, s.env_name
        ));
        return Ok(ExitStatus::Success);
    }
    output::data(table::releases(&h.releases, live).to_string());
    match h.current() {
        Some(r) => output::status(format!("live: {}", r.label())),
        None => output::status("no successful release yet"),
    }
    Ok(ExitStatus::Success)
}
