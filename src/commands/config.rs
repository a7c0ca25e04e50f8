//! `ccops config check | show`.

use anyhow::Result;

use super::Ctx;
use crate::cli::{ConfigArgs, ConfigCommand};
use crate::output;
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: ConfigArgs) -> Result<ExitStatus> {
    let settings = ctx.settings(None)?;
    match args.command {
        ConfigCommand::Show => {
            if output::json_mode() {
                output::json(&settings.display);
            } else {
                output::data(serde_yaml::to_string(&settings.display).unwrap_or_default());
            }
            Ok(ExitStatus::Success)
        }
        ConfigCommand::Check => {
            // Every check a command makes of ccops.yaml before it acts, by the same code:
            // loading it checked the keys and their types; `migrate:` as deploy and migrate judge it.
            crate::deploy::migrate::mode(&settings)?;
            // The compose files must load and name every service ccops.yaml refers to.
            let compose = crate::compose::Compose::detect(&settings.compose_setup()).await?;
            let model = compose.model().await.map_err(|e| crate::usage!("{e:#}"))?;
            crate::project::validate_services(&settings, &model)?;
            for w in crate::backup::wal::settings::check(&settings)? {
                output::warn(w);
            }
            let missing: Vec<&str> = settings
                .env
                .required_variables
                .iter()
                .filter(|v| settings.vars.get(v).is_none_or(|x| x.trim().is_empty()))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(crate::usage!(
                    "environment `{}` requires {} but {} not set or empty; set them in the environment or `{}`",
                    settings.env_name,
                    missing.join(", "),
                    if missing.len() == 1 { "it is" } else { "they are" },
                    settings.env_file.as_ref().map_or("the env file".to_string(), |p| p.display().to_string())
                ));
            }
            output::debug(format!(
                "compose services: {}",
                model.services.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            if output::json_mode() {
                output::json(&serde_json::json!({
                    "valid": true,
                    "config": settings.config_file,
                    "project": settings.project,
                    "environment": settings.env_name,
                    "compose": format!("{:?}", compose.flavour),
                    "services": model.services.keys().collect::<Vec<_>>(),
                }));
            }
            output::status(format!(
                "{}: valid (project `{}`, environment `{}`)",
                settings.config_file.display(),
                settings.project,
                settings.env_name
            ));
            Ok(ExitStatus::Success)
        }
    }
}
