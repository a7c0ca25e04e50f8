//! The Compose model the rules read: the files of one environment parsed with positions
//! and merged as Compose merges them (later files override keys of earlier ones, lists
//! such as ports are appended, `!reset`/`!override` honoured; merge.rs), then `extends`
//! resolved. Past 400 lines for its tests, which build whole models from files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Result;

use super::finding::Finding;
use super::merge::merge;
use super::read::Tree;
use super::yaml::{self, Kind, Node, Pos};
use crate::config::ConfigError;

/// Every file the scan read, so a position's file index names a path; and the tree
/// files may be read from.
#[derive(Debug, Default)]
pub struct Files {
    paths: Vec<PathBuf>,
    index: HashMap<PathBuf, usize>,
    /// Shared, not copied: a file that 1000 services extend is parsed and held once.
    parsed: Vec<Option<Rc<Node>>>,
    /// Each parsed file's service names, built when `extends.file` first names the file.
    services: Vec<Option<Rc<HashMap<String, usize>>>>,
    /// `Tree::default()` (anywhere) is for unit tests; a scan passes the scanned tree.
    pub tree: Tree,
}

/// Why a compose file was not loaded; `rule` is set when the file was refused as hostile
/// (SCN001, SCN002): an extends file refused so is a finding, not a warning.
struct Failure {
    error: anyhow::Error,
    rule: Option<&'static str>,
    /// The reason alone (no path), for the finding's message.
    reason: String,
}

impl Files {
    pub fn new(tree: Tree) -> Files {
        Files { tree, ..Files::default() }
    }

    /// The index of `path`, added if new.
    pub fn add(&mut self, path: &Path) -> usize {
        if let Some(&i) = self.index.get(path) {
            return i;
        }
        self.index.insert(path.to_path_buf(), self.paths.len());
        self.paths.push(path.to_path_buf());
        self.parsed.push(None);
        self.services.push(None);
        self.paths.len() - 1
    }

    pub fn path(&self, i: usize) -> &Path {
        &self.paths[i]
    }

    pub fn all(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The service index of parsed file `i`.
    fn services_index(&mut self, i: usize) -> Rc<HashMap<String, usize>> {
        if let Some(ix) = &self.services[i] {
            return ix.clone();
        }
        let ix = Rc::new(self.parsed[i].as_deref().map(index_services).unwrap_or_default());
        self.services[i] = Some(ix.clone());
        ix
    }

    /// Parse a compose file once; a file that cannot be read, is not YAML, is too big
    /// to read or is not a mapping stops the scan (exit 2) naming its line.
    pub fn load(&mut self, path: &Path) -> Result<(usize, Rc<Node>)> {
        self.try_load(path).map_err(|f| f.error)
    }

    fn try_load(&mut self, path: &Path) -> Result<(usize, Rc<Node>), Failure> {
        let i = self.add(path);
        if let Some(n) = &self.parsed[i] {
            return Ok((i, n.clone()));
        }
        let bytes = self.tree.read(path).map_err(|r| Failure {
            error: ConfigError::file(path, format!("cannot read: {r}")).into(),
            rule: r.rule(),
            reason: r.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Failure {
            error: ConfigError::file(path, "cannot read: it is not UTF-8 text").into(),
            rule: None,
            reason: String::new(),
        })?;
        let node = yaml::parse(&text, i).map_err(|e| {
            let what = if e.limit { "cannot be scanned" } else { "invalid YAML" };
            let msg = format!("{what}: {}; fix the file and scan again", e.message);
            Failure {
                error: ConfigError::at(path, Some(e.line), Some(e.col), msg).into(),
                rule: e.limit.then_some("SCN001"),
                reason: format!("line {}: {}", e.line, e.message),
            }
        })?;
        check_shape(path, &node).map_err(|error| Failure { error, rule: None, reason: String::new() })?;
        let node = Rc::new(node);
        self.parsed[i] = Some(node.clone());
        Ok((i, node))
    }
}

fn check_shape(path: &Path, root: &Node) -> Result<()> {
    let bad = |n: &Node, msg: String| -> anyhow::Error {
        ConfigError::at(path, Some(n.pos.line), Some(n.pos.col), msg).into()
    };
    if !root.is_map() {
        return Err(bad(root, "a compose file must be a mapping (with `services:`)".to_string()));
    }
    let Some(services) = root.get_some("services") else { return Ok(()) };
    if !services.is_map() {
        return Err(bad(services, "`services` must be a mapping of service names to their definitions".to_string()));
    }
    for (k, v) in services.as_map() {
        if !v.is_map() && !v.is_null() {
            let name = k.as_str().unwrap_or("?");
            return Err(bad(v, format!("service `{name}` must be a mapping of its settings")));
        }
    }
    Ok(())
}

/// One environment: its compose files merged into one tree.
#[derive(Debug)]
pub struct Model {
    pub env: String,
    pub root: Node,
    /// The folder of the first file: Compose resolves relative paths against it.
    pub project_dir: PathBuf,
    /// File indices of the compose files themselves (not files pulled in by `extends`).
    pub files: Vec<usize>,
    /// SCN findings of `extends` that was not followed because following it was unsafe.
    pub refused: Vec<Finding>,
}

/// A service of the merged model.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    pub name: &'a str,
    /// The service's key: where "missing setting" findings point.
    pub key: &'a Node,
    pub node: &'a Node,
}

/// Where `extends` of a service is looked up: a tree, the compose files of the model (or
/// none, for a file pulled in by `extends.file`) and the folder relative paths start from.
struct Scope<'a> {
    services: Option<&'a Node>,
    /// Service name to its entry in `services`: a lookup per `extends` must not walk the
    /// mapping (10 000 services would make 10^8 comparisons).
    index: Rc<HashMap<String, usize>>,
    own: &'a [usize],
    dir: &'a Path,
}

