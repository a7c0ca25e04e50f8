//! A YAML tree that remembers where every node was written, so each finding can name its
//! line. serde_yaml values carry no positions; saphyr-parser's events do (a small, pure
//! YAML 1.2 parser with spans), and this module builds a tree from them, resolving anchors,
//! aliases and `<<` merge keys the way Compose reads them. The input is untrusted: the tree
//! is bounded in depth and in nodes, aliases' copies included (a "billion laughs" of ten
//! nested aliases would otherwise make 10^10 nodes of a 1 KiB file). Past 400 lines for
//! its tests of hostile input, which belong beside the bounds they hold.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// The deepest nesting of mappings and sequences. Compose files nest about 6 deep
/// (`services.web.deploy.resources.limits.cpus`); 64 leaves room for extension fields,
/// and keeps the recursive walks of the tree (clone, drop, merge) far from the stack's end.
pub const MAX_DEPTH: usize = 64;

/// The most nodes one document may hold, every copy an alias makes counted. A compose
/// file of 200 services holds some 10 000; a quarter million is a tree of about 30 MiB.
pub const MAX_NODES: usize = 250_000;

/// Where a node starts: an index into the scan's file table, a 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub file: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    /// A local tag such as `reset` or `override` (Compose's `!reset []`).
    pub tag: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// `plain` is false for quoted and block scalars: `"true"` is a string, `true` a boolean.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// Why a file is not YAML, or is YAML too big to read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// A limit of this reader ([`MAX_DEPTH`], [`MAX_NODES`]), not a syntax error.
    pub limit: bool,
}

impl Node {
    pub fn scalar(text: &str, pos: Pos) -> Node {
        Node { pos, tag: None, kind: Kind::Scalar { text: text.to_string(), plain: false } }
    }

    pub fn empty_map(pos: Pos) -> Node {
        Node { pos, tag: None, kind: Kind::Map(Vec::new()) }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a non-null scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// A boolean as Compose accepts it (`true`, and YAML 1.1's `yes`/`on` for old files).
    pub fn is_true(&self) -> bool {
        self.as_str().is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on"))
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The key and value of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map().iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// How many nodes the tree holds, this one included.
    pub fn count(&self) -> usize {
        1 + match &self.kind {
            Kind::Scalar { .. } => 0,
            Kind::Seq(items) => items.iter().map(Node::count).sum(),
            Kind::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }

    /// `get(key)` unless the value is null (`healthcheck:` with nothing after it).
    pub fn get_some(&self, key: &str) -> Option<&Node> {
        self.get(key).filter(|v| !v.is_null())
    }
}

/// Parse the first document of `text`; `file` tags every position. An empty file is an
/// empty mapping, as Compose reads it.
pub fn parse(text: &str, file: usize) -> Result<Node, YamlError> {
    let mut b = Builder { file, stack: Vec::new(), anchors: HashMap::new(), root: None, nodes: 0 };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_string(),
            limit: false,
        })?;
        if b.event(event, span)? {
            break;
        }
    }
    Ok(b.root.unwrap_or_else(|| Node::empty_map(Pos { file, line: 1, col: 1 })))
}

/// An open collection; `first` is the node count when it opened, so that on closing the
/// collection knows its own size (what an alias to it copies).
enum Frame {
    Seq { head: Node, anchor: usize, first: usize, items: Vec<Node> },
    Map { head: Node, anchor: usize, first: usize, entries: Vec<(Node, Node)>, key: Option<Node> },
}

struct Builder {
    file: usize,
    stack: Vec<Frame>,
    /// Each anchored node with its size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    /// Nodes made so far, copies made by aliases included.
    nodes: usize,
}

impl Builder {
    fn pos(&self, span: Span) -> Pos {
        Pos { file: self.file, line: span.start.line(), col: span.start.col() + 1 }
    }

    fn head(&self, span: Span, tag: Option<&saphyr_parser::Tag>) -> Node {
        // Only local tags (`!reset`, `!override`) mean something to Compose.
        let tag = tag.filter(|t| t.handle == "!").map(|t| t.suffix.clone());
        Node { pos: self.pos(span), tag, kind: Kind::Seq(Vec::new()) }
    }

