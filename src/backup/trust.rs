//! What a set must prove before ccops acts on it, beyond a well-formed manifest
//! (manifest.rs): a valid signature when `backup.signing` asks for one, and encryption
//! when `backup.encryption` is configured. Every reader that restores, verifies or
//! uploads a set goes through here, local or remote (`backup::remote::signed`), so the
//! rules cannot differ.

use anyhow::{Result, anyhow, bail};

use super::layout::LocalSet;
use super::manifest::{self, Manifest};
use super::signing::{self, SIGNATURE_FILE, Verdict};
use super::untrusted;
use crate::config::Settings;
use crate::output;

/// Check the signature of the manifest bytes `raw` of set `id` (`place` says where it
/// lives, for messages). Refuses a bad signature always, and a missing one when
/// `require_signature` is on; says at debug level what was found.
pub fn check_signature(s: &Settings, id: &str, place: &str, raw: &[u8], signature: Option<&[u8]>) -> Result<Verdict> {
    let sig = &s.signing;
    let verdict = signing::check(raw, signature, sig.public_key.as_ref(), sig.required)
        .map_err(|e| anyhow!("backup {id}{place} cannot be trusted: {e}"))?;
    match &verdict {
        Verdict::Signed { key_id, .. } => output::debug(format!("backup {id}{place}: signed by key {key_id}")),
        Verdict::Unchecked { key_id } => output::debug(format!(
            "backup {id}{place}: signed by key {key_id}, not checked (no backup.signing.public_key)"
        )),
        Verdict::Unsigned => output::debug(format!("backup {id}{place}: not signed")),
    }
    Ok(verdict)
}

/// A local set as it may be acted on: its manifest read once more together with its
/// signature, checked, and parsed from exactly the bytes that were checked (so a file
/// swapped between two reads cannot slip through). A legacy set carries no signature.
pub fn signed_local(s: &Settings, set: &LocalSet) -> Result<LocalSet> {
    if set.manifest.is_none() {
        if s.signing.required && set.legacy.is_some() {
            bail!(
                "backup {} is in the legacy layout, which carries no signature, and backup.signing.require_signature is on",
                set.id
            );
        }
        return Ok(set.clone());
    }
    let unreadable = |name: &str, e: std::io::Error| {
        anyhow!("cannot read `{name}` of backup {}: {}", set.id, crate::util::io_reason(&e))
    };
    let raw = untrusted::read_capped(&set.path.join(manifest::FILE), manifest::MAX_BYTES)
        .map_err(|e| unreadable(manifest::FILE, e))?;
    let sig_path = set.path.join(SIGNATURE_FILE);
    let signature = match std::fs::symlink_metadata(&sig_path) {
        Ok(_) => Some(
            untrusted::read_capped(&sig_path, signing::MAX_SIGNATURE_BYTES as u64)
                .map_err(|e| unreadable(SIGNATURE_FILE, e))?,
        ),
        Err(_) => None,
    };
    check_signature(s, &set.id, "", &raw, signature.as_deref())?;
    let mut out = set.clone();
    out.manifest = Some(Manifest::parse(&raw, &set.id)?);
    Ok(out)
}

/// With encryption configured, a set with a plaintext file is refused unless the
/// operator says otherwise: it was not written by this configuration, and restoring it
/// may be a downgrade someone arranged. (age recipients are public keys, so encryption
/// proves nothing about who wrote a set; signing does.)
pub fn check_encrypted(s: &Settings, set: &LocalSet, allow_unencrypted: bool) -> Result<()> {
    let e = &s.file.backup.encryption;
    if allow_unencrypted || (e.age_recipients.is_empty() && e.age_identity_file.is_none()) {
        return Ok(());
    }
    let plain: Vec<String> = match (&set.manifest, &set.legacy) {
        (Some(m), _) => m.components.iter().filter(|c| !c.encrypted).map(|c| c.file.clone()).collect(),
        (None, Some(l)) => {
            l.files().iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect()
        }
        _ => Vec::new(),
    };
    if !plain.is_empty() {
        bail!(
            "backup {} holds unencrypted files ({}) while `backup.encryption` is configured; nothing was restored (pass --allow-unencrypted if you know where this set comes from)",
            set.id,
            plain.join(", ")
        );
    }
    Ok(())
}