impl<'a> Scope<'a> {
    fn new(root: &'a Node, index: Rc<HashMap<String, usize>>, own: &'a [usize], dir: &'a Path) -> Scope<'a> {
        Scope { services: root.get("services"), index, own, dir }
    }

    fn dir_of(&self, file: usize, files: &Files) -> PathBuf {
        if self.own.contains(&file) {
            self.dir.to_path_buf()
        } else {
            files.path(file).parent().map(Path::to_path_buf).unwrap_or_default()
        }
    }

    fn service(&self, name: &str) -> Option<&'a Node> {
        let i = *self.index.get(name)?;
        self.services?.as_map().get(i).map(|(_, v)| v)
    }
}

/// The first entry of each service name in `root`'s `services`.
fn index_services(root: &Node) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, (k, _)) in root.get("services").map(Node::as_map).unwrap_or_default().iter().enumerate() {
        if let Some(name) = k.as_str() {
            out.entry(name.to_string()).or_insert(i);
        }
    }
    out
}

/// What resolving `extends` may still make, and what it refused.
struct Extending {
    /// Nodes the copies of base services may still add. Without a budget, 50 000 services
    /// extending one base of 200 000 nodes make 10^10 nodes of a 2 MiB file.
    budget: usize,
    /// The budget ran out once (and said so).
    spent: bool,
    refused: Vec<Finding>,
}

impl Model {
    /// Load and merge `paths` (at least one) as Compose would with `-f a -f b`.
    pub fn load(env: &str, paths: &[PathBuf], files: &mut Files) -> Result<Model> {
        let mut root: Option<Node> = None;
        let mut indices = Vec::new();
        for p in paths {
            let (i, node) = files.load(p)?;
            indices.push(i);
            match &mut root {
                None => root = Some(Node::clone(&node)),
                Some(r) => merge(r, Node::clone(&node), ""),
            }
        }
        let project_dir = paths.first().and_then(|p| p.parent()).map(Path::to_path_buf).unwrap_or_default();
        let mut model = Model {
            env: env.to_string(),
            root: root.unwrap_or_else(|| Node::empty_map(Pos::default())),
            project_dir,
            files: indices,
            refused: Vec::new(),
        };
        model.resolve_extends(files);
        Ok(model)
    }

