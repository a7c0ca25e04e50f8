//! The check a volume archive passes before a restore extracts it (and after a backup
//! writes it): it reads whole, and no entry can make an extraction write outside the
//! volume. A model of the tree the extraction builds, so link chains are followed as the
//! kernel would follow them.
//!
//! Long for its tests: about 210 lines of code, then the escapes it refuses, a reference
//! model of extraction and property tests that hold the check to the model, kept beside
//! the code they test.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, anyhow, bail};

/// Check a stored volume archive before it touches anything: it reads whole, and nothing
/// in it can make an extraction write outside the volume. Returns the entry count.
///
/// Written for an archive an attacker made (someone with write access to the backup
/// bucket), so the rules are those of an archive that `tar -C volume .` or the engine's
/// archive API writes, and nothing looser:
/// - names are relative, without `..`, and never the folder a restore moves the previous
///   contents into;
/// - no entry is written through a symlink: none lies under one, none replaces one, and
///   a symlink never replaces an earlier entry (an extractor follows a link it finds on
///   the way, so `dir -> /etc` then `dir/cron.d/x` would write to the host);
/// - a symlink's target stays inside the volume, also when resolved through the other
///   links of the archive (`up -> ..`, then `x -> up/..`);
/// - a hard link names a file (or FIFO) written before it: never a symlink, which would
///   be copied with its relative target to another folder, nor anything outside;
/// - no device nodes: a block or character device in a volume opens the host's disks or
///   memory to whatever reads the volume. FIFOs are kept: they write nowhere, and
///   programs keep them in their data.
pub fn check_archive(mut reader: impl Read) -> Result<usize> {
    let mut archive = tar::Archive::new(&mut reader);
    let mut tree = Tree::default();
    let mut count = 0;
    for entry in archive.entries().map_err(|e| anyhow!("not a tar archive: {e}"))? {
        let entry = entry.map_err(|e| anyhow!("the archive is damaged after {count} entries: {e}"))?;
        let path = entry.path().map_err(|e| anyhow!("an entry has an unreadable name: {e}"))?.into_owned();
        let target = entry.link_name().map_err(|e| anyhow!("entry `{}`: {e}", path.display()))?.map(|t| t.into_owned());
        tree.add(&path, entry.header().entry_type(), target.as_deref())?;
        count += 1;
    }
    tree.check_links()?;
    Ok(count)
}

/// What an extraction of the entries seen so far has made, as check_archive models it.
#[derive(Default)]
struct Tree {
    /// Folders: those of the archive and every parent of an entry.
    dirs: std::collections::HashSet<PathBuf>,
    /// Regular files, FIFOs and hard links.
    files: std::collections::HashSet<PathBuf>,
    /// Symlink -> its target as written.
    links: HashMap<PathBuf, PathBuf>,
}

