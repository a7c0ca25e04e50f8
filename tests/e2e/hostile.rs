//! Planted backup sets, local and on the real S3-compatible server: ccops reads them as
//! untrusted input and refuses them without writing outside its folders.
//!
//! An attacker here holds the bucket's keys (or write access to the backup folder) and
//! plants sets whose manifests name paths, hashes, sizes, dates and targets of their
//! choosing. Each attempt must end in a clear message and exit 1, with no panic, no file
//! outside the backup folder, and the live data as it was.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::remote::{S3, newest_id, rows, run};
use crate::stack::{Flavour, Stack};

const BUCKET: &str = "s3://commandcenter-backups/commandcenter";

/// A copy of a real set's files and manifest, to plant under other IDs.
struct Real {
    id: String,
    dir: tempfile::TempDir,
    manifest: Value,
}

impl Real {
    fn manifest_as(&self, id: &str, edit: impl FnOnce(&mut Value)) -> Value {
        let mut m = self.manifest.clone();
        m["id"] = json!(id);
        edit(&mut m);
        m
    }

    fn file(&self, kind: &str) -> PathBuf {
        let c = self.component(kind);
        self.dir.path().join(c["file"].as_str().unwrap())
    }

    fn component(&self, kind: &str) -> Value {
        self.manifest["components"].as_array().unwrap().iter().find(|c| c["kind"] == kind).unwrap().clone()
    }
}

/// Put `manifest` (and, under their names, `files`) into the bucket as set `id`.
fn plant(s3: &S3, id: &str, manifest: &[u8], files: &[(&str, &Path)]) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), manifest).unwrap();
    for (name, path) in files {
        let (ok, out) = s3.aws(&["s3", "cp", path.to_str().unwrap(), &format!("{BUCKET}/{id}/{name}")]);
        assert!(ok, "{out}");
    }
    let (ok, out) = s3.aws(&["s3", "cp", tmp.path().to_str().unwrap(), &format!("{BUCKET}/{id}/manifest.json")]);
    assert!(ok, "{out}");
}

/// No run may panic (exit 101) or print Rust's panic message.
#[track_caller]
fn refused(r: &crate::support::Run, needles: &[&str]) {
    assert!(!r.stderr.contains("panicked"), "panic:\n{}", r.stderr);
    r.code(1);
    for n in needles {
        r.stderr_has(n);
    }
}

