//! `ccops init`: a config for the example project and for a small fixture, each accepted
//! by `ccops config check`; an existing file is never overwritten without --force.

use crate::stack::{Flavour, Stack};
use crate::support::Dir;

#[test]
fn init_writes_a_valid_config_for_the_example_project() {
    // A copy of examples/commandcenter with its .env, without its ccops.yaml.
    let s = Stack::new("init", Flavour::V2);
    let cfg = s.path().join("ccops.yaml");
    std::fs::remove_file(&cfg).unwrap();

    let r = s.ccops(&["init"]);
    r.code(0)
        .stderr_has("environment production: docker-compose.yml + docker-compose.prod.yml; env file .env")
        .stderr_has("postgres: service `postgres`, database `commandcenter`, user `commandcenter`")
        .stderr_has("redis: service `redis`")
        .stderr_has("volume: rag_storage (stops backend while copying)");
    let text = std::fs::read_to_string(&cfg).unwrap();
    for needle in [
        "version_variable: APP_VERSION",
        "required_variables:\n      - DB_PASSWORD",
        "# database from POSTGRES_DB, user from POSTGRES_USER",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
    }
    assert!(text.contains("not copied: volume `postgres_data`"), "{text}");
    s.ccops(&["config", "check"]).code(0).stderr_has("valid");

    // Never overwritten without --force; with it, the old file is kept.
    std::fs::write(&cfg, "# hand-tuned\nproject: mine\n").unwrap();
    s.ccops(&["init"]).code(2).stderr_has("already exists").stderr_has("--force");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "# hand-tuned\nproject: mine\n");
    s.ccops(&["init", "--force"]).code(0).stderr_has("ccops.yaml.bak");
    assert_eq!(std::fs::read_to_string(s.path().join("ccops.yaml.bak")).unwrap(), "# hand-tuned\nproject: mine\n");
    s.ccops(&["config", "check"]).code(0);
}

#[test]
fn init_detects_a_fixture_project_and_its_environments() {
    let d = Dir::new();
    d.write(
        "compose.yaml",
        r#"name: maps
services:
  gis:
    image: postgis/postgis:16-3.4
    environment:
      - POSTGRES_USER=gis
      - POSTGRES_DB=${GIS_DB:-gisdata}
      - POSTGRES_PASSWORD=${GIS_PASSWORD:?set GIS_PASSWORD}
    volumes: [gisdata:/var/lib/postgresql/data]
  cache:
    image: bitnami/redis:7.2
    volumes: [cache:/bitnami/redis/data]
  tiles:
    image: ccops-test/base:latest
    ports: ["${TILES_PORT:-7800}:7800"]
    volumes: [tiles:/srv/tiles, "./style:/srv/style:ro"]
volumes:
  gisdata:
  cache:
  tiles:
"#,
    )
    .write("compose.staging.yaml", "services:\n  tiles:\n    environment: [LOG_LEVEL=debug]\n")
    .write(".env", "GIS_DB=maps_prod\nGIS_PASSWORD=x\n")
    .write(".env.staging", "GIS_DB=maps_staging\nGIS_PASSWORD=y\n")
    .write(".env.example", "GIS_DB=\n");

    let r = d.run(&["--json", "init"]);
    r.code(0);
    let doc = r.json();
    assert_eq!(doc["project"], "maps");
    assert_eq!(doc["environments"][0]["name"], "production");
    assert_eq!(doc["environments"][0]["env_file"], ".env");
    assert_eq!(doc["environments"][1]["name"], "staging");
    assert_eq!(doc["environments"][1]["compose_files"], serde_json::json!(["compose.yaml", "compose.staging.yaml"]));
    assert_eq!(doc["environments"][1]["env_file"], ".env.staging");
    assert_eq!(doc["postgres"], serde_json::json!([{ "service": "gis", "database": "maps_prod", "user": "gis" }]));
    assert_eq!(doc["redis"], serde_json::json!(["cache"]));
    assert_eq!(doc["volumes"], serde_json::json!([{ "name": "tiles", "stop_services": ["tiles"] }]));
    assert_eq!(doc["required_variables"], serde_json::json!(["GIS_PASSWORD"]));

    let text = std::fs::read_to_string(d.join("ccops.yaml")).unwrap();
    assert!(text.contains("tcp: \"127.0.0.1:${TILES_PORT:-7800}\""), "{text}");
    d.run(&["config", "check"]).code(0);
    d.run(&["--env", "staging", "config", "check"]).code(0);
    let shown = d.run(&["--json", "config", "show"]);
    assert_eq!(shown.json()["health"]["checks"][0]["tcp"], "127.0.0.1:7800");

    let empty = Dir::new();
    empty.run(&["init"]).code(2).stderr_has("no compose file");
}

#[test]
fn init_never_writes_through_a_symlink_at_ccops_yaml() {
    let d = Dir::new();
    d.write("compose.yaml", "services:\n  web:\n    image: ccops-test/base:latest\n");
    let victim = d.join("victim.yaml");
    std::fs::write(&victim, "keep: me\n").unwrap();
    std::os::unix::fs::symlink(&victim, d.join("ccops.yaml")).unwrap();
    d.run(&["init"]).code(2).stderr_has("is a symbolic link");
    d.run(&["init", "--force"]).code(2).stderr_has("is a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep: me\n");

    // A dangling link: following it would create the file it names.
    std::fs::remove_file(d.join("ccops.yaml")).unwrap();
    std::os::unix::fs::symlink(d.join("made-by-root.yaml"), d.join("ccops.yaml")).unwrap();
    d.run(&["init", "--force"]).code(2);
    assert!(!d.join("made-by-root.yaml").exists());

    // A plain file: --force replaces it with a regular file and keeps the old one, a link
    // planted at the `.bak` name is replaced rather than written through.
    std::fs::remove_file(d.join("ccops.yaml")).unwrap();
    std::fs::write(d.join("ccops.yaml"), "# old\n").unwrap();
    std::os::unix::fs::symlink(&victim, d.join("ccops.yaml.bak")).unwrap();
    d.run(&["init", "--force"]).code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep: me\n");
    assert_eq!(std::fs::read_to_string(d.join("ccops.yaml.bak")).unwrap(), "# old\n");
    assert!(std::fs::symlink_metadata(d.join("ccops.yaml")).unwrap().is_file());
}
