//! The one printer. stdout carries data (tables, JSON, SARIF); stderr carries status,
//! warnings, errors and progress. Every line that leaves ccops goes through here, so the
//! secret redaction and the `--quiet`/`--json`/`--log-format` rules hold everywhere.
//! Past 400 lines for the redaction's URL rules and their tests: they stay with the
//! one printer that applies them.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, RwLock};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--log-format`: how log lines on stderr (and in `--log-file`) are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The printer's choices, from the global flags (`commands` fills it in).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--json`: data as one JSON document, no progress bars.
    pub json: bool,
    /// `--quiet`: errors only.
    pub quiet: bool,
    /// `--verbose`, counted.
    pub verbose: u8,
    /// `--no-color` (NO_COLOR is looked at here as well).
    pub no_color: bool,
    pub log_format: LogFormat,
    /// `--log-file`: log lines are appended there too.
    pub log_file: Option<PathBuf>,
}

#[derive(Debug)]
struct Printer {
    json: bool,
    quiet: bool,
    verbose: u8,
    color: bool,
    log_format: LogFormat,
    log_file: Option<PathBuf>,
    stderr_tty: bool,
}

static PRINTER: OnceLock<Printer> = OnceLock::new();
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static CONTEXT: Mutex<BTreeMap<&'static str, String>> = Mutex::new(BTreeMap::new());

/// Set the printer up; called once, before the command runs.
pub fn init(g: Options) {
    let no_color_env = std::env::var_os(crate::env_vars::NO_COLOR).is_some_and(|v| !v.is_empty());
    let _ = PRINTER.set(Printer {
        json: g.json,
        quiet: g.quiet,
        verbose: g.verbose,
        color: !g.no_color && !no_color_env && std::io::stderr().is_terminal(),
        log_format: g.log_format,
        log_file: g.log_file,
        stderr_tty: std::io::stderr().is_terminal(),
    });
}

fn printer() -> &'static Printer {
    PRINTER.get_or_init(|| Printer {
        json: false,
        quiet: false,
        verbose: 0,
        color: false,
        log_format: LogFormat::Text,
        log_file: None,
        stderr_tty: false,
    })
}

/// Whether `--json` was given: commands print one JSON document instead of tables.
pub fn json_mode() -> bool {
    printer().json
}

/// Register values that must never be printed (passwords, tokens, env-file values).
pub fn add_secrets<I: IntoIterator<Item = String>>(values: I) {
    let mut s = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        if v.len() >= 3 && !s.contains(&v) {
            s.push(v);
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    s.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// `text` with every registered secret replaced by `********`, and the credentials of
/// every URL in it masked (see [`mask_urls`]).
pub fn redact(text: &str) -> String {
    let s = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "********");
        }
    }
    if out.contains("://") { mask_urls(&out) } else { out }
}

/// Mask what a URL carries as credentials: the password of `scheme://user:password@host`
/// (`user:***@host`) and the values of query parameters with a secret's name
/// (`?token=***`, `&password=***`, a presigned URL's `X-Amz-Signature=***`). A URL in a
/// health check, a webhook or a remote may hold them, and they reach messages through
/// error texts ccops does not write itself (an HTTP client's `... for url (...)`).
pub fn mask_urls(text: &str) -> String {
    // Where a URL ends in running text, a JSON string or a quoted message.
    let ends_url = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let end = after.find(ends_url).unwrap_or(after.len());
        out.push_str(&mask_one(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// One URL after its `://`: authority, path, query and fragment.
fn mask_one(url: &str) -> String {
    let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (auth, tail) = url.split_at(auth_end);
    let mut out = String::with_capacity(url.len());
    match auth.rfind('@').and_then(|at| auth[..at].find(':').map(|colon| (colon, at))) {
        Some((colon, at)) => {
            out.push_str(&auth[..=colon]);
            out.push_str("***");
            out.push_str(&auth[at..]);
        }
        None => out.push_str(auth),
    }
    let Some(q) = tail.find('?') else {
        out.push_str(tail);
        return out;
    };
    out.push_str(&tail[..=q]);
    let query = &tail[q + 1..];
    let (query, fragment) = query.split_at(query.find('#').unwrap_or(query.len()));
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if secret_param(k) && !v.is_empty() => {
                // Keep what closes the URL in text: `(url ...?token=abc)`.
                let keep = v.find([')', ']']).map_or("", |i| &v[i..]);
                format!("{k}=***{keep}")
            }
            _ => kv.to_string(),
        })
        .collect();
    out.push_str(&params.join("&"));
    out.push_str(fragment);
    out
}

fn secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    crate::syntax::secrets::is_secret_name(name) || lower == "sig" || lower.ends_with("signature") || lower == "auth"
}

/// A field added to every JSON log line from now on (command, environment, the backup
/// set or release being worked on), so the lines of one run can be told apart. Write
/// only: results travel between layers as return values, never through the printer.
pub fn log_field(key: &'static str, value: impl Into<String>) {
    CONTEXT.lock().unwrap_or_else(|e| e.into_inner()).insert(key, value.into());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

fn log(level: Level, message: &str) {
    let p = printer();
    let message = redact(message);
    let shown = match level {
        Level::Error => true,
        Level::Warn | Level::Info => !p.quiet,
        Level::Debug => p.verbose > 0,
    };
    let line = match p.log_format {
        LogFormat::Json => json_line(level, &message),
        LogFormat::Text => text_line(level, &message, p.color),
    };
    if shown {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
    if let Some(path) = &p.log_file {
        let file_line = match p.log_format {
            LogFormat::Json => line,
            LogFormat::Text => {
                format!("{} {}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"), text_line(level, &message, false))
            }
        };
        match open_log(path) {
            Ok(mut f) => {
                let _ = writeln!(f, "{file_line}");
            }
            Err(e) => {
                // Said once: the log file is what the operator reads later, its loss must show.
                static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
                if !TOLD.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "{}",
                        text_line(
                            Level::Error,
                            &format!("cannot write the log file `{}`: {}", path.display(), log_open_reason(&e)),
                            p.color
                        )
                    );
                }
            }
        }
    }
}

