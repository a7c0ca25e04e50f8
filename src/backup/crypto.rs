//! Encryption at rest with age (https://age-encryption.org): with
//! `backup.encryption.age_recipients` set, every file is encrypted while it streams, before
//! it reaches disk or a remote; `age_identity_file` decrypts for verify and restore. Files
//! end in `.age` and decrypt by hand with `age -d -i key.txt`.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Result, anyhow, bail};

use crate::config::Settings;

type Identities = Arc<Vec<Box<dyn age::Identity + Send + Sync>>>;

#[derive(Default)]
struct Keys {
    recipients: Vec<age::x25519::Recipient>,
    identities: Option<Identities>,
    identity_path: Option<String>,
}

static KEYS: OnceLock<Keys> = OnceLock::new();

/// Read the encryption settings once per run: recipients are checked here, so a typo in
/// a public key stops the command before anything is written (exit 2).
pub fn configure(s: &Settings) -> Result<()> {
    let e = &s.file.backup.encryption;
    let mut keys = Keys::default();
    for r in &e.age_recipients {
        let parsed = r.trim().parse::<age::x25519::Recipient>().map_err(|err| {
            crate::usage!("`{r}` in backup.encryption.age_recipients is not an age public key (age1...): {err}")
        })?;
        keys.recipients.push(parsed);
    }
    if let Some(f) = &e.age_identity_file {
        let path = s.resolve_path(f);
        keys.identity_path = Some(path.display().to_string());
        // Loaded now when readable; an unreadable key is reported when a file needs it,
        // so that backups (which need only the public keys) still run.
        if let Ok(file) = age::IdentityFile::from_file(path.display().to_string()) {
            if let Ok(ids) = file.into_identities() {
                keys.identities = Some(Arc::new(ids));
            }
        }
    }
    let _ = KEYS.set(keys);
    Ok(())
}

fn keys() -> &'static Keys {
    KEYS.get_or_init(Keys::default)
}

/// Whether new files are encrypted.
pub fn encrypting() -> bool {
    !keys().recipients.is_empty()
}

/// Whether this machine can decrypt (an identity file is configured and readable). A
/// backup host needs only the public keys; it then cannot read its own files back.
pub fn can_decrypt() -> bool {
    keys().identities.is_some()
}

/// A fresh encryptor to all configured recipients.
pub fn encryptor() -> std::io::Result<Option<age::Encryptor>> {
    let k = keys();
    if k.recipients.is_empty() {
        return Ok(None);
    }
    let recipients = k.recipients.iter().map(|r| r as &dyn age::Recipient);
    age::Encryptor::with_recipients(recipients).map(Some).map_err(|e| std::io::Error::other(e.to_string()))
}

/// The plaintext of an `.age` file.
pub fn decrypt(path: &Path, input: impl Read + Send + 'static) -> Result<Box<dyn Read + Send>> {
    let k = keys();
    let Some(ids) = k.identities.clone() else {
        return match &k.identity_path {
            Some(p) => {
                Err(anyhow!("`{}` is encrypted, and the age identity file `{p}` cannot be read", file_name(path)))
            }
            None => Err(anyhow!(
                "`{}` is encrypted; set backup.encryption.age_identity_file to the private key that matches its recipients",
                file_name(path)
            )),
        };
    };
    let d = age::Decryptor::new(BufReader::with_capacity(1 << 20, input))
        .map_err(|e| anyhow!("`{}` is not a valid age file: {e}", file_name(path)))?;
    let reader = d.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => anyhow!(
            "cannot decrypt `{}`: the age identity file does not match the keys this backup was encrypted to",
            file_name(path)
        ),
        other => anyhow!("cannot decrypt `{}`: {other}", file_name(path)),
    })?;
    Ok(Box::new(reader))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Refuse to go on when files are encrypted and cannot be decrypted (before a restore).
pub fn check_can_decrypt(paths: &[&Path]) -> Result<()> {
    for p in paths.iter().filter(|p| p.to_string_lossy().ends_with(".age")) {
        let f = super::untrusted::open_file(p)
            .map_err(|e| anyhow!("cannot read `{}`: {}", p.display(), crate::util::io_reason(&e)))?;
        let mut r = decrypt(p, f)?;
        let mut first = [0u8; 1];
        if let Err(e) = r.read(&mut first) {
            bail!("cannot decrypt `{}`: {e}", file_name(p));
        }
    }
    Ok(())
}
