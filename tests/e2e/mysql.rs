//! `backup.mysql` and `backup.commands` on the real engine: a MariaDB server (the rig's
//! ccops-test/mariadb image, Debian's packages) backed up while it serves, restored, and
//! the faults of a dump (wrong password, server stopped, a damaged file); a command
//! component round trip over a file of the base image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{Run, ccops};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A MariaDB service as the official image runs one: the datadir made on first start, the
/// database and user of MYSQL_DATABASE / MYSQL_USER / MYSQL_PASSWORD created.
const MARIADB: &str = r#"
  db:
    image: ccops-test/mariadb:latest
    environment:
      MYSQL_DATABASE: shop
      MYSQL_USER: shop
      MYSQL_PASSWORD: ${DB_PASSWORD}
    command:
      - sh
      - -c
      - |
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && rm -f /run/mysqld/ready
        [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
        mariadbd --user=mysql --bind-address=127.0.0.1 &
        pid=$$!
        trap 'kill $$pid; wait $$pid; exit 0' TERM
        until mariadb-admin ping --silent 2>/dev/null; do sleep 0.2; done
        mariadb -e "CREATE DATABASE IF NOT EXISTS $$MYSQL_DATABASE; CREATE USER IF NOT EXISTS '$$MYSQL_USER'@'localhost' IDENTIFIED BY '$$MYSQL_PASSWORD'; GRANT ALL ON $$MYSQL_DATABASE.* TO '$$MYSQL_USER'@'localhost'"
        touch /run/mysqld/ready
        wait $$pid
    healthcheck:
      test: ["CMD-SHELL", "test -f /run/mysqld/ready && mariadb-admin ping --silent"]
      interval: 1s
      timeout: 5s
      retries: 120
    volumes:
      - data:/var/lib/mysql
"#;

/// A service whose data is a file, for `backup.commands`.
const APP: &str = r#"
  app:
    image: ccops-test/base:latest
    command: [sh, -c, "mkdir -p /data; trap 'exit 0' TERM; sleep infinity & wait"]
"#;

/// A compose project of its own in a temp folder, torn down with its volumes at the end.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub name: String,
}

impl Project {
    /// `services` (YAML under `services:`) and `backup` (YAML under `backup:`), not started.
    pub fn new(tag: &str, services: &str, backup: &str) -> Project {
        let dir = tempfile::Builder::new().prefix("ccops-e2e-").tempdir().unwrap();
        let name = format!("my{tag}{}{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
        let p = Project { dir, name };
        p.write("docker-compose.yml", &format!("services:{services}\nvolumes:\n  data:\n"));
        p.write("the.env", "DB_PASSWORD=s3cret-shop-pw\n");
        p.write(
            "ccops.yaml",
            &format!(
                "project: {}\nenvironments:\n  production:\n    compose_files: [docker-compose.yml]\n    env_file: the.env\nbackup:\n  directory: backups\n{backup}",
                p.name
            ),
        );
        p
    }

    pub fn up(tag: &str, services: &str, backup: &str) -> Project {
        let p = Project::new(tag, services, backup);
        p.compose(&["up", "-d", "--wait"]);
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path().join(file), text).unwrap();
    }

    pub fn compose(&self, args: &[&str]) {
        let out = Command::new("docker")
            .args(["compose", "-p", &self.name, "--env-file", "the.env"])
            .args(args)
            .current_dir(self.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "compose {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn ccops(&self, args: &[&str]) -> Run {
        self.ccops_env(args, &[])
    }

    pub fn ccops_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = ccops();
        c.current_dir(self.path()).args(args).env("CCOPS_COMPOSE", "docker compose");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap().into()
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.name)
    }

    pub fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// SQL as the application's user in the `db` container, tab-separated rows. (Objects
    /// root defined would restore only as a user allowed to name another DEFINER.)
    pub fn sql(&self, sql: &str) -> String {
        let db = self.container("db");
        self.docker(&[
            "exec",
            "-e",
            "MYSQL_PWD=s3cret-shop-pw",
            &db,
            "mariadb",
            "-u",
            "shop",
            "-N",
            "-B",
            "shop",
            "-e",
            sql,
        ])
    }

    pub fn started_at(&self, service: &str) -> String {
        self.docker(&["inspect", "-f", "{{.State.StartedAt}}", &self.container(service)])
    }

    pub fn backups(&self) -> PathBuf {
        self.path().join("backups")
    }

    /// The set folders present (complete or not), sorted.
    pub fn sets(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.backups())
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["compose", "-p", &self.name, "--env-file", "the.env", "down", "-v", "-t", "2"])
            .current_dir(self.path())
            .output();
    }
}

