//! Paths as reports show them: normalised without touching the disk, and relative to the
//! scanned folder (or the repository) with forward slashes.

use std::path::{Component, Path, PathBuf};

/// `a/./b/../c` as `a/c`, without resolving symlinks.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `base`, `/`-separated, with `../` when it lies outside.
pub fn relative(base: &Path, path: &Path) -> String {
    let (base, path) = (normalize(base), normalize(path));
    let b: Vec<Component<'_>> = base.components().collect();
    let p: Vec<Component<'_>> = path.components().collect();
    let common = b.iter().zip(&p).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.to_string_lossy().replace('\\', "/");
    }
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(p[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_relativizes() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(relative(Path::new("/p"), Path::new("/p/app/Dockerfile")), "app/Dockerfile");
        assert_eq!(relative(Path::new("/p/x"), Path::new("/p/common.yml")), "../common.yml");
        assert_eq!(relative(Path::new("/p/."), Path::new("/p/./compose.yaml")), "compose.yaml");
    }
}
