//! Which engine a command talks to, decided as the Docker CLI decides it: `docker_host` of
//! the environment, else DOCKER_HOST, else the Docker context (DOCKER_CONTEXT, else the
//! `currentContext` of the CLI's config.json), else the local socket. A `tcp://` host
//! uses TLS when DOCKER_TLS_VERIFY is set (certificates from DOCKER_CERT_PATH, else the
//! CLI's config folder) or when its context stores certificates.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use sha2::{Digest, Sha256};

/// The client certificate, its key and the CA that signs the engine's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    fn in_folder(dir: &Path) -> TlsFiles {
        TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") }
    }
}

/// An engine's address, with TLS files for `tcp://` when they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub tls: Option<TlsFiles>,
    /// Where the address came from, for messages: `docker_host`, DOCKER_HOST, `context `x``.
    pub origin: String,
}

/// What the Docker CLI's environment says (values as read, unset as `None`).
#[derive(Debug, Default, Clone)]
pub struct CliEnv<'a> {
    pub docker_host: Option<&'a str>,
    pub docker_context: Option<&'a str>,
    pub docker_config: Option<&'a str>,
    pub home: Option<&'a str>,
    pub tls_verify: Option<&'a str>,
    pub cert_path: Option<&'a str>,
}

impl CliEnv<'_> {
    fn config_dir(&self) -> Option<PathBuf> {
        match (self.docker_config.filter(|d| !d.is_empty()), self.home.filter(|h| !h.is_empty())) {
            (Some(d), _) => Some(PathBuf::from(d)),
            (None, Some(h)) => Some(Path::new(h).join(".docker")),
            (None, None) => None,
        }
    }

    /// TLS for a `tcp://` host given by name (not a context): DOCKER_TLS_VERIFY set, any value.
    fn tls_for(&self, host: &str) -> Option<TlsFiles> {
        let tcp = host.starts_with("tcp://") || host.starts_with("https://");
        if !tcp || self.tls_verify.is_none_or(str::is_empty) {
            return None;
        }
        let dir = self.cert_path.filter(|p| !p.is_empty()).map(PathBuf::from).or_else(|| self.config_dir())?;
        Some(TlsFiles::in_folder(&dir))
    }
}

/// The engine to use; `None` is the local socket.
pub fn resolve(configured: Option<&str>, env: &CliEnv) -> Result<Option<Endpoint>> {
    let named = |host: &str, origin: &str| {
        let tls = env.tls_for(host);
        // Said here, before Compose (given the same folder) fails on it in its own words.
        if let Some(missing) = tls.iter().flat_map(|t| [&t.ca, &t.cert, &t.key]).find(|f| !f.is_file()) {
            bail!(
                "TLS to `{host}` ({origin}; DOCKER_TLS_VERIFY is set) needs `{}`, which does not exist; set DOCKER_CERT_PATH to the folder of ca.pem, cert.pem and key.pem",
                missing.display()
            );
        }
        Ok(Some(Endpoint { host: host.to_string(), tls, origin: origin.into() }))
    };
    if let Some(h) = configured.filter(|h| !h.is_empty()) {
        return named(h, "`docker_host`");
    }
    if let Some(h) = env.docker_host.filter(|h| !h.is_empty()) {
        return named(h, "DOCKER_HOST");
    }
    let Some(dir) = env.config_dir() else { return Ok(None) };
    let (name, from) = match env.docker_context.filter(|c| !c.is_empty()) {
        Some(c) => (c.to_string(), "DOCKER_CONTEXT"),
        None => match current_context(&dir)? {
            Some(c) => (c, "`currentContext` of the Docker CLI's config.json"),
            None => return Ok(None),
        },
    };
    if name == "default" {
        return Ok(None);
    }
    context(&dir, &name).with_context(|| format!("Docker context `{name}` (from {from})")).map(Some)
}

fn current_context(dir: &Path) -> Result<Option<String>> {
    let file = dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&file) else { return Ok(None) };
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not valid JSON", file.display()))?;
    Ok(v.get("currentContext").and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(String::from))
}

