//! `tls:` checks: days until the server certificate expires. The chain is not judged
//! here (a browser or the http check does that); this check exists so an expiring
//! certificate pages someone weeks before it breaks the site.

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme, pki_types};

use super::{Outcome, Status};

pub async fn check(addr: &str, warn_days: i64, critical_days: i64, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, not_after(addr)).await {
        Ok(Ok(expiry)) => judge(expiry, chrono::Utc::now(), warn_days, critical_days),
        Ok(Err(e)) => Outcome::new(Status::Fail, e),
        Err(_) => Outcome::new(
            Status::Fail,
            format!("no TLS handshake with {addr} within {}", humantime::format_duration(timeout)),
        ),
    }
}

pub fn judge(
    expiry: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    warn: i64,
    critical: i64,
) -> Outcome {
    let days = (expiry - now).num_seconds() as f64 / 86400.0;
    let status = if days <= critical as f64 {
        Status::Fail
    } else if days <= warn as f64 {
        Status::Warn
    } else {
        Status::Ok
    };
    let when = expiry.format("%Y-%m-%d");
    let detail = if days < 0.0 {
        format!("certificate expired on {when}")
    } else {
        format!("certificate expires in {} days ({when}; warn at {warn}, critical at {critical})", days.floor())
    };
    Outcome::new(status, detail).metric("days", days, "d")
}

async fn not_after(addr: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']').to_string();
    let addr = if addr.contains(':') { addr.to_string() } else { format!("{addr}:443") };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadOnly(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {}", crate::util::io_reason(&e)))?;
    let name =
        pki_types::ServerName::try_from(host.clone()).map_err(|_| format!("`{host}` is not a valid server name"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
    let certs = tls.get_ref().1.peer_certificates().ok_or_else(|| format!("{addr} sent no certificate"))?;
    let leaf = certs.first().ok_or_else(|| format!("{addr} sent no certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| format!("cannot parse the certificate of {addr}: {e}"))?;
    let ts = cert.validity().not_after.timestamp();
    chrono::DateTime::from_timestamp(ts, 0).ok_or_else(|| "certificate expiry out of range".to_string())
}

/// Accepts any certificate: this check reads the expiry date, it does not authenticate.
#[derive(Debug)]
struct ReadOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for ReadOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &pki_types::CertificateDer<'_>,
        _intermediates: &[pki_types::CertificateDer<'_>],
        _server_name: &pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &pki_types::CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &pki_types::CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let now = chrono::Utc::now();
        let in_days = |d: i64| now + chrono::Duration::days(d) + chrono::Duration::hours(1);
        assert_eq!(judge(in_days(90), now, 30, 7).status, Status::Ok);
        assert_eq!(judge(in_days(20), now, 30, 7).status, Status::Warn);
        assert_eq!(judge(in_days(3), now, 30, 7).status, Status::Fail);
        let o = judge(in_days(-2), now, 30, 7);
        assert_eq!(o.status, Status::Fail);
        assert!(o.detail.contains("expired"));
    }
}
