//! The few typed errors a caller branches on, and the wording of errors from below:
//! an I/O error, a network cause (refused, no such host, timeout, TLS) in any client's
//! source chain, an error ccops worded itself ([`Explained`]) with its raw form kept for
//! `-vv`. Everything else is `anyhow` with context. This is the ground floor: it imports
//! nothing of ccops but the exit statuses.
//! Past 400 lines for its tests (about 355 lines of code): each wording is tested on the
//! error chains the clients really build.

use std::fmt;
use std::path::PathBuf;

/// A usage or configuration problem: exit 2, nothing was changed.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// Shorthand: `return Err(usage!("..."))`.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => { anyhow::Error::new($crate::error::UsageError(format!($($arg)*))) };
}

/// A configuration error that points at `file:line:column` (exit 2): ccops.yaml, a
/// compose file, an env file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ConfigError {
    pub fn at(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError { file: file.into(), line, column, message: message.into() }
    }

    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::at(file, None, None, message)
    }

    /// At the first place `needle` appears in `text` (the file's content), or at the file
    /// as a whole when it does not appear.
    pub fn at_first(file: impl Into<PathBuf>, text: &str, needle: &str, message: impl Into<String>) -> Self {
        let (line, column) = text.find(needle).map(|o| line_col(text, o)).unzip();
        Self::at(file, line, column, message)
    }
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The operation was interrupted by a signal and has cleaned up: exit 130.
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}
impl std::error::Error for Interrupted {}

/// A deploy failed and the release before it was put back (auto-rollback). Exit 1 like
/// any failure; monitoring counts it apart, so it is a type and not a phrase to look for
/// (a failed migration's message says "rolled back" too, of its transaction).
#[derive(Debug)]
pub struct RolledBack(pub String);

impl fmt::Display for RolledBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An I/O error as a person reads it: "No such file or directory", not `Os { code: 2 }`.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device".into(),
        Some(libc::EACCES) | Some(libc::EPERM) => "permission denied".into(),
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(_) => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
        None => e.to_string(),
    }
}

/// An error as lines: its message, then each cause not already said (`caused by: ...`),
/// as ccops prints it on stderr and puts it in a notification or a ping.
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut lines = e.chain().map(ToString::to_string);
    let mut text = lines.next().unwrap_or_default();
    for cause in lines {
        if !text.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    text
}

/// An error worded for a person (what went wrong, what to do), keeping the raw error it
/// replaces for `-vv`: the drivers' own errors print Debug structures (`DispatchFailure(…)`)
/// that an operator cannot act on. Its message says the cause, so it has no source.
pub struct Explained {
    message: String,
    raw: String,
}

impl Explained {
    pub fn new(message: impl Into<String>, raw: &dyn fmt::Debug) -> Self {
        Explained { message: message.into(), raw: format!("{raw:?}") }
    }
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The message only: anyhow's Debug of a chain must not bring the raw structures back.
impl fmt::Debug for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {}

/// Every cause of an error as it was raised, with the drivers' raw structures where ccops
/// worded an error itself: what `-vv` adds under an error, for a bug report.
pub fn raw_chain(err: &anyhow::Error) -> String {
    let mut out = String::from("raw error chain:");
    for (i, cause) in err.chain().enumerate() {
        out.push_str(&format!("\n  {i}: {cause}"));
        if let Some(x) = cause.downcast_ref::<Explained>() {
            out.push_str(&format!("\n     raw: {}", x.raw));
        }
    }
    out
}

/// What failed underneath, when it is the network: the causes every client meets, from
/// the S3 SDK, reqwest and the engine's client alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetCause {
    /// Nothing listens there (ECONNREFUSED).
    Refused,
    /// The host name does not resolve.
    NoSuchHost,
    /// No answer in time (a connect or read timeout).
    TimedOut,
    /// No route to the host or network.
    Unreachable,
    /// The peer closed or reset the connection.
    Reset,
    /// TLS failed; the certificate's problem in words.
    Tls(String),
}

impl fmt::Display for NetCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetCause::Refused => f.write_str("connection refused"),
            NetCause::NoSuchHost => f.write_str("the host name does not resolve"),
            NetCause::TimedOut => f.write_str("no answer in time"),
            NetCause::Unreachable => f.write_str("the network or host is unreachable"),
            NetCause::Reset => f.write_str("the connection was closed by the other side"),
            NetCause::Tls(why) => write!(f, "TLS failed: {why}"),
        }
    }
}

