//! `ccops backup` and `ccops restore` on examples/commandcenter running for real: the
//! round trip of rows, keys and files, and every fault the scripts it replaces got wrong.

use std::path::{Path, PathBuf};

use crate::stack::{Flavour, Stack};
use crate::support::{Background, in_terminal};

/// A fingerprint of everything the test seeded: row checksums, keys and values, files
/// with their modes, owners and link targets.
pub(crate) fn fingerprint(s: &Stack) -> (String, String, String) {
    let sql = "SELECT count(*) || ':' || md5(string_agg(id || '=' || name, ',' ORDER BY id)) FROM items";
    let rows = s.try_exec("postgres", &["psql", "-U", "commandcenter", "-d", "commandcenter", "-tAq", "-c", sql]);
    let mut keys: Vec<String> = s.redis(&["--scan", "--pattern", "seed:*"]).lines().map(String::from).collect();
    keys.sort();
    let kv: Vec<String> = keys.iter().map(|k| format!("{k}={}", s.redis(&["GET", k]))).collect();
    let files = s.try_exec(
        "backend",
        &["sh", "-c", "cd /app/storage && find . -printf '%p %m %U:%G %y %l\\n' | sort && cat docs/a.txt docs/owned"],
    );
    (rows, kv.join(","), files)
}

pub(crate) fn seed(s: &Stack) {
    s.psql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)");
    s.psql("INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 500) g");
    for i in 0..20 {
        s.redis(&["SET", &format!("seed:{i}"), &format!("value {i}")]);
    }
    s.exec(
        "backend",
        &["sh", "-c", "mkdir -p /app/storage/docs/empty && echo 'hello docs' > /app/storage/docs/a.txt && chmod 640 /app/storage/docs/a.txt && ln -s docs/a.txt /app/storage/link"],
    );
    // A file of another owner, with the setuid bit: the backend (no capabilities) cannot
    // make one; a throwaway root container on the volume can.
    s.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}_rag_storage:/v", s.project),
        "ccops-test/base:latest",
        "sh",
        "-c",
        "echo mine > /v/docs/owned && chown 1234:2345 /v/docs/owned && chmod 4755 /v/docs/owned",
    ]);
}

pub(crate) fn destroy(s: &Stack) {
    s.psql("DROP TABLE items");
    s.redis(&["FLUSHALL"]);
    s.exec("backend", &["sh", "-c", "rm -rf /app/storage/* && echo junk > /app/storage/junk"]);
}

/// The IDs of complete sets, newest first.
pub(crate) fn complete_sets(s: &Stack) -> Vec<String> {
    let r = s.ccops(&["--json", "backup", "list"]);
    r.code(0);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["complete"] == true)
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn backup_dir(s: &Stack) -> PathBuf {
    s.path().join("backups")
}

pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

pub(crate) fn is_running(s: &Stack, service: &str) -> bool {
    s.docker(&["inspect", "-f", "{{.State.Running}}", &s.container(service)]).trim() == "true"
}

