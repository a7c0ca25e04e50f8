//! Off-site copies on a real S3-compatible server (moto, started per test on its own
//! port so it can be killed), checked with an independent client (awscli).

use std::path::PathBuf;
use std::process::{Child, Command};

use crate::stack::{Flavour, Stack};
use crate::support::Background;

fn rig() -> PathBuf {
    PathBuf::from(std::env::var("CCOPS_RIG_HOME").unwrap_or_else(|_| "/opt/ccops-rig".into()))
}

/// A moto S3 server of this test's own.
pub(crate) struct S3 {
    child: Option<Child>,
    port: u16,
    auth: bool,
}

impl S3 {
    pub(crate) fn start(auth: bool) -> S3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut s = S3 { child: None, port, auth };
        s.restart();
        s
    }

    pub(crate) fn restart(&mut self) {
        let mut c = Command::new(rig().join("s3env/bin/moto_server"));
        c.args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if self.auth {
            // Every request must carry keys moto's IAM knows: none do.
            c.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        self.child = Some(c.spawn().expect("moto_server from scripts/rig"));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto did not start on port {}", self.port);
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// awscli against this server.
    pub(crate) fn aws(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(rig().join("bin/aws"))
            .args(["--endpoint-url", &self.endpoint()])
            .args(args)
            .envs(creds())
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    }

    pub(crate) fn objects(&self) -> Vec<String> {
        let (ok, out) = self.aws(&[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "commandcenter-backups",
            "--query",
            "Contents[].Key",
            "--output",
            "text",
        ]);
        assert!(ok, "{out}");
        let mut v: Vec<String> = out.split_whitespace().filter(|k| *k != "None").map(String::from).collect();
        v.sort();
        v
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.kill();
    }
}

fn creds() -> Vec<(&'static str, &'static str)> {
    vec![("AWS_ACCESS_KEY_ID", "ccops-test"), ("AWS_SECRET_ACCESS_KEY", "ccops-test-secret")]
}

pub(crate) fn with_s3<'a>(s3: &'a S3, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut env: Vec<(&str, String)> = creds().into_iter().map(|(k, v)| (k, v.to_string())).collect();
    env.push(("S3_ENDPOINT", s3.endpoint()));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

pub(crate) fn run(stack: &Stack, s3: &S3, args: &[&str]) -> crate::support::Run {
    let env = with_s3(s3, &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    stack.ccops_env(args, &env)
}

pub(crate) fn rows(stack: &Stack) -> String {
    stack.try_exec(
        "postgres",
        &[
            "psql",
            "-U",
            "commandcenter",
            "-d",
            "commandcenter",
            "-tAq",
            "-c",
            "SELECT count(*) || ':' || md5(string_agg(body, ',' ORDER BY id)) FROM notes",
        ],
    )
}

pub(crate) fn sha256(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn crc32_raw(data: &[u8]) -> [u8; 4] {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum().to_be_bytes()
}

/// CRC32 as S3 reports it (`ChecksumCRC32`): base64 of the big-endian value.
fn crc32_of(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc32_raw(data))
}

fn crc32(path: &std::path::Path) -> String {
    crc32_of(&std::fs::read(path).unwrap())
}

/// The composite CRC32 of an object uploaded in `part`-sized parts: the CRC32 of the
/// parts' CRC32s (what S3 combines them into at completion).
fn composite_crc32(path: &std::path::Path, part: usize) -> String {
    let data = std::fs::read(path).unwrap();
    let crcs: Vec<u8> = data.chunks(part).flat_map(crc32_raw).collect();
    crc32_of(&crcs)
}

impl S3 {
    /// The CRC32 the store holds for an object ("None" when it holds none).
    fn stored_crc32(&self, key: &str) -> String {
        let (ok, out) = self.aws(&[
            "s3api",
            "head-object",
            "--bucket",
            "commandcenter-backups",
            "--key",
            key,
            "--checksum-mode",
            "ENABLED",
            "--query",
            "ChecksumCRC32",
            "--output",
            "text",
        ]);
        assert!(ok, "{out}");
        out.trim().to_string()
    }
}

pub(crate) fn newest_id(stack: &Stack) -> String {
    let r = stack.ccops(&["--json", "backup", "list"]);
    r.json()[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn upload_list_verify_restore_from_s3_and_encrypt() {
    let s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    let stack = Stack::up("remote", Flavour::V2);
    stack.psql("CREATE TABLE notes (id serial PRIMARY KEY, body text)");
    stack.psql("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 300) g");
    let before = rows(&stack);

    let up = run(&stack, &s3, &["backup", "--upload", "s3"]);
    up.code(0).stderr_has("uploaded backup");
    // Not a terminal: no progress bar, only lines a log can hold.
    assert!(!up.stderr.contains('\r') && !up.stderr.contains("=>"), "{}", up.stderr);
    let id = newest_id(&stack);
    // awscli sees the whole set, manifest included, and every object matches it.
    let objects = s3.objects();
    let expect: Vec<String> =
        ["manifest.json", "postgres-postgres-commandcenter.dump", "redis-redis.rdb.gz", "volume-rag_storage.tar.gz"]
            .iter()
            .map(|f| format!("commandcenter/{id}/{f}"))
            .collect();
    assert_eq!(objects, expect);
    let dl = tempfile::tempdir().unwrap();
    assert!(
        s3.aws(&[
            "s3",
            "cp",
            "--recursive",
            &format!("s3://commandcenter-backups/commandcenter/{id}/"),
            dl.path().to_str().unwrap()
        ])
        .0
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dl.path().join("manifest.json")).unwrap()).unwrap();
    for c in manifest["components"].as_array().unwrap() {
        assert_eq!(sha256(&dl.path().join(c["file"].as_str().unwrap())), c["sha256"].as_str().unwrap(), "{c}");
    }
    // `checksum: crc32` (the example's): the store received and checked each object's CRC32.
    for f in ["manifest.json", "redis-redis.rdb.gz"] {
        assert_eq!(s3.stored_crc32(&format!("commandcenter/{id}/{f}")), crc32(&dl.path().join(f)), "{f}");
    }

    let list = run(&stack, &s3, &["--json", "backup", "list"]);
    assert_eq!(list.json()[0]["where"], serde_json::json!(["local", "s3"]), "{}", list.stdout);
    run(&stack, &s3, &["backup", "list", "--remote", "s3"]).code(0).stdout_has(&id);
    run(&stack, &s3, &["backup", "verify", &id, "--remote", "s3"]).code(0).stderr_has("all 3 files verified");

    // A new server: no local copy, data gone; restore comes from the bucket.
    std::fs::remove_dir_all(stack.path().join("backups").join(&id)).unwrap();
    stack.psql("DROP TABLE notes");
    let down = run(&stack, &s3, &["restore", "latest", "--from", "s3", "--yes", "--no-safety-backup"]);
    down.code(0);
    assert!(!down.stderr.contains('\r') && !down.stderr.contains("=>"), "{}", down.stderr);
    assert_eq!(rows(&stack), before);

    // Damage on the remote is named and refused; live data stays as it is.
    let key = format!("s3://commandcenter-backups/commandcenter/{id}/redis-redis.rdb.gz");
    let short = dl.path().join("short");
    std::fs::write(&short, b"REDIS").unwrap();
    assert!(s3.aws(&["s3", "cp", short.to_str().unwrap(), &key]).0);
    run(&stack, &s3, &["backup", "verify", &id, "--remote", "s3"])
        .code(1)
        .stderr_has("redis-redis.rdb.gz")
        .stderr_has("size mismatch");
    let dump_key = format!("s3://commandcenter-backups/commandcenter/{id}/postgres-postgres-commandcenter.dump");
    assert!(s3.aws(&["s3", "rm", &dump_key]).0);
    std::fs::remove_dir_all(stack.path().join("backups").join(&id)).unwrap();
    stack.psql("INSERT INTO notes (body) VALUES ('after')");
    let live = rows(&stack);
    run(&stack, &s3, &["restore", &id, "--from", "s3", "--yes"])
        .code(1)
        .stderr_has("postgres-postgres-commandcenter.dump");
    assert_eq!(rows(&stack), live);
    assert!(!stack.path().join("backups").join(&id).exists(), "a failed download left a set behind");

    // Encryption at rest: the bucket holds .age files only; restore still works; a wrong
    // identity changes nothing.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("key.txt");
    let public = crate::support::age_identity(&key_file);
    let cfg = stack.path().join("ccops.yaml");
    let original = std::fs::read_to_string(&cfg).unwrap();
    // Without `checksum`, a custom endpoint gets no checksum headers at all.
    assert!(original.contains("    checksum: crc32\n"));
    let encrypted = original.replacen("    checksum: crc32\n", "", 1).replacen(
        "  compression: gzip",
        &format!(
            "  compression: gzip\n  encryption:\n    age_recipients: [\"{public}\"]\n    age_identity_file: {}",
            key_file.display()
        ),
        1,
    );
    std::fs::write(&cfg, &encrypted).unwrap();
    run(&stack, &s3, &["backup", "--upload", "s3"]).code(0);
    let enc_id = newest_id(&stack);
    let enc_objects: Vec<String> = s3.objects().into_iter().filter(|k| k.contains(&enc_id)).collect();
    assert_eq!(enc_objects.len(), 4, "{enc_objects:?}");
    for k in enc_objects.iter().filter(|k| !k.ends_with("manifest.json")) {
        assert!(k.ends_with(".age"), "{k} is not encrypted");
    }
    for k in &enc_objects {
        assert_eq!(s3.stored_crc32(k), "None", "{k}");
    }
    // Decrypt by hand with the age tool.
    let local = stack.path().join("backups").join(&enc_id).join("redis-redis.rdb.gz.age");
    let plain = Command::new("sh")
        .arg("-c")
        .arg(format!("age -d -i '{}' '{}' | gunzip | head -c 5", key_file.display(), local.display()))
        .output()
        .unwrap();
    assert_eq!(&plain.stdout, b"REDIS");
    std::fs::remove_dir_all(stack.path().join("backups").join(&enc_id)).unwrap();
    let live = rows(&stack);
    let wrong = keys.path().join("wrong.txt");
    crate::support::age_identity(&wrong);
    std::fs::write(&cfg, encrypted.replace(&key_file.display().to_string(), &wrong.display().to_string())).unwrap();
    run(&stack, &s3, &["restore", &enc_id, "--from", "s3", "--yes"]).code(1).stderr_has("does not match the keys");
    assert_eq!(rows(&stack), live);
    // The download was verified and is kept; remove it to restore through the fallback.
    std::fs::remove_dir_all(stack.path().join("backups").join(&enc_id)).unwrap();
    std::fs::write(&cfg, &encrypted).unwrap();
    stack.psql("DROP TABLE notes");
    run(&stack, &s3, &["restore", &enc_id, "--yes", "--no-safety-backup"])
        .code(0)
        .stderr_has("not here; using the copy on remote `s3`");
    assert_eq!(rows(&stack), live);
}

#[test]
fn failed_uploads_stay_local_pending_and_push_finishes_them() {
    let mut s3 = S3::start(false);
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    let stack = Stack::up("pending", Flavour::V2);
    stack.exec("backend", &["sh", "-c", "head -c 157286400 /dev/urandom > /app/storage/big.bin"]);

    // Missing bucket, refused connection, wrong credentials: each named, exit 1, the set kept.
    let cfg = stack.path().join("ccops.yaml");
    let original = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, original.replace("bucket: commandcenter-backups", "bucket: no-such-bucket")).unwrap();
    run(&stack, &s3, &["backup", "--upload", "s3", "--only", "postgres"])
        .code(1)
        .stderr_has("bucket `no-such-bucket` does not exist")
        .stderr_has("upload pending");
    std::fs::write(&cfg, &original).unwrap();
    let refused = S3 { child: None, port: 9, auth: false };
    run(&stack, &refused, &["backup", "--upload", "s3", "--only", "postgres"])
        .code(1)
        .stderr_has("connection refused")
        .stderr_has("upload pending");
    let locked = S3::start(true);
    run(&stack, &locked, &["backup", "--upload", "s3", "--only", "postgres"])
        .code(1)
        .stderr_has("rejected the credentials");
    let pending = stack.path().join(".ccops/pending-uploads.json");
    let ids: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&pending).unwrap()).unwrap();
    assert_eq!(ids["s3"].as_array().unwrap().len(), 3, "{ids}");
    let list = run(&stack, &s3, &["backup", "list"]);
    list.code(0).stdout_has("s3: upload pending");

    // `backup push all-pending` uploads the three to the live server.
    run(&stack, &s3, &["backup", "push", "all-pending", "--remote", "s3"]).code(0);
    assert!(!std::fs::read_to_string(&pending).unwrap().contains("\"s3\""));

    // The server dies in the middle of a 150 MiB upload.
    let mut cmd = stack.ccops_cmd(&["backup", "--upload", "s3", "--no-prune"]);
    for (k, v) in with_s3(&s3, &[]) {
        cmd.env(k, v);
    }
    let bg = Background::spawn(cmd);
    bg.wait_for("uploading backup", 180);
    std::thread::sleep(std::time::Duration::from_millis(100));
    s3.kill();
    let (code, err) = bg.finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("upload pending"), "{err}");
    // A new server (moto keeps nothing): same bucket, and push finishes the job.
    s3.restart();
    assert!(s3.aws(&["s3", "mb", "s3://commandcenter-backups"]).0);
    run(&stack, &s3, &["backup", "push", "all-pending", "--remote", "s3"]).code(0);
    let ids: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&pending).unwrap()).unwrap();
    assert!(ids.get("s3").is_none(), "still pending: {ids}");
    let newest = newest_id(&stack);
    run(&stack, &s3, &["backup", "verify", &newest, "--remote", "s3"]).code(0).stderr_has("all 3 files verified");
    // The 150 MiB archive went up in 8 MiB parts, declared as CRC32: the store combined
    // the parts' checksums (a composite checksum).
    let volume = format!("commandcenter/{newest}/volume-rag_storage.tar.gz");
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("volume.tar.gz");
    assert!(s3.aws(&["s3", "cp", &format!("s3://commandcenter-backups/{volume}"), file.to_str().unwrap()]).0);
    assert!(std::fs::metadata(&file).unwrap().len() > 16 << 20);
    assert_eq!(s3.stored_crc32(&volume), composite_crc32(&file, 8 << 20), "{volume}");
    let (_, uploads) = s3.aws(&["s3api", "list-multipart-uploads", "--bucket", "commandcenter-backups"]);
    assert!(!uploads.contains("UploadId"), "orphaned multipart uploads: {uploads}");
    run(&stack, &s3, &["backup", "prune", "--remote", "s3", "--dry-run"]).code(0);
}
