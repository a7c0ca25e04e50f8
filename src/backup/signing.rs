//! Tamper evidence for backup sets: an Ed25519 signature of `manifest.json` in minisign's
//! format, stored beside it as `manifest.json.minisig`. The manifest holds the SHA-256 of
//! every file, so one signature covers the whole set, and an operator checks it by hand
//! with `minisign -Vm manifest.json -p ccops.pub` followed by `sha256sum`.
//!
//! This module owns signing, the signature file and the verdict on it, and decrypting a
//! key to sign with. The key files themselves are config's (config/keys.rs): the config
//! layer reads and checks them while it resolves `backup.signing` into
//! [`SigningSettings`], and reads no more than that. Most of this file's length is its
//! tests, which hold ccops against the real `minisign`.

use std::fmt;
use std::io::Cursor;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;

use crate::config::keys::key_id;
use crate::config::{PublicKey, SecretKeyFile, SigningSettings};

/// The signature's file name, beside `manifest.json` (what `minisign -Sm manifest.json`
/// writes).
pub const SIGNATURE_FILE: &str = "manifest.json.minisig";

/// A minisign signature file is about 300 bytes; anything past this is not one, and is
/// refused before it is parsed.
pub const MAX_SIGNATURE_BYTES: usize = 4096;

impl SigningSettings {
    /// The key to sign new sets with, or `None` when no `key_file` is configured.
    /// With `require_signature` and no key this host would write sets that its own checks
    /// refuse, so that is an error.
    ///
    /// Decrypting a password-protected key takes seconds (scrypt), so call this once, before
    /// a backup writes anything: a wrong password then stops it at once. The key is checked
    /// against `public_key` when both are set, so a host cannot write sets its own checks
    /// would refuse.
    pub fn signing_key(&self) -> Result<Option<SigningKey>> {
        let Some(file) = &self.key else {
            if self.required {
                return Err(crate::usage!(
                    "backup.signing.require_signature is on but this host has no key_file to sign with; set backup.signing.key_file, or back up on the host that holds the key"
                ));
            }
            return Ok(None);
        };
        let password = match (&self.password, file.is_encrypted()) {
            (Some(p), true) => Some(p.0.as_str()),
            (None, true) => {
                let unset = match &self.password_variable {
                    Some(var) => format!("`{var}` is not set; set it"),
                    None => "backup.signing.password_variable is not set; name the variable that holds it".into(),
                };
                return Err(crate::usage!(
                    "the signing key `{}` is password-protected and {unset}, or make a key without a password with `minisign -G -W`",
                    file.path().display()
                ));
            }
            (_, false) => None,
        };
        let key = file.unlock(password)?;
        if let Some(pk) = &self.public_key {
            if pk.key_id() != key.key_id() {
                return Err(crate::usage!(
                    "the signing key `{}` has key ID {}, but backup.signing names public key {}; configure the public key of that secret key",
                    file.path().display(),
                    key.key_id(),
                    pk.key_id()
                ));
            }
            // Same ID, so the same pair unless one was edited: prove it with a signature.
            let probe = sign(b"ccops key check", &key, "", "")?;
            check(b"ccops key check", Some(&probe), Some(pk), true).map_err(|e| {
                crate::usage!(
                    "the signing key `{}` does not match backup.signing's public key: {e}",
                    file.path().display()
                )
            })?;
        }
        Ok(Some(key))
    }
}

/// Decrypting needs the signature code (a probe signature proves the two halves agree),
/// so it is implemented here, beside it; the key file itself is config's.
impl SecretKeyFile {
    /// Decrypt the key with `password` (ignored for a key made with `-W`).
    pub fn unlock(&self, password: Option<&str>) -> Result<SigningKey> {
        let path = self.path().display();
        let sk = if self.is_encrypted() {
            let Some(password) = password else {
                bail!(
                    "the signing key `{path}` is password-protected; give its password through backup.signing.password_variable"
                );
            };
            // minisign checks the decrypted key against its stored checksum.
            minisign::SecretKey::from_box(self.text().to_string().into(), Some(password.to_string())).map_err(|e| {
                match e.kind() {
                    minisign::ErrorKind::Verify => crate::usage!(
                        "wrong password for the signing key `{path}`; check the variable backup.signing.password_variable names"
                    ),
                    _ => anyhow!("cannot decrypt the signing key `{path}`: {e}"),
                }
            })?
        } else {
            // minisign 0.11 leaves the checksum of a `-W` key zeroed, so the key is taken as
            // it is and proved below by a signature its own public half verifies.
            minisign::SecretKey::from_bytes(self.bytes())
                .map_err(|e| anyhow!("cannot read the signing key `{path}`: {e}"))?
        };
        let public = minisign::PublicKey::from_secret_key(&sk)
            .map_err(|e| anyhow!("cannot read the signing key `{path}`: {e}"))?;
        let key = SigningKey { secret: sk, public: PublicKey(public) };
        let probe =
            sign(b"ccops key check", &key, "", "").with_context(|| format!("the signing key `{path}` is damaged"))?;
        check(b"ccops key check", Some(&probe), Some(key.public_key()), true)
            .map_err(|_| anyhow!("the signing key `{path}` is damaged: its halves do not match; make a new one"))?;
        Ok(key)
    }
}

