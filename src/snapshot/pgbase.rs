//! PostgreSQL base backups: `pg_basebackup -D - -Ft -X fetch` inside the service's
//! container, streamed out as one tar (PostgreSQL 15 puts `backup_manifest` and the WAL
//! the copy needs into it), read as it passes for where the copy starts and ends.
//! Also the replication login both the base backup and `ccops wal stream` use.

use std::io::{BufRead, Read};

use anyhow::{Result, anyhow, bail};
use tokio::io::AsyncWrite;

use super::{env_value, last_lines};
use crate::config::{PostgresTarget, Vars};
use crate::docker::Engine;

/// How a replication connection logs in: the unix socket (trust or peer) without a
/// password, TCP to 127.0.0.1 with one (pg_hba's `host replication ... 127.0.0.1/32`).
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Option<String>,
}

impl Login {
    /// The login of `t.pitr`: its `user` (default the target's) and the value of its
    /// `password_variable` among ccops' variables, else in the container's environment.
    pub async fn of(engine: &Engine, container: &str, t: &PostgresTarget, vars: &Vars) -> Result<Login> {
        let pitr = t.pitr.as_ref();
        let user = pitr.and_then(|p| p.user.clone()).unwrap_or_else(|| t.user.clone());
        let password = match pitr.and_then(|p| p.password_variable.as_deref()) {
            None => None,
            Some(var) => match vars.get(var) {
                Some(pw) => Some(pw.to_string()),
                None => {
                    let env = engine.container_env(container).await?;
                    let pw = env_value(&env, var).filter(|v| !v.is_empty()).map(String::from);
                    Some(pw.ok_or_else(|| {
                        anyhow!(
                            "backup.postgres of service `{}`: pitr.password_variable `{var}` is set neither in the env file, the environment nor the container; set it",
                            t.service
                        )
                    })?)
                }
            },
        };
        crate::output::add_secrets(password.clone());
        Ok(Login { user, password })
    }

    /// Connection flags of pg_basebackup, pg_receivewal and psql.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["--username".to_string(), self.user.clone(), "--no-password".to_string()];
        if self.password.is_some() {
            a.extend(["--host".to_string(), "127.0.0.1".to_string()]);
        }
        a
    }

    /// The environment carrying the password (never argv).
    pub fn env(&self) -> Vec<String> {
        self.password.iter().map(|p| format!("PGPASSWORD={p}")).collect()
    }
}

/// What `IDENTIFY_SYSTEM` on a replication connection says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub system_identifier: String,
    pub timeline: u32,
    /// The current WAL write position (`X/Y`).
    pub xlogpos: String,
}

/// `IDENTIFY_SYSTEM` over a replication connection: also proves the login may replicate.
pub async fn identify(engine: &Engine, container: &str, login: &Login) -> Result<Identity> {
    let mut cmd: Vec<String> = vec!["psql".into(), "-X".into(), "-tA".into()];
    cmd.extend(login.args());
    cmd.extend(["--dbname".into(), "replication=true".into(), "-c".into(), "IDENTIFY_SYSTEM".into()]);
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let (code, out, err) = engine.exec_capture(container, &argv, &login.env()).await?;
    if code != 0 {
        bail!("role `{}` cannot open a replication connection: {}", login.user, last_lines(&err));
    }
    parse_identity(&out).ok_or_else(|| anyhow!("IDENTIFY_SYSTEM answered `{}`", out.trim()))
}

fn parse_identity(out: &str) -> Option<Identity> {
    let mut f = out.trim().split('|');
    let system_identifier = f.next()?.trim().to_string();
    let timeline = f.next()?.trim().parse().ok()?;
    let xlogpos = f.next()?.trim().to_string();
    let digits = !system_identifier.is_empty() && system_identifier.bytes().all(|b| b.is_ascii_digit());
    (digits && crate::backup::wal::layout::parse_lsn(&xlogpos).is_some()).then_some(Identity {
        system_identifier,
        timeline,
        xlogpos,
    })
}

/// Where a base backup starts and ends, read from its tar as it streamed past.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// backup_label's START TIMELINE and START WAL LOCATION.
    pub timeline: Option<u32>,
    pub start_lsn: Option<String>,
    /// The last End-LSN of backup_manifest's WAL-Ranges.
    pub end_lsn: Option<String>,
    pub has_manifest: bool,
    pub has_version: bool,
    pub entries: u64,
}

