//! How each service is rolled out, decided from what runs and what is wanted: left alone
//! when nothing changed, start-first when it has replicas and nothing pins its
//! containers (no `container_name`, no fixed host port), stop-first otherwise; and the
//! order, dependencies first, as Compose itself starts them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::compose::Model;

/// What of a service's compose definition decides how it can be replaced.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub container_name: Option<String>,
    pub fixed_host_ports: Vec<String>,
    /// deploy.update_config.order
    pub update_order: Option<String>,
}

impl Shape {
    pub fn of(model: &Model, service: &str) -> Shape {
        model
            .services
            .get(service)
            .map(|s| Shape {
                container_name: s.container_name.clone(),
                fixed_host_ports: s.fixed_host_ports.clone(),
                update_order: s.update_order.clone(),
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Nothing to do.
    Unchanged,
    /// Nothing runs yet: create the containers.
    Start,
    /// Same config and image, another number of containers.
    Scale,
    /// New containers up and healthy before the old ones go.
    StartFirst,
    /// Old containers go, then the new ones start.
    StopFirst,
}

impl Strategy {
    pub fn word(self) -> &'static str {
        match self {
            Strategy::Unchanged => "unchanged",
            Strategy::Start => "start",
            Strategy::Scale => "scale",
            Strategy::StartFirst => "start-first",
            Strategy::StopFirst => "stop-first",
        }
    }
}

/// What runs now, compared with what is wanted.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub running: usize,
    /// Containers that exist but do not run.
    pub stopped: usize,
    /// Some container has another config or image than wanted.
    pub stale: bool,
    /// Why, for the plan (e.g. "image v1.0.0 -> v1.1.0").
    pub change: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServicePlan {
    pub service: String,
    pub replicas: u32,
    pub strategy: Strategy,
    pub reason: String,
}

/// Why a service cannot have more than one container, if it cannot.
pub fn cannot_replicate(svc: &Shape) -> Option<String> {
    if let Some(n) = &svc.container_name {
        return Some(format!("it has `container_name: {n}` (a name only one container can have)"));
    }
    if !svc.fixed_host_ports.is_empty() {
        return Some(format!(
            "it publishes fixed host port(s) {} (only one container can bind each)",
            svc.fixed_host_ports.join(", ")
        ));
    }
    None
}

pub fn decide(name: &str, svc: &Shape, replicas: u32, f: &Facts) -> ServicePlan {
    let plan = |strategy, reason: String| ServicePlan { service: name.to_string(), replicas, strategy, reason };
    if f.running == 0 && f.stopped == 0 {
        if replicas == 0 {
            return plan(Strategy::Unchanged, "scaled to 0".into());
        }
        return plan(Strategy::Start, format!("nothing runs yet: starting {replicas}"));
    }
    if !f.stale || replicas == 0 {
        if f.running == replicas as usize && f.stopped == 0 {
            return plan(Strategy::Unchanged, format!("{} running, nothing changed", f.running));
        }
        return plan(Strategy::Scale, format!("{} running, {replicas} wanted", f.running));
    }
    let change = if f.change.is_empty() { "config changed".to_string() } else { f.change.clone() };
    if f.running == 0 {
        return plan(Strategy::StopFirst, format!("{change}; nothing runs yet"));
    }
    let order = svc.update_order.as_deref();
    if order == Some("stop-first") {
        return plan(Strategy::StopFirst, format!("{change}; deploy.update_config.order is stop-first"));
    }
    if let Some(why) = cannot_replicate(svc) {
        return plan(Strategy::StopFirst, format!("{change}; {why}"));
    }
    if order == Some("start-first") {
        return plan(Strategy::StartFirst, format!("{change}; deploy.update_config.order is start-first"));
    }
    if replicas >= 2 {
        return plan(Strategy::StartFirst, format!("{change}; {replicas} replicas"));
    }
    plan(Strategy::StopFirst, format!("{change}; one replica (set deploy.update_config.order: start-first to overlap)"))
}

/// `depends_on` of every service, from the normalized compose config (map or list form).
pub fn dependencies(config: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(services) = config.get("services").and_then(|s| s.as_object()) else { return out };
    for (name, s) in services {
        let deps = match s.get("depends_on") {
            Some(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            _ => Vec::new(),
        };
        out.insert(name.clone(), deps);
    }
    out
}

/// `services` with dependencies first (ties alphabetical); a cycle keeps the rest in name order.
pub fn order(services: &[String], deps: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let wanted: BTreeSet<&String> = services.iter().collect();
    let mut waiting: BTreeMap<&String, BTreeSet<&String>> = wanted
        .iter()
        .map(|s| (*s, deps.get(*s).map(|d| d.iter().filter(|x| wanted.contains(x)).collect()).unwrap_or_default()))
        .collect();
    let mut out = Vec::new();
    while !waiting.is_empty() {
        let ready: Option<&String> = waiting.iter().find(|(_, d)| d.is_empty()).map(|(s, _)| *s);
        let next = ready.unwrap_or_else(|| *waiting.keys().next().expect("not empty"));
        waiting.remove(next);
        for d in waiting.values_mut() {
            d.remove(next);
        }
        out.push(next.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> Shape {
        Shape::default()
    }

    fn stale(running: usize) -> Facts {
        Facts { running, stopped: 0, stale: true, change: "image a -> b".into() }
    }

    #[test]
    fn unchanged_and_scaled_services() {
        let f = Facts { running: 2, ..Default::default() };
        assert_eq!(decide("b", &svc(), 2, &f).strategy, Strategy::Unchanged);
        assert_eq!(decide("b", &svc(), 3, &f).strategy, Strategy::Scale);
        assert_eq!(decide("b", &svc(), 0, &stale(2)).strategy, Strategy::Scale);
        let f = Facts { running: 1, stopped: 1, ..Default::default() };
        assert_eq!(decide("b", &svc(), 2, &f).strategy, Strategy::Scale);
    }

    #[test]
    fn replicated_services_go_start_first_unless_pinned() {
        assert_eq!(decide("b", &svc(), 2, &stale(2)).strategy, Strategy::StartFirst);
        assert_eq!(decide("b", &svc(), 1, &stale(1)).strategy, Strategy::StopFirst);
        let named = Shape { container_name: Some("x".into()), ..svc() };
        let p = decide("b", &named, 2, &stale(2));
        assert_eq!(p.strategy, Strategy::StopFirst);
        assert!(p.reason.contains("container_name"), "{}", p.reason);
        let ported = Shape { fixed_host_ports: vec!["8080".into()], update_order: Some("start-first".into()), ..svc() };
        assert_eq!(decide("b", &ported, 2, &stale(2)).strategy, Strategy::StopFirst);
        let asked = Shape { update_order: Some("start-first".into()), ..svc() };
        assert_eq!(decide("b", &asked, 1, &stale(1)).strategy, Strategy::StartFirst);
        let stop = Shape { update_order: Some("stop-first".into()), ..svc() };
        assert_eq!(decide("b", &stop, 3, &stale(3)).strategy, Strategy::StopFirst);
        assert_eq!(decide("b", &svc(), 2, &stale(0)).strategy, Strategy::Start);
        let gone = Facts { running: 0, stopped: 1, ..stale(0) };
        assert_eq!(decide("b", &svc(), 1, &gone).strategy, Strategy::StopFirst);
    }

    #[test]
    fn orders_dependencies_first() {
        let cfg = serde_json::json!({"services": {
            "backend": {"depends_on": {"postgres": {}, "redis": {}}},
            "worker": {"depends_on": ["redis"]},
            "postgres": {}, "redis": {}, "proxy": {}
        }});
        let deps = dependencies(&cfg);
        let all: Vec<String> =
            ["worker", "backend", "redis", "proxy", "postgres"].iter().map(|s| s.to_string()).collect();
        assert_eq!(order(&all, &deps), ["postgres", "proxy", "redis", "backend", "worker"]);
        let some: Vec<String> = vec!["worker".into(), "backend".into()];
        assert_eq!(order(&some, &deps), ["backend", "worker"]);
    }
}