    pub fn services(&self) -> Vec<Service<'_>> {
        let Some(s) = self.root.get("services") else { return Vec::new() };
        s.as_map().iter().filter_map(|(k, v)| Some(Service { name: k.as_str()?, key: k, node: v })).collect()
    }

    /// The folder a relative path written in file `file` is relative to.
    pub fn dir_of(&self, file: usize, files: &Files) -> PathBuf {
        if self.files.contains(&file) {
            self.project_dir.clone()
        } else {
            files.path(file).parent().map(Path::to_path_buf).unwrap_or_default()
        }
    }

    fn resolve_extends(&mut self, files: &mut Files) {
        let names: Vec<String> = self
            .services()
            .iter()
            .filter(|s| s.node.get_some("extends").is_some())
            .map(|s| s.name.to_string())
            .collect();
        if names.is_empty() {
            return;
        }
        let mut ext = Extending { budget: yaml::MAX_NODES, spent: false, refused: Vec::new() };
        let scope = Scope::new(&self.root, Rc::new(index_services(&self.root)), &self.files, &self.project_dir);
        let mut resolved: HashMap<String, Node> = HashMap::new();
        for n in names {
            if let Some(node) = extended(&scope, &n, files, 0, &mut ext) {
                resolved.insert(n, node);
            }
        }
        let services = match &mut self.root.kind {
            Kind::Map(entries) => entries.iter_mut().find(|(k, _)| k.as_str() == Some("services")),
            _ => None,
        };
        if let Some((_, Node { kind: Kind::Map(entries), .. })) = services {
            for (k, v) in entries.iter_mut() {
                if let Some(n) = k.as_str().and_then(|name| resolved.remove(name)) {
                    *v = n;
                }
            }
        }
        self.refused = ext.refused;
    }
}

