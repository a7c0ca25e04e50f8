//! Finding the Compose v2 CLI plugin without running it. `docker compose version` costs
//! two program starts of the Docker CLI and the plugin (a third of a second, on every
//! ccops command); where the plugin file sits in a folder the Docker CLI searches, and
//! the CLI itself is on PATH, `docker compose` is known to be there. Anywhere else the
//! caller still asks `docker compose version`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The folders the Docker CLI looks in for plugins, in its order: the user's
/// (`$DOCKER_CONFIG/cli-plugins`, else `~/.docker/cli-plugins`), then the system's.
fn plugin_dirs(home: Option<&str>, docker_config: Option<&str>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match (docker_config, home) {
        (Some(c), _) => dirs.push(Path::new(c).join("cli-plugins")),
        (None, Some(h)) => dirs.push(Path::new(h).join(".docker/cli-plugins")),
        (None, None) => {}
    }
    for d in [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

fn executable(p: &Path) -> bool {
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `bin` as the shell would find it: a path as given, else the first match on `path_var`.
fn on_path(bin: &str, path_var: Option<&str>) -> Option<PathBuf> {
    if bin.contains('/') {
        return executable(Path::new(bin)).then(|| PathBuf::from(bin));
    }
    std::env::split_paths(path_var?).map(|d| d.join(bin)).find(|p| executable(p))
}

/// The Compose v2 plugin `docker_bin compose` would run, when both are plainly there.
pub fn find(
    docker_bin: &str,
    path_var: Option<&str>,
    home: Option<&str>,
    docker_config: Option<&str>,
) -> Option<PathBuf> {
    on_path(docker_bin, path_var)?;
    plugin_dirs(home, docker_config).into_iter().map(|d| d.join("docker-compose")).find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn the_users_plugin_is_found_when_the_cli_is_on_path() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        exe(&bin, "docker");
        let home = t.path().join("home");
        let plugin = exe(&home.join(".docker/cli-plugins"), "docker-compose");
        let path = bin.to_str().unwrap();
        assert_eq!(find("docker", Some(path), home.to_str(), None), Some(plugin.clone()));
        // DOCKER_CONFIG moves the user's folder, as it does for the Docker CLI.
        let cfg = t.path().join("cfg");
        let moved = exe(&cfg.join("cli-plugins"), "docker-compose");
        assert_eq!(find("docker", Some(path), home.to_str(), cfg.to_str()), Some(moved));
    }

    #[test]
    fn nothing_is_claimed_without_the_cli_or_an_executable_plugin() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        exe(&home.join(".docker/cli-plugins"), "docker-compose");
        let empty = t.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(find("docker", empty.to_str(), home.to_str(), None), None);
        assert_eq!(find("/nonexistent/docker", None, home.to_str(), None), None);
        // A plugin file that is not executable is not a plugin.
        let bin = t.path().join("bin");
        let docker = exe(&bin, "docker");
        let cfg = t.path().join("cfg/cli-plugins");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("docker-compose"), "").unwrap();
        let found = find(docker.to_str().unwrap(), None, None, t.path().join("cfg").to_str());
        assert!(found.as_ref().is_none_or(|p| !p.starts_with(t.path())), "{found:?}");
    }
}
