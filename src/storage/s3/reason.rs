//! Why a request to an S3 store failed, in one line that names the cause and the fix:
//! no credentials, the endpoint unreachable (refused, no such host, timeout, TLS), the
//! credentials rejected, no permission on the bucket, no such bucket. The SDK's own
//! Display of these is a chain of Debug structures (`DispatchFailure(ConnectorError {…})`).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::error::{NetCause, net_cause, readable};

/// What the message names: the endpoint (or `AWS S3 (region)`) and the bucket.
pub struct Place<'a> {
    pub endpoint: &'a str,
    pub bucket: &'a str,
}

/// Where the credentials come from, and how to give them (ccops.yaml holds none).
const CREDENTIALS_FIX: &str =
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, for the user running ccops";

/// The cause of a failed request and what to do, as one line.
pub fn of<E>(e: &SdkError<E, HttpResponse>, at: &Place) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Place { endpoint, bucket } = at;
    match e {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            service(e.code(), e.message(), status, at)
        }
        SdkError::ResponseError(r) => format!(
            "{endpoint} answered with something that is not an S3 response (HTTP {}); check `endpoint`: it must be the S3 API's address",
            r.raw().status().as_u16()
        ),
        _ if credentials_missing(e) => credentials(e),
        SdkError::ConstructionFailure(_) => format!(
            "the request could not be built ({}); check `endpoint`, `region` and `bucket` of the remote",
            readable(e)
        ),
        _ => match net_cause(e) {
            Some(NetCause::Refused) => format!(
                "cannot connect to {endpoint}: connection refused; check `endpoint` and that the store is running"
            ),
            Some(NetCause::NoSuchHost) => {
                format!("cannot connect to {endpoint}: the host name does not resolve; check `endpoint` and DNS")
            }
            Some(NetCause::TimedOut) => {
                format!("no answer from {endpoint} in time; check `endpoint`, the network and any firewall on the way")
            }
            Some(NetCause::Tls(why)) if why.contains("certificate") => format!(
                "cannot connect to {endpoint}: {why}; check the endpoint's certificate (and that `endpoint` names the host it is for)"
            ),
            Some(NetCause::Tls(why)) => format!("cannot connect to {endpoint}: {why}; check `endpoint`"),
            Some(cause) => format!("cannot connect to {endpoint}: {cause}; check `endpoint` and the network"),
            None if matches!(e, SdkError::TimeoutError(_)) => {
                format!("no answer from {endpoint} in time; check `endpoint`, the network and any firewall on the way")
            }
            None => format!("request to bucket `{bucket}` at {endpoint} failed: {}", readable(e)),
        },
    }
}

/// An answer of the store: the error code it sent, else the HTTP status.
fn service(code: Option<&str>, message: Option<&str>, status: u16, at: &Place) -> String {
    let Place { endpoint, bucket } = at;
    match (code, status) {
        (Some("NoSuchBucket"), _) | (None, 404) => {
            format!(
                "bucket `{bucket}` does not exist at {endpoint}; create it, or fix `bucket` (and `endpoint`) of the remote"
            )
        }
        (
            Some(
                c @ ("InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken"
                | "TokenRefreshRequired"),
            ),
            _,
        )
        | (Some(c), 401) => format!(
            "{endpoint} rejected the credentials ({c}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile AWS_PROFILE names"
        ),
        (Some(c @ ("AccessDenied" | "AllAccessDisabled" | "AccountProblem")), _) => format!(
            "access to bucket `{bucket}` at {endpoint} denied ({c}); the credentials need permission to list, read, write and delete objects in it"
        ),
        (None, 401 | 403) => format!(
            "{endpoint} refused the request (HTTP {status}); check the credentials and their permissions on bucket `{bucket}`"
        ),
        (
            Some(c @ ("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException")),
            _,
        ) => {
            format!(
                "bucket `{bucket}` is in another region than the remote's `region` ({c}); set `region` to the bucket's"
            )
        }
        (Some(c), _) => {
            let said = message.filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default();
            format!("{endpoint} refused the request on bucket `{bucket}` ({c}{said}, HTTP {status})")
        }
        (None, _) => format!("{endpoint} refused the request on bucket `{bucket}` (HTTP {status})"),
    }
}

