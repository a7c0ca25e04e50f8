//! `ccops backup`.

use anyhow::Result;

use super::Ctx;
use crate::status::ExitStatus;

pub async fn run(_ctx: &Ctx, _args: crate::cli::BackupArgs) -> Result<ExitStatus> {
    Err(crate::usage!("`ccops backup` is not available yet in this version"))
}