const MYSQL_BACKUP: &str =
    "  mysql:\n    - service: db\n      database: shop\n      user: shop\n      password_variable: DB_PASSWORD\n";

fn seed(p: &Project) {
    p.sql(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB;
         INSERT INTO items VALUES (1, 'apple'), (2, 'pear'), (3, 'plum');
         CREATE TABLE log (n INT);
         CREATE TRIGGER items_log AFTER INSERT ON items FOR EACH ROW INSERT INTO log VALUES (NEW.id);
         CREATE VIEW names AS SELECT name FROM items;",
    );
}

#[test]
fn mysql_round_trip_without_stopping_the_server() {
    let p = Project::up("rt", MARIADB, MYSQL_BACKUP);
    seed(&p);
    let started = p.started_at("db");

    let r = p.ccops(&["backup"]);
    r.code(0);
    assert_eq!(p.started_at("db"), started, "the database was restarted during the backup");
    let sets = p.sets();
    assert_eq!(sets.len(), 1, "{sets:?}");
    let file = p.backups().join(&sets[0]).join("mysql-db-shop.sql.gz");
    assert!(file.exists(), "{sets:?}");
    let manifest = std::fs::read_to_string(p.backups().join(&sets[0]).join("manifest.json")).unwrap();
    assert!(manifest.contains("\"kind\": \"mysql\"") || manifest.contains("\"kind\":\"mysql\""), "{manifest}");
    // The password came from the env file and went nowhere visible.
    assert!(!r.stderr.contains("s3cret-shop-pw"), "{}", r.stderr);

    // A standard tool reads it: gunzip gives a dump with its header and footer.
    let sql = Command::new("gzip").arg("-dc").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&sql.stdout);
    assert!(text.contains("-- MariaDB dump") && text.contains("INSERT INTO `items`"), "{text}");
    assert!(text.trim_end().lines().last().unwrap().starts_with("-- Dump completed"), "{text}");

    p.ccops(&["backup", "verify", "latest"]).code(0);

    // Live data changes: rows go, a table is dropped, another appears.
    p.sql("DELETE FROM items WHERE id > 1; UPDATE items SET name = 'changed'; DROP VIEW names; CREATE TABLE junk (x INT);");
    p.ccops(&["restore", "latest", "--yes"]).code(0);
    assert_eq!(p.sql("SELECT id, name FROM items ORDER BY id"), "1\tapple\n2\tpear\n3\tplum");
    assert_eq!(p.sql("SELECT COUNT(*) FROM names"), "3");
    assert_eq!(p.sql("SHOW TABLES LIKE 'junk'"), "", "the database was not replaced whole");
    // The trigger came back with its table.
    p.sql("INSERT INTO items VALUES (4, 'fig')");
    assert_eq!(p.sql("SELECT n FROM log"), "4");
    // The restore took a safety backup first.
    assert_eq!(p.sets().len(), 2, "{:?}", p.sets());
}

