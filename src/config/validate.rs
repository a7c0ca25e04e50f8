//! The checks ccops.yaml must pass beyond its schema: each health check of one kind,
//! unique names, volume names as Compose writes them, ping URLs that are http(s) URLs.
//! They point at the offending line.

use std::path::Path;

use anyhow::Result;

use super::{ConfigError, ConfigFile};

pub(super) fn validate(path: &Path, text: &str, f: &ConfigFile) -> Result<()> {
    let at = |needle: &str, msg: String| -> anyhow::Error { ConfigError::at_first(path, text, needle, msg).into() };
    for c in &f.health.checks {
        let kinds = [c.http.is_some(), c.tcp.is_some(), c.tls.is_some(), c.disk.is_some()];
        match kinds.iter().filter(|k| **k).count() {
            1 => {}
            0 => return Err(at(&c.name, format!("health check `{}` needs one of http:, tcp:, tls:, disk:", c.name))),
            _ => {
                return Err(at(
                    &c.name,
                    format!(
                        "health check `{}` has several of http:, tcp:, tls:, disk:; give each its own check",
                        c.name
                    ),
                ));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &f.health.checks {
        if !seen.insert(c.name.as_str()) {
            return Err(at(&c.name, format!("two health checks are named `{}`; names must be unique", c.name)));
        }
    }
    if let Some((key, why)) = f.health.resources.problem() {
        return Err(at(key, why));
    }
    let mut drill_names = std::collections::BTreeSet::new();
    for c in &f.backup.drill.checks {
        if let Some(why) = c.problem() {
            return Err(at(&c.name, why));
        }
        if !drill_names.insert(c.name.as_str()) {
            return Err(at(&c.name, format!("two drill checks are named `{}`; names must be unique", c.name)));
        }
    }
    for v in &f.backup.volumes {
        if v.name.is_empty() || v.name.contains('/') {
            return Err(at(
                &v.name,
                format!(
                    "`{}` is not a volume name (write the compose volume name, without the project prefix)",
                    v.name
                ),
            ));
        }
    }
    for m in &f.backup.mysql {
        let named = m.database.as_deref().is_some_and(|d| !d.is_empty() && !d.contains('`'));
        if named == m.all {
            return Err(at(
                &m.service,
                format!("backup.mysql of service `{}` needs `database: NAME` or `all: true` (one of them)", m.service),
            ));
        }
    }
    let mut command_names = std::collections::BTreeSet::new();
    for c in &f.backup.commands {
        if c.name.is_empty() || !c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch)) {
            return Err(at(
                &c.name,
                format!("backup.commands name `{}` must be letters, digits, `.`, `_` or `-` (it names a file)", c.name),
            ));
        }
        if !command_names.insert(c.name.as_str()) {
            return Err(at(&c.name, format!("two backup.commands are named `{}`; names must be unique", c.name)));
        }
        for (key, argv) in [("dump", Some(&c.dump)), ("restore", Some(&c.restore)), ("verify", c.verify.as_ref())] {
            if argv.is_some_and(|a| a.is_empty() || a[0].is_empty()) {
                return Err(at(&c.name, format!("backup.commands `{}`: `{key}` needs a command", c.name)));
            }
        }
    }
    ping_urls(&f.notify, &at)
}

/// Every ping URL is an http(s) URL (`off` too, per command). The message names the key,
/// never the value: a ping URL is its check's secret.
fn ping_urls(n: &super::Notify, at: &dyn Fn(&str, String) -> anyhow::Error) -> Result<()> {
    let keys = std::iter::once(("notify.ping_url".to_string(), &n.ping_url, false))
        .chain(n.ping.entries().into_iter().map(|(k, v)| (format!("notify.ping.{k}"), v, true)));
    for (key, value, may_be_off) in keys {
        let Some(v) = value else { continue };
        if may_be_off && v.trim() == super::PING_OFF {
            continue;
        }
        let scheme = reqwest::Url::parse(v.trim()).map(|u| u.scheme().to_string());
        if !matches!(scheme.as_deref(), Ok("http" | "https")) {
            let or_off = if may_be_off { ", or `off` to ping nothing for it" } else { "" };
            return Err(at(
                v,
                format!(
                    "`{key}` is not an http(s) URL; write the check's ping URL (e.g. https://hc-ping.com/<uuid>){or_off}"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err_of, load_in};

    #[test]
    fn a_mysql_entry_names_one_database_or_all() {
        let d = tempfile::tempdir().unwrap();
        let entry = |rest: &str| format!("backup:\n  mysql:\n    - service: db\n      user: root\n{rest}");
        load_in(d.path(), &entry("      database: shop\n"), &[]).unwrap();
        load_in(d.path(), &entry("      all: true\n"), &[]).unwrap();
        for rest in ["", "      database: shop\n      all: true\n", "      database: \"\"\n"] {
            let e = err_of(load_in(d.path(), &entry(rest), &[]));
            assert!(e.contains("needs `database: NAME` or `all: true`"), "{rest}: {e}");
        }
    }

    #[test]
    fn command_components_need_a_file_name_and_commands() {
        let d = tempfile::tempdir().unwrap();
        let entry = |name: &str, dump: &str| {
            format!(
                "backup:\n  commands:\n    - name: {name}\n      service: app\n      dump: {dump}\n      restore: [sh, -c, 'cat > /f']\n"
            )
        };
        load_in(d.path(), &entry("notes", "[cat, /f]"), &[]).unwrap();
        for (yaml, says) in [
            (entry("a/b", "[cat, /f]"), "names a file"),
            (entry("notes", "[]"), "`dump` needs a command"),
            (entry("notes", "[cat, /f]") + "    - {name: notes, service: app, dump: [x], restore: [y]}\n", "unique"),
        ] {
            let e = err_of(load_in(d.path(), &yaml, &[]));
            assert!(e.contains(says), "{yaml}: {e}");
        }
    }

    #[test]
    fn health_check_needs_exactly_one_kind() {
        let d = tempfile::tempdir().unwrap();
        let e = err_of(load_in(d.path(), "health:\n  checks:\n    - name: api\n      timeout: 5s\n", &[]));
        assert!(e.contains(":3:") && e.contains("needs one of"), "{e}");
        let s = load_in(
            d.path(),
            "health:\n  checks:\n    - name: api\n      http: http://x\n      timeout: 5s\n  backup_max_age: 26h\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.file.health.checks[0].timeout, Some(std::time::Duration::from_secs(5)));
        assert_eq!(s.file.health.backup_max_age, Some(std::time::Duration::from_secs(26 * 3600)));
    }

    #[test]
    fn ping_urls_are_http_urls_and_never_shown_in_the_error() {
        let d = tempfile::tempdir().unwrap();
        let yaml = "notify:\n  ping_url: https://hc-ping.com/0b2f\n  ping:\n    deploy: off\n    backup: http://127.0.0.1:8000/ping/6e1a\n";
        let s = load_in(d.path(), yaml, &[]).unwrap();
        let n = &s.file.notify;
        assert_eq!(n.ping_url_of("backup"), Some("http://127.0.0.1:8000/ping/6e1a"));
        assert_eq!(n.ping_url_of("drill"), Some("https://hc-ping.com/0b2f"));
        assert_eq!(n.ping_url_of("deploy"), None);
        let shown = s.display.to_string();
        assert!(!shown.contains("0b2f") && !shown.contains("6e1a") && shown.contains("\"off\""), "{shown}");
        let e = err_of(load_in(d.path(), "notify:\n  ping:\n    drill: hc-ping.com/secret-uuid\n", &[]));
        assert!(e.contains(":3:12:") && e.contains("`notify.ping.drill` is not an http(s) URL"), "{e}");
        assert!(!e.contains("secret-uuid"), "{e}");
        let e = err_of(load_in(d.path(), "notify:\n  ping_url: 'off'\n", &[]));
        assert!(e.contains("`notify.ping_url` is not an http(s) URL") && !e.contains("or `off`"), "{e}");
        let e = err_of(load_in(d.path(), "notify:\n  ping:\n    backups: https://x\n", &[]));
        assert!(e.contains("did you mean `backup`?"), "{e}");
    }

    #[test]
    fn health_resources_are_checked_at_load() {
        let d = tempfile::tempdir().unwrap();
        let s = load_in(d.path(), "project: p\n", &[]).unwrap();
        let r = &s.file.health.resources;
        assert_eq!((r.memory_warn.0, r.memory_fail.0, r.cpu_warn.0, r.cpu_fail), (80.0, 90.0, 80.0, None));
        assert_eq!(r.restarts_fail.to_string(), "3 in 10m");
        let yaml = "health:\n  resources: {memory_warn: 70%, memory_fail: 85, cpu_fail: 95%, restarts_fail: 5 in 1h}\n";
        let s = load_in(d.path(), yaml, &[]).unwrap();
        let r = &s.file.health.resources;
        assert_eq!((r.memory_warn.0, r.memory_fail.0, r.cpu_fail.map(|p| p.0)), (70.0, 85.0, Some(95.0)));
        assert_eq!((r.restarts_fail.count, r.restarts_fail.within.as_secs()), (5, 3600));
        for (yaml, says) in [
            ("health:\n  resources:\n    memory_warn: 180%\n", "not a percentage"),
            ("health:\n  resources:\n    cpu_warn: lots\n", "not a percentage"),
            ("health:\n  resources:\n    restarts_fail: often\n", "N in DURATION"),
            ("health:\n  resources:\n    memory_warn: 95%\n", "above memory_fail"),
        ] {
            let e = err_of(load_in(d.path(), yaml, &[]));
            assert!(e.contains(says), "{yaml}: {e}");
        }
    }
}