/// Stream `pg_basebackup` into `out`, reading the tar as it passes. Returns the backup's
/// outcome and, apart, what the tar held (the backup's failure is the one to report).
pub async fn base_backup<W: AsyncWrite + Unpin>(
    engine: &Engine,
    container: &str,
    login: &Login,
    out: &mut W,
) -> (Result<()>, Result<Found>) {
    let (mut tee, copy) = super::tee::tee(out);
    let taken = async move {
        let mut cmd: Vec<String> =
            ["pg_basebackup", "-D", "-", "-Ft", "-X", "fetch", "--checkpoint=fast"].map(String::from).to_vec();
        cmd.extend(login.args());
        let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let r = engine.exec_stream(container, &argv, &login.env(), &mut tee, None::<tokio::io::Empty>).await;
        drop(tee);
        match r {
            Ok(o) if o.exit_code == 0 => Ok(()),
            Ok(o) => Err(anyhow!("pg_basebackup failed (exit {}): {}", o.exit_code, last_lines(&o.stderr))),
            Err(e) => Err(e),
        }
    };
    let bridge = tokio_util::io::SyncIoBridge::new(copy);
    let read = async {
        let r = tokio::task::spawn_blocking(move || scan(bridge)).await;
        r.map_err(|e| anyhow!("the tar reader failed: {e}"))?
    };
    tokio::join!(taken, read)
}

/// The largest backup_label read (PostgreSQL writes a few hundred bytes).
const LABEL_MAX: u64 = 64 << 10;
/// The longest line of backup_manifest looked at (one file's entry).
const LINE_MAX: u64 = 64 << 10;

/// Read a base backup's tar whole: its entries, backup_label, backup_manifest's WAL range.
pub fn scan(r: impl Read) -> Result<Found> {
    let mut found = Found::default();
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries()? {
        let mut e = entry?;
        found.entries += 1;
        let path = e.path()?.to_string_lossy().into_owned();
        match path.trim_start_matches("./") {
            "backup_label" => {
                let mut text = String::new();
                (&mut e).take(LABEL_MAX).read_to_string(&mut text)?;
                found.start_lsn = label_field(&text, "START WAL LOCATION:")
                    .and_then(|v| v.split_whitespace().next().map(String::from));
                found.timeline = label_field(&text, "START TIMELINE:").and_then(|v| v.trim().parse().ok());
            }
            "backup_manifest" => {
                found.has_manifest = true;
                found.end_lsn = manifest_end(std::io::BufReader::new(&mut e))?;
            }
            "PG_VERSION" => found.has_version = true,
            _ => {}
        }
    }
    Ok(found)
}

fn label_field<'a>(label: &'a str, key: &str) -> Option<&'a str> {
    label.lines().find_map(|l| l.strip_prefix(key)).map(str::trim)
}

/// The End-LSN of the last WAL range in a backup manifest, reading line by line.
fn manifest_end(mut r: impl BufRead) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Range {
        #[serde(rename = "End-LSN")]
        end: String,
    }
    let mut end = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r).take(LINE_MAX).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(end);
        }
        if !line.ends_with(b"\n") && n as u64 == LINE_MAX {
            // An overlong line: skip to its end.
            let mut rest = Vec::new();
            r.read_until(b'\n', &mut rest)?;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let t = text.trim().trim_end_matches(',');
        if t.starts_with("{ \"Timeline\"") || t.starts_with("{\"Timeline\"") {
            if let Ok(range) = serde_json::from_str::<Range>(t) {
                end = Some(range.end);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            b.append_data(&mut h, name, body.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_base_backup_tar_tells_where_it_starts_and_ends() {
        let label = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nSTART TIMELINE: 1\n";
        let manifest = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n{ \"Path\": \"PG_VERSION\", \"Size\": 3 }\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n\"Manifest-Checksum\": \"x\"}\n";
        let tar = tar_of(&[("backup_label", label), ("PG_VERSION", "15\n"), ("backup_manifest", manifest)]);
        let f = scan(&tar[..]).unwrap();
        assert_eq!(
            f,
            Found {
                timeline: Some(1),
                start_lsn: Some("0/2000028".into()),
                end_lsn: Some("0/2000100".into()),
                has_manifest: true,
                has_version: true,
                entries: 3,
            }
        );
        assert!(scan(&tar[..700]).is_err() || scan(&tar[..700]).unwrap().end_lsn.is_none());
    }

    #[test]
    fn identify_system_reads_back() {
        let id = parse_identity("7312345678901234567|1|0/3000148|\n").unwrap();
        assert_eq!(
            (id.system_identifier.as_str(), id.timeline, id.xlogpos.as_str()),
            ("7312345678901234567", 1, "0/3000148")
        );
        assert!(parse_identity("ERROR").is_none());
        assert!(parse_identity("abc|1|0/1|").is_none());
    }

    #[test]
    fn the_password_goes_in_the_environment_and_tcp_is_used_with_it() {
        let l = Login { user: "rep".into(), password: Some("s3cret".into()) };
        assert!(!l.args().iter().any(|a| a.contains("s3cret")));
        assert!(l.args().contains(&"127.0.0.1".to_string()));
        assert_eq!(l.env(), ["PGPASSWORD=s3cret"]);
        let sock = Login { user: "postgres".into(), password: None };
        assert!(!sock.args().contains(&"--host".to_string()) && sock.env().is_empty());
    }
}