#[test]
fn mysql_faults_keep_nothing_and_touch_nothing() {
    let p = Project::up("faults", MARIADB, MYSQL_BACKUP);
    seed(&p);

    // doctor finds the tools and logs in; with a wrong password it says what to correct.
    let r = p.ccops(&["doctor"]);
    let (status, l) = crate::doctor::line(&r, "mysql db");
    assert_eq!(status, "OK", "{l}");
    assert!(l.contains("mariadb-dump and mariadb present; database `shop` as `shop`"), "{l}");
    let r = p.ccops_env(&["doctor"], &[("DB_PASSWORD", "not-the-password")]);
    r.code(1);
    let (status, l) = crate::doctor::line(&r, "mysql db");
    assert_eq!(status, "FAIL", "{l}");
    assert!(l.contains("cannot connect to database `shop`") && l.contains("Access denied"), "{l}");
    r.stdout_has("fix: correct `database`, `user` and `password_variable` under backup.mysql");

    // The dump tool fails (wrong password): exit 1, its reason, no set kept.
    let r = p.ccops_env(&["backup"], &[("DB_PASSWORD", "not-the-password")]);
    r.code(1).stderr_has("mariadb-dump").stderr_has("Access denied").stderr_has("nothing was kept");
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);
    assert!(p.sets().is_empty(), "{:?}", p.sets());

    // The server stopped: refused before anything is written.
    p.docker(&["stop", "-t", "5", &p.container("db")]);
    p.ccops(&["backup"]).code(1).stderr_has("`db`").stderr_has("not running");
    assert!(p.sets().is_empty(), "{:?}", p.sets());
    p.compose(&["up", "-d", "--wait"]);

    // A flipped byte in the stored file: verify and restore refuse, live data untouched.
    p.ccops(&["backup"]).code(0);
    let set = p.sets()[0].clone();
    let file = p.backups().join(&set).join("mysql-db-shop.sql.gz");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&file, bytes).unwrap();
    p.sql("INSERT INTO items VALUES (9, 'after')");
    p.ccops(&["backup", "verify", &set]).code(1).stdout_has("mysql-db-shop.sql.gz");
    p.ccops(&["restore", &set, "--yes"]).code(1).stderr_has("failed verification, nothing was restored");
    assert_eq!(p.sql("SELECT COUNT(*) FROM items"), "4");

    // A set planted to restore into another database (the server's own `mysql`) is refused.
    p.ccops(&["backup"]).code(0);
    let set = p.sets().into_iter().find(|s| !s.ends_with(".partial") && *s != set).unwrap();
    let manifest = p.backups().join(&set).join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"database\": \"shop\"", "\"database\": \"mysql\"")).unwrap();
    let r = p.ccops(&["restore", &set, "--yes"]);
    r.code(1).stderr_has("MySQL database `mysql`").stderr_has("does not configure");
    std::fs::write(&manifest, text).unwrap();

    // The client fails (the account may no longer drop its database): exit 1, the
    // server's reason, the safety backup named, and nothing dropped.
    let root = |sql: &str| p.docker(&["exec", &p.container("db"), "mariadb", "-e", sql]);
    root("REVOKE DROP ON shop.* FROM 'shop'@'localhost'");
    let before = p.sets().len();
    let r = p.ccops(&["restore", &set, "--yes"]);
    r.code(1).stderr_has("loading the dump into database `shop`").stderr_has("denied").stderr_has("safety backup");
    assert_eq!(p.sets().len(), before + 1, "no safety backup was taken");
    assert_eq!(p.sql("SELECT COUNT(*) FROM items"), "4");

    // An image with mysqldump only is dumped with it; one with neither is refused by name.
    let db = p.container("db");
    p.docker(&["exec", &db, "mv", "/usr/bin/mariadb-dump", "/usr/bin/mariadb-dump.off"]);
    p.docker(&["exec", &db, "sh", "-c", "rm -f /usr/bin/mysqldump && ln -s mariadb-dump.off /usr/bin/mysqldump"]);
    p.ccops(&["backup"]).code(0);
    p.docker(&["exec", &db, "rm", "/usr/bin/mysqldump"]);
    let before = p.sets();
    p.ccops(&["backup"]).code(1).stderr_has("none of mariadb-dump, mysqldump");
    assert_eq!(p.sets(), before);
}

const COMMAND_BACKUP: &str = r#"  commands:
    - name: notes
      service: app
      dump: [sh, -c, "cat /data/notes.txt"]
      restore: [sh, -c, "cat > /data/notes.txt"]
      verify: [sh, -c, "head -n 1 | grep -q '^notes v'"]
"#;