/// A decrypted secret key, ready to sign. `Debug` shows its key ID only.
#[derive(Clone)]
pub struct SigningKey {
    secret: minisign::SecretKey,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.key_id())
    }
}

impl SigningKey {
    /// The key ID as minisign prints it (16 hex digits).
    pub fn key_id(&self) -> String {
        self.public.key_id()
    }

    /// The public half, to check what this key signed.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

/// Sign `manifest` (the bytes of `manifest.json`): the content of `manifest.json.minisig`.
/// The trusted comment, signed too, names the project and the set.
pub fn sign(manifest: &[u8], key: &SigningKey, project: &str, set_id: &str) -> Result<Vec<u8>> {
    let timestamp = chrono::Utc::now().timestamp();
    // One line each: minisign trims the comment and ends it at a line break.
    let clean = |s: &str| s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
    let trusted =
        format!("timestamp:{timestamp}\tfile:manifest.json\tproject:{}\tset:{}", clean(project), clean(set_id));
    let untrusted = format!("signature from ccops, key {}", key.key_id());
    let sig = minisign::sign(Some(&key.public.0), &key.secret, Cursor::new(manifest), Some(&trusted), Some(&untrusted))
        .map_err(|e| anyhow!("cannot sign `manifest.json`: {e}"))?;
    Ok(sig.to_bytes())
}

/// What a check of a set's signature found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by `key_id`, and the manifest is exactly what was signed.
    Signed { key_id: String, trusted_comment: String },
    /// The set has no signature (allowed: `require_signature` is off).
    Unsigned,
    /// The set has a signature, but no public key is configured to check it with.
    Unchecked { key_id: String },
}

/// Why a set's signature was refused. A caller may branch on the kind (e.g. to report an
/// altered set apart from an unsigned one); each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Altered,
    WrongKey { signed_by: String, expected: String },
    Malformed(String),
    Unsigned,
    NoPublicKey,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Altered => write!(
                f,
                "`manifest.json` does not match `{SIGNATURE_FILE}`: the set was altered after it was signed; do not restore it, use another set"
            ),
            SignatureError::WrongKey { signed_by, expected } => write!(
                f,
                "`{SIGNATURE_FILE}` was made with key {signed_by}, not with the configured public key {expected}; set backup.signing.public_key to the key that signed the set, or use a set signed with {expected}"
            ),
            SignatureError::Malformed(why) => write!(
                f,
                "`{SIGNATURE_FILE}` is not a minisign signature ({why}); the set cannot be trusted: use another set, or check it by hand with `minisign -Vm manifest.json`"
            ),
            SignatureError::Unsigned => write!(
                f,
                "the set has no `{SIGNATURE_FILE}` and backup.signing.require_signature is on; use a signed set, or turn require_signature off to accept it"
            ),
            SignatureError::NoPublicKey => write!(
                f,
                "backup.signing.require_signature is on but no public key is configured; set backup.signing.public_key or public_key_file"
            ),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Check `signature` (the bytes of `manifest.json.minisig`, `None` when the set has none)
