//! Secrets in compose files: a literal value for a secret-named variable in `environment:`
//! or `build.args` (SEC001), and a weak default in an interpolation of a secret
//! (SEC002). Findings name the variable, never the value.

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::finding::Finding;
use crate::scan::merge::list_to_map;
use crate::scan::yaml::{Kind, Node};
use crate::syntax::interp;
use crate::syntax::secrets::{is_secret_name, is_weak_value};

/// A value that holds no secret even under a secret-like name.
fn harmless(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    matches!(v.as_str(), "true" | "false" | "yes" | "no" | "on" | "off") || v.starts_with("/run/secrets/")
}

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    if let Some(env) = svc.node.get("environment") {
        literals(cx, svc, env, "environment variable", out);
    }
    if let Some(args) = svc.node.get("build").and_then(|b| b.get("args")) {
        literals(cx, svc, args, "build arg", out);
    }
    weak_defaults(cx, svc, svc.node, None, out);
}

fn literals(cx: &Cx<'_>, svc: &Service<'_>, vars: &Node, what: &str, out: &mut Vec<Finding>) {
    for (k, v) in list_to_map(vars).as_map() {
        let Some(name) = k.as_str() else { continue };
        // `NAME` alone (list form) or `NAME:` with no value passes the shell's value on.
        let Some(value) = v.as_str() else { continue };
        if !is_secret_name(name) || interp::is_only_expr(value) || harmless(value) {
            continue;
        }
        let how = if value.is_empty() { "is set to an empty literal" } else { "has a literal value" };
        out.push(cx.at("SEC001", k, svc, format!("{what} `{name}` {how} in the compose file")).key(name));
    }
}

/// SEC002 anywhere in the service: `${SECRET:-weak}`, or `${X:-weak}` as the value of a
/// secret-named variable.
fn weak_defaults(cx: &Cx<'_>, svc: &Service<'_>, n: &Node, under: Option<&str>, out: &mut Vec<Finding>) {
    match &n.kind {
        Kind::Scalar { text, .. } => {
            for e in interp::references(text) {
                let Some(default) = e.default() else { continue };
                let secret = is_secret_name(e.name) || under.is_some_and(is_secret_name);
                if secret && is_weak_value(default) {
                    let shown = if default.is_empty() {
                        "an empty default".to_string()
                    } else {
                        format!("the weak default `{default}`")
                    };
                    let fix = format!(
                        "Write `${{{}:?must be set}}` so Compose refuses to start without a real value.",
                        e.name
                    );
                    out.push(cx.at("SEC002", n, svc, format!("`${{{}}}` has {shown}", e.name)).key(e.name).fix(fix));
                }
            }
        }
        Kind::Seq(items) => {
            for item in items {
                // `- DB_PASSWORD=${DB_PASSWORD:-changeme}`: the name is in the item.
                let name = item.as_str().and_then(|s| s.split_once('=')).map(|(k, _)| k);
                weak_defaults(cx, svc, item, name.or(under), out);
            }
        }
        Kind::Map(entries) => {
            for (k, v) in entries {
                weak_defaults(cx, svc, v, k.as_str(), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::rules::testing::scan;

    /// One rule: `scan` flags `${NAME:-value}` (SEC002) exactly when a production deploy
    /// refuses that default as NAME's value.
    #[test]
    fn scan_and_deploy_preflight_agree() {
        use crate::deploy::preflight::{effective, weak_secrets};
        let names = ["DB_PASSWORD", "DB_PASS", "SSH_PRIVATEKEY", "MONKEY", "DB_PASSWORD_FILE"];
        let values = ["", "changeme", "redis", "guest", "qwerty", "replace-with-a-real-one", "k8Zq2vLr9XwPmT4a", "x y"];
        let mut flagged = 0;
        for name in names {
            for value in values {
                let yaml =
                    format!("services:\n  a:\n    image: x:1\n    environment:\n      {name}: ${{{name}:-{value}}}\n");
                let scan_flags = !scan(&yaml, &[]).of("SEC002").is_empty();
                let deploy_refuses = !weak_secrets(&effective(&[yaml], &Default::default(), &[])).is_empty();
                assert_eq!(scan_flags, deploy_refuses, "{name}={value:?}");
                flagged += usize::from(scan_flags);
            }
        }
        // Three secret names, each with six weak values.
        assert_eq!(flagged, 18);
    }

    #[test]
    fn sec001_literal_secrets_in_map_and_list_forms() {
        let yaml = "services:\n  a:\n    image: x:1\n    environment:\n      POSTGRES_PASSWORD: hunter2\n      API_TOKEN: ${API_TOKEN}\n      DB_PASSWORD_FILE: /run/secrets/db\n      LOG_LEVEL: debug\n      REDIS_PASSWORD: \"\"\n  b:\n    image: x:1\n    environment:\n      - SECRET_KEY=abc123\n      - GITHUB_TOKEN\n      - JWT_SECRET=${JWT_SECRET:?set it}\n    build:\n      context: .\n      args:\n        NPM_TOKEN: npm_abcdef\n";
        let s = scan(yaml, &[]);
        assert_eq!(
            s.of("SEC001"),
            [("a".to_string(), 5), ("a".to_string(), 9), ("b".to_string(), 13), ("b".to_string(), 19)]
        );
        let msgs = s.messages("SEC001").join("\n");
        assert!(!msgs.contains("hunter2") && !msgs.contains("abc123") && !msgs.contains("npm_abcdef"), "{msgs}");
        assert!(msgs.contains("`POSTGRES_PASSWORD`") && msgs.contains("build arg `NPM_TOKEN`"), "{msgs}");
    }

    #[test]
    fn sec002_weak_defaults() {
        let yaml = "services:\n  a:\n    image: x:1\n    environment:\n      POSTGRES_PASSWORD: ${PG_PW:-postgres}\n      DB_PASSWORD: ${DB_PASSWORD:?must be set}\n      ADMIN_TOKEN: ${ADMIN_TOKEN:-}\n      API_KEY: ${API_KEY:-k8Zq2vLr9XwPmT4a}\n      LOG_LEVEL: ${LOG_LEVEL:-admin}\n    command: [\"--password=${ROOT_PASSWORD:-changeme}\"]\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.lines("SEC002"), [5, 7, 10]);
        let f = s.findings.iter().find(|f| f.rule == "SEC002").unwrap();
        assert!(f.fix.contains("${PG_PW:?must be set}"), "{}", f.fix);
        assert!(s.of("SEC001").is_empty(), "interpolations are not literals: {:?}", s.of("SEC001"));
    }
}
