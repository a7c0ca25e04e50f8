//! `ccops init`: a commented ccops.yaml for the Compose project in a folder, from what
//! its compose and env files say (detect.rs, one service in service.rs), written as text
//! (render.rs). The result is loaded with the real config loader before it is written,
//! and an existing file is never replaced without `--force` (and then kept as
//! `ccops.yaml.bak`).

pub mod detect;
mod render;
mod service;

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
    // lstat: a link at the name counts as a file there, even when it dangles.
    let existing = std::fs::symlink_metadata(opts.target).ok();
    if existing.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
        return Err(crate::usage!(
            "`{}` is a symbolic link; ccops init does not write through links, even with --force. Remove the link, or pass --config with the real file",
            opts.target.display()
        ));
    }
    if existing.is_some() && !opts.force {
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
    if existing.is_some() {
        let b = bak(opts.target);
        let (old, mode) = read_no_follow(opts.target)
            .with_context(|| format!("cannot read the old config `{}`", opts.target.display()))?;
        // Like the new file, the copy replaces whatever is at its name and keeps the old mode.
        crate::util::write_atomic(&b, &old, mode & 0o777)
            .with_context(|| format!("cannot keep the old config as `{}`", b.display()))?;
        backup_of_old = Some(b);
    }
    crate::util::write_atomic(opts.target, text.as_bytes(), 0o644)?;
    Ok(Written { path: opts.target.to_path_buf(), detected, backup_of_old })
}

/// The bytes and mode of a plain file; a symlink put there since the check is an error.
fn read_no_follow(p: &Path) -> std::io::Result<(Vec<u8>, u32)> {
    use std::io::Read;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(p)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok((bytes, f.metadata()?.permissions().mode()))
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

    #[test]
    fn never_writes_through_a_symlink_at_the_config_or_its_backup() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("compose.yaml"), "services:\n  web:\n    image: nginx\n").unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let target = d.path().join("ccops.yaml");
        for force in [false, true] {
            for points_at in [victim.clone(), d.path().join("dangling")] {
                let _ = std::fs::remove_file(&target);
                std::os::unix::fs::symlink(&points_at, &target).unwrap();
                let e = init(&Options { dir: d.path(), target: &target, force }, &penv(d.path())).err().unwrap();
                assert!(e.to_string().contains("is a symbolic link"), "{e}");
                assert!(!d.path().join("dangling").exists());
            }
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");

        // --force keeps the old file as `.bak`: a link planted there is replaced, not followed.
        std::fs::remove_file(&target).unwrap();
        std::fs::write(&target, "# mine\n").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("ccops.yaml.bak")).unwrap();
        init(&Options { dir: d.path(), target: &target, force: true }, &penv(d.path())).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(std::fs::read_to_string(d.path().join("ccops.yaml.bak")).unwrap(), "# mine\n");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    }
}
