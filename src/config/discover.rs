//! Which ccops.yaml to read: `--config`, else `$CCOPS_CONFIG`, else `ccops.yaml` in the
//! current folder or the nearest parent.

use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "ccops.yaml";

pub fn find(explicit: Option<&Path>, from_env: Option<PathBuf>, cwd: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit.map(Path::to_path_buf).or(from_env) {
        let p = if p.is_absolute() { p } else { cwd.join(p) };
        if !p.is_file() {
            return Err(crate::usage!(
                "config file `{}` does not exist; check --config / CCOPS_CONFIG, or run `ccops init` to write one",
                p.display()
            ));
        }
        return Ok(p);
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(crate::usage!(
        "no {FILE_NAME} in `{}` or any parent folder; run `ccops init` in the Compose project's folder, or pass --config FILE",
        cwd.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_parent_config() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        assert_eq!(find(None, None, &deep).unwrap(), dir.path().join(FILE_NAME));
        std::fs::write(dir.path().join("a").join(FILE_NAME), "").unwrap();
        assert_eq!(find(None, None, &deep).unwrap(), dir.path().join("a").join(FILE_NAME));
    }

    #[test]
    fn explicit_path_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let err = find(Some(Path::new("nope.yaml")), None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("nope.yaml"), "{err}");
    }
}
