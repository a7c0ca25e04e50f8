//! `ccops scan`: a security and production-readiness audit of a Compose project. It reads
//! the compose files of every environment (merged as Compose merges them), the Dockerfiles
//! and build contexts they use, and their env files; runs the rules of `rules/`; applies
//! suppressions; and hands a [`Report`] to `report/` for table, JSON or SARIF output.

mod cap;
mod compose;
mod dedupe;
mod dockerfile;
mod dockerignore;
mod finding;
mod git;
mod merge;
mod paths;
#[cfg(test)]
mod proptests;
mod read;
pub mod report;
mod rules;
mod suppress;
mod target;
mod trivy;
mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Result;

pub use finding::{Finding, Severity};
pub use suppress::Suppressed;
pub use target::Target;

use crate::syntax::interp;
use compose::{Files, Model};
use dedupe::Dedupe;
use dockerfile::Dockerfile;
use read::{Refusal, Tree};
use rules::Cx;

/// Choices of the scan itself (output choices belong to `report`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also run trivy on the images (`--image`).
    pub image: bool,
}

/// Everything the scan found, before any severity filter.
#[derive(Debug)]
pub struct Report {
    pub root: PathBuf,
    /// The ccops.yaml whose environments and suppressions were used.
    pub config: Option<PathBuf>,
    /// The git checkout the project is in: SARIF paths are relative to it.
    pub git_top: Option<PathBuf>,
    pub environments: Vec<String>,
    /// Every file read, for the JSON report.
    pub files: Vec<PathBuf>,
    /// Unsuppressed findings, sorted by file, line and rule; past the findings cap, one
    /// summary per rule and file stands for the rest (see `cap.rs`).
    pub findings: Vec<Finding>,
    /// Suppressed findings, as many of each rule and file as the cap lists...
    pub suppressed: Vec<Suppressed>,
    /// ...and how many more there were.
    pub suppressed_unlisted: usize,
}

impl Report {
    /// Whether an unsuppressed finding, reported or not, is at or above `fail_on`.
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= fail_on)
    }
}

