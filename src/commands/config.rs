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
            // The compose files must load and name every service ccops.yaml refers to.
            let compose = crate::compose::Compose::detect(&settings).await?;
            let model = compose.model().await.map_err(|e| crate::usage!("{e:#}"))?;
            crate::project::validate_services(&settings, &model)?;
            output::debug(format!("compose services: {}", model.services.keys().cloned().collect::<Vec<_>>().join(", ")));
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