#[test]
fn backup_restore_round_trip_verify_and_corruption() {
    let s = Stack::up("roundtrip", Flavour::V2);
    seed(&s);
    let before = fingerprint(&s);

    let r = s.ccops(&["backup", "--tag", "nightly"]);
    r.code(0).stderr_has("complete");
    let sets = complete_sets(&s);
    assert_eq!(sets.len(), 1, "{sets:?}");
    let id = sets[0].clone();
    let set = backup_dir(&s).join(&id);
    assert_eq!(
        entries(&set),
        ["manifest.json", "postgres-postgres-commandcenter.dump", "redis-redis.rdb.gz", "volume-rag_storage.tar.gz"]
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&set).unwrap().permissions().mode() & 0o777, 0o700);
    for f in entries(&set) {
        assert_eq!(std::fs::metadata(set.join(&f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], 1);
    assert_eq!(manifest["tags"][0], "nightly");
    assert_eq!(manifest["components"].as_array().unwrap().len(), 3);
    // The artifacts restore by hand with standard tools.
    let listing =
        std::process::Command::new("tar").arg("-tzvf").arg(set.join("volume-rag_storage.tar.gz")).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("./docs/a.txt")
            && listing.contains("./link -> docs/a.txt")
            && listing.contains("./docs/empty/"),
        "{listing}"
    );

    // Run as root next to the engine, ccops reads the volume's folder itself; through
    // the engine's archive API (CCOPS_VOLUME_READ=engine) the archive lists the same.
    let listing_of = |set: &Path| {
        let out = std::process::Command::new("tar")
            .args(["--numeric-owner", "-tzvf"])
            .arg(set.join("volume-rag_storage.tar.gz"))
            .output()
            .unwrap();
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
        lines.sort();
        lines
    };
    let host = s.ccops(&["-v", "backup", "--only", "rag_storage", "--no-prune"]);
    host.code(0).stderr_has("is read from /");
    let via_engine =
        s.ccops_env(&["-v", "backup", "--only", "rag_storage", "--no-prune"], &[("CCOPS_VOLUME_READ", "engine")]);
    via_engine.code(0).stderr_has("is read through the engine");
    let sets = complete_sets(&s);
    assert_eq!(sets.len(), 3, "{sets:?}");
    let (from_host, from_engine) =
        (listing_of(&backup_dir(&s).join(&sets[1])), listing_of(&backup_dir(&s).join(&sets[0])));
    assert!(from_host.iter().any(|l| l.contains("1234/2345") && l.ends_with("./docs/owned")), "{from_host:#?}");
    assert_eq!(from_host, from_engine);
    for newer in &sets[..2] {
        std::fs::remove_dir_all(backup_dir(&s).join(newer)).unwrap();
    }
    s.ccops_env(&["backup", "--only", "rag_storage"], &[("CCOPS_VOLUME_READ", "sometimes")])
        .code(2)
        .stderr_has("CCOPS_VOLUME_READ=`sometimes` is not understood");

    destroy(&s);
    assert_ne!(fingerprint(&s), before);
    s.ccops(&["restore", "latest", "--yes"]).code(0).stderr_has("restored backup");
    assert_eq!(fingerprint(&s), before, "restored data differs");
    // The safety backup of the destroyed state is there, tagged.
    let sets = complete_sets(&s);
    assert_eq!(sets.len(), 2);
    assert!(sets[0] != id);

    s.ccops(&["backup", "verify", &id]).code(0).stdout_has("OK");

    // One flipped byte: verify and restore name the file; live data stays as it is.
    let dump = set.join("postgres-postgres-commandcenter.dump");
    let mut bytes = std::fs::read(&dump).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&dump, bytes).unwrap();
    s.ccops(&["backup", "verify", &id])
        .code(1)
        .stderr_has("postgres-postgres-commandcenter.dump")
        .stderr_has("checksum mismatch");
    s.psql("INSERT INTO items (name) VALUES ('after the backup')");
    let live = fingerprint(&s);
    s.ccops(&["restore", &id, "--yes"])
        .code(1)
        .stderr_has("postgres-postgres-commandcenter.dump")
        .stderr_has("nothing was restored");
    assert_eq!(fingerprint(&s), live, "a refused restore changed live data");
    assert_eq!(complete_sets(&s).len(), 2, "a refused restore took a safety backup");
}

