//! `ccops health`: every compose service's containers plus the configured checks of
//! ccops.yaml (http, tcp, tls, disk, backup age), run concurrently, each bounded by its
//! own timeout, so ten checks cost about as long as the slowest one.

mod backup_age;
mod containers;
mod database;
mod disk;
mod drill_age;
pub mod format;
mod http;
pub mod resources;
mod tcp;
mod tls;
mod wal_age;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::compose::Model;
use crate::config::{CheckSpec, Settings};
use crate::docker::Engine;

/// A check's verdict. Ordered: the worst of several is their max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub kind: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(serialize_with = "ser_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// Numbers for nagios perfdata and prometheus (label, value, unit).
    #[serde(skip)]
    pub metrics: Vec<(String, f64, &'static str)>,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// What a check body returns; name, kind and duration are filled in around it.
pub struct Outcome {
    pub status: Status,
    pub detail: String,
    pub metrics: Vec<(String, f64, &'static str)>,
}

impl Outcome {
    pub fn new(status: Status, detail: impl Into<String>) -> Self {
        Outcome { status, detail: detail.into(), metrics: vec![] }
    }

    pub fn metric(mut self, label: impl Into<String>, value: f64, unit: &'static str) -> Self {
        self.metrics.push((label.into(), value, unit));
        self
    }
}

/// All checks of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub project: String,
    pub environment: String,
    pub status: Status,
    pub checked_at: String,
    #[serde(serialize_with = "ser_ms", rename = "duration_ms")]
    pub duration: Duration,
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn failing(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.status != Status::Ok)
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a run of the checks is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `ccops health`: every check, resource pressure included.
    All,
    /// "Is the application back?", asked again and again by deploy's health wait and by
    /// restore before and after: the resource checks are left out. Waiting does not
    /// relieve pressure, a figure that moves would make "passes again" flap, and their
    /// stats sample costs a second or two a round.
    Readiness,
}

/// Run every check once (in `scope`). `engine` is the engine connection, or why there is none.
pub async fn run(settings: &Settings, engine: &Result<Engine, String>, model: &Model, scope: Scope) -> Report {
    let started = Instant::now();
    let checked_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Vec<CheckResult>> + Send + '_>>> =
        Vec::new();

    futures.push(Box::pin(containers::check(settings, engine, model)));
    futures.push(Box::pin(database::check(settings, engine)));
    for spec in &settings.file.health.checks {
        futures.push(Box::pin(async move { vec![timed(spec).await] }));
    }
    if let Some(max_age) = settings.file.health.backup_max_age {
        futures.push(Box::pin(async move {
            let t = Instant::now();
            let o = backup_age::check(settings, max_age);
            vec![finish("backup-age", "backup", t, o)]
        }));
    }
    if let Some(max_age) = settings.file.health.wal_max_age {
        futures.push(Box::pin(async move {
            let t = Instant::now();
            let all = wal_age::check(settings, max_age);
            all.into_iter().map(|(svc, o)| finish(&format!("wal-age-{svc}"), "wal", t, o)).collect()
        }));
    }
    if let Some(max_age) = settings.file.health.drill_max_age {
        futures.push(Box::pin(async move {
            let t = Instant::now();
            vec![finish("drill-age", "drill", t, drill_age::check(settings, max_age))]
        }));
    }
    if scope == Scope::All {
        futures.push(Box::pin(resources::check(settings, engine, model)));
    }
    let checks: Vec<CheckResult> = futures_util::future::join_all(futures).await.into_iter().flatten().collect();
    Report {
        project: settings.project.clone(),
        environment: settings.env_name.clone(),
        status: checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok),
        checked_at,
        duration: started.elapsed(),
        checks,
    }
}

async fn timed(spec: &CheckSpec) -> CheckResult {
    let t = Instant::now();
    let timeout = spec.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let (kind, fut): (&'static str, std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + '_>>) =
        if let Some(url) = &spec.http {
            ("http", Box::pin(http::check(url, spec.expect_status, timeout)))
        } else if let Some(addr) = &spec.tcp {
            ("tcp", Box::pin(tcp::check(addr, timeout)))
        } else if let Some(addr) = &spec.tls {
            ("tls", Box::pin(tls::check(addr, spec.warn_days.unwrap_or(30), spec.critical_days.unwrap_or(7), timeout)))
        } else if let Some(path) = &spec.disk {
            ("disk", Box::pin(async move { disk::check(path, spec.min_free_percent.unwrap_or(10.0)) }))
        } else {
            ("unknown", Box::pin(async { Outcome::new(Status::Fail, "no check kind configured") }))
        };
    // The check's own timeout bounds its I/O; this outer bound catches anything else.
    let o = match tokio::time::timeout(timeout + Duration::from_millis(500), fut).await {
        Ok(o) => o,
        Err(_) => Outcome::new(Status::Fail, format!("no answer within {}", humantime::format_duration(timeout))),
    };
    finish(&spec.name, kind, t, o)
}

fn finish(name: &str, kind: &'static str, t: Instant, o: Outcome) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        kind,
        status: o.status,
        detail: o.detail,
        duration: t.elapsed(),
        metrics: o.metrics,
    }
}
