//! Secrets in compose files: a literal value for a secret-named variable in `environment:`
//! or `build.args` (SEC001), and a weak default in an interpolation of a secret
//! (SEC002). Findings name the variable, never the value.

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::finding::Finding;
use crate::scan::interp;
use crate::scan::merge::list_to_map;
use crate::scan::yaml::{Kind, Node};

/// Suffixes that make a name about a secret rather than the secret itself
/// (`DB_PASSWORD_FILE` is the recommended way to pass one).
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "_FILE",
    "_PATH",
    "_DIR",
    "_URL",
    "_URI",
    "_HOST",
    "_PORT",
    "_NAME",
    "_ID",
    "_LENGTH",
    "_TTL",
    "_EXPIRY",
    "_EXPIRES",
    "_EXPIRE",
    "_LIFETIME",
    "_TIMEOUT",
    "_ALGORITHM",
    "_TYPE",
    "_HEADER",
    "_ENABLED",
    "_REQUIRED",
    "_SIZE",
    "_ROTATION",
    "_ISSUER",
    "_AUDIENCE",
];

/// Defaults nobody should deploy with.
const WEAK: &[&str] = &[
    "",
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "password",
    "passw0rd",
    "p@ssw0rd",
    "admin",
    "administrator",
    "root",
    "postgres",
    "mysql",
    "secret",
    "123456",
    "12345678",
    "1234",
    "test",
    "default",
    "example",
    "guest",
    "letmein",
    "qwerty",
    "pass",
];

/// A name that says it holds a secret: PASSWORD, SECRET or TOKEN in it, or a word ending in
/// KEY (API_KEY, APIKEY, SECRET_KEY_BASE), unless it names where the secret is.
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    if NOT_SECRET_SUFFIXES.iter().any(|s| up.ends_with(s)) || up.contains("PUBLIC") {
        return false;
    }
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN"].iter().any(|w| up.contains(w))
        || up.split(['_', '-', '.']).any(|part| part.ends_with("KEY") || part == "KEYS")
}

pub fn is_weak(value: &str) -> bool {
    WEAK.contains(&value.trim().to_ascii_lowercase().as_str())
}

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
            for e in interp::exprs(text) {
                let Some(default) = &e.default else { continue };
                let secret = is_secret_name(&e.name) || under.is_some_and(is_secret_name);
                if secret && is_weak(default) {
                    let shown = if default.is_empty() {
                        "an empty default".to_string()
                    } else {
                        format!("the weak default `{default}`")
                    };
                    let fix = format!(
                        "Write `${{{}:?must be set}}` so Compose refuses to start without a real value.",
                        e.name
                    );
                    out.push(
                        cx.at("SEC002", n, svc, format!("`${{{}}}` has {shown}", e.name)).key(e.name.clone()).fix(fix),
                    );
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
    use super::*;
    use crate::scan::rules::testing::scan;

    #[test]
    fn secret_names() {
        for n in [
            "DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "SECRET_KEY",
            "API_KEY",
            "APIKEY",
            "GITHUB_TOKEN",
            "jwt_secret",
            "SECRET_KEY_BASE",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "POSTGRES_PASSWORD_FILE",
            "KEYCLOAK_URL",
            "TOKEN_TTL",
            "PUBLIC_KEY",
            "DB_HOST",
            "MONKEYS_ALLOWED",
            "AWS_ACCESS_KEY_ID",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
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