    /// Count `n` more nodes, refusing the document past [`MAX_NODES`].
    fn grow(&mut self, n: usize, span: Span, alias: bool) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes <= MAX_NODES {
            return Ok(());
        }
        let what = if alias { "aliases expand it to" } else { "it holds" };
        Err(YamlError {
            line: span.start.line(),
            col: span.start.col() + 1,
            message: format!("{what} more than {MAX_NODES} nodes"),
            limit: true,
        })
    }

    fn open(&mut self, span: Span) -> Result<(), YamlError> {
        self.grow(1, span, false)?;
        if self.stack.len() < MAX_DEPTH {
            return Ok(());
        }
        Err(YamlError {
            line: span.start.line(),
            col: span.start.col() + 1,
            message: format!("mappings and lists nest more than {MAX_DEPTH} deep"),
            limit: true,
        })
    }

    /// Feed one event; true once the first document is complete.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<bool, YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.grow(1, span, false)?;
                let mut node = self.head(span, tag.as_deref());
                node.kind = Kind::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain };
                self.done(node, 1, anchor);
            }
            Event::Alias(id) => {
                let Some(&(_, size)) = self.anchors.get(&id) else {
                    return Err(YamlError {
                        line: span.start.line(),
                        col: span.start.col() + 1,
                        message: "alias to an unknown anchor".to_string(),
                        limit: false,
                    });
                };
                // Counted before the copy is made: the copy is what must not happen.
                self.grow(size, span, true)?;
                let node = self.anchors[&id].0.clone();
                self.done(node, size, 0);
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(span)?;
                let head = self.head(span, tag.as_deref());
                self.stack.push(Frame::Seq { head, anchor, first: self.nodes - 1, items: Vec::new() });
            }
            Event::MappingStart(anchor, tag) => {
                self.open(span)?;
                let head = self.head(span, tag.as_deref());
                self.stack.push(Frame::Map { head, anchor, first: self.nodes - 1, entries: Vec::new(), key: None });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { mut head, anchor, first, items }) = self.stack.pop() {
                    head.kind = Kind::Seq(items);
                    self.done(head, self.nodes - first, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { mut head, anchor, first, entries, .. }) = self.stack.pop() {
                    head.kind = Kind::Map(merge_keys(entries)?);
                    self.done(head, self.nodes - first, anchor);
                }
            }
            Event::DocumentEnd => return Ok(self.root.is_some()),
            Event::StreamEnd => return Ok(true),
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => {}
        }
        Ok(false)
    }

    /// A complete node of `size` nodes (itself and all below it).
    fn done(&mut self, node: Node, size: usize, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, Kind::Scalar { text, plain: true } if text == "<<")
}