/// Service `name` with its `extends` chain applied, or None when it extends nothing.
/// A base that cannot be found is left out with a warning: Compose would say more. A base
/// that is unsafe to read (SCN001, SCN002) or too big to copy is left out with a finding.
fn extended(scope: &Scope<'_>, name: &str, files: &mut Files, depth: usize, ext: &mut Extending) -> Option<Node> {
    let svc = scope.service(name)?;
    let ext_node = svc.get_some("extends")?;
    if depth > 8 {
        crate::output::warn(format!("scan: `extends` of service `{name}` nests too deep; not followed"));
        return None;
    }
    let (base_name, file) = match ext_node.as_str() {
        Some(s) => (s.to_string(), None),
        None => (
            ext_node.get("service")?.as_str()?.to_string(),
            ext_node.get("file").and_then(Node::as_str).map(str::to_string),
        ),
    };
    let at = |files: &Files| files.path(ext_node.pos.file).to_path_buf();
    let base = match file {
        None => extended(scope, &base_name, files, depth + 1, ext).or_else(|| scope.service(&base_name).cloned()),
        Some(f) => {
            let path = scope.dir_of(ext_node.pos.file, files).join(&f);
            match files.try_load(&path) {
                Ok((i, other)) => {
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    let sub = Scope::new(&other, files.services_index(i), &[], &dir);
                    extended(&sub, &base_name, files, depth + 1, ext).or_else(|| sub.service(&base_name).cloned())
                }
                Err(Failure { rule: Some(rule), reason, .. }) => {
                    let msg = format!("`extends.file` `{f}` of service `{name}` is not scanned: {reason}");
                    let (line, col) = (ext_node.pos.line, ext_node.pos.col);
                    ext.refused.push(Finding::new(rule, at(files), line, col, msg).service(name).key(f));
                    return None;
                }
                Err(Failure { error, rule: None, .. }) => {
                    crate::output::warn(format!("scan: `extends` of service `{name}`: {error:#}; not followed"));
                    return None;
                }
            }
        }
    };
    let Some(mut base) = base else {
        crate::output::warn(format!(
            "scan: service `{name}` extends `{base_name}`, which is not defined; not followed"
        ));
        return None;
    };
    let size = base.count() + svc.count();
    if size > ext.budget && ext.spent {
        return None;
    }
    if size > ext.budget {
        let msg = format!(
            "`extends` of service `{name}`: the copies of base services would pass {} nodes; not followed",
            yaml::MAX_NODES
        );
        let (line, col) = (ext_node.pos.line, ext_node.pos.col);
        ext.refused.push(Finding::new("SCN001", at(files), line, col, msg).service(name).key("extends"));
        // One finding says it; the services after it are left as written, quietly.
        ext.spent = true;
        return None;
    }
    ext.budget -= size;
    if base.is_null() {
        base = Node::empty_map(base.pos);
    }
    let mut own = svc.clone();
    if let Kind::Map(entries) = &mut own.kind {
        entries.retain(|(k, _)| k.as_str() != Some("extends"));
    }
    merge(&mut base, own, "");
    // The service keeps its own key position; the merged settings keep theirs.
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(files: &[(&str, &str)]) -> (Model, Files, tempfile::TempDir) {
        let d = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (name, text) in files {
            let p = d.path().join(name);
            std::fs::write(&p, text).unwrap();
            paths.push(p);
        }
        let mut f = Files::default();
        let m = Model::load("test", &paths[..paths.len().min(2)], &mut f).unwrap();
        (m, f, d)
    }

    #[test]
    fn later_files_override_keys_and_append_ports() {
        let base = "services:\n  web:\n    image: a:1\n    ports: [\"80:80\"]\n    command: [a]\n    environment:\n      A: x\n";
        let prod = "services:\n  web:\n    image: a:2\n    ports: [\"443:443\"]\n    command: [b]\n    environment: [\"B=y\"]\n";
        let (m, _, _) = model(&[("base.yml", base), ("prod.yml", prod)]);
        let web = m.services()[0].node;
        assert_eq!(web.get("image").unwrap().as_str(), Some("a:2"));
        assert_eq!(web.get("image").unwrap().pos.file, 1);
        assert_eq!(web.get("ports").unwrap().as_seq().len(), 2);
        assert_eq!(web.get("command").unwrap().as_seq().len(), 1);
        let env = web.get("environment").unwrap();
        assert_eq!(env.get("A").unwrap().as_str(), Some("x"));
        assert_eq!(env.get("B").unwrap().as_str(), Some("y"));
    }

    #[test]
    fn reset_and_volume_targets() {
        let base = "services:\n  web:\n    ports: [\"80:80\"]\n    volumes: [\"/:/host\", \"data:/data\"]\n";
        let over = "services:\n  web:\n    ports: !reset []\n    volumes: [\"other:/host\"]\n";
        let (m, _, _) = model(&[("a.yml", base), ("b.yml", over)]);
        let web = m.services()[0].node;
        assert!(web.get("ports").unwrap().as_seq().is_empty());
        let vols: Vec<_> = web.get("volumes").unwrap().as_seq().iter().filter_map(Node::as_str).collect();
        assert_eq!(vols, ["other:/host", "data:/data"]);
    }

    #[test]
    fn extends_in_the_same_file_and_another() {
        let common = "services:\n  base:\n    restart: always\n    privileged: true\n";
        let main = "services:\n  app:\n    extends:\n      file: common.yml\n      service: base\n    image: x:1\n  worker:\n    extends: app\n";
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("common.yml"), common).unwrap();
        std::fs::write(d.path().join("compose.yaml"), main).unwrap();
        let mut f = Files::default();
        let m = Model::load("e", &[d.path().join("compose.yaml")], &mut f).unwrap();
        let svcs = m.services();
        let app = svcs.iter().find(|s| s.name == "app").unwrap();
        assert!(app.node.get("privileged").unwrap().is_true());
        assert!(f.path(app.node.get("privileged").unwrap().pos.file).ends_with("common.yml"));
        let worker = svcs.iter().find(|s| s.name == "worker").unwrap();
        assert_eq!(worker.node.get("image").unwrap().as_str(), Some("x:1"));
        assert_eq!(worker.node.get("restart").unwrap().as_str(), Some("always"));
    }

    #[test]
    fn bad_files_name_their_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("compose.yaml");
        std::fs::write(&p, "services:\n  web:\n    image: \"unclosed\n").unwrap();
        let e = Files::default().load(&p).unwrap_err().to_string();
        assert!(e.contains("compose.yaml:") && e.contains("invalid YAML"), "{e}");
        std::fs::write(&p, "services:\n  - web\n").unwrap();
        let e = Files::default().load(&p).unwrap_err().to_string();
        assert!(e.contains("compose.yaml:2:3: `services` must be a mapping"), "{e}");
    }

    fn load_in(d: &Path, compose: &str) -> Result<(Model, Files)> {
        let p = d.join("compose.yaml");
        std::fs::write(&p, compose).unwrap();
        let mut f = Files::new(Tree::under(d));
        Model::load("e", &[p], &mut f).map(|m| (m, f))
    }

    #[test]
    fn extends_of_a_device_or_a_file_outside_is_a_finding_not_a_read() {
        let outer = tempfile::tempdir().unwrap();
        let d = outer.path().join("repo");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(outer.path().join("base.yml"), "services:\n  b:\n    privileged: true\n").unwrap();
        let text = "services:\n  z:\n    extends: {file: /dev/zero, service: b}\n  o:\n    extends: {file: ../base.yml, service: b}\n";
        let (m, _) = load_in(&d, text).unwrap();
        let got: Vec<_> = m.refused.iter().map(|f| (f.rule.as_str(), f.service.as_deref(), f.line)).collect();
        assert_eq!(got, [("SCN001", Some("z"), 3), ("SCN002", Some("o"), 5)]);
        assert!(m.refused[0].message.contains("`/dev/zero` of service `z` is not scanned: it is a character device"));
        assert!(m.services().iter().all(|s| s.node.get("privileged").is_none()), "nothing of them was read");
    }

    #[test]
    fn a_compose_file_that_is_too_big_or_not_a_file_stops_the_scan() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("compose.yaml");
        std::fs::File::create(&p).unwrap().set_len(crate::scan::read::MAX_FILE_BYTES + 1).unwrap();
        let e = Files::new(Tree::under(d.path())).load(&p).unwrap_err().to_string();
        assert!(e.contains("compose.yaml: cannot read: it is larger than 2 MiB"), "{e}");
        let e = Files::default().load(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("/dev/zero: cannot read: it is a character device"), "{e}");
    }

    #[test]
    fn extends_copies_stop_at_the_budget() {
        let d = tempfile::tempdir().unwrap();
        // One base of 30 000 nodes, extended by 20 services: 600 000 nodes of copies.
        let mut text = format!("services:\n  base:\n    labels: [{}]\n", vec!["x=1"; 30_000].join(", "));
        for i in 0..20 {
            text.push_str(&format!("  s{i}: {{extends: base}}\n"));
        }
        let (m, _) = load_in(d.path(), &text).unwrap();
        assert_eq!(m.refused.len(), 1, "{:?}", m.refused);
        assert!(m.refused[0].rule == "SCN001" && m.refused[0].message.contains("would pass 250000 nodes"));
        let copied = m.services().iter().filter(|s| s.name != "base" && s.node.get("labels").is_some()).count();
        assert_eq!(copied, 8, "those within the budget are still expanded");
    }

    #[test]
    fn merging_many_keys_and_list_items_is_indexed() {
        let keys: String = (0..50_000).map(|i| format!("      K{i}: v\n")).collect();
        let ports: String = (0..50_000).map(|i| format!("\"{i}\", ")).collect();
        let a = format!("services:\n  web:\n    environment:\n{keys}    ports: [{ports}]\n");
        let b =
            format!("services:\n  web:\n    environment:\n{}    ports: [\"1\", \"x\"]\n", keys.replace(": v", ": w"));
        let started = std::time::Instant::now();
        let (m, _, _) = model(&[("a.yml", &a), ("b.yml", &b)]);
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
        let web = m.services()[0].node;
        assert_eq!(web.get("environment").unwrap().get("K7").unwrap().as_str(), Some("w"));
        assert_eq!(web.get("ports").unwrap().as_seq().len(), 50_001);
    }
}
