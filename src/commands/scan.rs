//! `ccops scan [PATH]`: decide what to scan, run the rules, print the report, and exit 1
//! when an unsuppressed finding is at or above `--fail-on`.

use anyhow::Result;

use super::Ctx;
use crate::cli::ScanArgs;
use crate::output;
use crate::scan::report::Format;
use crate::scan::{self, Target};
use crate::status::ExitStatus;

pub async fn run(ctx: &Ctx, args: ScanArgs) -> Result<ExitStatus> {
    let target =
        Target::resolve(args.path.as_deref(), ctx.global.config.as_deref(), ctx.global.env.as_deref(), &ctx.penv)?;
    let report = scan::run(&target, &scan::Options { image: args.image })?;
    // `--json` asks for one JSON document whatever the command; SARIF is JSON already.
    let format = if ctx.global.json && args.format == Format::Table { Format::Json } else { args.format };
    output::data(scan::report::render(&report, format, args.min_severity, args.fail_on));
    Ok(if report.fails(args.fail_on) { ExitStatus::Failure } else { ExitStatus::Success })
}
