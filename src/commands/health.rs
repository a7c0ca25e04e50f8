//! `ccops health`.

use anyhow::Result;

use super::Ctx;
use crate::cli::HealthArgs;
use crate::status::ExitStatus;

pub async fn run(_ctx: &Ctx, _args: HealthArgs) -> Result<ExitStatus> {
    Err(crate::usage!("`ccops health` is not available yet"))
}
