//! Production-readiness of a running service: memory limit (CMP012), CPU and PIDs limits
//! (CMP013), restart policy (CMP014), healthcheck (CMP015), log rotation (CMP016), and a
//! read-only root filesystem (CMP019). A one-shot job (`restart: "no"`) is not expected
//! to restart or report health.

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::finding::Finding;
use crate::scan::yaml::Node;

fn limits(n: &Node) -> Option<&Node> {
    n.get("deploy")?.get("resources")?.get("limits")
}

fn has(n: Option<&Node>, key: &str) -> bool {
    n.and_then(|n| n.get_some(key)).is_some()
}

/// `restart: "no"` or `deploy.restart_policy.condition: none`: meant to run once.
fn one_shot(n: &Node) -> bool {
    let restart_no = n.get("restart").and_then(Node::as_str).is_some_and(|r| r == "no" || r == "false");
    let policy_none = n
        .get("deploy")
        .and_then(|d| d.get("restart_policy"))
        .and_then(|p| p.get("condition"))
        .and_then(Node::as_str)
        .is_some_and(|c| c == "none");
    restart_no || policy_none
}

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let n = svc.node;
    let name = svc.name;
    let lim = limits(n);
    if !has(lim, "memory") && !has(Some(n), "mem_limit") {
        out.push(cx.at("CMP012", svc.key, svc, format!("service `{name}` has no memory limit")).key("memory"));
    }
    let cpu = has(lim, "cpus") || has(Some(n), "cpus") || has(Some(n), "cpu_quota");
    let pids = has(lim, "pids") || has(Some(n), "pids_limit");
    let missing: Vec<&str> = [(!cpu, "CPU"), (!pids, "PIDs")].into_iter().filter(|(m, _)| *m).map(|(_, w)| w).collect();
    if !missing.is_empty() {
        let what = missing.join(" or ");
        out.push(cx.at("CMP013", svc.key, svc, format!("service `{name}` has no {what} limit")).key("cpu-pids"));
    }
    let once = one_shot(n);
    let restart = has(Some(n), "restart") || n.get("deploy").and_then(|d| d.get_some("restart_policy")).is_some();
    if !restart {
        out.push(cx.at("CMP014", svc.key, svc, format!("service `{name}` has no restart policy")).key("restart"));
    }
    if !once {
        healthcheck(cx, svc, out);
    }
    logging(cx, svc, out);
    match n.entry("read_only") {
        Some((_, v)) if v.is_true() => {}
        Some((k, _)) => {
            out.push(cx.at("CMP019", k, svc, format!("service `{name}` sets `read_only: false`")).key("read_only"))
        }
        None => out.push(
            cx.at("CMP019", svc.key, svc, format!("service `{name}` has a writable root filesystem")).key("read_only"),
        ),
    }
}

/// Whether a `healthcheck:` mapping actually checks something.
fn disabled(h: &Node) -> bool {
    if h.get("disable").is_some_and(Node::is_true) {
        return true;
    }
    match h.get("test") {
        Some(t) => {
            t.as_seq().first().or(Some(t)).and_then(Node::as_str).is_some_and(|s| s.eq_ignore_ascii_case("NONE"))
        }
        None => false,
    }
}

fn healthcheck(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let name = svc.name;
    if let Some((k, h)) = svc.node.entry("healthcheck").filter(|(_, h)| !h.is_null()) {
        if disabled(h) {
            out.push(cx.at("CMP015", k, svc, format!("service `{name}` disables its healthcheck")).key("healthcheck"));
        }
        // A healthcheck without `test` keeps the image's, with new timings.
        if disabled(h) || h.get("test").is_some() {
            return;
        }
    }
    let msg = match cx.build(svc) {
        Some(b) => match cx.dockerfile(&b).and_then(|df| df.last(df.target(b.target.as_deref())?, "HEALTHCHECK")) {
            Some(hc) if !hc.args.trim().eq_ignore_ascii_case("NONE") => return,
            Some(hc) => {
                format!("service `{name}` has no healthcheck and its Dockerfile disables it (line {})", hc.line)
            }
            None if cx.dockerfile(&b).is_none() => {
                format!("service `{name}` has no healthcheck (and its Dockerfile could not be read)")
            }
            None => format!("service `{name}` has no healthcheck, in compose or its Dockerfile"),
        },
        None => {
            let image = svc.node.get("image").and_then(Node::as_str).unwrap_or("its image");
            format!("service `{name}` has no healthcheck (unless `{image}` defines one: see `docker image inspect`)")
        }
    };
    out.push(cx.at("CMP015", svc.key, svc, msg).key("healthcheck"));
}