/// Run every rule over `target`.
pub fn run(target: &Target, opts: &Options) -> Result<Report> {
    let git = git::Git::discover(&target.root);
    let mut files = Files::new(tree(&target.root, git.as_ref()));
    let mut models = Vec::new();
    for env in &target.envs {
        if env.compose_files.is_empty() {
            crate::output::warn(format!("scan: environment `{}` names no compose file that exists; skipped", env.name));
            continue;
        }
        models.push(Model::load(&env.name, &env.compose_files, &mut files)?);
    }
    if models.is_empty() {
        return Err(crate::usage!("no compose file to scan in `{}`", target.root.display()));
    }
    let (dockerfiles, refused) = read_dockerfiles(&models, &files);

    // Deduplicated as they come: every environment repeats the base file's findings.
    let mut findings = Dedupe::default();
    let mut suppressed = Vec::new();
    let mut ignores = target.ignores.clone();
    let mut env_files: Vec<PathBuf> = target.envs.iter().filter_map(|e| e.env_file.clone()).collect();
    // The Dockerfile rules' findings per build (file, line offset, target, args): run once
    // however many services build the same way, then copied to each.
    let mut built: HashMap<BuildKey, Vec<Finding>> = HashMap::new();
    for model in &models {
        let cx = Cx { model, files: &files, dockerfiles: &dockerfiles };
        let mut found = rules::compose_findings(&cx);
        found.extend(model.refused.iter().cloned());
        let mut local = suppress::from_node(model.root.get("x-ccops-ignore"), None, &files);
        for svc in model.services() {
            local.extend(suppress::of_service(&svc, &files));
            env_files.extend(service_env_files(&cx, &svc));
            let Some(b) = cx.build(&svc) else { continue };
            if let Some(r) = b.dockerfile.as_ref().and_then(|p| refused.get(p)) {
                let written = b.node.get("dockerfile").and_then(yaml::Node::as_str).unwrap_or("Dockerfile");
                let at = b.node.entry("dockerfile").map_or(b.key, |(k, _)| k);
                let subject = format!("the Dockerfile `{written}`");
                found.extend(r.finding(&subject, &cx.path(at), at.pos.line, at.pos.col).map(|f| f.service(svc.name)));
            }
            let Some(df) = cx.dockerfile(&b) else { continue };
            // An inline Dockerfile's lines count from its key in the compose file.
            let (path, offset) = match (&b.dockerfile, &b.inline_at) {
                (Some(p), _) => (p.clone(), 0),
                (None, Some((p, line))) => (p.clone(), *line),
                (None, None) => continue,
            };
            let key = (path, offset, b.target.clone(), b.args.clone());
            let of_build = built.entry(key).or_insert_with_key(|(path, offset, target, args)| {
                let mut out = rules::dockerfile_findings(path, df, target.as_deref(), args);
                for f in &mut out {
                    f.line += offset;
                }
                out
            });
            for f in of_build.iter() {
                let mut f = f.clone();
                f.related = vec![svc.name.to_string()];
                found.push(f);
            }
        }
        let (kept, sup) = suppress::apply(found, &local);
        for mut f in kept {
            f.environments = vec![model.env.clone()];
            findings.push(f);
        }
        suppressed.extend(sup);
        ignores.extend(local);
        env_files.extend(dotenv_files(&model.project_dir));
    }
    env_files.extend(dotenv_files(&target.root));
    let mut seen = BTreeSet::new();
    for path in env_files.iter().map(|p| paths::normalize(p)) {
        // `exists`, not `is_file`: an env file that is a device or a FIFO is reported.
        if !seen.contains(&path) && path.exists() {
            findings.extend(rules::env_file_findings(&path, git.as_ref(), &files.tree));
            seen.insert(path);
        }
    }
    if opts.image {
        match trivy::scan(&image_targets(&models, &files)) {
            Some(f) => findings.extend(f),
            None => crate::output::warn("trivy is not on PATH: --image skipped (install trivy to scan the images too)"),
        }
    }
    findings.extend(suppress::check(&ignores));
    let all_envs: Vec<String> = models.iter().map(|m| m.env.clone()).collect();
    let mut findings = findings.into_vec();
    // Env files, images and suppressions belong to the project, not to one environment.
    for f in findings.iter_mut().filter(|f| f.environments.is_empty()) {
        f.environments.clone_from(&all_envs);
    }
    let (findings, global) = suppress::apply(findings, &target.ignores);
    suppressed.extend(global);
    let mut reported = Dedupe::default();
    reported.extend(findings);
    let mut suppressed = dedupe::suppressed(suppressed, &reported);
    let mut findings = reported.into_vec();
    findings.sort_by(|a, b| (&a.file, a.line, a.column, &a.rule).cmp(&(&b.file, b.line, b.column, &b.rule)));
    suppressed.sort_by(|a, b| (&a.finding.file, a.finding.line).cmp(&(&b.finding.file, b.finding.line)));
    // Before any report is built, so that none holds more than the cap lets through.
    let findings = cap::findings(findings, &target.root);
    let (suppressed, suppressed_unlisted) = cap::suppressed(suppressed);

    let mut read: Vec<PathBuf> = files.all().to_vec();
    read.extend(dockerfiles.keys().cloned());
    read.extend(seen);
    Ok(Report {
        root: target.root.clone(),
        config: target.config.clone(),
        git_top: git.map(|g| g.top),
        environments: all_envs,
        files: read,
        findings,
        suppressed,
        suppressed_unlisted,
    })
}

/// The tree scan reads files from: the git checkout the project is in (a monorepo's
/// `../common.yml` is part of the repository), else the scanned folder.
fn tree(root: &Path, git: Option<&git::Git>) -> Tree {
    match git {
        Some(g) if root.starts_with(&g.top) => Tree::under(&g.top),
        _ => Tree::under(root),
    }
}

