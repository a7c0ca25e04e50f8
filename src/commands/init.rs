//! `ccops init [--force]`: write a ccops.yaml for the Compose project in this folder.

use anyhow::Result;

use super::Ctx;
use crate::cli::InitArgs;
use crate::output;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: InitArgs) -> Result<ExitStatus> {
    let dir = ctx.penv.cwd.clone();
    let target = match &ctx.global.config {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => dir.join(p),
        None => dir.join("ccops.yaml"),
    };
    let w = crate::init::init(&crate::init::Options { dir: &dir, target: &target, force: args.force }, &ctx.penv)?;
    let d = &w.detected;
    if output::json_mode() {
        output::json(&serde_json::json!({
            "written": w.path,
            "replaced_file_kept_as": w.backup_of_old,
            "project": d.project,
            "environments": d.environments.iter().map(|e| serde_json::json!({
                "name": e.name, "compose_files": e.compose_files, "env_file": e.env_file,
            })).collect::<Vec<_>>(),
            "postgres": d.postgres.iter().map(|p| serde_json::json!({
                "service": p.service, "database": p.database, "user": p.user,
            })).collect::<Vec<_>>(),
            "mysql": d.mysql.iter().map(|m| serde_json::json!({
                "service": m.service, "database": m.database, "user": m.user, "password_variable": m.password_variable,
            })).collect::<Vec<_>>(),
            "redis": d.redis,
            "volumes": d.volumes.iter().map(|v| serde_json::json!({ "name": v.name, "stop_services": v.writers })).collect::<Vec<_>>(),
            "required_variables": d.required_variables,
            "version_variable": d.version_variable,
        }));
    }
    output::status(format!("wrote `{}` for the Compose project `{}`:", w.path.display(), d.project));
    for e in &d.environments {
        let env_file = e.env_file.as_deref().map_or("no env file".to_string(), |f| format!("env file {f}"));
        output::status(format!("  environment {}: {}; {env_file}", e.name, e.compose_files.join(" + ")));
    }
    for p in &d.postgres {
        output::status(format!("  postgres: service `{}`, database `{}`, user `{}`", p.service, p.database, p.user));
    }
    for m in &d.mysql {
        let db = m.database.as_deref().map_or("all".to_string(), |d| format!("`{d}`"));
        output::status(format!("  mysql: service `{}`, database {db}, user `{}`", m.service, m.user));
    }
    for r in &d.redis {
        output::status(format!("  redis: service `{r}`"));
    }
    for v in &d.volumes {
        let stops = if v.writers.is_empty() {
            String::new()
        } else {
            format!(" (stops {} while copying)", v.writers.join(", "))
        };
        output::status(format!("  volume: {}{stops}", v.name));
    }
    if d.postgres.is_empty() && d.mysql.is_empty() && d.redis.is_empty() && d.volumes.is_empty() {
        output::warn("found no database and no named volume to back up; add them to `backup:` by hand");
    }
    if let Some(old) = &w.backup_of_old {
        output::status(format!("the previous file is kept as `{}`", old.display()));
    }
    output::status("next: review it, then run `ccops config check` and `ccops doctor`");
    Ok(ExitStatus::Success)
}