#[test]
fn command_component_round_trip_and_a_failing_dump() {
    let p = Project::up("cmd", APP, COMMAND_BACKUP);
    let app = p.container("app");
    p.docker(&["exec", &app, "sh", "-c", "printf 'notes v1\\nsecond line\\n' > /data/notes.txt"]);

    p.ccops(&["backup"]).code(0);
    let set = p.sets()[0].clone();
    assert!(p.backups().join(&set).join("command-notes.out.gz").exists(), "{set}");
    p.ccops(&["backup", "verify", "latest"]).code(0);

    p.docker(&["exec", &app, "sh", "-c", "echo overwritten > /data/notes.txt"]);
    p.ccops(&["restore", "latest", "--yes", "--no-safety-backup"]).code(0);
    assert_eq!(p.docker(&["exec", &app, "cat", "/data/notes.txt"]), "notes v1\nsecond line");

    // The dump command exits non-zero: the backup fails with its stderr, nothing is kept.
    let cfg = std::fs::read_to_string(p.path().join("ccops.yaml")).unwrap();
    p.write(
        "ccops.yaml",
        &cfg.replace("cat /data/notes.txt\"", "echo partial; echo 'database is locked' >&2; exit 3\""),
    );
    let before = p.sets();
    p.ccops(&["backup"]).code(1).stderr_has("exit 3").stderr_has("database is locked").stderr_has("`notes`");
    assert_eq!(p.sets(), before);

    // A verify that refuses the output fails the backup too.
    p.write("ccops.yaml", &cfg.replace("'^notes v'", "'^never'"));
    p.ccops(&["backup"]).code(1).stderr_has("verify command of `notes`");
    assert_eq!(p.sets(), before);
}

/// docs/configuration.md's SQLite example, line for line.
const SQLITE_BACKUP: &str = r#"  commands:
    - name: appdb
      service: app
      dump: [sqlite3, /data/app.db, .dump]
      restore: [sh, -c, "rm -f /data/app.db.new && sqlite3 -bail /data/app.db.new && mv /data/app.db.new /data/app.db"]
      verify: [sqlite3, -bail, ":memory:"]
"#;

#[test]
fn sqlite_by_the_documented_commands_round_trips() {
    let app = APP.replace("ccops-test/base:latest", "ccops-test/sqlite:latest");
    let p = Project::up("sqlite", &app, SQLITE_BACKUP);
    let c = p.container("app");
    let sql = |q: &str| p.docker(&["exec", &c, "sqlite3", "/data/app.db", q]);
    sql(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO notes (body) SELECT 'note ' || i FROM n;",
    );

    p.ccops(&["backup"]).code(0);
    let set = p.sets()[0].clone();
    assert!(p.backups().join(&set).join("command-appdb.out.gz").exists(), "{set}");
    p.ccops(&["backup", "verify", "latest"]).code(0);

    sql("DELETE FROM notes WHERE id > 10; CREATE TABLE later (x);");
    p.ccops(&["restore", "latest", "--yes"]).code(0);
    assert_eq!(sql("SELECT count(*), max(body) FROM notes;"), "500|note 99");
    assert_eq!(sql("SELECT count(*) FROM sqlite_master WHERE name = 'later';"), "0", "the file was replaced whole");

    // A damaged dump: verify's load fails (-bail), the backup fails and keeps nothing.
    let cfg = std::fs::read_to_string(p.path().join("ccops.yaml")).unwrap();
    p.write(
        "ccops.yaml",
        &cfg.replace("[sqlite3, /data/app.db, .dump]", "[sh, -c, \"sqlite3 /data/app.db .dump | head -c 300\"]"),
    );
    let before = p.sets();
    p.ccops(&["backup"]).code(1).stderr_has("verify command of `appdb`");
    assert_eq!(p.sets(), before);
    assert_eq!(sql("SELECT count(*) FROM notes;"), "500", "the live file is untouched");
}

/// A copy of a fixture project of tests/fixtures/init.
fn fixture(name: &str) -> crate::support::Dir {
    let d = crate::support::Dir::new();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/init").join(name);
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), d.join(&e.file_name().to_string_lossy())).unwrap();
    }
    d
}