impl Tree {
    fn add(&mut self, path: &Path, kind: tar::EntryType, target: Option<&Path>) -> Result<()> {
        use tar::EntryType as T;
        let shown = path.display();
        let inside = normalize(Path::new(""), path)
            .filter(|_| !path.components().any(|c| c == Component::ParentDir))
            .ok_or_else(|| anyhow!("entry `{shown}` would escape the volume"))?;
        let kind = match kind {
            T::Block | T::Char => bail!("entry `{shown}` is a device node; ccops restores no devices into a volume"),
            // Read by the tar reader itself, or metadata an extractor writes nowhere.
            T::GNULongName | T::GNULongLink | T::XHeader | T::XGlobalHeader => return Ok(()),
            T::Regular | T::Continuous | T::GNUSparse | T::Fifo => T::Regular,
            T::Directory | T::Symlink | T::Link => kind,
            other => {
                bail!(
                    "entry `{shown}` has the tar type `{}`, which ccops does not restore",
                    char::from(other.as_byte())
                )
            }
        };
        if inside.as_os_str().is_empty() {
            if kind == T::Directory {
                return Ok(());
            }
            bail!("entry `{shown}` would replace the volume's own folder");
        }
        if inside.iter().next().and_then(|c| c.to_str()).is_some_and(|c| c.starts_with(ASIDE_PREFIX)) {
            bail!("entry `{shown}` is in `{ASIDE_PREFIX}*`, where a restore keeps the previous contents");
        }
        for parent in inside.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()) {
            if self.links.contains_key(parent) {
                bail!("entry `{shown}` would be written through the symbolic link `{}`", parent.display());
            }
            self.dirs.insert(parent.to_path_buf());
        }
        if self.links.contains_key(&inside) {
            bail!("entry `{shown}` would replace the symbolic link written before it");
        }
        let earlier = self.dirs.contains(&inside) || self.files.contains(&inside);
        match kind {
            T::Directory if self.files.contains(&inside) => {
                bail!("entry `{shown}` is a folder where the archive wrote a file before")
            }
            T::Directory => {
                self.dirs.insert(inside);
            }
            T::Regular if self.dirs.contains(&inside) => {
                bail!("entry `{shown}` is a file where the archive wrote a folder before")
            }
            T::Regular => {
                self.files.insert(inside);
            }
            T::Symlink => {
                if earlier {
                    bail!("entry `{shown}` is a symbolic link that would replace an entry written before it");
                }
                let target = target.ok_or_else(|| anyhow!("symbolic link `{shown}` has no target"))?;
                let base = inside.parent().unwrap_or(Path::new(""));
                if normalize(base, target).is_none() {
                    bail!("entry `{shown}` links to `{}`, outside the volume", target.display());
                }
                self.links.insert(inside, target.to_path_buf());
            }
            _ => {
                let target = target.ok_or_else(|| anyhow!("hard link `{shown}` has no target"))?;
                let to = normalize(Path::new(""), target)
                    .filter(|_| !target.components().any(|c| c == Component::ParentDir))
                    .ok_or_else(|| anyhow!("entry `{shown}` links to `{}`, outside the volume", target.display()))?;
                if !self.files.contains(&to) {
                    bail!(
                        "hard link `{shown}` points at `{}`, which is not a file written before it in the archive",
                        target.display()
                    );
                }
                if self.dirs.contains(&inside) {
                    bail!("entry `{shown}` is a file where the archive wrote a folder before");
                }
                self.files.insert(inside);
            }
        }
        Ok(())
    }

    /// Every symlink, followed through the others, ends inside the volume. A chain that
    /// loops ends nowhere, which is harmless.
    fn check_links(&self) -> Result<()> {
        for (link, target) in &self.links {
            let base: Vec<&std::ffi::OsStr> = link.parent().unwrap_or(Path::new("")).iter().collect();
            let mut hops = 0;
            if self.resolve(base, target, &mut hops).is_none() {
                bail!(
                    "entry `{}` links to `{}`, which leads outside the volume through the archive's other links",
                    link.display(),
                    target.display()
                );
            }
        }
        Ok(())
    }

    /// Resolve `rel` from the folder `at` as the kernel would, following the archive's
    /// symlinks: the folder reached, or None when the walk leaves the volume.
    fn resolve<'a>(
        &'a self,
        mut at: Vec<&'a std::ffi::OsStr>,
        rel: &'a Path,
        hops: &mut usize,
    ) -> Option<Vec<&'a std::ffi::OsStr>> {
        for c in rel.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    at.pop()?;
                }
                Component::Normal(name) => {
                    at.push(name);
                    let here: PathBuf = at.iter().collect();
                    if let Some((key, target)) = self.links.get_key_value(&here) {
                        *hops += 1;
                        if *hops > MAX_HOPS {
                            return Some(at); // a loop: the kernel stops with ELOOP
                        }
                        let parent: Vec<&std::ffi::OsStr> = key.parent().unwrap_or(Path::new("")).iter().collect();
                        at = self.resolve(parent, target, hops)?;
                    }
                }
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(at)
    }
}

/// Links the kernel follows in one lookup before it gives up (Linux: 40).
const MAX_HOPS: usize = 40;

/// The start of the folder name `replace` moves the previous contents into.
pub(super) const ASIDE_PREFIX: &str = ".ccops-before-restore-";

