//! minisign key files as `backup.signing` names them: the secret key file (read and
//! checked, not decrypted), the public key, the password, and [`SigningSettings`] that
//! holds them. Reading them is cheap enough for every config load, so `config check`
//! reports a missing or damaged key. Signing and checking signatures, and decrypting a
//! key (which proves it with a signature), are backup/signing.rs's.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;

/// minisign's algorithm tag of an Ed25519 key, and of its secret key's encryption (none,
/// or scrypt).
const ED25519: &[u8; 2] = b"Ed";
const KDF_NONE: &[u8; 2] = b"\0\0";
const KDF_SCRYPT: &[u8; 2] = b"Sc";
/// sig_alg, kdf_alg, chk_alg, salt, opslimit, memlimit, key id, secret key, checksum.
const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;
/// Key files are a few hundred bytes; this only stops a wrong path from being read whole.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// `backup.signing`, resolved by the config layer: what this host signs with and what it
/// accepts. The default (nothing configured) signs nothing and accepts unsigned sets.
#[derive(Debug, Clone, Default)]
pub struct SigningSettings {
    /// The secret key file, read and checked but not yet decrypted (absent on hosts that
    /// only verify and restore).
    pub key: Option<SecretKeyFile>,
    /// The password of an encrypted key, from the variable `password_variable` names.
    pub password: Option<Password>,
    /// The name of that variable, for messages when it is unset.
    pub password_variable: Option<String>,
    /// The key sets are checked against.
    pub public_key: Option<PublicKey>,
    /// Refuse sets without a valid signature (`require_signature`).
    pub required: bool,
}

/// A password, never printed by `Debug`.
#[derive(Clone)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

/// A minisign secret key file (`minisign -G`), read and checked but not decrypted: cheap
/// enough for every config load, so `config check` reports a missing or damaged key.
#[derive(Clone)]
pub struct SecretKeyFile {
    path: PathBuf,
    /// The decoded key: 158 bytes, encrypted unless `kdf_alg` says none.
    bytes: Vec<u8>,
    /// The file as read, for minisign's own decryption of encrypted keys.
    text: String,
}

impl fmt::Debug for SecretKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeyFile")
            .field("path", &self.path)
            .field("encrypted", &self.is_encrypted())
            .finish_non_exhaustive()
    }
}

impl SecretKeyFile {
    /// Read a secret key file; the error names the file and what to do.
    pub fn read(path: &Path) -> Result<Self> {
        let text = read_small(path, MAX_KEY_FILE_BYTES)?;
        Self::parse(path, &text)
    }

    /// Check the text of a secret key file; `path` is named in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let bad = |why: &str| {
            anyhow!(
                "`{}` is not a minisign secret key ({why}); make one with `minisign -G -W -p ccops.pub -s ccops.key`",
                path.display()
            )
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if !lines.next().is_some_and(|l| l.starts_with("untrusted comment:")) {
            return Err(bad("its first line is not `untrusted comment: ...`"));
        }
        let encoded = lines.next().ok_or_else(|| bad("the key line is missing"))?;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| bad("the key is not base64"))?;
        if bytes.len() != SECRET_KEY_BYTES {
            return Err(bad(&format!("the key is {} bytes, not {SECRET_KEY_BYTES}", bytes.len())));
        }
        if &bytes[0..2] != ED25519 {
            return Err(bad("not an Ed25519 key"));
        }
        if &bytes[2..4] != KDF_NONE && &bytes[2..4] != KDF_SCRYPT {
            return Err(bad("unknown key encryption"));
        }
        Ok(SecretKeyFile { path: path.to_path_buf(), bytes, text: text.to_string() })
    }

    /// The file's path, as configured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the key is password-protected (made without `-W`).
    pub fn is_encrypted(&self) -> bool {
        &self.bytes[2..4] == KDF_SCRYPT
    }

    /// The key as decoded: 158 bytes, encrypted unless the file says otherwise.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file as read (minisign decrypts from it).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A minisign public key. The inner key is minisign's, for backup/signing.rs to sign and
/// check with; build one with [`PublicKey::parse`], which refuses what is not Ed25519.
#[derive(Clone)]
pub struct PublicKey(pub(crate) minisign::PublicKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl PublicKey {
    /// A public key from the text of a `.pub` file (`minisign -G -p`) or the bare base64
    /// string (`RW...`). `origin` says where it came from, for the message.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let bad = |why: &str| {
            anyhow!(
                "{origin} is not a minisign public key ({why}); give the `RW...` line of the `.pub` file that `minisign -G` wrote"
            )
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).peekable();
        if lines.peek().is_some_and(|l| l.starts_with("untrusted comment:")) {
            lines.next();
        }
        let encoded = lines.next().ok_or_else(|| bad("it is empty"))?;
        if lines.next().is_some() {
            return Err(bad("more lines than a key"));
        }
        let pk = minisign::PublicKey::from_base64(encoded).map_err(|_| bad("not the base64 of a key"))?;
        if !pk.to_bytes().starts_with(ED25519) {
            return Err(bad("not an Ed25519 key"));
        }
        Ok(PublicKey(pk))
    }

    /// Read a public key file; the error names the file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = read_small(path, MAX_KEY_FILE_BYTES)?;
        Self::parse(&text, &format!("`{}`", path.display()))
    }

    /// The key ID as minisign prints it, zero-padded to 16 hex digits (minisign drops
    /// leading zeros).
    pub fn key_id(&self) -> String {
        key_id(self.0.keynum())
    }
}

/// minisign's key ID: the 8-byte key number as a little-endian integer in hex.
pub(crate) fn key_id(keynum: &[u8]) -> String {
    let mut n = [0u8; 8];
    for (d, s) in n.iter_mut().zip(keynum) {
        *d = *s;
    }
    format!("{:016X}", u64::from_le_bytes(n))
}

fn read_small(path: &Path, max: u64) -> Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| anyhow!("cannot read `{}`: {}", path.display(), crate::error::io_reason(&e)))?;
    let mut text = String::new();
    f.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| anyhow!("cannot read `{}`: {}", path.display(), crate::error::io_reason(&e)))?;
    if text.len() as u64 > max {
        bail!("`{}` is larger than a key file; check the path", path.display());
    }
    Ok(text)
}