/// The network cause in an error's source chain, if it is one.
pub fn net_cause(err: &(dyn std::error::Error + 'static)) -> Option<NetCause> {
    let mut found = None;
    for cause in chain(err) {
        // An I/O error carrying another one (TLS streams do) hides it from the chain.
        let io = cause.downcast_ref::<std::io::Error>();
        let inner = io.and_then(|io| io.get_ref()).map(|e| e as &(dyn std::error::Error + 'static));
        let tls =
            [Some(cause), inner].into_iter().flatten().find_map(|e| e.downcast_ref::<tokio_rustls::rustls::Error>());
        if let Some(tls) = tls {
            return Some(NetCause::Tls(tls_reason(tls)));
        }
        if let Some(io) = io {
            found = found.or(io_net_cause(io));
        }
        // The resolvers and TLS stacks of the clients (hyper-util, the SDK's connector)
        // report these as text around an opaque error.
        let text = cause.to_string().to_ascii_lowercase();
        if let Some(why) = tls_text(&text) {
            return Some(NetCause::Tls(why.into()));
        }
        if ["dns error", "failed to lookup address", "name or service not known", "no address associated"]
            .iter()
            .any(|t| text.contains(t))
        {
            return Some(NetCause::NoSuchHost);
        }
        if found.is_none() && (text.contains("timed out") || text.contains("timeout")) {
            found = Some(NetCause::TimedOut);
        }
    }
    found
}

fn io_net_cause(e: &std::io::Error) -> Option<NetCause> {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => Some(NetCause::Refused),
        K::TimedOut => Some(NetCause::TimedOut),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => Some(NetCause::Reset),
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => Some(NetCause::Unreachable),
        _ => None,
    }
}

/// A rustls error in words: the certificate's problem, not `InvalidCertificate(UnknownIssuer)`.
fn tls_reason(e: &tokio_rustls::rustls::Error) -> String {
    use tokio_rustls::rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the certificate is signed by an unknown authority".into(),
            C::Expired | C::ExpiredContext { .. } => "the certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "the certificate is not valid yet".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => "the certificate is for another host name".into(),
            C::Revoked => "the certificate is revoked".into(),
            C::BadSignature => "the certificate's signature is invalid".into(),
            _ => "the certificate is not accepted".into(),
        },
        E::NoCertificatesPresented => "the server presented no certificate".into(),
        E::InvalidMessage(_) => "the endpoint does not speak TLS (plain HTTP there? then write http://)".into(),
        E::AlertReceived(_) => "the server refused the TLS handshake".into(),
        _ => "the TLS handshake failed".into(),
    }
}

/// The TLS failure a message speaks of, for clients whose TLS errors cannot be
/// downcast (another rustls version inside the S3 SDK, say).
fn tls_text(text: &str) -> Option<&'static str> {
    if text.contains("corrupt message") || text.contains("invalidcontenttype") || text.contains("wrong version number")
    {
        return Some("the endpoint does not speak TLS (plain HTTP there? then write http://)");
    }
    if !text.contains("certificate") {
        return None;
    }
    let why = [
        ("unknownissuer", "the certificate is signed by an unknown authority"),
        ("expired", "the certificate has expired"),
        ("notvalidyet", "the certificate is not valid yet"),
        ("notvalidforname", "the certificate is for another host name"),
        ("revoked", "the certificate is revoked"),
    ];
    Some(why.iter().find(|(k, _)| text.contains(k)).map_or("the certificate is not accepted", |(_, w)| w))
}

/// An error and its sources, outermost first.
fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// Text cut at the first sign of a Debug structure, for the rare message that carries one.
fn short(text: &str) -> &str {
    let cut = text.find(['{', '(', '[']).unwrap_or(text.len());
    text[..cut].trim_end_matches([' ', ':'])
}

/// Whether text looks like Rust Debug output rather than a message: struct braces
/// (`Error { kind: … }`), `Some(`, a `None` value, the SDK's failure variants.
pub fn looks_like_debug(text: &str) -> bool {
    const MARKERS: [&str; 6] = ["Some(", "DispatchFailure", "ConstructionFailure", "Error {", "kind:", "Custom {"];
    let struct_braces = text.split(" { ").skip(1).any(|rest| rest.contains(": ") && rest.contains(" }"));
    let none_value = text.match_indices("None").any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + 4..].chars().next();
        matches!(before, Some('(' | '[' | ' ' | ','))
            && matches!(after, None | Some(',' | ')' | ']' | ' ' | '}'))
            && !text[i + 4..].starts_with(" of")
    });
    MARKERS.iter().any(|m| text.contains(m)) || struct_braces || none_value
}