/// The `--log-file`, for appending: created private (0600), since it holds every message
/// of a root-run tool, and never opened through a symlink, which whoever can write its
/// folder could plant to make root append to another file.
fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

fn log_open_reason(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(libc::ELOOP) {
        "it is a symbolic link; ccops does not write through links, give the real path".into()
    } else {
        crate::error::io_reason(e)
    }
}

fn text_line(level: Level, message: &str, color: bool) -> String {
    let (prefix, code) = match level {
        Level::Error => ("error: ", "31"),
        Level::Warn => ("warning: ", "33"),
        Level::Info | Level::Debug => ("", ""),
    };
    if prefix.is_empty() {
        message.to_string()
    } else if color {
        format!("\x1b[1;{code}m{prefix}\x1b[0m{message}")
    } else {
        format!("{prefix}{message}")
    }
}

fn json_line(level: Level, message: &str) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("timestamp".into(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into());
    obj.insert("level".into(), level.name().into());
    obj.insert("message".into(), message.into());
    for (k, v) in CONTEXT.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        obj.insert((*k).into(), redact(v).into());
    }
    serde_json::Value::Object(obj).to_string()
}

/// A status line on stderr (hidden by `--quiet`).
pub fn status(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// A warning on stderr (hidden by `--quiet`).
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// An error on stderr (always shown).
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}

/// Detail shown with `--verbose`.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// An error's raw chain, the drivers' own structures included: with `-vv` only, under
/// the readable line already printed (what a bug report needs, not what an operator reads).
pub fn raw_error(e: &anyhow::Error) {
    if printer().verbose >= 2 {
        log(Level::Debug, &crate::error::raw_chain(e));
    }
}

/// Data on stdout. A closed pipe (`ccops backup list | head`) ends ccops quietly, as
/// ripgrep does: the reader has what it wanted.
pub fn data(text: impl AsRef<str>) {
    let text = redact(text.as_ref());
    let mut out = std::io::stdout().lock();
    let res =
        out.write_all(text.as_bytes()).and_then(|()| if text.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") });
    if let Err(e) = res.and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// One JSON document on stdout.
pub fn json(value: &serde_json::Value) {
    data(serde_json::to_string_pretty(value).unwrap_or_default());
}

/// A table for stdout, styled only when stdout is a terminal.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
    if !std::io::stdout().is_terminal() {
        t.load_style(comfy_table::presets::NOTHING).force_no_tty();
    }
    t.set_header(header.iter().copied());
    t
}

/// A byte-counting progress bar on stderr, hidden unless stderr is a terminal and
/// neither `--quiet` nor `--json` was given.
pub fn progress_bytes(total: Option<u64>, label: &str) -> ProgressBar {
    let p = printer();
    if !p.stderr_tty || p.quiet || p.json {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t).with_style(
            ProgressStyle::with_template("{msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg:30} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(label.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_registered_secrets_longest_first() {
        add_secrets(["hunter2-long".to_string(), "hunter2".to_string(), "ab".to_string()]);
        assert_eq!(redact("pw=hunter2-long x=hunter2 ab"), "pw=******** x=******** ab");
    }

    #[test]
    fn masks_url_passwords_and_secret_query_values() {
        let cases = [
            ("http://user:s3cret@127.0.0.1:8080/health", "http://user:***@127.0.0.1:8080/health"),
            (
                "error sending request for url (https://u:p%40ss@h.example/x?a=1&token=abc)",
                "error sending request for url (https://u:***@h.example/x?a=1&token=***)",
            ),
            (
                "\"http\": \"postgres://app:pw:with:colons@db:5432/app\",",
                "\"http\": \"postgres://app:***@db:5432/app\",",
            ),
            ("redis://:onlypass@cache:6379", "redis://:***@cache:6379"),
            (
                "s3://bucket/k?X-Amz-Signature=deadbeef&X-Amz-Expires=60",
                "s3://bucket/k?X-Amz-Signature=***&X-Amz-Expires=60",
            ),
            ("https://h/cb?password=pw&api_key=k#frag", "https://h/cb?password=***&api_key=***#frag"),
            // No credentials: left as written.
            (
                "ssh://git@github.com:22/x and http://host:8080/a@b",
                "ssh://git@github.com:22/x and http://host:8080/a@b",
            ),
            ("https://h/?page=2&q=token", "https://h/?page=2&q=token"),
            ("no url here: a@b:c", "no url here: a@b:c"),
            ("two http://a:1@h http://b:2@h", "two http://a:***@h http://b:***@h"),
            ("odd ://:@ and :// end", "odd ://:***@ and :// end"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn the_log_file_is_private_and_never_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("ccops.log");
        drop(open_log(&log).unwrap());
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
        let victim = d.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = d.path().join("link.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = open_log(&link).unwrap_err();
        assert!(log_open_reason(&e).contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
