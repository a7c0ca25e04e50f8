//! One finding per place: the same problem seen in several environments (every override
//! merges the same base file) is reported once, with the environments and services it was
//! seen in. Findings are added one environment at a time, so that a project of many
//! environments holds its distinct findings once, not once per environment.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::finding::Finding;
use super::suppress::Suppressed;

/// What makes two findings the same: rule, place, service and what it is about.
fn same(a: &Finding, b: &Finding) -> bool {
    (&a.rule, &a.file, a.line, a.column, &a.service, &a.key) == (&b.rule, &b.file, b.line, b.column, &b.service, &b.key)
}

/// The hash of what [`same`] compares. The index keeps this hash, not a copy of the
/// identity: 800 000 findings of a hostile file must not be held twice.
fn hash(f: &Finding) -> u64 {
    let mut h = DefaultHasher::new();
    (&f.rule, &f.file, f.line, f.column, &f.service, &f.key).hash(&mut h);
    h.finish()
}

/// Where each distinct finding is in a list the caller keeps (of findings, or of
/// suppressed findings), found by hash and then compared.
#[derive(Default)]
struct Index {
    /// Hash -> position of the first finding of that hash...
    first: HashMap<u64, usize>,
    /// ...and for each position, the next one of the same hash (distinct findings whose
    /// hashes collide), or `usize::MAX`.
    next: Vec<usize>,
}

impl Index {
    /// The position of the finding the same as `f` in `list`, or `f` added at the end of
    /// `list`'s positions (the caller then pushes it).
    fn find_or_add<T>(&mut self, list: &[T], f: &Finding, of: impl Fn(&T) -> &Finding) -> Option<usize> {
        let new = self.next.len();
        let Some(&head) = self.first.get(&hash(f)) else {
            self.first.insert(hash(f), new);
            self.next.push(usize::MAX);
            return None;
        };
        let mut i = head;
        loop {
            if same(of(&list[i]), f) {
                return Some(i);
            }
            if self.next[i] == usize::MAX {
                break;
            }
            i = self.next[i];
        }
        self.next[i] = new;
        self.next.push(usize::MAX);
        None
    }

    fn find<T>(&self, list: &[T], f: &Finding, of: impl Fn(&T) -> &Finding) -> Option<usize> {
        let mut at = self.first.get(&hash(f)).copied();
        while let Some(i) = at {
            if same(of(&list[i]), f) {
                return Some(i);
            }
            at = Some(self.next[i]).filter(|n| *n != usize::MAX);
        }
        None
    }
}

/// Findings in the order first seen, each once.
#[derive(Default)]
pub struct Dedupe {
    out: Vec<Finding>,
    index: Index,
}

impl Dedupe {
    /// Add `f`, or merge its environments and services into the same finding seen before.
    pub fn push(&mut self, f: Finding) {
        let Some(i) = self.index.find_or_add(&self.out, &f, |f| f) else {
            self.out.push(f);
            return;
        };
        let o = &mut self.out[i];
        for e in f.environments {
            if !o.environments.contains(&e) {
                o.environments.push(e);
            }
        }
        for r in f.related {
            if !o.related.contains(&r) {
                o.related.push(r);
            }
        }
    }

    /// Whether a finding the same as `f` was added.
    pub fn contains(&self, f: &Finding) -> bool {
        self.index.find(&self.out, f, |f| f).is_some()
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.out
    }
}

impl Extend<Finding> for Dedupe {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, iter: I) {
        for f in iter {
            self.push(f);
        }
    }
}

/// One entry per suppressed place; a finding suppressed in one environment but reported
/// from another is reported, not counted as suppressed.
pub fn suppressed(list: Vec<Suppressed>, reported: &Dedupe) -> Vec<Suppressed> {
    let mut out: Vec<Suppressed> = Vec::new();
    let mut index = Index::default();
    for s in list {
        if reported.contains(&s.finding) {
            continue;
        }
        if index.find_or_add(&out, &s.finding, |s| &s.finding).is_none() {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_finding_per_place_with_every_environment_and_service() {
        let f = |env: &str| {
            let mut f = Finding::new("DKF001", "/p/Dockerfile", 1, 1, "m");
            f.environments = vec![env.to_string()];
            f.related = vec![format!("svc-{env}")];
            f
        };
        let mut d = Dedupe::default();
        d.extend([f("prod"), f("dev"), f("prod")]);
        let other = Finding::new("DKF001", "/p/Dockerfile", 2, 1, "m");
        assert!(!d.contains(&other));
        d.push(other);
        assert!(d.contains(&f("x")));
        let out = d.into_vec();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].environments, ["prod", "dev"]);
        assert_eq!(out[0].related, ["svc-prod", "svc-dev"]);
        assert_eq!(out[1].line, 2);
    }

    #[test]
    fn colliding_hashes_keep_distinct_findings_apart() {
        // Three findings on one chain, as if their hashes collided: the index must still
        // tell them apart by what they are.
        let list: Vec<Finding> = (1..=3).map(|line| Finding::new("CMP012", "/p/compose.yaml", line, 1, "m")).collect();
        let mut ix = Index::default();
        ix.first.insert(hash(&list[0]), 0);
        ix.next = vec![1, 2, usize::MAX];
        let mut probe = list[0].clone();
        assert_eq!(ix.find(&list, &probe, |f| f), Some(0));
        probe.line = 3;
        ix.first.insert(hash(&probe), 0);
        assert_eq!(ix.find(&list, &probe, |f| f), Some(2), "found by walking the chain");
        probe.column = 2;
        ix.first.insert(hash(&probe), 0);
        assert_eq!(ix.find_or_add(&list, &probe, |f| f), None, "not the same finding: added");
        assert_eq!((ix.next[2], ix.next.len()), (3, 4));
    }

    #[test]
    fn a_suppressed_finding_reported_elsewhere_is_not_suppressed() {
        let by = crate::scan::suppress::Ignore {
            rule: "CMP012".into(),
            service: None,
            reason: None,
            file: "/p/ccops.yaml".into(),
            line: 1,
            col: 1,
        };
        let f = |line| Finding::new("CMP012", "/p/compose.yaml", line, 1, "m");
        let mut reported = Dedupe::default();
        reported.push(f(1));
        let list = [f(1), f(2), f(2)].map(|finding| Suppressed { finding, by: by.clone() }).to_vec();
        let kept = suppressed(list, &reported);
        assert_eq!(kept.iter().map(|s| s.finding.line).collect::<Vec<_>>(), [2]);
    }
}