/// A context as `docker context create` stores it: meta.json under the SHA-256 of its name.
fn context(dir: &Path, name: &str) -> Result<Endpoint> {
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta = dir.join("contexts/meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|_| {
        anyhow!("not found (no `{}`); list contexts with `docker context ls`, or unset it", meta.display())
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not valid JSON", meta.display()))?;
    let docker = v.pointer("/Endpoints/docker");
    let host = docker.and_then(|d| d.get("Host")).and_then(|h| h.as_str()).unwrap_or_default();
    if host.is_empty() {
        bail!("`{}` names no Docker host (Endpoints.docker.Host)", meta.display());
    }
    let skip_verify = docker.and_then(|d| d.get("SkipTLSVerify")).and_then(|s| s.as_bool()).unwrap_or(false);
    let tls_dir = dir.join("contexts/tls").join(&id).join("docker");
    let tls = (host.starts_with("tcp://") && !skip_verify && tls_dir.join("ca.pem").is_file())
        .then(|| TlsFiles::in_folder(&tls_dir));
    Ok(Endpoint { host: host.to_string(), tls, origin: format!("context `{name}`") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_context(dir: &Path, name: &str, host: &str) {
        let id = hex::encode(Sha256::digest(name.as_bytes()));
        let meta = dir.join("contexts/meta").join(id);
        std::fs::create_dir_all(&meta).unwrap();
        let json = format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        );
        std::fs::write(meta.join("meta.json"), json).unwrap();
    }

    #[test]
    fn docker_host_then_environment_then_context() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().to_str().unwrap();
        write_context(d.path(), "prod", "ssh://deploy@prod");
        std::fs::write(d.path().join("config.json"), r#"{"currentContext":"prod"}"#).unwrap();
        let mut env = CliEnv { docker_config: Some(cfg), ..Default::default() };
        let host = |c: Option<&str>, env: &CliEnv| resolve(c, env).unwrap().map(|e| e.host);
        assert_eq!(host(None, &env).as_deref(), Some("ssh://deploy@prod"));
        env.docker_host = Some("tcp://10.0.0.9:2375");
        assert_eq!(host(None, &env).as_deref(), Some("tcp://10.0.0.9:2375"));
        assert_eq!(host(Some("ssh://me@there"), &env).as_deref(), Some("ssh://me@there"));
        env.docker_host = None;
        env.docker_context = Some("default");
        assert_eq!(host(None, &env), None);
        env.docker_context = Some("gone");
        let e = format!("{:#}", resolve(None, &env).unwrap_err());
        assert!(e.contains("Docker context `gone` (from DOCKER_CONTEXT)") && e.contains("docker context ls"), "{e}");
    }

    #[test]
    fn tls_when_verify_is_set() {
        let certs = tempfile::tempdir().unwrap();
        let dir = certs.path().to_str().unwrap();
        let env = CliEnv { tls_verify: Some("1"), cert_path: Some(dir), ..Default::default() };
        let e = format!("{:#}", resolve(Some("tcp://h:2376"), &env).unwrap_err());
        assert!(e.contains("ca.pem`, which does not exist") && e.contains("DOCKER_CERT_PATH"), "{e}");
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(certs.path().join(f), "").unwrap();
        }
        let e = resolve(Some("tcp://h:2376"), &env).unwrap().unwrap();
        assert_eq!(e.tls.unwrap().ca, certs.path().join("ca.pem"));
        assert_eq!(resolve(Some("ssh://h"), &env).unwrap().unwrap().tls, None);
        let plain = CliEnv { home: Some("/home/me"), ..Default::default() };
        assert_eq!(resolve(Some("tcp://h:2375"), &plain).unwrap().unwrap().tls, None);
        let default_dir = CliEnv { tls_verify: Some("1"), home: Some("/home/me"), ..Default::default() };
        assert!(
            format!("{:#}", resolve(Some("tcp://h:2376"), &default_dir).unwrap_err())
                .contains("/home/me/.docker/ca.pem")
        );
    }
}