/// Whether the request never left because no credentials could be loaded. The SDK's
/// credential errors are not re-exported; their messages all speak of "credential".
fn credentials_missing(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source()).any(|c| c.to_string().to_ascii_lowercase().contains("credential"))
}

/// No credentials: where the chain looked, and how to give them.
fn credentials(e: &(dyn std::error::Error + 'static)) -> String {
    let timed_out = std::iter::successors(Some(e), |e| e.source()).any(|c| c.to_string().contains("timed out"));
    let looked =
        if timed_out { "loading them timed out" } else { "none in the environment, ~/.aws or an instance role" };
    format!("no AWS credentials: {looked}; {CREDENTIALS_FIX}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
    use aws_sdk_s3::primitives::SdkBody;

    const AT: Place = Place { endpoint: "http://127.0.0.1:9", bucket: "backups" };

    fn answer(code: Option<&str>, status: u16) -> SdkError<ListObjectsV2Error, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message("said the store");
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(ListObjectsV2Error::generic(meta.build()), raw)
    }

    fn dispatch(io: std::io::Error) -> SdkError<ListObjectsV2Error, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(io)))
    }

    fn check(line: &str, needles: &[&str]) {
        for n in needles {
            assert!(line.contains(n), "{line:?} lacks {n:?}");
        }
        assert!(!crate::error::looks_like_debug(line), "{line:?}");
        assert!(!line.contains('\n'), "{line:?}");
    }

    #[test]
    fn answers_name_the_bucket_or_the_credentials() {
        check(&of(&answer(Some("NoSuchBucket"), 404), &AT), &["bucket `backups` does not exist", "fix `bucket`"]);
        check(&of(&answer(None, 404), &AT), &["does not exist"]);
        check(&of(&answer(Some("InvalidAccessKeyId"), 403), &AT), &["rejected the credentials", "AWS_ACCESS_KEY_ID"]);
        check(&of(&answer(Some("AccessDenied"), 403), &AT), &["denied (AccessDenied)", "permission"]);
        check(&of(&answer(None, 403), &AT), &["HTTP 403", "permissions on bucket `backups`"]);
        check(&of(&answer(Some("PermanentRedirect"), 301), &AT), &["another region", "`region`"]);
        check(&of(&answer(Some("SlowDown"), 503), &AT), &["SlowDown: said the store", "HTTP 503"]);
    }

    #[test]
    fn connection_failures_name_the_endpoint() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        check(&of(&dispatch(refused), &AT), &["http://127.0.0.1:9", "connection refused", "`endpoint`"]);
        let dns = std::io::Error::other("failed to lookup address information: Name or service not known");
        check(&of(&dispatch(dns), &AT), &["does not resolve"]);
        let slow = std::io::Error::from(std::io::ErrorKind::TimedOut);
        check(&of(&dispatch(slow), &AT), &["no answer from http://127.0.0.1:9"]);
        let tls = std::io::Error::other(tokio_rustls::rustls::Error::InvalidCertificate(
            tokio_rustls::rustls::CertificateError::UnknownIssuer,
        ));
        check(&of(&dispatch(tls), &AT), &["unknown authority", "certificate"]);
        let t: SdkError<ListObjectsV2Error, HttpResponse> = SdkError::timeout_error("operation timeout");
        check(&of(&t, &AT), &["no answer from"]);
    }

    #[test]
    fn missing_credentials_say_which_variables() {
        let e: SdkError<ListObjectsV2Error, HttpResponse> = SdkError::dispatch_failure(ConnectorError::other(
            "failed to load credentials: an error occurred while loading credentials".into(),
            None,
        ));
        check(&of(&e, &AT), &["no AWS credentials: none in the environment", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"]);
    }
}
