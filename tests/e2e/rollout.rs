//! Zero-downtime rollouts under a strict client: a thread asks the example's nginx proxy
//! for /health every 20 ms, on a fresh connection each time, and gives a request 2 s in
//! all; it counts every refusal, timeout and 5xx. Through a deploy (start-first, three
//! replicas drained one at a time), a failed deploy whose new replicas are taken away
//! again, a rollback and a scale-down 3 -> 1, it must see none.

use std::time::Duration;

use crate::stack::{Flavour, Stack};
use crate::support::StrictClient;

const PASSWORD: &str = "k8Jq2vX0pLm3Zr7wQ4tY";
#[test]
fn strict_client_sees_no_failure_through_deploy_failed_deploy_rollback_and_scale_down() {
    let s = Stack::new("strict", Flavour::V2);
    s.set_env("DB_PASSWORD", PASSWORD);
    // The backups before each deploy are not what this test is about: keep it quicker.
    s.edit("ccops.yaml", "  backup_before: true", "  backup_before: false");
    s.start();
    s.ccops(&["deploy", "production", "v1.0.0"]).code(0);
    s.ccops(&["scale", "production", "backend=3"]).code(0).stderr_has("backend: 3 ready");

    let phases = ["deploy v1.1.0", "failed deploy v1.2.0", "rollback", "scale 3->1"];
    let client = StrictClient::start(s.proxy_port, phases.len());
    std::thread::sleep(Duration::from_millis(500));
    let deploy = s.ccops(&["deploy", "production", "v1.1.0"]);
    client.phase(1);
    let failed = s.ccops(&["deploy", "production", "v1.2.0"]);
    client.phase(2);
    let rollback = s.ccops(&["rollback", "production"]);
    client.phase(3);
    let scale = s.ccops(&["scale", "production", "backend=1"]);
    std::thread::sleep(Duration::from_millis(1500));
    let seen = client.finish();

    deploy.code(0).stderr_has("start-first").stderr_has("draining the 3 old one(s) one at a time");
    failed.code(1).stderr_has("is unhealthy").stderr_has("v1.1.0 (release #2) is still serving");
    rollback.code(0).stderr_has("rolled back `production` to v1.0.0");
    scale.code(0).stderr_has("draining 2 replica(s) one at a time");
    crate::support::assert_no_failure(&phases, &seen);
    assert_eq!(s.containers_of("backend").len(), 1, "{:?}", s.containers_of("backend"));
}
