//! Property tests of the loader: any text, in ccops.yaml's shape or not, gives settings
//! or an error, never a panic.

use std::path::Path;

use proptest::prelude::*;

use super::load_str;
use super::testing::penv;

/// YAML-ish text built from the keys, values and syntax a ccops.yaml holds, so the
/// cases reach past the YAML parser into environments, interpolation and the schema.
fn config_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("project".to_string()),
        Just("default_environment".to_string()),
        Just("environments".to_string()),
        Just("prod".to_string()),
        Just("staging".to_string()),
        Just("env_file".to_string()),
        Just("compose_files".to_string()),
        Just("docker_host".to_string()),
        Just("backup".to_string()),
        Just("directory".to_string()),
        Just("retention".to_string()),
        Just("days".to_string()),
        Just("volumes".to_string()),
        Just("postgres".to_string()),
        Just("health".to_string()),
        Just("checks".to_string()),
        Just("name".to_string()),
        Just("http".to_string()),
        Just("tcp".to_string()),
        Just("timeout".to_string()),
        Just("notify".to_string()),
        Just("webhook_url".to_string()),
        Just("metrics".to_string()),
        Just("textfile".to_string()),
        Just("state_directory".to_string()),
        Just("<<".to_string()),
    ];
    let value = prop_oneof![
        Just("".to_string()),
        Just("${DAYS}".to_string()),
        Just("${NOPE:?set it}".to_string()),
        Just("${A:-${B:-x}}".to_string()),
        Just("$$".to_string()),
        Just("${".to_string()),
        Just("}".to_string()),
        Just("[a, b]".to_string()),
        Just("{}".to_string()),
        Just("[]".to_string()),
        Just("~".to_string()),
        Just("5s".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("&anchor x".to_string()),
        Just("*anchor".to_string()),
        Just("!!binary aGk=".to_string()),
        Just("!tag x".to_string()),
        Just("'quoted: ${X}'".to_string()),
        Just("\"dq\\u00e9\"".to_string()),
        Just("../../../etc/passwd".to_string()),
        Just("/dev/null".to_string()),
        Just(".env".to_string()),
        Just("http://u:p@h/x".to_string()),
        Just("|".to_string()),
        Just(">-".to_string()),
        "[ -~]{0,6}",
    ];
    let line = (
        0usize..4,
        key,
        prop_oneof![Just(": ".to_string()), Just(":".to_string()), Just("- ".to_string()), Just(" ".to_string())],
        value,
    )
        .prop_map(|(indent, k, sep, v)| format!("{}{k}{sep}{v}", "  ".repeat(indent)));
    prop::collection::vec(line, 0..14).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Any text, in ccops.yaml's shape or not: Ok or an error, never a panic.
    #[test]
    fn the_loader_never_panics(text in config_text(), env in prop::option::of("prod|staging|x")) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), "DAYS=3\nB=y\n").unwrap();
        let p = d.path().join("ccops.yaml");
        let _ = load_str(&p, &text, env.as_deref(), &penv(&[("DAYS", "7")]));
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = load_str(Path::new("/nonexistent/ccops.yaml"), &text, None, &penv(&[]));
    }

    /// Bytes as a file holds them: read lossily, since the real reader refuses
    /// what is not UTF-8 before the loader sees it.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_str(Path::new("/nonexistent/ccops.yaml"), &text, None, &penv(&[]));
    }
}