/// An error's chain as one line a person reads: the network cause when it is one, else
/// the OS's reason beneath, else each cause's message, repeats and Debug structures left
/// out. The raw chain is `-vv`'s.
pub fn readable(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(c) = net_cause(err) {
        return c.to_string();
    }
    // Beneath a client's wrappers ("client error (Connect)") the OS said what it was.
    if let Some(io) = chain(err).filter_map(|c| c.downcast_ref::<std::io::Error>()).last() {
        return io_reason(io);
    }
    let mut parts: Vec<String> = Vec::new();
    for cause in chain(err) {
        let text = cause.to_string();
        let text = if looks_like_debug(&text) { short(&text).to_string() } else { text };
        // Words that say nothing beyond "an error": the SDK's and hyper's wrappers.
        let empty = ["", "other", "io error", "dispatch failure", "service error", "unhandled error", "error"];
        if empty.contains(&text.to_ascii_lowercase().as_str()) || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    if parts.is_empty() { "unexpected error (run with -vv to see it whole)".into() } else { parts.join(": ") }
}

/// Whether an error chain says "usage/config error" (exit 2) or "interrupted" (130).
pub fn classify(err: &anyhow::Error) -> crate::status::ExitStatus {
    use crate::status::ExitStatus;
    for cause in err.chain() {
        if cause.is::<Interrupted>() {
            return ExitStatus::Interrupted;
        }
        if cause.is::<UsageError>() || cause.is::<ConfigError>() {
            return ExitStatus::Usage;
        }
    }
    ExitStatus::Failure
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrapper as clients build them: a vague message over a source.
    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn std::error::Error + Send + Sync>);

    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.1)
        }
    }

    fn wrap(msg: &'static str, inner: impl std::error::Error + Send + Sync + 'static) -> Wrap {
        Wrap(msg, Box::new(inner))
    }

    #[test]
    fn network_causes_are_found_under_wrappers() {
        use std::io::{Error, ErrorKind};
        let refused =
            wrap("client error (Connect)", wrap("tcp connect error", Error::from(ErrorKind::ConnectionRefused)));
        assert_eq!(net_cause(&refused), Some(NetCause::Refused));
        assert_eq!(readable(&refused), "connection refused");
        let dns =
            wrap("client error (Connect)", wrap("dns error", Error::other("failed to lookup address information")));
        assert_eq!(net_cause(&dns), Some(NetCause::NoSuchHost));
        let tls = wrap(
            "io error",
            Error::other(tokio_rustls::rustls::Error::InvalidCertificate(
                tokio_rustls::rustls::CertificateError::ExpiredContext {
                    time: tokio_rustls::rustls::pki_types::UnixTime::now(),
                    not_after: tokio_rustls::rustls::pki_types::UnixTime::since_unix_epoch(
                        std::time::Duration::from_secs(0),
                    ),
                },
            )),
        );
        assert_eq!(net_cause(&tls), Some(NetCause::Tls("the certificate has expired".into())));
        assert!(!looks_like_debug(&readable(&tls)), "{}", readable(&tls));
        assert_eq!(net_cause(&Error::from(ErrorKind::TimedOut)), Some(NetCause::TimedOut));
        assert_eq!(net_cause(&Error::from(ErrorKind::NotFound)), None);
    }

    #[test]
    fn readable_lines_keep_the_os_reason_and_drop_debug_structures() {
        let socket =
            wrap("Error in the hyper legacy client: client error (Connect)", std::io::Error::from_raw_os_error(2));
        assert_eq!(readable(&socket), "no such file or directory");
        let noisy = wrap("dispatch failure", wrap("other", UsageError("Unhandled { source: X, meta: Y }".into())));
        assert_eq!(readable(&noisy), "Unhandled");
        let plain = wrap("cannot parse the answer", UsageError("unexpected end of input".into()));
        assert_eq!(readable(&plain), "cannot parse the answer: unexpected end of input");
        assert_eq!(readable(&wrap("other", UsageError("".into()))), "unexpected error (run with -vv to see it whole)");
    }

    #[test]
    fn debug_syntax_is_recognised_and_prose_is_not() {
        for debug in [
            "DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io, source: Os { code: 111 } } })",
            "Some(\"x\")",
            "ProviderError { source: None }",
            "value: None, other",
            "Custom { kind: Other, error: \"x\" }",
        ] {
            assert!(looks_like_debug(debug), "{debug}");
        }
        for prose in [
            "remote `s3`: not listed (connection refused); local sets below",
            "None of the checks ran",
            "no AWS credentials found (none in the environment, ~/.aws or an instance role)",
            "use `{ rule: CMP012 }` to ignore it",
        ] {
            assert!(!looks_like_debug(prose), "{prose}");
        }
    }

    #[test]
    fn an_explained_error_shows_its_words_and_keeps_the_raw_form_for_vv() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Raw {
            kind: u8,
        }
        let e = anyhow::Error::new(Explained::new("cannot connect to X: connection refused", &Raw { kind: 1 }))
            .context("listing failed on remote `s3`");
        assert_eq!(format!("{e:#}"), "listing failed on remote `s3`: cannot connect to X: connection refused");
        assert!(!format!("{e:?}").contains("Raw"), "{e:?}");
        let raw = raw_chain(&e);
        assert!(raw.contains("Raw { kind: 1 }") && raw.contains("1: cannot connect to X"), "{raw}");
    }
}