#[test]
fn backup_faults_leave_nothing_that_looks_complete() {
    let s = Stack::up("faults", Flavour::V2);
    seed(&s);
    let cfg = s.path().join("ccops.yaml");
    let original = std::fs::read_to_string(&cfg).unwrap();

    // pg_dump fails: its exit status decides, nothing is kept.
    std::fs::write(&cfg, original.replacen("database: commandcenter", "database: nosuchdb", 1)).unwrap();
    s.ccops(&["backup"]).code(1).stderr_has("pg_dump").stderr_has("nosuchdb").stderr_has("nothing was kept");
    assert!(entries(&backup_dir(&s)).is_empty(), "{:?}", entries(&backup_dir(&s)));
    std::fs::write(&cfg, &original).unwrap();

    // Postgres stopped: refused before a byte is written.
    s.docker(&["stop", &s.container("postgres")]);
    s.ccops(&["backup"]).code(1).stderr_has("`postgres`").stderr_has("not running");
    assert!(entries(&backup_dir(&s)).is_empty());
    s.docker(&["start", &s.container("postgres")]);
    s.ccops(&["health", "--wait", "--timeout", "60s"]).code(0);

    // Restore: unknown ID (exit 2, nearest named), no --yes without a terminal (exit 2).
    s.ccops(&["backup"]).code(0);
    let id = complete_sets(&s)[0].clone();
    s.ccops(&["restore", "20200101_000000", "--yes"]).code(2).stderr_has("no backup `20200101_000000`").stderr_has(&id);
    s.ccops(&["restore", "latest"]).code(2).stderr_has("--yes").stderr_has("stdin is not a terminal");
    // At a terminal: asked, and "n" changes nothing; `--no-input` refuses without asking.
    let before = complete_sets(&s);
    let asked = in_terminal(&s.ccops_cmd(&["restore", "latest"]), "n\n");
    asked.code(2).stdout_has("Replace the live data with backup ").stdout_has("restore cancelled; nothing was changed");
    let refused = in_terminal(&s.ccops_cmd(&["restore", "latest", "--no-input"]), "y\n");
    refused.code(2).stdout_has("pass --yes to confirm (--no-input was given)");
    assert!(!refused.stdout.contains("Replace the live data"), "{}", refused.stdout);
    assert_eq!(complete_sets(&s), before, "no safety backup: nothing was started");

    // Make the volume step slow enough to interrupt: 120 MiB that does not compress.
    s.exec("backend", &["sh", "-c", "head -c 125829120 /dev/urandom > /app/storage/big.bin"]);

    // Two backups at once: the second names the holder.
    let first = Background::spawn(s.ccops_cmd(&["backup", "--no-prune"]));
    first.wait_for("component(s)", 60);
    s.ccops(&["backup"]).code(1).stderr_has("holds the project lock").stderr_has(&format!("pid {}", first.child.id()));
    let (code, err) = first.finish();
    assert_eq!(code, 0, "{err}");

    // SIGTERM mid-backup: exit 130, no set, services started again.
    let before = complete_sets(&s);
    let bg = Background::spawn(s.ccops_cmd(&["backup"]));
    bg.wait_for("stopping", 60);
    std::thread::sleep(std::time::Duration::from_millis(300));
    bg.signal("TERM");
    let (code, err) = bg.finish();
    assert_eq!(code, 130, "{err}");
    assert_eq!(complete_sets(&s), before);
    assert!(!entries(&backup_dir(&s)).iter().any(|e| e.ends_with(".partial")), "{:?}", entries(&backup_dir(&s)));
    assert!(is_running(&s, "backend") && is_running(&s, "worker"), "services left stopped after SIGTERM:\n{err}");

    // kill -9 mid-backup: the partial set is ignored, the next run starts what was left
    // stopped, and prune removes the leftover once it is old.
    let bg = Background::spawn(s.ccops_cmd(&["backup"]));
    bg.wait_for("stopping", 60);
    // Kill it while the volume is being copied: once both services are really stopped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while (is_running(&s, "backend") || is_running(&s, "worker")) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bg.signal("KILL");
    bg.finish();
    let partial: Vec<String> = entries(&backup_dir(&s)).into_iter().filter(|e| e.ends_with(".partial")).collect();
    assert_eq!(partial.len(), 1);
    assert!(!is_running(&s, "backend"));
    let list = s.ccops(&["backup", "list"]);
    list.code(0).stdout_has("incomplete");
    s.ccops(&["restore", partial[0].trim_end_matches(".partial"), "--yes"]).code(2).stderr_has("incomplete");
    s.ccops(&["backup", "--no-prune"]).code(0).stderr_has("did not start it again");
    assert!(is_running(&s, "backend") && is_running(&s, "worker"));
    std::fs::rename(backup_dir(&s).join(&partial[0]), backup_dir(&s).join("20200101_000000.partial")).unwrap();
    s.ccops(&["backup", "prune", "--dry-run"]).code(0).stderr_has("would delete 20200101_000000");
    assert!(backup_dir(&s).join("20200101_000000.partial").exists());
    s.ccops(&["backup", "prune"]).code(0).stderr_has("deleted 20200101_000000");
    assert!(!backup_dir(&s).join("20200101_000000.partial").exists());
}

