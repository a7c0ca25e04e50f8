//! The checks of `backup.drill.checks`, run in the drill's copy once it is healthy: SQL
//! through psql in the copy's database, Redis' DBSIZE, a file in a service's container.
//! Running is I/O; judging what came back is pure and tested here.

use anyhow::{Result, anyhow, bail};

use crate::config::{DrillCheck, Settings};
use crate::docker::Engine;
use crate::snapshot::env_value;

/// One check's result, as the report prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    /// sql, redis_keys, file_exists
    pub kind: &'static str,
    pub ok: bool,
    pub expected: String,
    pub got: String,
}

/// The kind word of a check.
pub fn kind(c: &DrillCheck) -> &'static str {
    if c.sql.is_some() {
        "sql"
    } else if c.redis_keys_min.is_some() {
        "redis_keys"
    } else {
        "file_exists"
    }
}

/// What the check expects, in words.
pub fn expected(c: &DrillCheck) -> String {
    match (c.min_rows, &c.equals, c.redis_keys_min, &c.file_exists) {
        (Some(n), ..) => format!(">= {n} rows"),
        (_, Some(v), ..) => format!("= {v:?}"),
        (_, _, Some(n), _) => format!(">= {n} keys"),
        (.., Some(p)) => format!("{p} exists"),
        _ => String::new(),
    }
}

/// Judge the text a check's command printed (`Err`: it could not run).
pub fn judge(c: &DrillCheck, printed: &Result<String>) -> (bool, String) {
    let out = match printed {
        Ok(out) => out.trim(),
        Err(e) => return (false, format!("error: {e:#}")),
    };
    let first = out.lines().next().unwrap_or("").split('\x1f').next().unwrap_or("");
    if let Some(min) = c.min_rows.or(c.redis_keys_min) {
        return match first.trim().parse::<u64>() {
            Ok(n) => (n >= min, n.to_string()),
            Err(_) => (false, format!("not a number: {first:?}")),
        };
    }
    if let Some(want) = &c.equals {
        return (first == want, if out.is_empty() { "no row".into() } else { first.to_string() });
    }
    // file_exists: the command printed the kind of what it found, or nothing.
    (!out.is_empty(), if out.is_empty() { "missing".into() } else { out.to_string() })
}

/// The query a check runs: `min_rows` counts the rows on the server, so a large result
/// is never sent.
pub fn query(c: &DrillCheck) -> Option<String> {
    let sql = c.sql.as_deref()?.trim().trim_end_matches(';').trim();
    Some(if c.min_rows.is_some() {
        format!("SELECT count(*) FROM ({sql}) AS ccops_drill_rows")
    } else {
        sql.to_string()
    })
}

/// Run every check in the copy `project`, in order; a check that cannot run fails.
pub async fn run(s: &Settings, engine: &Engine, project: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    for c in &s.file.backup.drill.checks {
        let printed = run_one(s, engine, project, c).await;
        let (ok, got) = judge(c, &printed);
        crate::output::status(format!(
            "  check `{}`: {} (expected {}, got {got})",
            c.name,
            if ok { "ok" } else { "FAILED" },
            expected(c)
        ));
        out.push(Outcome { name: c.name.clone(), kind: kind(c), ok, expected: expected(c), got });
    }
    out
}

