//! Rules on what a container may do to its host: privileged (CMP001), the Docker socket
//! (CMP002), sensitive bind mounts (CMP003), host namespaces (CMP004), capabilities
//! (CMP005), disabled security profiles (CMP006), no-new-privileges (CMP007).

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::finding::Finding;
use crate::scan::yaml::Node;
use crate::syntax::interp;

const DANGEROUS_CAPS: &[&str] =
    &["ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH"];

/// Host paths whose mount exposes the host: exactly these...
const SENSITIVE_EXACT: &[&str] =
    &["/", "/etc", "/root", "/proc", "/sys", "/var/lib/docker", "/boot", "/etc/shadow", "/etc/sudoers", "/etc/ssh"];
/// ...and anything under these.
const SENSITIVE_TREES: &[&str] = &["/root/", "/proc/", "/sys/", "/var/lib/docker/", "/etc/ssh/", "/etc/sudoers.d/"];

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let n = svc.node;
    if let Some((k, v)) = n.entry("privileged") {
        if v.is_true() {
            out.push(
                cx.at("CMP001", k, svc, format!("service `{}` runs with `privileged: true`", svc.name))
                    .key("privileged"),
            );
        }
    }
    for item in n.get("volumes").map(Node::as_seq).unwrap_or_default() {
        volume(cx, svc, item, out);
    }
    for key in ["network_mode", "pid", "ipc", "userns_mode", "uts"] {
        if let Some((k, v)) = n.entry(key) {
            if v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("host")) {
                out.push(
                    cx.at("CMP004", k, svc, format!("`{key}: host` shares the host's namespace with the container"))
                        .key(key),
                );
            }
        }
    }
    for item in n.get("cap_add").map(Node::as_seq).unwrap_or_default() {
        let Some(cap) = item.as_str() else { continue };
        let norm = cap.trim().to_ascii_uppercase();
        let norm = norm.strip_prefix("CAP_").unwrap_or(&norm);
        if DANGEROUS_CAPS.contains(&norm) {
            out.push(
                cx.at("CMP005", item, svc, format!("`cap_add: {cap}` grants a capability that can take over the host"))
                    .key(norm),
            );
        }
    }
    security_opt(cx, svc, out);
}

/// Source and target of a volume entry, defaults read for `${VAR:-x}`, for bind mounts.
fn bind_source(item: &Node) -> Option<(String, bool)> {
    if let Some(s) = item.as_str() {
        let s = interp::resolve(s).text;
        let mut parts = s.splitn(3, ':');
        let src = parts.next()?.to_string();
        let _target = parts.next()?;
        let ro = parts.next().is_some_and(|m| m.split(',').any(|o| o == "ro"));
        // A named volume has no slash and does not start with `.` or `~`.
        if src.starts_with('/') || src.starts_with('.') || src.starts_with('~') {
            return Some((src, ro));
        }
        return None;
    }
    let kind = item.get("type").and_then(Node::as_str).unwrap_or("volume");
    if kind != "bind" {
        return None;
    }
    let src = interp::resolve(item.get("source").and_then(Node::as_str)?).text;
    Some((src, item.get("read_only").is_some_and(Node::is_true)))
}

fn normalize(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() }
}

fn volume(cx: &Cx<'_>, svc: &Service<'_>, item: &Node, out: &mut Vec<Finding>) {
    let Some((src, ro)) = bind_source(item) else { return };
    let path = normalize(&src);
    let ro_note = if ro { " (read-only does not make it safe)" } else { "" };
    if path.ends_with("/docker.sock") || path.ends_with("/docker.sock.raw") {
        out.push(
            cx.at("CMP002", item, svc, format!("the Docker socket `{path}` is mounted into the container{ro_note}"))
                .key(path),
        );
        return;
    }
    let under = format!("{path}/");
    if SENSITIVE_EXACT.contains(&path.as_str()) || SENSITIVE_TREES.iter().any(|t| under.starts_with(t)) {
        let note = if ro { "" } else { ", writable" };
        out.push(cx.at("CMP003", item, svc, format!("host path `{path}` is bind-mounted{note}")).key(path));
    }
}

fn security_opt(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let entry = svc.node.entry("security_opt");
    let mut nnp = None;
    for item in entry.map(|(_, v)| v.as_seq()).unwrap_or_default() {
        let Some(opt) = item.as_str() else { continue };
        let (name, value) = opt.split_once([':', '=']).unwrap_or((opt, ""));
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match (name.as_str(), value.as_str()) {
            ("seccomp" | "apparmor" | "systempaths", "unconfined") | ("label", "disable") => {
                out.push(
                    cx.at("CMP006", item, svc, format!("`security_opt: {opt}` disables a kernel confinement"))
                        .key(name),
                );
            }
            ("no-new-privileges", v) => nnp = Some((v != "false", item)),
            _ => {}
        }
    }
    match nnp {
        Some((true, _)) => {}
        Some((false, item)) => out.push(
            cx.at("CMP007", item, svc, format!("service `{}` turns no-new-privileges off", svc.name))
                .key("no-new-privileges"),
        ),
        None => out.push(
            cx.at("CMP007", svc.key, svc, format!("service `{}` does not set no-new-privileges", svc.name))
                .key("no-new-privileges"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::rules::testing::scan;

    #[test]
    fn cmp001_privileged() {
        let s = scan(
            "services:\n  a:\n    image: x:1\n    privileged: true\n  b:\n    image: x:1\n    privileged: false\n",
            &[],
        );
        assert_eq!(s.of("CMP001"), [("a".to_string(), 4)]);
    }

    #[test]
    fn cmp002_docker_socket_short_and_long_syntax() {
        let yaml = "services:\n  a:\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n      - type: bind\n        source: /run/docker.sock\n        target: /s\n  b:\n    volumes: [\"data:/var/run\", \"./docker.sock.txt:/x\"]\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.lines("CMP002"), [4, 5]);
        assert!(s.messages("CMP002")[0].contains("read-only does not make it safe"));
    }

    #[test]
    fn cmp003_sensitive_host_paths() {
        let yaml = "services:\n  a:\n    volumes:\n      - /:/host:ro\n      - /etc:/host-etc\n      - /proc:/host/proc:ro\n      - /var/lib/docker/volumes:/v\n      - /etc/localtime:/etc/localtime:ro\n      - ./data:/data\n      - /srv/app:/app\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.lines("CMP003"), [4, 5, 6, 7]);
    }

    #[test]
    fn cmp004_host_namespaces() {
        let yaml = "services:\n  a:\n    network_mode: host\n    pid: host\n  b:\n    network_mode: \"service:a\"\n    ipc: shareable\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.of("CMP004"), [("a".to_string(), 3), ("a".to_string(), 4)]);
    }

    #[test]
    fn cmp005_dangerous_capabilities() {
        let yaml = "services:\n  a:\n    cap_add:\n      - CAP_SYS_ADMIN\n      - net_admin\n      - NET_BIND_SERVICE\n  b:\n    cap_add: [CHOWN]\n";
        assert_eq!(scan(yaml, &[]).lines("CMP005"), [4, 5]);
    }

    #[test]
    fn cmp006_and_cmp007_security_opt() {
        let yaml = "services:\n  a:\n    security_opt:\n      - seccomp:unconfined\n      - label=disable\n  b:\n    security_opt: [\"no-new-privileges:true\", \"apparmor=docker-default\"]\n  c:\n    security_opt: [\"no-new-privileges:false\"]\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.lines("CMP006"), [4, 5]);
        assert_eq!(s.of("CMP007"), [("a".to_string(), 2), ("c".to_string(), 9)]);
    }
}