#[test]
fn restore_faults_leave_live_data_as_it_was() {
    let s = Stack::up("restorefaults", Flavour::V2);
    seed(&s);
    s.ccops(&["backup"]).code(0);
    let id = complete_sets(&s)[0].clone();

    // A volume archive with `../` inside, checksums matching: refused before anything.
    let evil = s.path().join("evil.tar.gz");
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import tarfile,io,sys\nt=tarfile.open(sys.argv[1],'w:gz')\nfor n in ['./ok.txt','../escape.txt']:\n  d=b'x';i=tarfile.TarInfo(n);i.size=1;t.addfile(i,io.BytesIO(d))\nt.close()",
        )
        .arg(&evil)
        .status()
        .unwrap();
    assert!(ok.success());
    let evil_id = "20200101_000000";
    let evil_set = backup_dir(&s).join(evil_id);
    std::fs::create_dir_all(&evil_set).unwrap();
    std::fs::copy(&evil, evil_set.join("volume-rag_storage.tar.gz")).unwrap();
    let bytes = std::fs::read(&evil).unwrap();
    let sha = {
        let out = std::process::Command::new("sha256sum").arg(&evil).output().unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
    };
    let manifest = serde_json::json!({"format":1,"id":evil_id,"created_at":"2020-01-01T00:00:00Z","project":s.project,"environment":"production","ccops_version":"0","tags":[],
        "components":[{"kind":"volume","name":"rag_storage","file":"volume-rag_storage.tar.gz","bytes":bytes.len(),"sha256":sha,"compression":"gzip","encrypted":false}]});
    std::fs::write(evil_set.join("manifest.json"), manifest.to_string()).unwrap();
    let live = fingerprint(&s);
    s.ccops(&["restore", evil_id, "--yes"])
        .code(1)
        .stderr_has("volume-rag_storage.tar.gz")
        .stderr_has("`../escape.txt` would escape");
    assert_eq!(fingerprint(&s), live);
    std::fs::remove_dir_all(&evil_set).unwrap();

    // Ctrl-C (SIGINT) mid-restore of a big volume: exit 130, contents as before, services back.
    s.exec("backend", &["sh", "-c", "head -c 125829120 /dev/urandom > /app/storage/big.bin"]);
    s.ccops(&["backup", "--only", "volume", "--no-prune"]).code(0);
    let big = complete_sets(&s)[0].clone();
    s.exec("backend", &["sh", "-c", "rm /app/storage/big.bin && echo changed > /app/storage/docs/a.txt"]);
    let live = fingerprint(&s);
    let bg = Background::spawn(s.ccops_cmd(&["restore", &big, "--yes", "--no-safety-backup"]));
    bg.wait_for("restoring volume", 120);
    std::thread::sleep(std::time::Duration::from_millis(200));
    bg.signal("INT");
    let (code, err) = bg.finish();
    assert_eq!(code, 130, "{err}");
    assert!(is_running(&s, "backend") && is_running(&s, "worker"), "{err}");
    assert_eq!(fingerprint(&s), live, "an interrupted restore changed the volume:\n{err}");

    // Services the operator had stopped stay stopped; only the data comes back.
    s.docker(&["stop", &s.container("worker")]);
    s.ccops(&["restore", &id, "--yes", "--only", "postgres,redis", "--no-safety-backup"]).code(0);
    assert!(!is_running(&s, "worker"), "restore started a service that was stopped before");
    assert!(is_running(&s, "backend"));
}

