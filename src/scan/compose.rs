//! The Compose model the rules read: the files of one environment parsed with positions
//! and merged as Compose merges them (later files override keys of earlier ones, lists
//! such as ports are appended, `!reset`/`!override` honoured), then `extends` resolved.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::yaml::{self, Kind, Node, Pos};
use crate::config::ConfigError;

/// Every file the scan read, so a position's file index names a path.
#[derive(Debug, Default)]
pub struct Files {
    paths: Vec<PathBuf>,
    parsed: Vec<Option<Node>>,
}

impl Files {
    /// The index of `path`, added if new.
    pub fn add(&mut self, path: &Path) -> usize {
        if let Some(i) = self.paths.iter().position(|p| p == path) {
            return i;
        }
        self.paths.push(path.to_path_buf());
        self.parsed.push(None);
        self.paths.len() - 1
    }

    pub fn path(&self, i: usize) -> &Path {
        &self.paths[i]
    }

    pub fn all(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Parse a compose file once; a file that is not YAML, or not a mapping, stops the
    /// scan (exit 2) naming its line.
    pub fn load(&mut self, path: &Path) -> Result<(usize, Node)> {
        let i = self.add(path);
        if let Some(n) = &self.parsed[i] {
            return Ok((i, n.clone()));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, format!("cannot read: {}", crate::util::io_reason(&e))))?;
        let node = yaml::parse(&text, i).map_err(|e| {
            ConfigError::at(
                path,
                Some(e.line),
                Some(e.col),
                format!("invalid YAML: {}; fix the file and scan again", e.message),
            )
        })?;
        check_shape(path, &node)?;
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
}

/// A service of the merged model.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    pub name: &'a str,
    /// The service's key: where "missing setting" findings point.
    pub key: &'a Node,
    pub node: &'a Node,
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
                None => root = Some(node),
                Some(r) => merge(r, node, ""),
            }
        }
        let project_dir = paths.first().and_then(|p| p.parent()).map(Path::to_path_buf).unwrap_or_default();
        let mut model = Model {
            env: env.to_string(),
            root: root.unwrap_or_else(|| Node::empty_map(Pos::default())),
            project_dir,
            files: indices,
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
        let names: Vec<String> = self.services().iter().map(|s| s.name.to_string()).collect();
        let resolved: Vec<(String, Node)> =
            names.into_iter().filter_map(|n| Some((n.clone(), self.extended(&n, files, 0)?))).collect();
        let services = match &mut self.root.kind {
            Kind::Map(entries) => entries.iter_mut().find(|(k, _)| k.as_str() == Some("services")),
            _ => None,
        };
        if let Some((_, Node { kind: Kind::Map(entries), .. })) = services {
            for (k, v) in entries.iter_mut() {
                if let Some((_, n)) = resolved.iter().find(|(name, _)| k.as_str() == Some(name.as_str())) {
                    *v = n.clone();
                }
            }
        }
    }

    /// Service `name` with its `extends` chain applied, or None when it extends nothing.
    /// A base that cannot be found is left out with a warning: Compose would say more.
    fn extended(&self, name: &str, files: &mut Files, depth: usize) -> Option<Node> {
        let svc = self.root.get("services")?.get(name)?;
        let ext = svc.get_some("extends")?;
        if depth > 8 {
            crate::output::warn(format!("scan: `extends` of service `{name}` nests too deep; not followed"));
            return None;
        }
        let (base_name, file) = match ext.as_str() {
            Some(s) => (s.to_string(), None),
            None => {
                (ext.get("service")?.as_str()?.to_string(), ext.get("file").and_then(Node::as_str).map(str::to_string))
            }
        };
        let base = match file {
            None => self
                .extended(&base_name, files, depth + 1)
                .or_else(|| self.root.get("services")?.get(&base_name).cloned()),
            Some(f) => {
                let path = self.dir_of(ext.pos.file, files).join(f);
                match files.load(&path) {
                    Ok((_, other)) => {
                        let sub = Model {
                            env: self.env.clone(),
                            root: other,
                            project_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                            files: Vec::new(),
                        };
                        sub.extended(&base_name, files, depth + 1)
                            .or_else(|| sub.root.get("services")?.get(&base_name).cloned())
                    }
                    Err(e) => {
                        crate::output::warn(format!("scan: `extends` of service `{name}`: {e:#}; not followed"));
                        None
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
}

/// Lists whose later definition replaces the earlier one instead of appending to it.
const REPLACED_LISTS: &[&str] = &["command", "entrypoint", "test"];

/// Merge `over` into `base` as Compose merges a later file into an earlier one. `key`
/// is the key under which the two values sit.
pub fn merge(base: &mut Node, over: Node, key: &str) {
    if matches!(over.tag.as_deref(), Some("reset" | "override")) {
        *base = over;
        return;
    }
    if base.is_null() {
        *base = over;
        return;
    }
    if matches!(key, "environment" | "labels") && base.is_map() != over.is_map() {
        *base = list_to_map(base);
        merge(base, list_to_map(&over), key);
        return;
    }
    match (&mut base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => {
            for (k, v) in o {
                let name = k.as_str().map(str::to_string);
                match b.iter_mut().find(|(bk, _)| name.is_some() && bk.as_str() == name.as_deref()) {
                    Some((_, bv)) => merge(bv, v, name.as_deref().unwrap_or("")),
                    None => b.push((k, v)),
                }
            }
        }
        (Kind::Seq(b), Kind::Seq(o)) if !REPLACED_LISTS.contains(&key) => {
            for item in o {
                let id = list_item_id(key, &item);
                match b.iter().position(|x| id.is_some() && list_item_id(key, x) == id) {
                    Some(i) => b[i] = item,
                    None => b.push(item),
                }
            }
        }
        (_, kind) => {
            base.kind = kind;
            base.pos = over.pos;
            base.tag = over.tag;
        }
    }
}

/// What makes two list items "the same" for a merge: a volume's target, a variable's
/// name, or the whole scalar (identical ports are not repeated).
fn list_item_id(key: &str, item: &Node) -> Option<String> {
    match key {
        "volumes" | "devices" => match item.as_str() {
            Some(s) => s.split(':').nth(1).map(str::to_string).or_else(|| Some(s.to_string())),
            None => item.get("target").and_then(Node::as_str).map(str::to_string),
        },
        "environment" | "labels" => item.as_str().map(|s| s.split('=').next().unwrap_or(s).to_string()),
        _ => item.as_str().map(str::to_string),
    }
}

/// `["A=1", "B"]` as `{A: "1", B: null}`, each entry at the list item's position.
pub fn list_to_map(n: &Node) -> Node {
    if n.is_map() {
        return n.clone();
    }
    let entries = n
        .as_seq()
        .iter()
        .filter_map(|item| {
            let s = item.as_str()?;
            let (k, v) = match s.split_once('=') {
                Some((k, v)) => (k, Node::scalar(v, item.pos)),
                None => (s, Node { pos: item.pos, tag: None, kind: Kind::Scalar { text: String::new(), plain: true } }),
            };
            Some((Node::scalar(k, item.pos), v))
        })
        .collect();
    Node { pos: n.pos, tag: None, kind: Kind::Map(entries) }
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
}