/// `rel` resolved under `base`, or None when it is absolute or climbs out of the root.
fn normalize(base: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out: Vec<&std::ffi::OsStr> = base.iter().collect();
    for c in rel.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // set_path refuses `..`; write the raw name to build hostile archives.
        let name: &mut [u8] = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, &b"hi"[..]).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, path, target).unwrap();
    }

    #[test]
    fn accepts_a_normal_tree_with_inner_links() {
        let a = archive(|b| {
            file(b, "./a/b.txt");
            link(b, "./a/l", "b.txt");
            link(b, "./top", "a/../a/b.txt");
        });
        assert_eq!(check_archive(&a[..]).unwrap(), 3);
    }

    #[test]
    fn rejects_escapes() {
        let a = archive(|b| file(b, "../evil"));
        assert!(check_archive(&a[..]).unwrap_err().to_string().contains("`../evil` would escape"));
        let a = archive(|b| file(b, "/etc/passwd"));
        assert!(check_archive(&a[..]).is_err());
        let a = archive(|b| link(b, "./x", "/etc/shadow"));
        assert!(check_archive(&a[..]).unwrap_err().to_string().contains("outside the volume"));
        let a = archive(|b| link(b, "./d/x", "../../etc"));
        assert!(check_archive(&a[..]).is_err());
    }

    /// An entry written byte by byte: any name, type and link target, as an attacker may.
    fn raw(b: &mut tar::Builder<Vec<u8>>, kind: u8, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        let size = if kind == b'0' { 2 } else { 0 };
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::new(kind));
        let old = h.as_old_mut();
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        old.linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        b.append(&h, &b"hi"[..size as usize]).unwrap();
    }

    fn check(entries: &[(u8, &str, &str)]) -> Result<usize> {
        let a = archive(|b| entries.iter().for_each(|(k, p, t)| raw(b, *k, p, t)));
        check_archive(&a[..])
    }

    #[track_caller]
    fn refused(entries: &[(u8, &str, &str)], why: &str) {
        let e = check(entries).expect_err("accepted").to_string();
        assert!(e.contains(why), "{entries:?}: {e}");
    }

    const FILE: u8 = b'0';
    const HARD: u8 = b'1';
    const SYM: u8 = b'2';
    const DIR: u8 = b'5';

    #[test]
    fn refuses_device_nodes_and_keeps_fifos() {
        refused(&[(b'3', "./tty", "")], "is a device node");
        refused(&[(b'4', "./sda", "")], "is a device node");
        refused(&[(b'V', "./label", "")], "tar type `V`");
        assert_eq!(check(&[(DIR, "./", ""), (b'6', "./run/pipe", "")]).unwrap(), 2);
    }

    #[test]
    fn refuses_writing_through_a_symlink() {
        // A link that points inside is still never written through: tar does not write so.
        refused(&[(SYM, "./d", "sub"), (FILE, "./d/x", "")], "written through the symbolic link `d`");
        refused(&[(SYM, "./d", "."), (DIR, "./d/cron.d", "")], "written through the symbolic link `d`");
        refused(&[(SYM, "./l", "f"), (FILE, "./l", "")], "replace the symbolic link");
        refused(&[(FILE, "./d/f", ""), (SYM, "./d", "e")], "would replace an entry written before it");
        refused(&[(FILE, "./f", ""), (SYM, "./f", "g")], "would replace an entry written before it");
        refused(&[(FILE, "./a/../b", "")], "would escape");
        refused(&[(DIR, "", ""), (SYM, "./", "x")], "the volume's own folder");
        refused(&[(FILE, "./.ccops-before-restore-42/x/etc/passwd", "")], "previous contents");
    }

    #[test]
    fn refuses_symlink_chains_that_leave_the_volume() {
        refused(&[(SYM, "./a", "b"), (SYM, "./b", "../..")], "outside the volume");
        // Each link alone stays inside; followed through `up`, `esc` climbs out.
        refused(&[(SYM, "./d/up", ".."), (SYM, "./esc", "d/up/..")], "through the archive's other links");
        // The same with the link it relies on coming later in the archive.
        refused(&[(SYM, "./esc", "d/up/../x"), (SYM, "./d/up", "..")], "through the archive's other links");
        refused(&[(SYM, "./a/b/up2", "../.."), (SYM, "./a/x", "b/up2/../y")], "through the archive's other links");
        // Found by the property test below: `c/a` resolves through `c/c`, which is the root.
        refused(&[(SYM, "c/a", "c/.."), (SYM, "c/c", "..")], "through the archive's other links");
        // Links that loop lead nowhere; links through links that stay inside are fine.
        assert_eq!(check(&[(SYM, "./a", "b"), (SYM, "./b", "a")]).unwrap(), 2);
        assert_eq!(check(&[(SYM, "./d/up", ".."), (SYM, "./x", "d/up/d/up/f"), (FILE, "./f", "")]).unwrap(), 3);
    }

    #[test]
    fn refuses_hard_links_out_or_to_links() {
        refused(&[(HARD, "./h", "../../etc/shadow")], "outside the volume");
        refused(&[(HARD, "./h", "/etc/shadow")], "outside the volume");
        refused(&[(HARD, "./h", "later"), (FILE, "./later", "")], "not a file written before it");
        // A hard link to a symlink is a copy of the link, its relative target now read
        // from another folder.
        refused(&[(SYM, "./a/b/l", "../../x"), (HARD, "./h", "a/b/l")], "not a file written before it");
        refused(&[(SYM, "./l", "."), (HARD, "./h", "l/f")], "not a file written before it");
        let ok = [(DIR, "./", ""), (FILE, "./a/f", ""), (HARD, "./h", "./a/f"), (HARD, "./h2", "h")];
        assert_eq!(check(&ok).unwrap(), 4);
    }

    /// A careless extractor, to judge what check_archive accepts: it follows every
    /// symlink it meets, the last component included, as `open(O_CREAT)` and `mkdir -p`
    /// do, and climbing above the volume's folder reaches the host.
    mod model {
        use std::collections::HashMap;
        use std::path::{Component, Path};

        #[derive(Clone)]
        enum Node {
            Dir,
            File,
            Link(String),
        }

        #[derive(Debug, PartialEq)]
        pub enum Landed {
            Inside,
            Outside(String),
        }

        enum Walk {
            At(Vec<String>),
            /// The extractor fails here (a file used as a folder, a loop): nothing written.
            Fails,
            Out,
        }

        #[derive(Default)]
        pub struct Volume {
            nodes: HashMap<Vec<String>, Node>,
        }

        impl Volume {
            fn walk(&self, mut at: Vec<String>, rel: &str, follow_last: bool, hops: &mut usize) -> Walk {
                let parts: Vec<Component> = Path::new(rel).components().collect();
                for (i, c) in parts.iter().enumerate() {
                    match c {
                        Component::RootDir | Component::Prefix(_) => return Walk::Out,
                        Component::CurDir => {}
                        Component::ParentDir => {
                            if at.pop().is_none() {
                                return Walk::Out;
                            }
                        }
                        Component::Normal(n) => {
                            at.push(n.to_string_lossy().into_owned());
                            let last = i + 1 == parts.len();
                            match self.nodes.get(&at) {
                                Some(Node::Link(t)) if !last || follow_last => {
                                    *hops += 1;
                                    if *hops > 40 {
                                        return Walk::Fails;
                                    }
                                    at.pop();
                                    match self.walk(at, &t.clone(), true, hops) {
                                        Walk::At(p) => at = p,
                                        other => return other,
                                    }
                                }
                                Some(Node::File) if !last => return Walk::Fails,
                                _ => {}
                            }
                        }
                    }
                }
                Walk::At(at)
            }

            /// Extract one entry; where it landed.
            pub fn extract(&mut self, kind: u8, name: &str, target: &str) -> Landed {
                let follow_last = !matches!(kind, b'1' | b'2');
                let at = match self.walk(vec![], name, follow_last, &mut 0) {
                    Walk::Out => return Landed::Outside(format!("entry {name:?}")),
                    Walk::Fails => return Landed::Inside,
                    Walk::At(at) if at.is_empty() => return Landed::Inside,
                    Walk::At(at) => at,
                };
                let node = match kind {
                    b'5' => Node::Dir,
                    b'2' => Node::Link(target.to_string()),
                    b'1' => match self.walk(vec![], target, false, &mut 0) {
                        Walk::Out => return Landed::Outside(format!("hard link {name:?} -> {target:?}")),
                        Walk::Fails => return Landed::Inside,
                        Walk::At(src) => match self.nodes.get(&src) {
                            Some(Node::Link(t)) => Node::Link(t.clone()),
                            Some(Node::Dir) | None => return Landed::Inside,
                            Some(Node::File) => Node::File,
                        },
                    },
                    _ => Node::File,
                };
                for i in 1..at.len() {
                    self.nodes.entry(at[..i].to_vec()).or_insert(Node::Dir);
                }
                self.nodes.insert(at, node);
                Landed::Inside
            }

            /// Whether any symlink left behind leads out when followed.
            pub fn links_lead_out(&self) -> Option<String> {
                self.nodes.iter().find_map(|(at, n)| match n {
                    Node::Link(t) => {
                        let parent = at[..at.len() - 1].to_vec();
                        matches!(self.walk(parent, t, true, &mut 0), Walk::Out)
                            .then(|| format!("link {} -> {t}", at.join("/")))
                    }
                    _ => None,
                })
            }
        }
    }

    #[test]
    fn the_model_sees_the_escapes_check_archive_refuses() {
        let lands_outside = |entries: &[(u8, &str, &str)]| {
            let mut vol = model::Volume::default();
            let landed: Vec<model::Landed> = entries.iter().map(|(k, p, t)| vol.extract(*k, p, t)).collect();
            landed.iter().any(|l| *l != model::Landed::Inside) || vol.links_lead_out().is_some()
        };
        for hostile in [
            &[(SYM, "./d", "/etc"), (FILE, "./d/cron.d/x", "")][..],
            &[(SYM, "./d/up", ".."), (SYM, "./esc", "d/up/..")],
            &[(SYM, "./a/b/l", "../../x"), (HARD, "./h", "a/b/l")],
            &[(HARD, "./h", "../etc/shadow")],
            &[(SYM, "./d/up", ".."), (FILE, "./d/up/../../x", "")],
        ] {
            assert!(lands_outside(hostile), "{hostile:?}");
            assert!(check(hostile).is_err(), "{hostile:?}");
        }
        assert!(!lands_outside(&[(FILE, "./a/f", ""), (SYM, "./l", "a/f"), (HARD, "./h", "a/f")]));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Mostly names a real archive has, now and then a hostile one.
        fn name() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                6 => Just("a"),
                5 => Just("b"),
                4 => Just("c"),
                1 => Just(".."),
                1 => Just("."),
                1 => Just(""),
                1 => Just(".ccops-before-restore-1"),
            ];
            let lead = prop_oneof![6 => Just(""), 6 => Just("./"), 1 => Just("/")];
            (lead, prop::collection::vec(part, 1..4)).prop_map(|(lead, parts)| format!("{lead}{}", parts.join("/")))
        }

        /// Link targets climb and turn as links in volumes do.
        fn target() -> impl Strategy<Value = String> {
            let part = prop_oneof![4 => Just("a"), 3 => Just("b"), 2 => Just("c"), 6 => Just(".."), 1 => Just(".")];
            let lead = prop_oneof![12 => Just(""), 1 => Just("/")];
            (lead, prop::collection::vec(part, 1..5)).prop_map(|(lead, parts)| format!("{lead}{}", parts.join("/")))
        }

        fn entry() -> impl Strategy<Value = (u8, String, String)> {
            let kind = prop_oneof![
                3 => Just(FILE),
                1 => Just(DIR),
                8 => Just(SYM),
                2 => Just(HARD),
                1 => Just(b'3'),
                1 => Just(b'4'),
                1 => Just(b'6'),
            ];
            (kind, name(), target())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 10000, ..ProptestConfig::default() })]

            /// Never a panic, and an archive accepted never lands anything outside the
            /// volume, even for an extractor that follows every link.
            #[test]
            fn an_accepted_archive_stays_inside(entries in prop::collection::vec(entry(), 0..10)) {
                let a = archive(|b| entries.iter().for_each(|(k, p, t)| raw(b, *k, p, t)));
                if check_archive(&a[..]).is_err() {
                    return Ok(());
                }
                let mut vol = model::Volume::default();
                for e in &entries {
                    let (kind, name, target) = (e.0, e.1.as_str(), e.2.as_str());
                    prop_assert!(!matches!(kind, b'3' | b'4'), "device {name:?} accepted");
                    let landed = vol.extract(kind, name, target);
                    prop_assert_eq!(landed, model::Landed::Inside, "{:?}", entries);
                }
                let out = vol.links_lead_out();
                prop_assert!(out.is_none(), "{:?}: {:?}", out, entries);
            }

            /// Bytes that are no tar archive, or a damaged one: an error, never a panic.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), cut in 0usize..4096) {
                let _ = check_archive(&bytes[..]);
                let a = archive(|b| { file(b, "./a"); link(b, "./l", "a"); });
                let mut damaged = a.clone();
                let at = cut % damaged.len();
                damaged[at] ^= bytes.first().copied().unwrap_or(1).max(1);
                let _ = check_archive(&damaged[..]);
                let _ = check_archive(&a[..cut.min(a.len())]);
            }
        }
    }

    #[test]
    fn rejects_a_damaged_archive() {
        let mut a = archive(|b| file(b, "./ok"));
        a[0] ^= 0xff;
        assert!(check_archive(&a[..]).is_err());
    }
}