#[test]
fn backup_restore_round_trip_on_compose_v1() {
    let s = Stack::up("roundtripv1", Flavour::V1);
    seed(&s);
    let before = fingerprint(&s);
    // The volume through the engine's archive API, the way a non-root or remote ccops reads it.
    s.ccops_env(&["backup"], &[("CCOPS_VOLUME_READ", "engine")]).code(0);
    destroy(&s);
    s.ccops(&["restore", "latest", "--yes"]).code(0);
    assert_eq!(fingerprint(&s), before, "restored data differs (Compose v1)");
}

/// Run a shell pipeline on the host; panics on failure.
fn sh(script: &str) {
    let out = std::process::Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn legacy_sets_zstd_and_a_full_disk() {
    let s = Stack::up("legacy", Flavour::V2);
    seed(&s);
    let before = fingerprint(&s);

    // What backup.sh left: plain SQL, the volume's files, `docker cp` of dump.rdb; gzip.
    let ts = "20240101_020000";
    let dir = backup_dir(&s);
    std::fs::create_dir_all(dir.join("postgres")).unwrap();
    std::fs::create_dir_all(dir.join("rag")).unwrap();
    std::fs::create_dir_all(dir.join("redis")).unwrap();
    let (pg, be, rd) = (s.container("postgres"), s.container("backend"), s.container("redis"));
    sh(&format!(
        "docker exec {pg} pg_dump -U commandcenter commandcenter | gzip > {}/postgres/commandcenter_{ts}.sql.gz",
        dir.display()
    ));
    sh(&format!("docker exec {be} tar czf - -C /app/storage . > {}/rag/rag_storage_{ts}.tar.gz", dir.display()));
    s.redis(&["SAVE"]);
    sh(&format!("docker cp {rd}:/data/dump.rdb - | gzip > {}/redis/redis_{ts}.rdb.gz", dir.display()));
    let list = s.ccops(&["--json", "backup", "list"]);
    let sets = list.json();
    assert_eq!(sets[0]["id"], ts);
    assert_eq!(sets[0]["layout"], "legacy");
    s.ccops(&["backup", "verify", ts]).code(0).stdout_has("gzip ok").stdout_has("tar ok").stdout_has("RDB header");
    destroy(&s);
    s.ccops(&["restore", ts, "--yes", "--no-safety-backup"]).code(0);
    assert_eq!(fingerprint(&s), before, "legacy restore differs");

    // A damaged legacy file is refused before anything changes.
    std::fs::write(dir.join(format!("postgres/commandcenter_{ts}.sql.gz")), b"\x1f\x8b\x08\x00garbage").unwrap();
    s.ccops(&["backup", "verify", ts]).code(1).stderr_has(&format!("commandcenter_{ts}.sql.gz"));
    s.ccops(&["restore", ts, "--yes"]).code(1).stderr_has("nothing was restored");
    assert_eq!(fingerprint(&s), before);

    // compression: zstd round trip.
    let cfg = s.path().join("ccops.yaml");
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap().replacen("compression: gzip", "compression: zstd", 1))
        .unwrap();
    s.ccops(&["backup", "--no-prune"]).code(0);
    let id = complete_sets(&s)[0].clone();
    assert!(
        entries(&dir.join(&id)).contains(&"volume-rag_storage.tar.zst".to_string()),
        "{:?}",
        entries(&dir.join(&id))
    );
    destroy(&s);
    s.ccops(&["restore", &id, "--yes", "--no-safety-backup"]).code(0);
    assert_eq!(fingerprint(&s), before, "zstd restore differs");

    // The disk fills up while writing: a clear message, no set that looks complete.
    let small = s.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    sh(&format!("mount -t tmpfs -o size=2m ccops-e2e-full {}", small.display()));
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(small.clone());
    s.exec("backend", &["sh", "-c", "head -c 8388608 /dev/urandom > /app/storage/big.bin"]);
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap().replacen("directory: backups", "directory: small", 1))
        .unwrap();
    s.ccops(&["backup"]).code(1).stderr_has("no space left on the device").stderr_has("nothing was kept");
    assert!(entries(&small).is_empty(), "{:?}", entries(&small));
    assert!(is_running(&s, "backend") && is_running(&s, "worker"));
}