fn logging(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let entry = svc.node.entry("logging");
    let driver = entry.and_then(|(_, l)| l.get("driver")).and_then(Node::as_str).unwrap_or("json-file");
    if driver != "json-file" {
        return;
    }
    let opts = entry.and_then(|(_, l)| l.get("options"));
    if has(opts, "max-size") {
        return;
    }
    let at = entry.map_or(svc.key, |(k, _)| k);
    out.push(
        cx.at("CMP016", at, svc, format!("service `{}` logs with json-file and no `max-size`", svc.name))
            .key("logging"),
    );
}

#[cfg(test)]
mod tests {
    use crate::scan::rules::testing::scan;

    const HARDENED: &str = "    restart: unless-stopped\n    read_only: true\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n    logging:\n      options: {max-size: 10m, max-file: \"3\"}\n    deploy:\n      resources:\n        limits: {memory: 256m, cpus: \"0.5\", pids: 100}\n";

    #[test]
    fn a_hardened_service_passes_every_runtime_rule() {
        let s = scan(&format!("services:\n  ok:\n    image: x:1\n{HARDENED}"), &[]);
        for rule in ["CMP012", "CMP013", "CMP014", "CMP015", "CMP016", "CMP019"] {
            assert!(s.of(rule).is_empty(), "{rule}: {:?}", s.findings);
        }
    }

    #[test]
    fn cmp012_memory_limit() {
        let yaml = "services:\n  a:\n    image: x:1\n  b:\n    image: x:1\n    mem_limit: 512m\n";
        assert_eq!(scan(yaml, &[]).of("CMP012"), [("a".to_string(), 2)]);
    }

    #[test]
    fn cmp013_cpu_and_pids() {
        let yaml =
            "services:\n  a:\n    image: x:1\n    cpus: 1\n  b:\n    image: x:1\n    cpus: 1\n    pids_limit: 200\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.of("CMP013"), [("a".to_string(), 2)]);
        assert!(s.messages("CMP013")[0].contains("no PIDs limit"));
    }

    #[test]
    fn cmp014_restart_policy() {
        let yaml = "services:\n  a:\n    image: x:1\n  b:\n    image: x:1\n    deploy:\n      restart_policy: {condition: on-failure}\n  job:\n    image: x:1\n    restart: \"no\"\n";
        assert_eq!(scan(yaml, &[]).of("CMP014"), [("a".to_string(), 2)]);
    }

    #[test]
    fn cmp015_healthcheck_in_compose_or_dockerfile() {
        let yaml = "services:\n  none:\n    image: x:1\n  off:\n    image: x:1\n    healthcheck:\n      disable: true\n  str:\n    image: x:1\n    healthcheck:\n      test: curl -f http://localhost/\n  df:\n    build: ./app\n  dfnone:\n    build: ./off\n  job:\n    image: x:1\n    restart: \"no\"\n";
        let files = [
            ("app/Dockerfile", "FROM a:1\nHEALTHCHECK CMD true\n"),
            ("off/Dockerfile", "FROM a:1\nHEALTHCHECK NONE\n"),
        ];
        let s = scan(yaml, &files);
        assert_eq!(s.of("CMP015"), [("none".to_string(), 2), ("off".to_string(), 6), ("dfnone".to_string(), 14)]);
    }

    #[test]
    fn cmp016_log_rotation() {
        let yaml = "services:\n  a:\n    image: x:1\n  b:\n    image: x:1\n    logging:\n      driver: json-file\n      options: {max-file: \"3\"}\n  c:\n    image: x:1\n    logging: {driver: journald}\n";
        assert_eq!(scan(yaml, &[]).of("CMP016"), [("a".to_string(), 2), ("b".to_string(), 6)]);
    }

    #[test]
    fn cmp019_read_only() {
        let yaml = "services:\n  a:\n    image: x:1\n  b:\n    image: x:1\n    read_only: false\n  c:\n    image: x:1\n    read_only: true\n";
        assert_eq!(scan(yaml, &[]).of("CMP019"), [("a".to_string(), 2), ("b".to_string(), 6)]);
    }
}
