//! `ccops restore`.

use anyhow::Result;

use super::Ctx;
use crate::status::ExitStatus;

pub async fn run(_ctx: &Ctx, _args: crate::cli::RestoreArgs) -> Result<ExitStatus> {
    Err(crate::usage!("`ccops restore` is not available yet in this version"))
}