#[test]
fn planted_sets_in_the_bucket_and_the_folder_are_refused() {
    let s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    let stack = Stack::up("hostile", Flavour::V2);
    stack.psql("CREATE TABLE notes (id serial PRIMARY KEY, body text)");
    stack.psql("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 50) g");
    stack.redis(&["SET", "planted", "no"]);
    run(&stack, &s3, &["backup", "--upload", "s3"]).code(0);
    let id = newest_id(&stack);
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = s3.aws(&["s3", "cp", "--recursive", &format!("{BUCKET}/{id}/"), dir.path().to_str().unwrap()]);
    assert!(ok, "{out}");
    let manifest = serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let real = Real { id: id.clone(), dir, manifest };
    let before = rows(&stack);
    let outside = tempfile::tempdir().unwrap();
    let escape = outside.path().join("planted");
    let vol = real.file("volume");
    let restore = |set: &str| run(&stack, &s3, &["restore", set, "--from", "s3", "--yes", "--no-safety-backup"]);

    // 1. File names that leave the set's folder: absolute, `../`, and a duplicate.
    let depth = "../".repeat(12);
    let names = [
        ("20240101_000001", escape.to_str().unwrap().to_string()),
        ("20240101_000002", format!("{depth}{}", escape.to_str().unwrap().trim_start_matches('/'))),
    ];
    for (set, name) in &names {
        let m = real.manifest_as(set, |m| {
            let mut c = real.component("volume");
            c["file"] = json!(name);
            m["components"] = json!([c]);
        });
        plant(&s3, set, m.to_string().as_bytes(), &[]);
        refused(&restore(set), &[set, "components[0].file"]);
        refused(&run(&stack, &s3, &["backup", "verify", set, "--remote", "s3"]), &[set, "components[0].file"]);
    }
    let dup = real.manifest_as("20240101_000003", |m| {
        let c = real.component("volume");
        m["components"] = json!([c, c]);
    });
    plant(&s3, "20240101_000003", dup.to_string().as_bytes(), &[]);
    refused(&restore("20240101_000003"), &["20240101_000003", "components[1].file", "same file"]);

    // 2. A malformed hash used to panic while the mismatch was formatted (exit 101).
    let short = real.manifest_as("20240101_000004", |m| m["components"][0]["sha256"] = json!("abc"));
    plant(&s3, "20240101_000004", short.to_string().as_bytes(), &[]);
    refused(&run(&stack, &s3, &["backup", "verify", "20240101_000004", "--remote", "s3"]), &["sha256"]);
    refused(&restore("20240101_000004"), &["components[0].sha256"]);

    // 3. A manifest far larger than any real one is not read whole.
    let mut huge = real.manifest_as("20240101_000005", |_| {}).to_string().into_bytes();
    huge.extend(std::iter::repeat_n(b' ', 3 << 20));
    plant(&s3, "20240101_000005", &huge, &[]);
    refused(&restore("20240101_000005"), &["20240101_000005", "larger than"]);

    // A bucket flooded with large manifests: the listing reads the newest first and stops
    // at its budget (64 MiB), so memory stays bounded and the real sets stay usable.
    let flood = tempfile::tempdir().unwrap();
    for n in 0..70 {
        let set = format!("20230101_01{:02}{:02}", n / 60, n % 60);
        let mut text = real.manifest_as(&set, |_| {}).to_string();
        text.push_str(&" ".repeat(1_000_000 - text.len()));
        std::fs::create_dir(flood.path().join(&set)).unwrap();
        std::fs::write(flood.path().join(&set).join("manifest.json"), text).unwrap();
    }
    let (ok, out) =
        s3.aws(&["s3", "cp", "--recursive", "--quiet", flood.path().to_str().unwrap(), &format!("{BUCKET}/")]);
    assert!(ok, "{out}");
    let listed = run(&stack, &s3, &["backup", "list", "--remote", "s3"]);
    listed.code(0).stderr_has("not read: this listing read");
    let state = |id: &str| listed.stdout.lines().find(|l| l.contains(id)).unwrap_or_default().to_string();
    assert!(state(&real.id).contains("complete"), "{}", listed.stdout);
    assert!(state("20230101_010109").contains("complete") && state("20230101_010000").contains("damaged"));
    let (ok, out) = s3.aws(&[
        "s3",
        "rm",
        "--recursive",
        "--quiet",
        &format!("{BUCKET}/"),
        "--exclude",
        "*",
        "--include",
        "20230101_*",
    ]);
    assert!(ok, "{out}");

    // 4. Targets ccops.yaml does not configure: the Postgres data volume, and a Redis
    // snapshot aimed at the backend service.
    let pg_volume = real.manifest_as("20240101_000006", |m| {
        let mut c = real.component("volume");
        c["name"] = json!("postgres_data");
        m["components"] = json!([c]);
    });
    plant(&s3, "20240101_000006", pg_volume.to_string().as_bytes(), &[]);
    refused(&restore("20240101_000006"), &["postgres_data", "backup.volumes"]);
    let redis_backend = real.manifest_as("20240101_000007", |m| {
        let mut c = real.component("redis");
        c["service"] = json!("backend");
        m["components"] = json!([c]);
    });
    plant(&s3, "20240101_000007", redis_backend.to_string().as_bytes(), &[]);
    refused(&restore("20240101_000007"), &["backend", "backup.redis"]);

    // 5. An object larger than its manifest says: the download stops there; a manifest
    // claiming more than the disk holds downloads nothing.
    let small = real.manifest_as("20240101_000008", |m| {
        let mut c = real.component("volume");
        c["bytes"] = json!(10);
        m["components"] = json!([c.clone()]);
    });
    let vol_name = real.component("volume")["file"].as_str().unwrap().to_string();
    plant(&s3, "20240101_000008", small.to_string().as_bytes(), &[(vol_name.as_str(), vol.as_path())]);
    refused(&restore("20240101_000008"), &["larger than the 10 bytes"]);
    let vast = real.manifest_as("20240101_000009", |m| {
        let mut c = real.component("volume");
        c["bytes"] = json!(u64::MAX);
        let mut d = real.component("redis");
        d["bytes"] = json!(u64::MAX);
        m["components"] = json!([c, d]);
    });
    plant(&s3, "20240101_000009", vast.to_string().as_bytes(), &[]);
    refused(&restore("20240101_000009"), &["nothing was downloaded"]);
    let backups = stack.path().join("backups");
    for n in 1..=9 {
        let set = format!("20240101_00000{n}");
        assert!(!backups.join(&set).exists() && !backups.join(format!("{set}.download")).exists(), "{set} left files");
    }

    // 6. A whole, valid copy dated in the future is listed as such and never `latest`.
    let future = real.manifest_as("20990101_000000", |_| {});
    let files: Vec<(String, PathBuf)> = real.manifest["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = c["file"].as_str().unwrap().to_string();
            let p = real.dir.path().join(&f);
            (f, p)
        })
        .collect();
    let files: Vec<(&str, &Path)> = files.iter().map(|(f, p)| (f.as_str(), p.as_path())).collect();
    plant(&s3, "20990101_000000", future.to_string().as_bytes(), &files);
    let listed = run(&stack, &s3, &["backup", "list", "--remote", "s3"]);
    listed.code(0).stderr_has("20990101_000000 on remote `s3` is dated in the future");
    assert!(listed.stdout.lines().any(|l| l.contains("20990101_000000") && l.contains("future")), "{}", listed.stdout);
    run(&stack, &s3, &["restore", "latest", "--from", "s3", "--dry-run"]).code(0).stderr_has(&real.id);

    // Through all of it: nothing written outside, the live data as it was.
    assert!(!escape.exists(), "a planted name reached {}", escape.display());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert_eq!(rows(&stack), before);
    assert_eq!(stack.redis(&["GET", "planted"]), "no");

    // 7. Planted in the local folder: a component that is a symbolic link to a file
    // outside, a manifest copied from another set, and a leftover download.
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"not a backup").unwrap();
    let linked = backups.join("20240102_000000");
    std::fs::create_dir_all(&linked).unwrap();
    let m = real.manifest_as("20240102_000000", |m| {
        let mut c = real.component("volume");
        c["bytes"] = json!(12);
        c["sha256"] = json!(crate::remote::sha256(&secret));
        m["components"] = json!([c]);
    });
    std::fs::write(linked.join("manifest.json"), m.to_string()).unwrap();
    std::os::unix::fs::symlink(&secret, linked.join(&vol_name)).unwrap();
    let v = stack.ccops(&["backup", "verify", "20240102_000000"]);
    refused(&v, &["symbolic link"]);
    refused(&stack.ccops(&["restore", "20240102_000000", "--yes", "--no-safety-backup"]), &["symbolic link"]);
    refused(&run(&stack, &s3, &["backup", "push", "20240102_000000", "--remote", "s3"]), &["symbolic link"]);
    let copied = backups.join("20240103_000000");
    std::fs::create_dir_all(&copied).unwrap();
    std::fs::write(copied.join("manifest.json"), real.manifest.to_string()).unwrap();
    refused(&stack.ccops(&["backup", "verify", "20240103_000000"]), &["20240103_000000", "`id`"]);
    std::fs::create_dir_all(backups.join("20240104_000000.download")).unwrap();
    let list = stack.ccops(&["--json", "backup", "list"]);
    let states: Vec<(String, String)> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["state"].as_str().unwrap_or("").to_string()))
        .collect();
    for (set, state) in [("20240103_000000", "damaged"), ("20240104_000000", "download")] {
        assert!(states.iter().any(|(i, s)| i == set && s == state), "{set} not {state}: {states:?}");
    }
    // A local copy dated in the future does not make the backups look fresh to health.
    let ahead = backups.join("20990101_000000");
    std::fs::create_dir_all(&ahead).unwrap();
    std::fs::write(
        ahead.join("manifest.json"),
        real.manifest_as("20990101_000000", |m| m["components"] = json!([])).to_string(),
    )
    .unwrap();
    let health = stack.ccops(&["--json", "health"]);
    let checks = health.json()["checks"].clone();
    let age =
        checks.as_array().unwrap().iter().find(|c| c["detail"].as_str().unwrap_or("").contains("newest complete"));
    let detail = age.map(|c| c["detail"].as_str().unwrap().to_string()).unwrap_or_default();
    assert!(detail.contains(&format!("backup {}", real.id)) && detail.contains("future: 20990101_000000"), "{checks}");
    std::fs::remove_dir_all(&ahead).unwrap();

    // Prune removes the stale download and keeps the damaged set for a person to look at.
    stack.ccops(&["backup", "prune"]).code(0);
    assert!(!backups.join("20240104_000000.download").exists());
    assert!(copied.join("manifest.json").exists());
    assert_eq!(std::fs::read(&secret).unwrap(), b"not a backup");
    assert_eq!(rows(&stack), before);
}

