//! `manifest.json` (SPEC §3): what a backup set holds, with a SHA-256 per file. It is
//! written last; a folder without it is incomplete.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::kinds::Kind;

pub const FILE: &str = "manifest.json";
pub const FORMAT: u32 = 1;
/// The largest manifest read, local or remote. ccops writes about 300 bytes a
/// component; a manifest a thousand times larger than any real one is hostile or broken,
/// and must not be read whole into memory.
pub const MAX_BYTES: u64 = 1 << 20;
/// How many bytes of manifests one listing (local or remote) reads at most, newest set
/// first. Real manifests are a few KiB, so this covers tens of thousands of sets; it keeps
/// a folder or bucket flooded with large planted manifests from exhausting memory.
pub const LISTING_BUDGET: u64 = 64 << 20;
/// More components than any project has: a set with more is refused before any is read.
const MAX_COMPONENTS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub created_at: String,
    pub project: String,
    pub environment: String,
    pub ccops_version: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// True when the set holds only some of the configured components (`--only`, a
    /// pre-restore safety backup): never `latest`, never counted by `keep_last`.
    #[serde(default)]
    pub partial: bool,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Component {
    /// The kind's word (postgres, mysql, redis, volume, command); only a registered kind reads.
    #[serde(with = "super::kinds::word")]
    pub kind: &'static dyn Kind,
    /// `<service>-<database>` for postgres, the service for redis, the volume's name.
    pub name: String,
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// none (pg_dump's own compression), gzip, zstd
    pub compression: String,
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Redis: DBSIZE when the snapshot was taken, read back after a restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
    /// pgbase: the timeline the base backup starts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<u32>,
    /// pgbase: where its WAL starts and ends (`X/Y`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lsn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_lsn: Option<String>,
    /// pgbase: when pg_basebackup finished (RFC 3339, UTC); a restore to T uses only a
    /// base that ended by T.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// pgbase: the server's system identifier, which its WAL must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
}

/// What a physical base backup (kind `pgbase`) records besides its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub timeline: u32,
    pub start_lsn: String,
    pub end_lsn: String,
    pub end_time: chrono::DateTime<chrono::Utc>,
    pub system_identifier: String,
}

impl Component {
    /// Its base backup fields, when it records all of them (validated on reading).
    pub fn base(&self) -> Option<Base> {
        Some(Base {
            timeline: self.timeline?,
            start_lsn: self.start_lsn.clone()?,
            end_lsn: self.end_lsn.clone()?,
            end_time: chrono::DateTime::parse_from_rfc3339(self.end_time.as_deref()?).ok()?.to_utc(),
            system_identifier: self.system_identifier.clone()?,
        })
    }

    /// Record `base` in it.
    pub fn set_base(&mut self, base: Option<&Base>) {
        let Some(b) = base else { return };
        self.timeline = Some(b.timeline);
        self.start_lsn = Some(b.start_lsn.clone());
        self.end_lsn = Some(b.end_lsn.clone());
        self.end_time = Some(b.end_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.system_identifier = Some(b.system_identifier.clone());
    }
}

impl Manifest {
    /// Read and check `dir/manifest.json` for the set `id`: opened without following a
    /// symbolic link, at most [`MAX_BYTES`], then [`Manifest::parse`].
    pub fn read(dir: &Path, id: &str) -> Result<Manifest> {
        let p = dir.join(FILE);
        let bytes =
            super::untrusted::read_capped(&p, MAX_BYTES).with_context(|| format!("cannot read `{}`", p.display()))?;
        Manifest::parse(&bytes, id)
    }

    /// The one gate every manifest passes, local or remote: a manifest is input that an
    /// attacker with write access to the backup folder or the bucket may have written,
    /// and ccops acts on it as root. Size-capped, parsed, then [`Manifest::validate`]d.
    pub fn parse(bytes: &[u8], id: &str) -> Result<Manifest> {
        if bytes.len() as u64 > MAX_BYTES {
            bail!(
                "the manifest of backup `{id}` is {} bytes, more than the {MAX_BYTES} a manifest can be",
                bytes.len()
            );
        }
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| anyhow!("the manifest of backup `{id}` is not valid JSON for a manifest: {e}"))?;
        if m.format != FORMAT {
            bail!(
                "the manifest of backup `{id}` has format {}, this ccops reads format {FORMAT}; use a newer ccops",
                m.format
            );
        }
        m.validate(id)?;
        Ok(m)
    }