/// Apply `<<` merge keys (explicit keys win, then the first merged mapping that has the
/// key), and reject duplicate keys as Compose does. Keys are looked up in hash sets: a
/// mapping of 100 000 keys must not cost 10^10 comparisons.
fn merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut lines: HashMap<String, usize> = HashMap::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if is_merge_key(&k) {
            let sources: Vec<&Node> = match &v.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![&v],
            };
            for src in sources {
                if !src.is_map() {
                    return Err(YamlError {
                        line: src.pos.line,
                        col: src.pos.col,
                        message: "`<<` must merge a mapping or a list of mappings".to_string(),
                        limit: false,
                    });
                }
                merged.extend(src.as_map().iter().cloned());
            }
            continue;
        }
        if let Some(name) = k.as_str() {
            if let Some(first) = lines.get(name) {
                return Err(YamlError {
                    line: k.pos.line,
                    col: k.pos.col,
                    message: format!("duplicate key `{name}` (first at line {first})"),
                    limit: false,
                });
            }
            lines.insert(name.to_string(), k.pos.line);
        }
        out.push((k, v));
    }
    let mut present: HashSet<String> = lines.into_keys().collect();
    for (k, v) in merged {
        if let Some(name) = k.as_str() {
            if !present.insert(name.to_string()) {
                continue;
            }
        }
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_keys() {
        let n = parse("services:\n  web:\n    image: nginx\n", 3).unwrap();
        let (k, v) = n.get("services").unwrap().get("web").unwrap().entry("image").unwrap();
        assert_eq!((k.pos.file, k.pos.line, k.pos.col), (3, 3, 5));
        assert_eq!(v.as_str(), Some("nginx"));
        assert_eq!(v.pos.col, 12);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "x-base: &base\n  restart: always\n  image: a\nservices:\n  web:\n    <<: *base\n    image: b\n";
        let n = parse(text, 0).unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("b"));
        let (k, _) = web.entry("restart").unwrap();
        assert_eq!(k.pos.line, 2, "a merged key keeps the line of its anchor");
    }

    #[test]
    fn merge_of_a_list_takes_the_first_source_first() {
        let text = "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n";
        let n = parse(text, 0).unwrap();
        let c = n.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().as_str(), Some("1"));
        assert_eq!(c.get("y").unwrap().as_str(), Some("3"));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse("services:\n  web:\n    image: [nginx\n", 0).unwrap_err();
        assert!(e.line >= 3, "{e:?}");
        let e = parse("a: 1\nb: 2\na: 3\n", 0).unwrap_err();
        assert_eq!((e.line, e.col), (3, 1));
        assert!(e.message.contains("duplicate key `a` (first at line 1)"), "{e:?}");
    }

    #[test]
    fn nulls_booleans_quoting_and_tags() {
        let n = parse("a:\nb: ~\nc: \"true\"\nd: yes\ne: !reset []\n", 0).unwrap();
        assert!(n.get("a").unwrap().is_null());
        assert!(n.get_some("b").is_none());
        assert!(n.get("c").unwrap().is_true());
        assert!(n.get("d").unwrap().is_true());
        assert_eq!(n.get("e").unwrap().tag.as_deref(), Some("reset"));
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        assert!(parse("", 0).unwrap().as_map().is_empty());
        assert!(parse("# only a comment\n", 0).unwrap().is_map());
    }

    /// Ten nested aliases, each ten times the one before: 10^10 nodes if expanded.
    fn laughs(levels: usize) -> String {
        let mut t = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_string();
        for i in 1..levels {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            t.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        t
    }

    #[test]
    fn nested_aliases_stop_at_the_node_budget() {
        assert!(parse(&laughs(3), 0).is_ok(), "a thousand nodes are fine");
        let e = parse(&laughs(10), 0).unwrap_err();
        assert!(e.limit && e.message.contains("aliases expand it to more than 250000 nodes"), "{e:?}");
        assert_eq!(e.line, 6, "the alias that passed the budget: {e:?}");
    }

    #[test]
    fn nesting_stops_at_the_depth_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok, 0).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse(&deep, 0).unwrap_err();
        assert!(e.limit && e.message.contains("nest more than 64 deep"), "{e:?}");
        let block: String = (0..100).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        assert!(parse(&block, 0).unwrap_err().limit);
        // Far past saphyr's own flow limit: an error, not a crash.
        assert!(parse(&"[".repeat(100_000), 0).is_err());
    }

    #[test]
    fn plain_documents_count_their_nodes_too() {
        let big = format!("[{}]", vec!["x"; MAX_NODES].join(","));
        let e = parse(&big, 0).unwrap_err();
        assert!(e.limit && e.message.contains("it holds more than"), "{e:?}");
        let n = parse("a: [1, 2]\nb: {c: d}\n", 0).unwrap();
        assert_eq!(n.count(), 9);
    }

    #[test]
    fn many_keys_are_checked_in_linear_time() {
        // 100 000 keys: pairwise comparison would take 5 * 10^9 steps (minutes in debug).
        let mut text: String = (0..100_000).map(|i| format!("k{i}: v\n")).collect();
        let started = std::time::Instant::now();
        assert_eq!(parse(&text, 0).unwrap().as_map().len(), 100_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
        text.push_str("k5: again\n");
        let e = parse(&text, 0).unwrap_err();
        assert!(e.message.contains("duplicate key `k5` (first at line 6)"), "{e:?}");
    }

    #[test]
    fn merged_keys_do_not_override_explicit_or_earlier_ones() {
        let n = parse("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], x: 0}\n", 0).unwrap();
        let c = n.get("c").unwrap();
        let got: Vec<_> = c.as_map().iter().map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap())).collect();
        assert_eq!(got, [("x", "0"), ("y", "1"), ("z", "2")]);
    }
}