/// `docker compose down -v` of a small project when the test ends, however it ends.
pub(crate) struct Down(pub(crate) PathBuf, pub(crate) String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["compose", "-p", &self.1, "down", "-v", "-t", "1"])
            .current_dir(&self.0)
            .output();
    }
}

#[test]
fn a_volume_with_driver_options_is_read_through_the_engine() {
    // A `local` volume bound to a folder elsewhere: its folder under the engine's root holds
    // the files only while a container mounts it, so once stop_services has stopped the
    // only user, reading that folder would find it empty.
    let d = crate::support::Dir::new();
    let bound = tempfile::tempdir().unwrap();
    std::fs::write(bound.path().join("report.txt"), "bound data\n").unwrap();
    let project = format!("ccops-e2e-bindvol-{}", std::process::id());
    d.write(
        "docker-compose.yml",
        &format!(
            "services:\n  app:\n    image: ccops-test/base:latest\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]\n    volumes: [\"files:/files\"]\nvolumes:\n  files:\n    driver_opts: {{ type: none, o: bind, device: \"{}\" }}\n",
            bound.path().display()
        ),
    )
    .write(
        "ccops.yaml",
        &format!("project: {project}\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml]\nbackup:\n  volumes:\n    - name: files\n      stop_services: [app]\n"),
    );
    let _down = Down(d.path().to_path_buf(), project.clone());
    let up = std::process::Command::new("docker")
        .args(["compose", "-p", &project, "up", "-d"])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));

    let r = d.run(&["-v", "backup"]);
    r.code(0);
    let set = std::fs::read_dir(d.join("backups")).unwrap().flatten().next().unwrap().path();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("tar -xzOf '{}' ./report.txt", set.join("volume-files.tar.gz").display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bound data\n", "{}", String::from_utf8_lossy(&out.stderr));
    r.stderr_has("volume `files` is read through the engine");
}

