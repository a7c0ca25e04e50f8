//! Merging Compose files as Compose does: a later file overrides the keys of an earlier
//! one, appends to its lists (ports, volumes, ...) except those it replaces (command,
//! entrypoint, test), and `!reset`/`!override` replace a value whole. compose.rs merges
//! the files of an environment and each `extends` with it.

use std::collections::HashMap;

use super::yaml::{Kind, Node};

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
        // Indexed by key (and list items by id): two files of 100 000 keys each must not
        // cost 10^10 comparisons.
        (Kind::Map(b), Kind::Map(o)) => {
            let mut index: HashMap<String, usize> = HashMap::new();
            for (i, (bk, _)) in b.iter().enumerate() {
                if let Some(name) = bk.as_str() {
                    index.entry(name.to_string()).or_insert(i);
                }
            }
            for (k, v) in o {
                let name = k.as_str().map(str::to_string);
                match name.as_ref().and_then(|n| index.get(n)) {
                    Some(&i) => merge(&mut b[i].1, v, name.as_deref().unwrap_or("")),
                    None => {
                        if let Some(n) = name {
                            index.insert(n, b.len());
                        }
                        b.push((k, v));
                    }
                }
            }
        }
        (Kind::Seq(b), Kind::Seq(o)) if !REPLACED_LISTS.contains(&key) => {
            let mut index: HashMap<String, usize> = HashMap::new();
            for (i, x) in b.iter().enumerate() {
                if let Some(id) = list_item_id(key, x) {
                    index.entry(id).or_insert(i);
                }
            }
            for item in o {
                match list_item_id(key, &item) {
                    Some(id) => match index.get(&id) {
                        Some(&i) => b[i] = item,
                        None => {
                            index.insert(id, b.len());
                            b.push(item);
                        }
                    },
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
