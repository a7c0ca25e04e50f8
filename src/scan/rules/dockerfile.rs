//! Dockerfile rules: root user (DKF001), secrets in ENV/ARG (DKF002), credential files
//! copied in (DKF003), floating base images (DKF004), ADD of local files (DKF005) and
//! EXPOSE 22 (DKF006). Each Dockerfile is checked once per build target that uses it.

use std::collections::BTreeMap;
use std::path::Path;

use super::envfiles::is_template;
use super::image::is_root_user;
use crate::scan::dockerfile::{Dockerfile, Instruction, pairs, split_words, substitute};
use crate::scan::finding::Finding;
use crate::syntax::imageref::ImageRef;
use crate::syntax::interp;
use crate::syntax::secrets::is_secret_name;

const ARCHIVES: &[&str] = &[".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"];
const CREDENTIAL_NAMES: &[&str] = &[
    ".env",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    "credentials",
    "credentials.json",
];

fn is_credential(source: &str) -> bool {
    let name = source.trim_end_matches('/').rsplit('/').next().unwrap_or(source);
    if is_template(name) {
        return false;
    }
    CREDENTIAL_NAMES.contains(&name) || name.starts_with(".env.") || name.ends_with(".pem") || name.ends_with(".key")
}

/// Source words of COPY/ADD (flags, heredocs and the destination left out), or None for
/// a copy from another stage or image.
fn sources(ins: &Instruction) -> Option<Vec<String>> {
    let words = split_words(&ins.args);
    if words.iter().any(|w| w.starts_with("--from")) {
        return None;
    }
    let mut words: Vec<String> = words.into_iter().filter(|w| !w.starts_with("--") && !w.starts_with("<<")).collect();
    words.pop();
    Some(words)
}

pub fn check(
    path: &Path,
    df: &Dockerfile,
    target: Option<&str>,
    build_args: &BTreeMap<String, String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = |id: &'static str, line: usize, msg: String| Finding::new(id, path, line, 1, msg);
    if let Some(stage) = df.target(target) {
        match df.last(stage, "USER") {
            None => out.push(
                at("DKF001", df.stages[stage].from_line, "the final stage has no USER: it runs as root".into())
                    .key("user"),
            ),
            Some(u) if is_root_user(&u.args) => {
                out.push(at("DKF001", u.line, format!("`USER {}` is the last user", u.args)).key("user"))
            }
            Some(_) => {}
        }
    }
    let vars = df.arg_values(build_args);
    for (i, stage) in df.stages.iter().enumerate() {
        if !df.base_is_internal(i) {
            if let Some(image) = substitute(&stage.from, &vars) {
                if ImageRef::parse(&image).is_floating() && !image.eq_ignore_ascii_case("scratch") {
                    let msg = format!("base image `{image}` is untagged or `latest`");
                    out.push(at("DKF004", stage.from_line, msg).key(format!("from:{}", stage.from)));
                }
            }
        }
    }
    let all = df.global_args.iter().chain(df.stages.iter().flat_map(|s| s.instructions.iter()));
    for ins in all {
        match ins.cmd.as_str() {
            "ENV" | "ARG" => {
                for (name, value) in pairs(&ins.cmd, &ins.args) {
                    let Some(value) = value.filter(|v| !v.is_empty()) else { continue };
                    if is_secret_name(&name) && !interp::is_only_expr(&value) {
                        let msg = format!("{} `{name}` has a literal value", ins.cmd);
                        out.push(at("DKF002", ins.line, msg).key(name));
                    }
                }
            }
            "COPY" | "ADD" => {
                let Some(srcs) = sources(ins) else { continue };
                for s in srcs.iter().filter(|s| is_credential(s)) {
                    out.push(
                        at("DKF003", ins.line, format!("{} copies the credential file `{s}` into the image", ins.cmd))
                            .key(s.clone()),
                    );
                }
                let local: Vec<&String> = srcs
                    .iter()
                    .filter(|s| {
                        !s.contains("://") && !s.starts_with("git@") && !ARCHIVES.iter().any(|a| s.ends_with(a))
                    })
                    .collect();
                if ins.cmd == "ADD" && !local.is_empty() {
                    let list = local.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
                    out.push(at("DKF005", ins.line, format!("`ADD {list}` copies local files; use COPY")).key(list));
                }
            }
            "EXPOSE" => {
                let ssh = split_words(&ins.args).into_iter().any(|p| p.split('/').next() == Some("22"));
                if ssh {
                    out.push(at("DKF006", ins.line, "EXPOSE 22: the image runs an SSH server".into()).key("expose:22"));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Vec<(String, usize)> {
        check(Path::new("Dockerfile"), &Dockerfile::parse(text), None, &BTreeMap::new())
            .into_iter()
            .map(|f| (f.rule, f.line))
            .collect()
    }

    fn has(text: &str, rule: &str) -> Vec<usize> {
        run(text).into_iter().filter(|(r, _)| r == rule).map(|(_, l)| l).collect()
    }

    #[test]
    fn dkf001_root_user() {
        assert_eq!(has("FROM a:1\nRUN x\n", "DKF001"), [1]);
        assert_eq!(has("FROM a:1\nUSER app\nUSER root\n", "DKF001"), [3]);
        assert!(has("FROM a:1 AS b\nUSER 10001\nFROM b\nRUN x\n", "DKF001").is_empty());
        assert!(has("FROM a:1\nUSER app:app\n", "DKF001").is_empty());
    }

    #[test]
    fn dkf002_secrets_in_env_and_arg() {
        let df = "ARG NPM_TOKEN=npm_abc\nFROM a:1\nARG GITHUB_TOKEN\nENV DB_PASSWORD=hunter2 LOG_LEVEL=info\nENV API_KEY=${API_KEY}\nENV SECRET_KEY_FILE=/run/secrets/k\nUSER app\n";
        assert_eq!(has(df, "DKF002"), [1, 4]);
    }

    #[test]
    fn dkf003_credential_files() {
        let df = "FROM a:1\nCOPY .env /app/.env\nCOPY --chown=app id_rsa certs/server.pem /keys/\nCOPY .env.example requirements.txt /app/\nCOPY --from=build /app/.npmrc /x\nUSER app\n";
        assert_eq!(has(df, "DKF003"), [2, 3, 3]);
    }

    #[test]
    fn dkf004_floating_base_images() {
        let df = "ARG V=3.12\nFROM python:${V} AS build\nFROM node AS assets\nFROM python:latest\nFROM build\nFROM scratch\nFROM ${UNKNOWN}\nUSER app\n";
        assert_eq!(has(df, "DKF004"), [3, 4]);
    }

    #[test]
    fn dkf005_add_of_local_files() {
        let df = "FROM a:1\nADD app.py /app/\nADD https://example.org/x.tgz /tmp/\nADD rootfs.tar.gz /\nCOPY app.py /app/\nUSER app\n";
        assert_eq!(has(df, "DKF005"), [2]);
    }

    #[test]
    fn dkf006_expose_ssh() {
        assert_eq!(has("FROM a:1\nEXPOSE 80 22/tcp\nUSER app\n", "DKF006"), [2]);
        assert!(has("FROM a:1\nEXPOSE 2222 8022\nUSER app\n", "DKF006").is_empty());
    }
}
