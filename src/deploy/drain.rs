//! Taking replicas out of service so that a proxy in front of them loses no request
//! (`deploy.drain`, docs/commands/deploy.md "Draining").
//!
//! A proxy that follows Docker's DNS (nginx `resolver ... valid=1s`, HAProxy `resolvers`,
//! Caddy `dynamic a`) keeps the addresses of a service name for a second or so. A
//! container's address answers with a refusal while its app stops (the proxy retries
//! elsewhere at once), but the moment the container has stopped the address is gone from
//! the network: a connection to it is neither accepted nor refused, it hangs until the
//! proxy's connect timeout. Docker takes a container out of the name only as it takes its
//! address away (a network disconnect does both at once, and breaks the requests in
//! flight too), so ccops cannot hide a replica from the name first. What it can order:
//!   1. new replicas have been in the name for `drain` before any old one goes, so every
//!      proxy knows somewhere else to retry;
//!   2. old replicas go one at a time: the stop signal (the app refuses new connections
//!      and finishes those in flight), the container stops and is removed;
//!   3. `drain` passes before the next one goes, so a proxy has re-resolved the name and
//!      holds at most one address that has vanished: a request pays at most one connect
//!      timeout (short on a local network) before its retry, instead of one per replica.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::docker::{Container, Engine};
use crate::output;

/// Seconds the stop signal gets before SIGKILL, for replicas that are replaced.
pub const GRACE_S: i32 = 30;

/// Wait until `since` (when new replicas joined the name) is `drain` ago.
pub async fn settle(since: Instant, drain: Duration) {
    let left = drain.saturating_sub(since.elapsed());
    if !left.is_zero() {
        output::debug(format!("  waiting {} for proxies to learn the new replicas", crate::util::human_duration(left)));
        tokio::time::sleep(left).await;
    }
}

/// Stop and remove `victims` one at a time, `drain` apart (see the module comment).
/// Every one is tried; the first error is returned after the rest went.
pub async fn retire(engine: &Engine, victims: &[&Container], drain: Duration, grace_s: i32) -> Result<()> {
    let mut first: Option<anyhow::Error> = None;
    for (i, c) in victims.iter().enumerate() {
        if i > 0 && !drain.is_zero() {
            tokio::time::sleep(drain).await;
        }
        output::debug(format!("  stopping {} (replica {})", c.name, c.number));
        let r = match engine.stop(&c.id, grace_s).await {
            Ok(()) => engine.remove(&c.id).await,
            Err(e) => engine.remove(&c.id).await.map_err(|_| e),
        };
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// The running replicas a scale-down to `keep` removes: the highest numbers, as Compose
/// itself would pick.
pub fn surplus(running: &[Container], keep: usize) -> Vec<&Container> {
    let mut by_number: Vec<&Container> = running.iter().filter(|c| c.is_running()).collect();
    by_number.sort_by_key(|c| std::cmp::Reverse(c.number));
    let extra = by_number.len().saturating_sub(keep);
    by_number.into_iter().take(extra).collect()
}

/// Before a scale-down of `service` to `keep`: drain the surplus replicas away, so that
/// Compose's `--scale` then finds exactly `keep` and stops nothing itself (it would stop
/// them all at once).
pub async fn scale_down(engine: &Engine, project: &str, service: &str, keep: u32, drain: Duration) -> Result<()> {
    let all = super::containers(engine, project, Some(service)).await?;
    let gone = surplus(&all, keep as usize);
    if gone.is_empty() {
        return Ok(());
    }
    output::status(format!(
        "  {service}: draining {} replica(s) one at a time ({} apart)",
        gone.len(),
        crate::util::human_duration(drain)
    ));
    retire(engine, &gone, drain, GRACE_S).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(number: u32, state: &str) -> Container {
        Container {
            id: format!("id{number}"),
            name: format!("p-backend-{number}"),
            service: "backend".into(),
            number,
            image: "i".into(),
            state: state.into(),
            health: None,
            restart_count: 0,
            exit_code: None,
        }
    }

    #[test]
    fn surplus_takes_the_highest_running_numbers() {
        let all = vec![c(1, "running"), c(3, "running"), c(2, "running"), c(4, "exited")];
        let names: Vec<u32> = surplus(&all, 1).iter().map(|c| c.number).collect();
        assert_eq!(names, [3, 2]);
        assert!(surplus(&all, 3).is_empty());
        assert_eq!(surplus(&all, 0).len(), 3);
    }
}