/// against `manifest` (the bytes of `manifest.json`) and `public_key`. With `required`, only
/// a valid signature by that key passes; without, a missing signature or a missing key is
/// reported in the verdict, while a present but bad signature is always an error.
pub fn check(
    manifest: &[u8],
    signature: Option<&[u8]>,
    public_key: Option<&PublicKey>,
    required: bool,
) -> Result<Verdict, SignatureError> {
    let Some(signature) = signature else {
        return if required { Err(SignatureError::Unsigned) } else { Ok(Verdict::Unsigned) };
    };
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(SignatureError::Malformed(format!("{} bytes, more than {MAX_SIGNATURE_BYTES}", signature.len())));
    }
    let text = std::str::from_utf8(signature).map_err(|_| SignatureError::Malformed("not text".into()))?;
    let sig = minisign::SignatureBox::from_string(text).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    // The minisign crate (0.10) panics on a comment signature shorter than 64 bytes, so
    // its length is checked here, on the same (fourth) line the crate reads it from.
    let global = text.lines().nth(3).map(str::trim).unwrap_or_default();
    if base64::engine::general_purpose::STANDARD.decode(global).map_or(true, |g| g.len() != 64) {
        return Err(SignatureError::Malformed("the comment signature is not 64 bytes of base64".into()));
    }
    if !sig.is_prehashed() {
        return Err(SignatureError::Malformed("a legacy signature, not prehashed".into()));
    }
    let signed_by = key_id(sig.keynum());
    let Some(pk) = public_key else {
        return if required { Err(SignatureError::NoPublicKey) } else { Ok(Verdict::Unchecked { key_id: signed_by }) };
    };
    if pk.0.keynum() != sig.keynum() {
        return Err(SignatureError::WrongKey { signed_by, expected: pk.key_id() });
    }
    minisign::verify(&pk.0, &sig, Cursor::new(manifest), true, false, false).map_err(|_| SignatureError::Altered)?;
    let trusted_comment = sig.trusted_comment().map_err(|e| SignatureError::Malformed(e.to_string()))?;
    Ok(Verdict::Signed { key_id: signed_by, trusted_comment })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use proptest::prelude::*;

    use super::*;
    use crate::config::keys::Password;

    const MANIFEST: &[u8] = br#"{"format":1,"id":"20240101_020000","project":"demo","components":[]}"#;

    /// The real `minisign` binary, which scripts/rig installs: these tests prove that an
    /// operator's tool agrees with ccops, so they fail rather than pass without it.
    fn minisign(dir: &Path, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new("minisign")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `minisign` ({e}); run scripts/rig, which installs it"));
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn text(o: &Output) -> String {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    }

    /// A key pair made by `minisign -G`; `password` None makes it with `-W`.
    fn keypair(dir: &Path, name: &str, password: Option<&str>) -> (PathBuf, PathBuf) {
        let (sk, pk) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
        let (sks, pks) = (sk.to_str().unwrap(), pk.to_str().unwrap());
        let o = match password {
            None => minisign(dir, &["-G", "-W", "-p", pks, "-s", sks], ""),
            Some(pw) => minisign(dir, &["-G", "-p", pks, "-s", sks], &format!("{pw}\n{pw}\n")),
        };
        assert!(o.status.success(), "minisign -G: {}", text(&o));
        (sk, pk)
    }

    fn unlocked(sk: &Path) -> SigningKey {
        SecretKeyFile::read(sk).unwrap().unlock(None).unwrap()
    }

    /// A key made by the crate, for tests that need no binary.
    fn crate_key() -> SigningKey {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let text = kp.sk.to_box(None).unwrap().into_string();
        SecretKeyFile::parse(Path::new("k"), &text).unwrap().unlock(None).unwrap()
    }

    #[test]
    fn a_signature_by_ccops_verifies_with_minisign() {
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(d.path(), "ccops", None);
        let sig = sign(MANIFEST, &unlocked(&sk), "demo", "20240101_020000").unwrap();
        std::fs::write(d.path().join("manifest.json"), MANIFEST).unwrap();
        std::fs::write(d.path().join(SIGNATURE_FILE), &sig).unwrap();
        let o = minisign(d.path(), &["-Vm", "manifest.json", "-p", pk.to_str().unwrap()], "");
        assert!(o.status.success(), "minisign -V refused ccops' signature: {}", text(&o));
        assert!(text(&o).contains("project:demo\tset:20240101_020000"), "{}", text(&o));

        // And minisign sees a change ccops signed over.
        std::fs::write(d.path().join("manifest.json"), [MANIFEST, b" "].concat()).unwrap();
        let o = minisign(d.path(), &["-Vm", "manifest.json", "-p", pk.to_str().unwrap()], "");
        assert!(!o.status.success(), "minisign accepted an altered manifest: {}", text(&o));
    }

    #[test]
    fn a_signature_by_minisign_is_accepted() {
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(d.path(), "op", None);
        std::fs::write(d.path().join("manifest.json"), MANIFEST).unwrap();
        let o = minisign(d.path(), &["-Sm", "manifest.json", "-s", sk.to_str().unwrap()], "");
        assert!(o.status.success(), "minisign -S: {}", text(&o));
        let sig = std::fs::read(d.path().join(SIGNATURE_FILE)).expect("minisign -Sm writes manifest.json.minisig");
        let public = PublicKey::read(&pk).unwrap();
        let pub_text = std::fs::read_to_string(&pk).unwrap();
        // minisign prints the ID without leading zeros (one key in 16 has one).
        let unpadded = format!("public key {}\n", public.key_id().trim_start_matches('0'));
        assert!(pub_text.contains(&unpadded), "key ID as minisign prints it: {pub_text}");
        match check(MANIFEST, Some(&sig), Some(&public), true) {
            Ok(Verdict::Signed { key_id, trusted_comment }) => {
                assert_eq!(key_id, public.key_id());
                assert!(trusted_comment.contains("file:manifest.json"), "{trusted_comment}");
            }
            other => panic!("{other:?}"),
        }
        // The bare `RW...` line is the same key.
        let bare = pub_text.lines().nth(1).unwrap();
        assert!(bare.starts_with("RW"));
        assert_eq!(PublicKey::parse(bare, "public_key").unwrap().0.to_base64(), bare);
    }

    #[test]
    fn a_changed_manifest_byte_or_trusted_comment_is_altered() {
        let key = crate_key();
        let sig = sign(MANIFEST, &key, "demo", "20240101_020000").unwrap();
        let pk = key.public_key();
        assert!(matches!(check(MANIFEST, Some(&sig), Some(pk), true), Ok(Verdict::Signed { .. })));
        for i in [0, MANIFEST.len() / 2, MANIFEST.len() - 1] {
            let mut m = MANIFEST.to_vec();
            m[i] ^= 0x01;
            let e = check(&m, Some(&sig), Some(pk), true).unwrap_err();
            assert_eq!(e, SignatureError::Altered, "byte {i}");
            assert!(e.to_string().contains("do not restore it"), "{e}");
        }
        let forged = String::from_utf8(sig).unwrap().replace("set:20240101_020000", "set:20990101_020000");
        assert_eq!(check(MANIFEST, Some(forged.as_bytes()), Some(pk), false), Err(SignatureError::Altered));
    }

    #[test]
    fn another_key_is_refused_by_name() {
        let (a, b) = (crate_key(), crate_key());
        let sig = sign(MANIFEST, &a, "demo", "x").unwrap();
        let e = check(MANIFEST, Some(&sig), Some(b.public_key()), false).unwrap_err();
        assert_eq!(e, SignatureError::WrongKey { signed_by: a.key_id(), expected: b.key_id() });
        assert!(e.to_string().contains(&a.key_id()) && e.to_string().contains("backup.signing.public_key"), "{e}");
    }

    #[test]
    fn garbage_and_oversized_signatures_are_malformed() {
        let key = crate_key();
        let pk = Some(key.public_key());
        let sig = sign(MANIFEST, &key, "demo", "x").unwrap();
        let mut padded = sig.clone();
        padded.resize(MAX_SIGNATURE_BYTES + 1, b'\n');
        let truncated = &sig[..sig.len() / 2];
        // A comment signature cut short once made the minisign crate panic.
        let mut lines: Vec<&str> = std::str::from_utf8(&sig).unwrap().lines().collect();
        lines[3] = "AAAA";
        let short = lines.join("\n");
        for bad in [&b""[..], b"garbage", &[0xff, 0xfe, 0x00], truncated, &padded, short.as_bytes()] {
            let e = check(MANIFEST, Some(bad), pk, false).unwrap_err();
            assert!(matches!(e, SignatureError::Malformed(_)), "{e:?}");
            assert!(e.to_string().contains("is not a minisign signature"), "{e}");
        }
    }

    #[test]
    fn unsigned_sets_pass_only_when_not_required() {
        let key = crate_key();
        let pk = Some(key.public_key());
        assert_eq!(check(MANIFEST, None, pk, false), Ok(Verdict::Unsigned));
        assert_eq!(check(MANIFEST, None, None, false), Ok(Verdict::Unsigned));
        let e = check(MANIFEST, None, pk, true).unwrap_err();
        assert_eq!(e, SignatureError::Unsigned);
        assert!(e.to_string().contains("require_signature"), "{e}");
        // A signature nobody can check is reported, and refused when one is required.
        let sig = sign(MANIFEST, &key, "demo", "x").unwrap();
        assert_eq!(check(MANIFEST, Some(&sig), None, false), Ok(Verdict::Unchecked { key_id: key.key_id() }));
        assert_eq!(check(MANIFEST, Some(&sig), None, true), Err(SignatureError::NoPublicKey));
    }

    #[test]
    fn a_password_protected_key_needs_its_password() {
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(d.path(), "pw", Some("correct horse"));
        let file = SecretKeyFile::read(&sk).unwrap();
        assert!(file.is_encrypted());
        let e = file.unlock(Some("wrong")).unwrap_err().to_string();
        assert!(e.contains("wrong password"), "{e}");
        let mut signing = SigningSettings {
            key: Some(file),
            password: None,
            password_variable: Some("CCOPS_SIGNING_PASSWORD".into()),
            public_key: Some(PublicKey::read(&pk).unwrap()),
            required: true,
        };
        let e = signing.signing_key().unwrap_err().to_string();
        assert!(e.contains("`CCOPS_SIGNING_PASSWORD` is not set"), "{e}");
        signing.password = Some(Password("correct horse".into()));
        let key = signing.signing_key().unwrap().unwrap();
        let sig = sign(MANIFEST, &key, "demo", "x").unwrap();
        std::fs::write(d.path().join("manifest.json"), MANIFEST).unwrap();
        std::fs::write(d.path().join(SIGNATURE_FILE), &sig).unwrap();
        let o = minisign(d.path(), &["-Vm", "manifest.json", "-p", pk.to_str().unwrap()], "");
        assert!(o.status.success(), "{}", text(&o));
        assert!(!format!("{signing:?}").contains("correct horse"), "Debug must not show the password");
    }

    #[test]
    fn a_secret_key_that_does_not_match_the_public_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (sk, _) = keypair(d.path(), "a", None);
        let (_, other_pk) = keypair(d.path(), "b", None);
        let signing = SigningSettings {
            key: Some(SecretKeyFile::read(&sk).unwrap()),
            public_key: Some(PublicKey::read(&other_pk).unwrap()),
            ..SigningSettings::default()
        };
        let e = signing.signing_key().unwrap_err().to_string();
        assert!(e.contains("configure the public key of that secret key"), "{e}");
        assert!(SigningSettings::default().signing_key().unwrap().is_none());
        let restore_only = SigningSettings {
            public_key: Some(PublicKey::read(&other_pk).unwrap()),
            required: true,
            ..Default::default()
        };
        let e = restore_only.signing_key().unwrap_err().to_string();
        assert!(e.contains("no key_file to sign with"), "{e}");
    }

    #[test]
    fn malformed_key_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(d.path(), "k", None);
        let e = SecretKeyFile::read(&d.path().join("missing.key")).unwrap_err().to_string();
        assert!(e.contains("missing.key") && e.contains("cannot read"), "{e}");
        // A public key where the secret key belongs, and the reverse.
        let e = SecretKeyFile::read(&pk).unwrap_err().to_string();
        assert!(e.contains("is not a minisign secret key") && e.contains("minisign -G -W"), "{e}");
        let e = PublicKey::read(&sk).unwrap_err().to_string();
        assert!(e.contains("is not a minisign public key"), "{e}");
        let e = PublicKey::parse("RWQnope", "backup.signing.public_key").unwrap_err().to_string();
        assert!(e.starts_with("backup.signing.public_key is not a minisign public key"), "{e}");
        // One changed character of the secret half: the pair no longer agrees.
        let text = std::fs::read_to_string(&sk).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let mid = lines[1].len() - 80;
        let c = if &lines[1][mid..=mid] == "A" { "B" } else { "A" };
        lines[1].replace_range(mid..=mid, c);
        let damaged = SecretKeyFile::parse(&sk, &lines.join("\n")).unwrap();
        let e = damaged.unlock(None).unwrap_err().to_string();
        assert!(e.contains("is damaged"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_signature_files_never_panic(sig in proptest::collection::vec(any::<u8>(), 0..600), required: bool) {
            let key = crate_key();
            let r = check(MANIFEST, Some(&sig), Some(key.public_key()), required);
            prop_assert!(!matches!(r, Ok(Verdict::Signed { .. })), "random bytes accepted");
            let _ = check(MANIFEST, Some(&sig), None, required);
        }

        #[test]
        fn a_signature_with_one_byte_changed_never_panics(i in any::<prop::sample::Index>(), b: u8) {
            let key = crate_key();
            let mut sig = sign(MANIFEST, &key, "demo", "x").unwrap();
            let i = i.index(sig.len());
            sig[i] = b;
            let _ = check(MANIFEST, Some(&sig), Some(key.public_key()), true);
        }

        #[test]
        fn arbitrary_public_keys_never_panic(text in ".{0,120}", raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let key = crate_key();
            let sig = sign(MANIFEST, &key, "demo", "x").unwrap();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
            for candidate in [text.clone(), encoded.clone(), format!("untrusted comment: x\n{encoded}")] {
                if let Ok(pk) = PublicKey::parse(&candidate, "key") {
                    let _ = check(MANIFEST, Some(&sig), Some(&pk), true);
                }
            }
        }
    }
}
