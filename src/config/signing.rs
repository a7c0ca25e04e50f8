//! Resolves `backup.signing` into the keys (keys.rs) backup/signing.rs works with: paths against the
//! config's folder, the password of a protected key from the variable the config names
//! (the env file, the process environment or a `*_FILE` secret, like any variable). Key
//! files are read and checked here, so `config check` and every command stop on a missing
//! or damaged key; decrypting a protected key (seconds of scrypt) waits for a backup.

use std::path::Path;

use anyhow::Result;

use super::keys::{Password, PublicKey, SecretKeyFile, SigningSettings};
use super::{ConfigError, Vars, resolve, schema};

pub(super) fn resolve_signing(
    path: &Path,
    text: &str,
    base_dir: &Path,
    s: &schema::Signing,
    vars: &Vars,
) -> Result<SigningSettings> {
    // Point at the key's line when the message is about one key.
    let at =
        |key: &str, msg: String| -> anyhow::Error { ConfigError::at_first(path, text, &format!("{key}:"), msg).into() };
    let key = match &s.key_file {
        Some(f) => Some(
            SecretKeyFile::read(&resolve(base_dir, f))
                .map_err(|e| at("key_file", format!("backup.signing.key_file: {e:#}")))?,
        ),
        None => None,
    };
    let public_key = match (&s.public_key, &s.public_key_file) {
        (Some(_), Some(_)) => {
            return Err(at(
                "public_key_file",
                "backup.signing has both public_key and public_key_file; keep one".to_string(),
            ));
        }
        (Some(k), None) => {
            Some(PublicKey::parse(k, "backup.signing.public_key").map_err(|e| at("public_key", e.to_string()))?)
        }
        (None, Some(f)) => Some(
            PublicKey::read(&resolve(base_dir, f))
                .map_err(|e| at("public_key_file", format!("backup.signing.public_key_file: {e:#}")))?,
        ),
        (None, None) => None,
    };
    if s.require_signature && public_key.is_none() {
        return Err(at(
            "require_signature",
            "backup.signing.require_signature needs the key to check with; set public_key (`RW...`) or public_key_file"
                .to_string(),
        ));
    }
    if key.as_ref().is_some_and(SecretKeyFile::is_encrypted) && s.password_variable.is_none() {
        // Cron cannot type a password: say so now rather than at the first backup.
        return Err(at(
            "key_file",
            "backup.signing.key_file is password-protected; set password_variable to the variable that holds its password, or make a key without one (`minisign -G -W`)".to_string(),
        ));
    }
    let password = s
        .password_variable
        .as_deref()
        .and_then(|v| vars.get(v))
        .filter(|p| !p.is_empty())
        .map(|p| Password(p.to_string()));
    Ok(SigningSettings {
        key,
        password,
        password_variable: s.password_variable.clone(),
        public_key,
        required: s.require_signature,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{ProcessEnv, Settings, load_str};

    /// A `-W` key pair made by the minisign crate (no binary needed at this layer).
    fn keys(dir: &std::path::Path) -> String {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        std::fs::write(dir.join("ccops.key"), kp.sk.to_box(None).unwrap().into_string()).unwrap();
        std::fs::write(dir.join("ccops.pub"), kp.pk.to_box().unwrap().into_string()).unwrap();
        kp.pk.to_base64()
    }

    fn id(public_key: &str) -> String {
        crate::config::PublicKey::parse(public_key, "test").unwrap().key_id()
    }

    fn load(dir: &std::path::Path, yaml: &str, env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let p = dir.join("ccops.yaml");
        std::fs::write(&p, yaml).unwrap();
        let penv = ProcessEnv {
            vars: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            cwd: PathBuf::from("/"),
        };
        load_str(&p, yaml, None, &penv)
    }

    #[test]
    fn keys_resolve_against_the_config_folder() {
        let d = tempfile::tempdir().unwrap();
        let pk = keys(d.path());
        let yaml = "backup:\n  signing:\n    key_file: ccops.key\n    public_key_file: ccops.pub\n    require_signature: true\n";
        let s = load(d.path(), yaml, &[]).unwrap();
        assert!(s.signing.required);
        assert_eq!(s.signing.public_key.as_ref().unwrap().key_id(), id(&pk));
        assert_eq!(s.signing.key.as_ref().unwrap().path(), d.path().join("ccops.key"));
        let key = s.signing.signing_key().unwrap().unwrap();
        assert_eq!(key.public_key().key_id(), id(&pk));

        let yaml = format!("backup:\n  signing:\n    public_key: {pk}\n");
        let s = load(d.path(), &yaml, &[]).unwrap();
        assert!(s.signing.key.is_none() && !s.signing.required);
        assert_eq!(s.signing.public_key.unwrap().key_id(), id(&pk));
        // Nothing configured: nothing signed, nothing required.
        let s = load(d.path(), "project: x\n", &[]).unwrap();
        assert!(s.signing.key.is_none() && s.signing.public_key.is_none() && !s.signing.required);
    }

    #[test]
    fn an_unset_key_variable_means_no_key() {
        let d = tempfile::tempdir().unwrap();
        let pk = keys(d.path());
        let yaml = format!("backup:\n  signing:\n    key_file: ${{CCOPS_SIGNING_KEY:-}}\n    public_key: {pk}\n");
        assert!(load(d.path(), &yaml, &[]).unwrap().signing.key.is_none());
        let s = load(d.path(), &yaml, &[("CCOPS_SIGNING_KEY", "ccops.key")]).unwrap();
        assert!(s.signing.key.is_some());
    }

    #[test]
    fn unreadable_or_malformed_keys_stop_the_config() {
        let d = tempfile::tempdir().unwrap();
        keys(d.path());
        std::fs::write(d.path().join("junk"), "not a key\n").unwrap();
        let cases = [
            ("key_file: nope.key", ":3:5: backup.signing.key_file: cannot read", "nope.key"),
            ("key_file: junk", ":3:5: backup.signing.key_file:", "is not a minisign secret key"),
            ("key_file: ccops.pub", ":3:5: backup.signing.key_file:", "minisign -G -W"),
            ("public_key_file: junk", ":3:5: backup.signing.public_key_file:", "is not a minisign public key"),
            ("public_key: RWQxyz", ":3:5: backup.signing.public_key is not", "the `RW...` line"),
            ("require_signature: true", ":3:5: backup.signing.require_signature needs", "public_key_file"),
            ("key_fil: ccops.key", "unknown key `key_fil`", "did you mean `key_file`?"),
        ];
        for (line, a, b) in cases {
            let yaml = format!("backup:\n  signing:\n    {line}\n");
            let e = load(d.path(), &yaml, &[]).unwrap_err();
            let m = e.to_string();
            assert!(m.contains(a) && m.contains(b), "{line}: {m}");
            assert_eq!(crate::error::classify(&e), crate::status::ExitStatus::Usage, "{line}: exit 2");
        }
        let yaml = "backup:\n  signing:\n    public_key: RWQ\n    public_key_file: ccops.pub\n";
        let m = load(d.path(), yaml, &[]).unwrap_err().to_string();
        assert!(m.contains("both public_key and public_key_file"), "{m}");
    }

    #[test]
    fn a_protected_key_takes_its_password_from_the_named_variable() {
        let d = tempfile::tempdir().unwrap();
        let kp = minisign::KeyPair::generate_encrypted_keypair(Some("s3cret-pw".into())).unwrap();
        std::fs::write(d.path().join("p.key"), kp.sk.to_box(None).unwrap().into_string()).unwrap();
        let m = load(d.path(), "backup:\n  signing:\n    key_file: p.key\n", &[]).unwrap_err().to_string();
        assert!(m.contains("password-protected; set password_variable"), "{m}");
        let yaml = "backup:\n  signing:\n    key_file: p.key\n    password_variable: SIGN_PW\n";
        let s = load(d.path(), yaml, &[]).unwrap();
        assert!(s.signing.password.is_none(), "unset: reported when a backup needs the key");
        let s = load(d.path(), yaml, &[("SIGN_PW", "s3cret-pw")]).unwrap();
        assert_eq!(s.signing.password.as_ref().map(|p| p.0.as_str()), Some("s3cret-pw"));
        assert!(!format!("{:?}", s.signing).contains("s3cret-pw"), "Debug of the signing settings hides the password");
        std::fs::write(d.path().join(".env"), "SIGN_PW=s3cret-pw\n").unwrap();
        let from_env_file = format!("environments:\n  p:\n    env_file: .env\n{yaml}");
        assert!(load(d.path(), &from_env_file, &[]).unwrap().signing.password.is_some());
    }
}