#[test]
fn a_file_written_during_the_backup_is_named_in_a_warning() {
    // The service is not in stop_services and keeps appending to a 64 MiB file: tar reads
    // the folder, notices, and the backup completes with a warning naming the file.
    let d = crate::support::Dir::new();
    let project = format!("ccops-e2e-changing-{}", std::process::id());
    let app = "head -c 67108864 /dev/urandom > /files/growing && touch /files/ready; trap 'exit 0' TERM; while :; do echo x >> /files/growing; done";
    d.write(
        "docker-compose.yml",
        &format!("services:\n  app:\n    image: ccops-test/base:latest\n    command: [\"sh\", \"-c\", \"{app}\"]\n    volumes: [\"files:/files\"]\nvolumes:\n  files: {{}}\n"),
    )
    .write(
        "ccops.yaml",
        &format!("project: {project}\nenvironments:\n  prod:\n    compose_files: [docker-compose.yml]\nbackup:\n  volumes:\n    - name: files\n      stop_services: []\n"),
    );
    let _down = Down(d.path().to_path_buf(), project.clone());
    let compose = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(["compose", "-p", &project])
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap()
    };
    let up = compose(&["up", "-d"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !compose(&["exec", "-T", "app", "test", "-e", "/files/ready"]).status.success() {
        assert!(std::time::Instant::now() < deadline, "the app did not write its file");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let r = d.run(&["backup"]);
    r.code(0)
        .stderr_has(&format!("volume `{project}_files` changed while it was read"))
        .stderr_has("./growing: file changed as we read it");
    let set = std::fs::read_dir(d.join("backups")).unwrap().flatten().next().unwrap().path();
    let out = std::process::Command::new("tar").arg("-tzf").arg(set.join("volume-files.tar.gz")).output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("./growing") && listing.contains("./ready"), "{listing}");
}

#[test]
fn postgres_dumps_are_listed_as_they_stream_even_without_the_private_key() {
    let s = Stack::new("pubkey", Flavour::V2);
    // pg_dump is swapped for fakes below: postgres gets a writable root file system.
    s.edit(
        "docker-compose.prod.yml",
        "    read_only: true\n    tmpfs:\n      - /tmp\n      - /run/postgresql",
        "    tmpfs:\n      - /tmp\n      - /run/postgresql",
    );
    s.start();
    seed(&s);
    let before = fingerprint(&s);

    // A backup host with the public key only: it cannot read its files back, yet every
    // component is backed up, and the dump's table of contents was still read.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("key.txt");
    let public = crate::support::age_identity(&key_file);
    let cfg = s.path().join("ccops.yaml");
    let original = std::fs::read_to_string(&cfg).unwrap();
    let with = |extra: &str| {
        original.replacen(
            "  compression: gzip",
            &format!("  compression: gzip\n  encryption:\n    age_recipients: [\"{public}\"]{extra}"),
            1,
        )
    };
    std::fs::write(&cfg, with("")).unwrap();
    s.ccops(&["-v", "backup"]).code(0).stderr_has("pg_restore --list read").stderr_has("entries from the stream");
    let id = complete_sets(&s)[0].clone();
    assert_eq!(
        entries(&backup_dir(&s).join(&id)),
        [
            "manifest.json",
            "postgres-postgres-commandcenter.dump.age",
            "redis-redis.rdb.gz.age",
            "volume-rag_storage.tar.gz.age"
        ]
    );
    // Where the private key is, the set restores whole.
    std::fs::write(&cfg, with(&format!("\n    age_identity_file: {}", key_file.display()))).unwrap();
    destroy(&s);
    s.ccops(&["restore", &id, "--yes", "--no-safety-backup"]).code(0);
    assert_eq!(fingerprint(&s), before, "restored data differs");
    std::fs::write(&cfg, &original).unwrap();

    // The checks read what pg_dump wrote: a pg_dump that exits 0 after printing text, a
    // cut-off archive or nothing at all leaves no set.
    let ctr = s.container("postgres");
    let fake = |body: &str| {
        let script = format!(
            "p=$(command -v pg_dump); [ -e \"$p.real\" ] || mv \"$p\" \"$p.real\"; printf '#!/bin/sh\\n%s\\n' '{body}' > \"$p\" && chmod 755 \"$p\""
        );
        s.docker(&["exec", "-u", "0", &ctr, "sh", "-c", &script]);
    };
    let sets = complete_sets(&s);
    fake("echo this is not a dump");
    s.ccops(&["backup", "--only", "postgres"])
        .code(1)
        .stderr_has("is not a pg_dump archive")
        .stderr_has("nothing was kept");
    // Encrypted, the file cannot be read here: only the check on the stream sees it.
    std::fs::write(&cfg, with("")).unwrap();
    s.ccops(&["backup", "--only", "postgres"]).code(1).stderr_has("pg_restore cannot read the dump");
    std::fs::write(&cfg, &original).unwrap();
    fake("\"$0.real\" \"$@\" | head -c 300");
    s.ccops(&["backup", "--only", "postgres"]).code(1).stderr_has("pg_restore cannot read the dump");
    fake("exit 0");
    s.ccops(&["backup", "--only", "postgres"]).code(1).stderr_has("is empty");
    assert_eq!(complete_sets(&s), sets);
    assert!(!entries(&backup_dir(&s)).iter().any(|e| e.ends_with(".partial")), "{:?}", entries(&backup_dir(&s)));
    fake("exec \"$0.real\" \"$@\"");
    s.ccops(&["backup", "--only", "postgres"]).code(0);
    assert_eq!(complete_sets(&s).len(), sets.len() + 1);
}