#[test]
fn init_writes_backup_mysql_for_wordpress_and_nextcloud() {
    // WordPress + MySQL 8: the user the image creates, its password given as a literal,
    // so read from the container's own MYSQL_PASSWORD.
    let d = fixture("wordpress-mysql");
    let r = d.run(&["--json", "init"]);
    r.code(0);
    assert_eq!(
        r.json()["mysql"],
        serde_json::json!([{ "service": "db", "database": "wordpress", "user": "wordpress", "password_variable": "MYSQL_PASSWORD" }])
    );
    let text = std::fs::read_to_string(d.join("ccops.yaml")).unwrap();
    assert!(text.contains("not copied: volume `db_data`"), "{text}");
    d.run(&["config", "check"]).code(0);

    // Nextcloud + MariaDB 10.11: the password is the compose variable; the app service,
    // which sets MYSQL_* too but names its MYSQL_HOST, is no server.
    let d = fixture("nextcloud-mariadb");
    let r = d.run(&["init"]);
    r.code(0).stderr_has("mysql: service `db`, database `nextcloud`, user `nextcloud`");
    assert!(!r.stderr.contains("mysql: service `app`"), "{}", r.stderr);
    let text = std::fs::read_to_string(d.join("ccops.yaml")).unwrap();
    assert!(
        text.contains(
            "  mysql:\n    # database from MYSQL_DATABASE, user from MYSQL_USER, password from `${NEXTCLOUD_DB_PASSWORD}` (MYSQL_PASSWORD)\n    - service: db\n      database: nextcloud\n      user: nextcloud\n      password_variable: NEXTCLOUD_DB_PASSWORD\n"
        ),
        "{text}"
    );
    let shown = d.run(&["--json", "config", "show"]);
    assert_eq!(shown.json()["backup"]["mysql"][0]["password_variable"], "NEXTCLOUD_DB_PASSWORD");
}

#[test]
fn init_then_backup_and_restore_round_trip_a_mariadb_service() {
    let p = Project::up("init", MARIADB, "");
    std::fs::remove_file(p.path().join("ccops.yaml")).unwrap();
    p.write(".env", &format!("COMPOSE_PROJECT_NAME={}\nDB_PASSWORD=s3cret-shop-pw\n", p.name));
    p.ccops(&["init"]).code(0).stderr_has("mysql: service `db`, database `shop`, user `shop`");
    let text = std::fs::read_to_string(p.path().join("ccops.yaml")).unwrap();
    assert!(text.contains("password_variable: DB_PASSWORD"), "{text}");
    seed(&p);
    let started = p.started_at("db");

    p.ccops(&["backup"]).code(0);
    assert_eq!(p.started_at("db"), started);
    p.sql("DROP TABLE items; DROP VIEW names");
    p.ccops(&["restore", "latest", "--yes"]).code(0);
    assert_eq!(p.sql("SELECT name FROM names ORDER BY name"), "apple\npear\nplum");
}

#[test]
fn mysql_all_databases_as_root_round_trip() {
    // Started with MYSQL_DATABASE (so the server has `shop`), then the variable dropped
    // from the compose file: init proposes every database, as root (socket login here).
    let p = Project::up("all", MARIADB, "");
    std::fs::remove_file(p.path().join("ccops.yaml")).unwrap();
    let compose = std::fs::read_to_string(p.path().join("docker-compose.yml")).unwrap();
    p.write("docker-compose.yml", &compose.replace("      MYSQL_DATABASE: shop\n", ""));
    p.write(".env", &format!("COMPOSE_PROJECT_NAME={}\nDB_PASSWORD=s3cret-shop-pw\n", p.name));
    p.ccops(&["init"]).code(0).stderr_has("mysql: service `db`, database all, user `root`");
    let text = std::fs::read_to_string(p.path().join("ccops.yaml")).unwrap();
    assert!(text.contains("      all: true") && text.contains("      user: root\n"), "{text}");
    seed(&p);
    let root = |sql: &str| p.docker(&["exec", &p.container("db"), "mariadb", "-N", "-B", "-e", sql]);
    root("CREATE DATABASE blog; CREATE TABLE blog.posts (id INT); INSERT INTO blog.posts VALUES (7)");

    p.ccops(&["backup"]).code(0);
    let set = p.sets()[0].clone();
    let dump =
        Command::new("gzip").arg("-dc").arg(p.backups().join(&set).join("mysql-db-all.sql.gz")).output().unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `blog`"), "{dump}");
    assert!(!dump.contains("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `mysql`"), "the server's own schema was dumped");

    root("DROP DATABASE blog; DELETE FROM shop.items");
    p.ccops(&["restore", "latest", "--yes"]).code(0);
    assert_eq!(root("SELECT id FROM blog.posts"), "7");
    assert_eq!(root("SELECT COUNT(*) FROM shop.items"), "3");
}
