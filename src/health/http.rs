//! `http:` checks: the status code, and a JSON body's `status` field
//! (pass/ok/healthy/up, warn/degraded, fail/unhealthy/down/error).

use std::time::Duration;

use super::{Outcome, Status};

pub async fn check(url: &str, expect: Option<u16>, timeout: Duration) -> Outcome {
    let client = match reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return Outcome::new(Status::Fail, format!("cannot build an HTTP client: {e}")),
    };
    let t = std::time::Instant::now();
    let resp = match client.get(url).send().await {
        Ok(r) => r,
        // Without the URL: the check's name says which, and the URL may hold a password.
        Err(e) => return Outcome::new(Status::Fail, describe(&e.without_url(), timeout)),
    };
    let code = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    let elapsed = t.elapsed().as_secs_f64();
    let code_ok = match expect {
        Some(want) => code == want,
        None => (200..300).contains(&code),
    };
    let (body_status, body_detail) = read_body(&body);
    let mut status = if code_ok { Status::Ok } else { Status::Fail };
    if let Some(s) = body_status {
        status = status.max(s);
    }
    let mut detail = format!("HTTP {code}");
    if let Some(want) = expect.filter(|_| !code_ok) {
        detail.push_str(&format!(" (expected {want})"));
    }
    if !body_detail.is_empty() {
        detail.push_str(&format!(", {body_detail}"));
    }
    Outcome::new(status, detail).metric("time", elapsed, "s")
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}", humantime::format_duration(timeout));
    }
    if e.is_connect() {
        return "connection refused or unreachable".into();
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// The verdict of a JSON health body and a short description: `status: degraded (database: <err>)`.
pub fn read_body(body: &[u8]) -> (Option<Status>, String) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, String::new());
    };
    let Some(word) = v.get("status").and_then(|s| s.as_str()) else {
        return (None, String::new());
    };
    let status = match word.to_ascii_lowercase().as_str() {
        "pass" | "ok" | "healthy" | "up" => Some(Status::Ok),
        "warn" | "warning" | "degraded" => Some(Status::Warn),
        "fail" | "failed" | "unhealthy" | "down" | "error" | "critical" => Some(Status::Fail),
        _ => None,
    };
    let mut detail = format!("status: {word}");
    if let Some(ver) = v.get("version").and_then(|s| s.as_str()) {
        detail.push_str(&format!(", version {ver}"));
    }
    // Name the sub-checks that are not ok, e.g. {"checks": {"database": "error: ..."}}.
    if let Some(checks) = v.get("checks").and_then(|c| c.as_object()) {
        let bad: Vec<String> = checks
            .iter()
            .filter_map(|(k, val)| {
                let s = val
                    .as_str()
                    .map(String::from)
                    .or_else(|| val.get("status").and_then(|x| x.as_str()).map(String::from))?;
                let l = s.to_ascii_lowercase();
                (!matches!(l.as_str(), "ok" | "pass" | "healthy" | "up")).then(|| format!("{k}: {}", truncate(&s, 80)))
            })
            .collect();
        if !bad.is_empty() {
            detail.push_str(&format!(" ({})", bad.join("; ")));
        }
    }
    (status, detail)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_health_bodies() {
        let (s, d) =
            read_body(br#"{"status":"degraded","version":"v1","checks":{"database":"error: no route","redis":"ok"}}"#);
        assert_eq!(s, Some(Status::Warn));
        assert_eq!(d, "status: degraded, version v1 (database: error: no route)");
        assert_eq!(read_body(br#"{"status":"pass"}"#).0, Some(Status::Ok));
        assert_eq!(read_body(br#"{"status":"fail"}"#).0, Some(Status::Fail));
        assert_eq!(read_body(b"plain text").0, None);
    }
}