    /// Every field ccops later turns into a path, a name or a comparison is well-formed:
    /// the ID is the set's own, each `file` one plain file name that no other component
    /// uses, each `sha256` 64 hex digits. The error names the set and the field.
    pub fn validate(&self, id: &str) -> Result<()> {
        let bad = |field: String, value: &str, why: &str| {
            anyhow!("backup `{id}` has an invalid manifest: `{field}` is {}: {why}", quoted(value))
        };
        if self.id != id {
            return Err(bad("id".into(), &self.id, "it must be the ID of the folder or key it was read from"));
        }
        if self.components.len() > MAX_COMPONENTS {
            bail!(
                "backup `{id}` has an invalid manifest: {} components, more than {MAX_COMPONENTS}",
                self.components.len()
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.components.iter().enumerate() {
            let field = |name: &str| format!("components[{i}].{name}");
            if let Err(why) = check_file_name(&c.file) {
                return Err(bad(field("file"), &c.file, why));
            }
            if !seen.insert(c.file.as_str()) {
                return Err(bad(field("file"), &c.file, "another component has the same file"));
            }
            if c.sha256.len() != 64 || !c.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(bad(field("sha256"), &c.sha256, "it must be 64 lowercase hex digits"));
            }
            if !matches!(c.compression.as_str(), "none" | "gzip" | "zstd") {
                return Err(bad(field("compression"), &c.compression, "it must be none, gzip or zstd"));
            }
            for (name, value) in
                [("name", Some(&c.name)), ("service", c.service.as_ref()), ("database", c.database.as_ref())]
            {
                if let Some(v) = value.filter(|v| !plain_name(v)) {
                    return Err(bad(field(name), v, "it must be 1 to 255 printable characters"));
                }
            }
            for (name, value) in [("start_lsn", &c.start_lsn), ("end_lsn", &c.end_lsn)] {
                if let Some(v) = value.as_ref().filter(|v| super::wal::layout::parse_lsn(v).is_none()) {
                    return Err(bad(field(name), v, "it must be a WAL position like 0/3000028"));
                }
            }
            if let Some(v) = c.end_time.as_ref().filter(|v| chrono::DateTime::parse_from_rfc3339(v).is_err()) {
                return Err(bad(field("end_time"), v, "it must be an RFC 3339 time"));
            }
            if let Some(v) = c
                .system_identifier
                .as_ref()
                .filter(|v| v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(bad(field("system_identifier"), v, "it must be 1 to 20 decimal digits"));
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The sum of the components' sizes; saturating, since a planted manifest may
    /// claim sizes that overflow.
    pub fn total_bytes(&self) -> u64 {
        self.components.iter().fold(0u64, |n, c| n.saturating_add(c.bytes))
    }
}

/// Why `name` cannot be a component's file, if it cannot: one path component of
/// `[A-Za-z0-9._-]` (so never `/`, `..` or an absolute path), not starting with a dot
/// (`.`, `..`, hidden files), and not one of the set's own files.
pub fn check_file_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.len() > 255 {
        return Err("a file name must be 1 to 255 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err("a file name may hold only letters, digits, `.`, `_` and `-` (no `/`)");
    }
    if name.starts_with('.') {
        return Err("a file name may not start with `.`");
    }
    if name == FILE || name.starts_with("manifest.") {
        return Err("the manifest's own name is not a component's file");
    }
    Ok(())
}

/// A name shown to the operator and matched against ccops.yaml: no control characters
/// (which could rewrite a terminal line), not empty, not huge.
fn plain_name(v: &str) -> bool {
    !v.is_empty() && v.len() <= 255 && !v.chars().any(char::is_control)
}

/// A value for an error message: quoted, control characters escaped, cut at 80 characters.
fn quoted(v: &str) -> String {
    let cut: String = v.chars().take(80).collect();
    let more = if cut.len() < v.len() { "…" } else { "" };
    format!("{:?}{more}", cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: &str, files: &[(&str, &str)]) -> String {
        let comps: Vec<String> = files
            .iter()
            .map(|(f, h)| {
                format!(
                    r#"{{"kind":"volume","name":"data","file":"{f}","bytes":3,"sha256":"{h}","compression":"gzip","encrypted":false}}"#
                )
            })
            .collect();
        format!(
            r#"{{"format":1,"id":"{id}","created_at":"x","project":"p","environment":"e","ccops_version":"0","components":[{}]}}"#,
            comps.join(",")
        )
    }

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_well_formed_manifest_passes() {
        let m =
            Manifest::parse(manifest("20240101_000000", &[("volume-data.tar.gz", H)]).as_bytes(), "20240101_000000");
        assert_eq!(m.unwrap().components[0].file, "volume-data.tar.gz");
    }

    #[test]
    fn hostile_file_names_are_refused_naming_the_field() {
        for name in [
            "/tmp/x",
            "../../../../tmp/x",
            "a/b",
            "..",
            ".",
            ".hidden",
            "",
            "manifest.json",
            "manifest.json.minisig",
            "x\\u0000y",
            "é",
        ] {
            let e = Manifest::parse(manifest("20240101_000000", &[(name, H)]).as_bytes(), "20240101_000000")
                .unwrap_err()
                .to_string();
            assert!(e.contains("backup `20240101_000000`") && e.contains("components[0].file"), "{name}: {e}");
        }
    }

    #[test]
    fn duplicate_files_bad_hashes_and_a_foreign_id_are_refused() {
        let id = "20240101_000000";
        let dup = Manifest::parse(manifest(id, &[("a", H), ("a", H)]).as_bytes(), id).unwrap_err().to_string();
        assert!(dup.contains("components[1].file") && dup.contains("same file"), "{dup}");
        for h in ["abc", &H.to_uppercase(), &format!("{}zz", &H[..62]), &format!("{H}00")] {
            let e = Manifest::parse(manifest(id, &[("a", h)]).as_bytes(), id).unwrap_err().to_string();
            assert!(e.contains("components[0].sha256"), "{e}");
        }
        let other = Manifest::parse(manifest("20230101_000000", &[("a", H)]).as_bytes(), id).unwrap_err().to_string();
        assert!(other.contains("`id`"), "{other}");
    }

    /// A manifest as ccops has written it since format 1: every kind reads, and writing it
    /// again gives the same bytes (old sets restore, new sets read in older ccops).
    #[test]
    fn a_written_manifest_reads_and_writes_back_byte_for_byte() {
        let id = "20240601_020000";
        let text = format!(
            r#"{{
  "format": 1,
  "id": "{id}",
  "created_at": "2024-06-01T02:00:00Z",
  "project": "commandcenter",
  "environment": "production",
  "ccops_version": "0.9.0",
  "tags": [
    "pre-deploy"
  ],
  "partial": false,
  "components": [
    {{
      "kind": "postgres",
      "name": "postgres-commandcenter",
      "file": "postgres-postgres-commandcenter.dump",
      "bytes": 1234,
      "sha256": "{H}",
      "compression": "none",
      "encrypted": false,
      "service": "postgres",
      "database": "commandcenter"
    }},
    {{
      "kind": "redis",
      "name": "redis",
      "file": "redis-redis.rdb.gz.age",
      "bytes": 56,
      "sha256": "{H}",
      "compression": "gzip",
      "encrypted": true,
      "service": "redis",
      "keys": 3
    }},
    {{
      "kind": "volume",
      "name": "rag_storage",
      "file": "volume-rag_storage.tar.zst",
      "bytes": 789,
      "sha256": "{H}",
      "compression": "zstd",
      "encrypted": false
    }}
  ]
}}
"#
        );
        let m = Manifest::parse(text.as_bytes(), id).unwrap();
        let kinds: Vec<&str> = m.components.iter().map(|c| c.kind.word()).collect();
        assert_eq!(kinds, ["postgres", "redis", "volume"]);
        assert_eq!(m.to_json(), text);
    }

    #[test]
    fn a_base_backup_records_its_wal_range_and_bad_values_are_refused() {
        let base = r#""kind":"volume","timeline":1,"start_lsn":"0/2000028","end_lsn":"0/2000100","end_time":"2024-01-01T00:00:05Z","system_identifier":"7312345678901234567""#;
        let json = manifest("20240101_000000", &[("a", H)]).replace(r#""kind":"volume""#, base);
        let m = Manifest::parse(json.as_bytes(), "20240101_000000").unwrap();
        let b = m.components[0].base().unwrap();
        assert_eq!((b.timeline, b.start_lsn.as_str(), b.end_lsn.as_str()), (1, "0/2000028", "0/2000100"));
        assert_eq!(b.end_time.to_rfc3339(), "2024-01-01T00:00:05+00:00");
        assert!(m.to_json().contains(r#""end_lsn": "0/2000100""#));
        for (good, bad, field) in [
            ("0/2000100", "../x", "end_lsn"),
            ("2024-01-01T00:00:05Z", "yesterday", "end_time"),
            ("7312345678901234567", "73-1", "system_identifier"),
        ] {
            let e = Manifest::parse(json.replace(good, bad).as_bytes(), "20240101_000000").unwrap_err().to_string();
            assert!(e.contains(&format!("components[0].{field}")), "{e}");
        }
    }

    #[test]
    fn an_unknown_kind_is_refused_naming_the_known_ones() {
        let json = manifest("20240101_000000", &[("a", H)]).replace(r#""kind":"volume""#, r#""kind":"mongodb""#);
        let e = Manifest::parse(json.as_bytes(), "20240101_000000").unwrap_err().to_string();
        assert!(
            e.contains(
                "unknown variant `mongodb`, expected one of `postgres`, `pgbase`, `mysql`, `redis`, `volume`, `command`"
            ),
            "{e}"
        );
    }

    #[test]
    fn an_oversized_manifest_is_refused_before_parsing() {
        let big = vec![b' '; MAX_BYTES as usize + 1];
        assert!(Manifest::parse(&big, "20240101_000000").unwrap_err().to_string().contains("more than"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = Manifest::parse(&bytes, "20240101_000000");
        }

        #[test]
        fn an_accepted_file_name_is_one_plain_component(name in "\\PC{0,40}") {
            let id = "20240101_000000";
            let json = serde_json::json!({"format":1,"id":id,"created_at":"x","project":"p","environment":"e",
                "ccops_version":"0","components":[{"kind":"redis","name":"r","file":name,"bytes":1,"sha256":H,
                "compression":"gzip","encrypted":false}]});
            if let Ok(m) = Manifest::parse(json.to_string().as_bytes(), id) {
                let f = &m.components[0].file;
                let p = std::path::Path::new(f);
                proptest::prop_assert_eq!(p.components().count(), 1);
                proptest::prop_assert!(matches!(p.components().next(), Some(std::path::Component::Normal(_))));
                proptest::prop_assert!(!f.starts_with('.') && f != FILE);
            }
        }
    }
}
