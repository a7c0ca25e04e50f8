//! `ccops backup list [--remote R]` and `ccops backup verify ID [--remote R]`: the
//! rows and checks the ops return, printed as a table or JSON.

use anyhow::Result;

use super::Ctx;
use crate::backup::remote::{self, listing};
use crate::backup::verify as checks;
use crate::output;
use crate::status::ExitStatus;

/// `backup list`: the local sets with where each lives, or with `--remote` the sets
/// on that remote.
pub async fn list(ctx: &Ctx, r: Option<&str>) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    let rows = match r {
        Some(r) => listing::remote(&*crate::storage::open(&s, r).await?).await?,
        None => listing::local(&s).await?,
    };
    if output::json_mode() {
        output::json(&serde_json::Value::Array(rows.iter().map(listing::Row::to_json).collect()));
        return Ok(ExitStatus::Success);
    }
    let place = r.map(|r| format!(" on remote `{r}`")).unwrap_or_default();
    let shown = rows.iter().filter(|x| x.origin != listing::Origin::RemoteOnly);
    remote::report_untrusted(shown.map(|x| (x.id.as_str(), x.state, x.damaged.as_deref())), &place);
    if rows.is_empty() {
        match r {
            Some(r) => output::status(format!("no backups on remote `{r}`")),
            None => output::status(format!("no backups in {}", s.backup_dir.display())),
        }
        return Ok(ExitStatus::Success);
    }
    // The remote's own listing has no component column.
    let local = r.is_none();
    let mut header = vec!["ID", "CREATED (UTC)", "ENV", "TAGS", "SIZE", "COMPONENTS", "STATE", "WHERE"];
    if !local {
        header.retain(|h| *h != "COMPONENTS");
    }
    let mut t = output::table(&header);
    for x in &rows {
        let mut row = if x.origin == listing::Origin::RemoteOnly {
            // On a remote only: what its listing says.
            vec![x.id.clone(), String::new(), String::new(), String::new(), String::new(), String::new()]
        } else {
            vec![
                x.id.clone(),
                x.created.format("%Y-%m-%d %H:%M:%S").to_string(),
                x.environment.clone().unwrap_or_default(),
                x.tags.join(","),
                crate::util::human_bytes(x.bytes),
                x.components.join(", "),
            ]
        };
        if !local {
            row.pop();
        }
        row.push(x.state.to_string());
        row.push(x.at.join(", "));
        t.add_row(row);
    }
    output::data(t.to_string());
    Ok(ExitStatus::Success)
}

/// `backup verify`: every file of a set against its manifest, here or on a remote.
pub async fn verify(ctx: &Ctx, id: &str, r: Option<&str>) -> Result<ExitStatus> {
    let s = ctx.settings(None)?;
    if let Some(r) = r {
        let (store, set) = remote::locate::on_remote(&s, r, id).await?;
        let set = remote::signed(&s, &*store, &set).await?;
        let checks = remote::transfer::verify(&*store, &set).await?;
        return report_checks(&set.id, &checks, &format!(" on remote `{r}`"));
    }
    let (set, checks) = checks::local(&s, id).await?;
    report_checks(&set.id, &checks, "")
}

fn report_checks(id: &str, checks: &[checks::FileCheck], place: &str) -> Result<ExitStatus> {
    let failed: Vec<&checks::FileCheck> = checks.iter().filter(|c| !c.ok).collect();
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
