//! `ccops doctor`: the preflight an operator runs before trusting the 2 a.m. cron. Each
//! check is one line, OK, WARN or FAIL, with a fix hint when it is not OK; any FAIL
//! makes the exit status 1.
//!
//! The checks run in order, each feeding the next (no engine: no container checks), and
//! each is bounded in time so a hung engine or store cannot hang the preflight.

mod cron;
mod host;
mod mysql;
mod pitr;
pub mod space;
mod stack;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Level,
    pub detail: String,
    /// What to do about it (absent when OK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { name: name.into(), status: Level::Ok, detail: detail.into(), fix: None }
    }

    pub fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name: name.into(), status: Level::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name: name.into(), status: Level::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// What the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: Level,
    pub checks: Vec<Check>,
}

/// Run every check. `settings` is the loaded config or why it does not load;
/// `engine` is the engine DOCKER_HOST or the Docker context names, for the engine check
/// when there is no config.
pub async fn run(settings: anyhow::Result<Settings>, engine: Option<crate::docker::Endpoint>) -> Report {
    let mut checks = Vec::new();
    let settings = match settings {
        Ok(s) => {
            checks.push(Check::ok(
                "config",
                format!("{} (environment `{}`, project `{}`)", s.config_file.display(), s.env_name, s.project),
            ));
            Some(s)
        }
        Err(e) => {
            checks.push(Check::fail(
                "config",
                format!("{e:#}"),
                "fix the file as the message says (`ccops config check` repeats it); `ccops init` writes a new one",
            ));
            None
        }
    };
    let endpoint = match &settings {
        Some(s) => s.engine.clone(),
        None => engine,
    };
    let engine = stack::engine(&mut checks, endpoint.as_ref()).await;
    let Some(s) = settings else {
        checks.push(stack::compose_without_config().await);
        return report(checks);
    };
    let compose = stack::compose(&mut checks, &s).await;
    let model = match &compose {
        Some(c) => stack::services(&mut checks, &s, c, engine.as_ref()).await,
        None => None,
    };
    let sizes = match (&engine, &model) {
        (Some(e), Some(m)) => stack::tools(&mut checks, &s, e, m).await,
        _ => {
            let b = &s.file.backup;
            if !b.postgres.is_empty() || !b.redis.is_empty() || !b.mysql.is_empty() {
                checks.push(Check::warn(
                    "tools",
                    "not checked: needs the engine and the compose project",
                    "fix the checks above, then run `ccops doctor` again",
                ));
            }
            space::Sizes::default()
        }
    };
    checks.push(space::check(&s, &sizes));
    checks.push(host::backups(&s));
    host::remotes(&mut checks, &s).await;
    checks.push(cron::check(&s).await);
    checks.push(host::notify(&s));
    if let Some(c) = host::metrics(&s) {
        checks.push(c);
    }
    report(checks)
}

fn report(checks: Vec<Check>) -> Report {
    Report { status: checks.iter().map(|c| c.status).max().unwrap_or(Level::Ok), checks }
}

/// The report as lines: `OK    engine    Docker 24.0.7 ...`, a `fix:` line under each
/// line that is not OK.
pub fn render(r: &Report) -> String {
    let width = r.checks.iter().map(|c| c.name.len()).max().unwrap_or(0).max(8);
    let mut out = String::new();
    for c in &r.checks {
        let mut detail = c.detail.lines();
        out.push_str(&format!("{:<5} {:<width$}  {}\n", c.status.word(), c.name, detail.next().unwrap_or_default()));
        for more in detail {
            out.push_str(&format!("{:<5} {:<width$}  {more}\n", "", ""));
        }
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<5} {:<width$}  fix: {fix}\n", "", ""));
        }
    }
    out
}

/// The one-line verdict for stderr.
pub fn summary(r: &Report) -> String {
    let count = |l: Level| r.checks.iter().filter(|c| c.status == l).count();
    let (ok, warn, fail) = (count(Level::Ok), count(Level::Warn), count(Level::Fail));
    match r.status {
        Level::Fail => format!(
            "doctor: {fail} check(s) FAIL, {warn} WARN, {ok} OK: fix the FAIL lines before relying on this host"
        ),
        Level::Warn => format!("doctor: {ok} OK, {warn} WARN: usable; the warnings are worth a look"),
        Level::Ok => format!("doctor: all {ok} checks OK"),
    }
}

/// How long one probe inside a container (a dump tool, a login) may take.
const EXEC_LIMIT: Duration = Duration::from_secs(30);

/// Run `f` for at most `limit`; a timeout is the error `no answer within ...`.
async fn bounded<T>(limit: Duration, f: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("no answer within {}", humantime::format_duration(limit))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lines_with_fix_hints_and_a_verdict() {
        let r = report(vec![
            Check::ok("engine", "Docker 24.0.7"),
            Check::fail("remote s3", "bucket `x` does not exist\nsecond line", "create it"),
            Check::warn("cron", "no entry", "ccops backup schedule"),
        ]);
        assert_eq!(r.status, Level::Fail);
        let text = render(&r);
        assert_eq!(
            text,
            "OK    engine     Docker 24.0.7\nFAIL  remote s3  bucket `x` does not exist\n                 second line\n                 fix: create it\nWARN  cron       no entry\n                 fix: ccops backup schedule\n"
        );
        assert!(summary(&r).starts_with("doctor: 1 check(s) FAIL, 1 WARN, 1 OK"));
        assert_eq!(report(vec![Check::ok("a", "b")]).status, Level::Ok);
    }
}
