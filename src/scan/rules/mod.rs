//! The rules, one file per family, and what they read: a service of the merged model,
//! its build (context, Dockerfile, target, args) and the file table for positions.

pub mod catalog;
mod context;
mod dockerfile;
mod envfiles;
mod image;
mod network;
mod privilege;
mod runtime;
mod secrets;
mod signals;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use dockerfile::check as dockerfile_findings;
pub use envfiles::check as env_file_findings;

use super::compose::{Files, Model, Service};
use super::dockerfile::Dockerfile;
use super::finding::Finding;
use super::paths;
use super::yaml::Node;
use crate::syntax::interp;

/// What a compose rule can look at.
pub struct Cx<'a> {
    pub model: &'a Model,
    pub files: &'a Files,
    /// Dockerfiles read before the rules run, by path.
    pub dockerfiles: &'a BTreeMap<PathBuf, Dockerfile>,
}

/// A service's `build:`, resolved against the project folder.
pub struct Build<'a> {
    pub key: &'a Node,
    pub node: &'a Node,
    /// None for a remote context (a git or HTTP URL): nothing local to read.
    pub context: Option<PathBuf>,
    /// The context as written (`./api`), for messages.
    pub context_text: String,
    pub dockerfile: Option<PathBuf>,
    pub inline: Option<Dockerfile>,
    /// For `dockerfile_inline`: the compose file, and the line before its first line.
    pub inline_at: Option<(PathBuf, usize)>,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
}

fn is_remote(ctx: &str) -> bool {
    ctx.contains("://") || ctx.starts_with("git@") || ctx.starts_with("github.com/")
}

impl<'a> Cx<'a> {
    pub fn path(&self, n: &Node) -> PathBuf {
        self.files.path(n.pos.file).to_path_buf()
    }

    /// A finding of `svc` pointing at `n`.
    pub fn at(&self, id: &'static str, n: &Node, svc: &Service<'_>, msg: impl Into<String>) -> Finding {
        Finding::new(id, self.path(n), n.pos.line, n.pos.col, msg).service(svc.name)
    }

    pub fn build<'s>(&self, svc: &Service<'s>) -> Option<Build<'s>> {
        let (key, node) = svc.node.entry("build")?;
        if node.is_null() {
            return None;
        }
        let ctx_text = node.as_str().or_else(|| node.get("context").and_then(Node::as_str)).unwrap_or(".");
        let ctx_text = interp::resolve(ctx_text).text;
        let context = (!is_remote(&ctx_text))
            .then(|| paths::normalize(&self.model.dir_of(node.pos.file, self.files).join(&ctx_text)));
        let dockerfile = node.get("dockerfile").and_then(Node::as_str).map(|d| interp::resolve(d).text);
        let dockerfile = context.as_ref().map(|c| c.join(dockerfile.as_deref().unwrap_or("Dockerfile")));
        let inline_node = node.get("dockerfile_inline").filter(|n| n.as_str().is_some());
        let inline = inline_node.and_then(Node::as_str).map(Dockerfile::parse);
        let inline_at = inline_node.map(|n| (self.path(n), n.pos.line.saturating_sub(1)));
        let target = node.get("target").and_then(Node::as_str).map(str::to_string);
        let mut args = BTreeMap::new();
        let list = super::merge::list_to_map(node.get("args").unwrap_or(&Node::empty_map(node.pos)));
        for (k, v) in list.as_map() {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                let r = interp::resolve(v);
                if !r.unknown {
                    args.insert(k.to_string(), r.text);
                }
            }
        }
        let dockerfile = if inline.is_some() { None } else { dockerfile.map(|d| paths::normalize(&d)) };
        Some(Build { key, node, context, context_text: ctx_text, dockerfile, inline, inline_at, target, args })
    }

    /// The Dockerfile a build uses, when it could be read.
    pub fn dockerfile<'b>(&'b self, b: &'b Build<'_>) -> Option<&'b Dockerfile> {
        b.inline.as_ref().or_else(|| self.dockerfiles.get(b.dockerfile.as_ref()?))
    }
}

/// Every compose rule on every service of one environment.
pub fn compose_findings(cx: &Cx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for svc in cx.model.services() {
        privilege::check(cx, &svc, &mut out);
        network::check(cx, &svc, &mut out);
        image::check(cx, &svc, &mut out);
        runtime::check(cx, &svc, &mut out);
        secrets::check(cx, &svc, &mut out);
        context::check(cx, &svc, &mut out);
        signals::check(cx, &svc, &mut out);
    }
    out
}

#[cfg(test)]
pub mod testing {
    //! Run the compose rules over a compose text written to a temporary folder.

    use super::*;

    pub struct Scanned {
        pub findings: Vec<Finding>,
        /// Kept so the files live as long as the findings that point at them.
        _dir: tempfile::TempDir,
    }

    impl Scanned {
        /// Findings of `rule`, as (service, line).
        pub fn of(&self, rule: &str) -> Vec<(String, usize)> {
            self.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| (f.service.clone().unwrap_or_default(), f.line))
                .collect()
        }

        pub fn lines(&self, rule: &str) -> Vec<usize> {
            self.of(rule).into_iter().map(|(_, l)| l).collect()
        }

        pub fn messages(&self, rule: &str) -> Vec<String> {
            self.findings.iter().filter(|f| f.rule == rule).map(|f| f.message.clone()).collect()
        }
    }

    /// `compose` as compose.yaml, plus `extra` files (Dockerfiles...) beside it.
    pub fn scan(compose: &str, extra: &[(&str, &str)]) -> Scanned {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in extra {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let path = dir.path().join("compose.yaml");
        std::fs::write(&path, compose).unwrap();
        let mut files = Files::default();
        let model = Model::load("test", &[path], &mut files).unwrap();
        let mut dockerfiles = BTreeMap::new();
        for (name, text) in extra {
            if name.contains("Dockerfile") {
                dockerfiles.insert(dir.path().join(name), Dockerfile::parse(text));
            }
        }
        let cx = Cx { model: &model, files: &files, dockerfiles: &dockerfiles };
        Scanned { findings: compose_findings(&cx), _dir: dir }
    }
}