/// What the Dockerfile rules' findings depend on: the file (a Dockerfile, or the compose
/// file of an inline one), the line offset of an inline one, the target and the args.
type BuildKey = (PathBuf, usize, Option<String>, BTreeMap<String, String>);

/// Every Dockerfile a build of any environment uses, parsed once; and those refused as
/// unsafe to read, which the rules report (SCN001, SCN002) at each build that uses them.
fn read_dockerfiles(models: &[Model], files: &Files) -> (BTreeMap<PathBuf, Dockerfile>, BTreeMap<PathBuf, Refusal>) {
    let empty = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut refused = BTreeMap::new();
    let mut tried = BTreeSet::new();
    for model in models {
        let cx = Cx { model, files, dockerfiles: &empty };
        for svc in model.services() {
            let Some(path) = cx.build(&svc).and_then(|b| b.dockerfile) else { continue };
            if !tried.insert(path.clone()) {
                continue;
            }
            match files.tree.read_lossy(&path) {
                Ok(text) => {
                    out.insert(path, Dockerfile::parse(&text));
                }
                Err(r) if r.rule().is_some() => {
                    refused.insert(path, r);
                }
                Err(r) => crate::output::warn(format!(
                    "scan: cannot read `{}` (the Dockerfile of service `{}`): {r}",
                    path.display(),
                    svc.name,
                )),
            }
        }
    }
    (out, refused)
}

/// The files of a service's `env_file:` (a name, a list of names, or of `{path, required}`).
fn service_env_files(cx: &Cx<'_>, svc: &compose::Service<'_>) -> Vec<PathBuf> {
    let Some(n) = svc.node.get_some("env_file") else { return Vec::new() };
    let items: Vec<&yaml::Node> = if n.as_str().is_some() { vec![n] } else { n.as_seq().iter().collect() };
    items
        .into_iter()
        .filter_map(|i| i.as_str().or_else(|| i.get("path").and_then(yaml::Node::as_str)).map(|s| (i, s)))
        .map(|(i, s)| cx.model.dir_of(i.pos.file, cx.files).join(interp::resolve(s).text))
        .collect()
}

/// `.env`, `.env.production`...: the files Compose and operators keep secrets in.
fn dotenv_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    // Not `is_file`: a `.env` that is a FIFO or a device is reported, not passed over.
    out.retain(|p| {
        !p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n == ".env" || n.starts_with(".env."))
    });
    out.sort();
    out
}

/// The images `--image` hands to trivy: each once, at the first service that runs it.
fn image_targets(models: &[Model], files: &Files) -> Vec<trivy::ImageTarget> {
    let mut out: Vec<trivy::ImageTarget> = Vec::new();
    // Image -> index in `out`, and (image, service) pairs seen: 10 000 services of one
    // image must not cost 10^8 comparisons.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut pairs: BTreeSet<(usize, String)> = BTreeSet::new();
    for model in models {
        for svc in model.services() {
            let Some(node) = svc.node.get("image") else { continue };
            let Some(text) = node.as_str() else { continue };
            let r = interp::resolve(text);
            if r.unknown || r.text.is_empty() {
                continue;
            }
            match index.get(&r.text) {
                Some(&i) => {
                    if pairs.insert((i, svc.name.to_string())) {
                        out[i].also.push(svc.name.to_string());
                    }
                }
                None => {
                    index.insert(r.text.clone(), out.len());
                    pairs.insert((out.len(), svc.name.to_string()));
                    out.push(trivy::ImageTarget {
                        image: r.text,
                        service: svc.name.to_string(),
                        also: Vec::new(),
                        file: files.path(node.pos.file).to_path_buf(),
                        line: node.pos.line,
                        column: node.pos.col,
                    });
                }
            }
        }
    }
    out
}
