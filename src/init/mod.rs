//! `ccops init`: a commented ccops.yaml for the Compose project in a folder, from what
//! its compose and env files say (detect.rs), written as text (render.rs). The result is
//! loaded with the real config loader before it is written, and an existing file is
//! never replaced without `--force` (and then kept as `ccops.yaml.bak`).

pub mod detect;
mod render;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use detect::Detected;

use crate::config::ProcessEnv;

pub struct Options<'a> {
    /// The folder of the Compose project.
    pub dir: &'a Path,
    /// The file to write (`ccops.yaml` in `dir` unless `--config` says otherwise).
    pub target: &'a Path,
    pub force: bool,
}

/// What `init` wrote.
pub struct Written {
    pub path: PathBuf,
    pub detected: Detected,
    /// Where the file it replaced went (`--force`).
    pub backup_of_old: Option<PathBuf>,
}

pub fn init(opts: &Options, penv: &ProcessEnv) -> Result<Written> {
    if opts.target.exists() && !opts.force {
        return Err(crate::usage!(
            "`{}` already exists; ccops init leaves it as it is. Pass --force to replace it (the old file is kept as `{}`)",
            opts.target.display(),
            bak(opts.target).display()
        ));
    }
    let detected = detect::detect(opts.dir)?;
    let text = render::render(&detected, &chrono::Utc::now().format("%Y-%m-%d").to_string());
    // The loader is the judge: a file init writes must load (schema, env files, compose files).
    crate::config::load_str(opts.target, &text, None, penv)
        .context("ccops init produced a config that does not load; this is a bug in ccops, please report it with the compose files")?;
    let mut backup_of_old = None;
    if opts.target.exists() {
        let b = bak(opts.target);
        std::fs::copy(opts.target, &b).with_context(|| format!("cannot keep the old config as `{}`", b.display()))?;
        backup_of_old = Some(b);
    }
    crate::util::write_atomic(opts.target, text.as_bytes(), 0o644)?;
    Ok(Written { path: opts.target.to_path_buf(), detected, backup_of_old })
}

fn bak(p: &Path) -> PathBuf {
    let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".bak");
    p.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn penv(dir: &Path) -> ProcessEnv {
        ProcessEnv { vars: Default::default(), cwd: dir.to_path_buf() }
    }

    #[test]
    fn writes_a_loadable_config_and_never_overwrites_without_force() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("compose.yaml"),
            "services:\n  db:\n    image: postgres:16\n    environment: [POSTGRES_PASSWORD=x]\n    volumes: [db:/var/lib/postgresql/data]\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n    volumes: [site:/usr/share/nginx/html]\nvolumes:\n  db:\n  site:\n",
        )
        .unwrap();
        let target = d.path().join("ccops.yaml");
        let opts = Options { dir: d.path(), target: &target, force: false };
        let w = init(&opts, &penv(d.path())).unwrap();
        let text = std::fs::read_to_string(&w.path).unwrap();
        let s = crate::config::load_str(&target, &text, None, &penv(d.path())).unwrap();
        assert_eq!(s.env_name, "production");
        assert_eq!(s.file.backup.postgres[0].database, "postgres");
        assert_eq!(s.file.backup.volumes[0].name, "site");
        assert_eq!(s.file.backup.volumes[0].stop_services, ["web"]);
        assert_eq!(s.file.health.checks[0].tcp.as_deref(), Some("127.0.0.1:80"));

        std::fs::write(&target, "# mine\n").unwrap();
        let e = init(&opts, &penv(d.path())).err().unwrap();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "# mine\n");
        let w = init(&Options { force: true, ..opts }, &penv(d.path())).unwrap();
        assert_eq!(std::fs::read_to_string(w.backup_of_old.unwrap()).unwrap(), "# mine\n");
    }
}
