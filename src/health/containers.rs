//! The container checks: for every compose service, its containers' state, restart
//! count and Docker health status, and the expected against the running replicas. In a
//! Swarm stack: its running tasks' containers against the replicas the Swarm service
//! wants, with the error of its newest failed task.

use std::time::Instant;

use super::{CheckResult, Outcome, Status, finish};
use crate::compose::Model;
use crate::config::Settings;
use crate::docker::{Container, Engine};

pub async fn check(settings: &Settings, engine: &Result<Engine, String>, model: &Model) -> Vec<CheckResult> {
    let t = Instant::now();
    let engine = match engine {
        Ok(e) => e,
        Err(why) => return vec![finish("docker", "engine", t, Outcome::new(Status::Fail, why.clone()))],
    };
    let all = match engine.containers(&settings.project, None).await {
        Ok(c) => c,
        Err(e) => return vec![finish("docker", "engine", t, Outcome::new(Status::Fail, format!("{e:#}")))],
    };
    let desired = crate::state::desired_scale(settings);
    // In a Swarm stack: what each service wants, from Swarm, and why its tasks failed.
    let mut swarm = std::collections::BTreeMap::new();
    if engine.is_swarm() {
        for name in model.services.keys() {
            swarm.insert(name.clone(), engine.stack_service(name).await.unwrap_or_default());
        }
    }
    model
        .services
        .iter()
        // A service behind a profile is checked when it was started (it has containers).
        .filter(|(name, s)| s.profiles.is_empty() || all.iter().any(|c| &c.service == *name))
        .map(|(name, svc)| {
            let tasks = swarm.get(name);
            let expected =
                tasks.and_then(|t| t.desired).unwrap_or_else(|| desired.get(name).copied().unwrap_or(svc.replicas));
            let mine: Vec<&Container> = all.iter().filter(|c| &c.service == name).collect();
            let mut outcome = judge(expected, &mine);
            if let Some(e) = tasks.and_then(|t| t.last_error.as_ref()).filter(|_| outcome.status == Status::Fail) {
                outcome.detail = format!("{}; last task error: {e}", outcome.detail);
            }
            finish(name, "service", t, outcome)
        })
        .collect()
}

/// The verdict on one service's containers.
pub fn judge(expected: u32, containers: &[&Container]) -> Outcome {
    let running: Vec<&&Container> = containers.iter().filter(|c| c.is_running()).collect();
    let restarts: i64 = containers.iter().map(|c| c.restart_count).sum();
    let unhealthy = running.iter().filter(|c| c.health.as_deref() == Some("unhealthy")).count();
    let starting = running.iter().filter(|c| c.health.as_deref() == Some("starting")).count();
    let mut parts = vec![format!("{}/{} running", running.len(), expected)];
    let mut status = Status::Ok;
    if expected == 0 && containers.is_empty() {
        return Outcome::new(Status::Ok, "scaled to 0").metric("running", 0.0, "");
    }
    if (running.len() as u32) < expected {
        status = Status::Fail;
        let down: Vec<String> = containers
            .iter()
            .filter(|c| !c.is_running())
            .map(|c| match c.exit_code {
                Some(code) if c.state == "exited" => format!("{} exited ({code})", c.name),
                _ => format!("{} {}", c.name, c.state),
            })
            .collect();
        if containers.is_empty() {
            parts.push("no container (not started?)".into());
        } else if !down.is_empty() {
            parts.push(down.join(", "));
        }
    }
    if unhealthy > 0 {
        status = Status::Fail;
        parts.push(format!("{unhealthy} unhealthy"));
    } else if starting > 0 {
        status = status.max(Status::Warn);
        parts.push(format!("{starting} starting"));
    } else if !running.is_empty() && running.iter().all(|c| c.health.is_some()) {
        parts.push("healthy".into());
    }
    if restarts > 0 {
        parts.push(format!("{restarts} restarts"));
    }
    if containers.iter().any(|c| c.state == "restarting") {
        status = Status::Fail;
        parts.push("restarting".into());
    }
    Outcome::new(status, parts.join(", ")).metric("running", running.len() as f64, "").metric(
        "restarts",
        restarts as f64,
        "c",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(state: &str, health: Option<&str>) -> Container {
        Container {
            id: "x".into(),
            name: "p-db-1".into(),
            service: "db".into(),
            number: 1,
            image: "i".into(),
            state: state.into(),
            health: health.map(String::from),
            restart_count: 0,
            exit_code: Some(137),
        }
    }

    #[test]
    fn judges_states() {
        assert_eq!(judge(1, &[&c("running", Some("healthy"))]).status, Status::Ok);
        assert_eq!(judge(1, &[&c("running", None)]).status, Status::Ok);
        assert_eq!(judge(1, &[&c("running", Some("starting"))]).status, Status::Warn);
        assert_eq!(judge(1, &[&c("running", Some("unhealthy"))]).status, Status::Fail);
        let o = judge(1, &[&c("exited", None)]);
        assert_eq!(o.status, Status::Fail);
        assert!(o.detail.contains("p-db-1 exited (137)"), "{}", o.detail);
        assert_eq!(judge(2, &[&c("running", None)]).status, Status::Fail);
        assert_eq!(judge(1, &[]).status, Status::Fail);
    }
}