async fn run_one(s: &Settings, engine: &Engine, project: &str, c: &DrillCheck) -> Result<String> {
    let b = &s.file.backup;
    if let Some(sql) = query(c) {
        let target = b
            .postgres
            .iter()
            .find(|t| c.service.as_ref().is_none_or(|sv| *sv == t.service))
            .ok_or_else(|| anyhow!("`backup.postgres` configures no database for this check's service"))?;
        let db = c.database.as_deref().unwrap_or(&target.database);
        let ctr = engine.running_container(project, &target.service).await?;
        let env = crate::snapshot::postgres::exec_env(engine, &ctr.id).await?;
        let cmd = [
            "psql",
            "-X",
            "-tAq",
            "-F",
            "\x1f",
            "-v",
            "ON_ERROR_STOP=1",
            "--username",
            &target.user,
            "--dbname",
            db,
            "-c",
            &sql,
        ];
        let (code, out, err) = engine.exec_capture(&ctr.id, &cmd, &env).await?;
        if code != 0 {
            bail!("{}", err.trim());
        }
        return Ok(out);
    }
    if c.redis_keys_min.is_some() {
        let service = c
            .service
            .clone()
            .or_else(|| b.redis.first().map(|r| r.service.clone()))
            .ok_or_else(|| anyhow!("no service: give one, or configure `backup.redis`"))?;
        let ctr = engine.running_container(project, &service).await?;
        let cenv = engine.container_env(&ctr.id).await?;
        let env: Vec<String> =
            env_value(&cenv, "REDIS_PASSWORD").map(|pw| vec![format!("REDISCLI_AUTH={pw}")]).unwrap_or_default();
        let (code, out, err) = engine.exec_capture(&ctr.id, &["redis-cli", "DBSIZE"], &env).await?;
        if code != 0 || !out.trim().chars().all(|ch| ch.is_ascii_digit()) {
            bail!("`redis-cli DBSIZE` failed: {}", if out.trim().is_empty() { err.trim() } else { out.trim() });
        }
        return Ok(out);
    }
    let (Some(path), Some(service)) = (&c.file_exists, &c.service) else { bail!("nothing to check") };
    let ctr = engine.running_container(project, service).await?;
    // `test` is in every image with a shell; the path is an argument, never shell text.
    let (code, _, err) = engine.exec_capture(&ctr.id, &["test", "-e", path], &[]).await?;
    match code {
        0 => Ok("exists".into()),
        1 => Ok(String::new()),
        _ => bail!("`test -e` failed in service `{service}`: {}", err.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> DrillCheck {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn row_counts_pass_at_the_minimum_and_fail_below() {
        let c = check("{name: notes, sql: 'SELECT * FROM notes', min_rows: 3}");
        assert_eq!(query(&c).unwrap(), "SELECT count(*) FROM (SELECT * FROM notes) AS ccops_drill_rows");
        assert_eq!(judge(&c, &Ok("3\n".into())), (true, "3".into()));
        assert_eq!(judge(&c, &Ok("0\n".into())), (false, "0".into()));
        assert!(!judge(&c, &Err(anyhow!("relation \"notes\" does not exist"))).0);
        assert_eq!(expected(&c), ">= 3 rows");
    }

    #[test]
    fn equals_compares_the_first_column_of_the_first_row() {
        let c = check("{name: v, sql: 'SELECT version, id FROM m;', equals: '42'}");
        assert_eq!(query(&c).unwrap(), "SELECT version, id FROM m");
        assert_eq!(judge(&c, &Ok("42\x1f7\n43\x1f8\n".into())), (true, "42".into()));
        assert_eq!(judge(&c, &Ok("".into())), (false, "no row".into()));
        assert!(!judge(&c, &Ok("420".into())).0);
    }

    #[test]
    fn redis_keys_and_files() {
        let r = check("{name: keys, redis_keys_min: 2}");
        assert_eq!(kind(&r), "redis_keys");
        assert_eq!(judge(&r, &Ok("2".into())), (true, "2".into()));
        assert!(!judge(&r, &Ok("1".into())).0);
        let f = check("{name: doc, file_exists: /app/a.txt, service: backend}");
        assert_eq!(kind(&f), "file_exists");
        assert_eq!(judge(&f, &Ok("exists".into())), (true, "exists".into()));
        assert_eq!(judge(&f, &Ok(String::new())), (false, "missing".into()));
    }

    #[test]
    fn ccops_yaml_reads_the_drill_section_and_points_at_a_bad_check() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ccops.yaml");
        let penv = crate::config::ProcessEnv::default();
        let good = "project: x\nbackup:\n  drill:\n    target_rto: 15m\n    checks:\n      - {name: n, sql: 'SELECT 1 FROM t', min_rows: 1}\nhealth:\n  drill_max_age: 8d\n";
        let s = crate::config::load_str(&p, good, None, &penv).unwrap();
        assert_eq!(s.file.backup.drill.target_rto, Some(std::time::Duration::from_secs(900)));
        assert_eq!(s.file.backup.drill.checks[0].min_rows, Some(1));
        assert_eq!(s.file.health.drill_max_age, Some(std::time::Duration::from_secs(8 * 86400)));
        let bad = "project: x\nbackup:\n  drill:\n    checks:\n      - name: files\n        file_exists: /x\n";
        let e = crate::config::load_str(&p, bad, None, &penv).unwrap_err().to_string();
        assert!(e.contains("ccops.yaml:5:") && e.contains("needs service:"), "{e}");
        let typo = "project: x\nbackup:\n  drill:\n    check: []\n";
        let e = crate::config::load_str(&p, typo, None, &penv).unwrap_err().to_string();
        assert!(e.contains("unknown key `check`"), "{e}");
    }

    #[test]
    fn shapes_that_cannot_work_are_refused() {
        let p = |y: &str| check(y).problem().unwrap_or_default();
        assert!(p("{name: a}").contains("needs one of"));
        assert!(p("{name: a, sql: x, redis_keys_min: 1, equals: '1'}").contains("several"));
        assert!(p("{name: a, sql: 'select 1'}").contains("min_rows: or equals:"));
        assert!(p("{name: a, sql: 'select 1', min_rows: 1, equals: '1'}").contains("keep one"));
        assert!(p("{name: a, sql: 'SELECT  COUNT(*) FROM notes', min_rows: 1}").contains("always pass"));
        assert!(p("{name: a, file_exists: /x}").contains("service:"));
        assert!(p("{name: a, redis_keys_min: 1, equals: '1'}").contains("go with sql:"));
        assert!(check("{name: a, sql: 'select count(*) from t group by k', min_rows: 2}").problem().is_none());
        assert!(
            serde_yaml::from_str::<DrillCheck>("{name: a, sql: x, min_row: 1}").is_err(),
            "unknown keys are refused"
        );
    }
}