/// `minisign` from scripts/rig, the tool an operator checks a set with by hand.
fn minisign(args: &[&str], dir: &Path) -> crate::support::Run {
    let out = std::process::Command::new("minisign").args(args).current_dir(dir).output();
    out.expect("minisign (scripts/rig installs it)").into()
}

#[test]
fn signed_sets_are_required_and_checked_on_every_reader() {
    let s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    let stack = Stack::up("signed", Flavour::V2);
    minisign(&["-G", "-W", "-p", "ccops.pub", "-s", "ccops.key"], stack.path()).code(0);
    stack.edit(
        "ccops.yaml",
        "  compression: gzip",
        "  compression: gzip\n  signing:\n    key_file: ccops.key\n    public_key_file: ccops.pub\n    require_signature: true",
    );
    stack.psql("CREATE TABLE notes (id serial PRIMARY KEY, body text)");
    stack.psql("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 40) g");
    run(&stack, &s3, &["backup", "--upload", "s3"]).code(0);
    let id = newest_id(&stack);
    let set = stack.path().join("backups").join(&id);
    let before = rows(&stack);

    // The operator's own tools vouch for the set: minisign for the manifest, sha256sum
    // for every file it lists.
    minisign(&["-Vm", "manifest.json", "-p", "../../ccops.pub"], &set).code(0).stdout_has(&format!("set:{id}"));
    let manifest: Value = serde_json::from_slice(&std::fs::read(set.join("manifest.json")).unwrap()).unwrap();
    for c in manifest["components"].as_array().unwrap() {
        assert_eq!(crate::remote::sha256(&set.join(c["file"].as_str().unwrap())), c["sha256"].as_str().unwrap());
    }
    let objects = s3.objects();
    assert!(objects.contains(&format!("commandcenter/{id}/manifest.json.minisig")), "{objects:?}");

    // Altered locally (still a well-formed manifest): verify, restore and push refuse it.
    let original = std::fs::read(set.join("manifest.json")).unwrap();
    let mut altered = manifest.clone();
    altered["tags"] = json!(["looks-harmless"]);
    std::fs::write(set.join("manifest.json"), altered.to_string()).unwrap();
    refused(&stack.ccops(&["backup", "verify", &id]), &[&id, "altered"]);
    refused(&stack.ccops(&["restore", &id, "--yes", "--no-safety-backup"]), &[&id, "altered"]);
    refused(&run(&stack, &s3, &["backup", "push", &id, "--remote", "s3"]), &["altered"]);
    std::fs::write(set.join("manifest.json"), &original).unwrap();
    stack.ccops(&["backup", "verify", &id]).code(0);

    // Planted in the bucket: the same set without its signature, and with an altered
    // manifest beside the real signature.
    let files: Vec<(String, PathBuf)> = manifest["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file"].as_str().unwrap().to_string())
        .map(|f| (f.clone(), set.join(f)))
        .collect();
    let files: Vec<(&str, &Path)> = files.iter().map(|(f, p)| (f.as_str(), p.as_path())).collect();
    let mut unsigned = manifest.clone();
    unsigned["id"] = json!("20240201_000000");
    plant(&s3, "20240201_000000", unsigned.to_string().as_bytes(), &files);
    refused(
        &run(&stack, &s3, &["restore", "20240201_000000", "--from", "s3", "--yes", "--no-safety-backup"]),
        &["20240201_000000", "no `manifest.json.minisig`"],
    );
    refused(&run(&stack, &s3, &["backup", "verify", "20240201_000000", "--remote", "s3"]), &["require_signature"]);
    let sig = set.join("manifest.json.minisig");
    let mut forged = unsigned.clone();
    forged["id"] = json!("20240202_000000");
    let mut with_sig = files.clone();
    with_sig.push(("manifest.json.minisig", sig.as_path()));
    plant(&s3, "20240202_000000", forged.to_string().as_bytes(), &with_sig);
    refused(
        &run(&stack, &s3, &["restore", "20240202_000000", "--from", "s3", "--yes", "--no-safety-backup"]),
        &["20240202_000000", "altered"],
    );
    let backups = stack.path().join("backups");
    assert!(!backups.join("20240201_000000").exists() && !backups.join("20240202_000000").exists());
    assert_eq!(rows(&stack), before);

    // The genuine set comes back from the bucket, signature and all.
    std::fs::remove_dir_all(&set).unwrap();
    stack.psql("DROP TABLE notes");
    run(&stack, &s3, &["restore", &id, "--from", "s3", "--yes", "--no-safety-backup"]).code(0);
    assert_eq!(rows(&stack), before);
    minisign(&["-Vm", "manifest.json", "-p", "../../ccops.pub"], &set).code(0);

    // With encryption configured, this plaintext set is refused unless the operator says so.
    let public = crate::support::age_identity(&stack.path().join("age.key"));
    stack.edit(
        "ccops.yaml",
        "  compression: gzip",
        &format!(
            "  compression: gzip\n  encryption:\n    age_recipients: [\"{public}\"]\n    age_identity_file: age.key"
        ),
    );
    refused(&stack.ccops(&["restore", &id, "--yes", "--no-safety-backup"]), &["unencrypted", "--allow-unencrypted"]);
    stack.ccops(&["restore", &id, "--dry-run", "--allow-unencrypted"]).code(0);
    assert_eq!(rows(&stack), before);
}
