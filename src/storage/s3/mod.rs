//! S3 and S3-compatible stores (MinIO, Ceph, R2, B2, Scaleway) on aws-sdk-s3 with the
//! standard AWS credential chain: objects under the remote's `prefix` in its bucket.
//! Files are streamed: uploads read the local file part by part (memory bounded by part
//! size × parts in flight; upload.rs); downloads hand the body on as it arrives.

mod reason;
mod upload;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ServerSideEncryption, StorageClass};

use super::Patience;
use super::hash::Written;
use super::store::{Fut, Object, Store};
use crate::config::{Checksum, Remote};
use crate::error::Explained;

const DEFAULT_MAX_PARTS: u64 = 10_000;

/// One bucket (and prefix) of an S3-compatible service.
pub struct S3Store {
    client: Client,
    name: String,
    bucket: String,
    prefix: String,
    storage_class: Option<StorageClass>,
    sse: Option<ServerSideEncryption>,
    max_parts: u64,
    endpoint: String,
    /// Send a CRC32 of each object and part, so the store checks what it received.
    crc32: bool,
}

impl S3Store {
    pub async fn connect(name: &str, r: &Remote, patience: Patience) -> Result<S3Store> {
        let region = Region::new(r.region.clone().unwrap_or_else(|| "us-east-1".to_string()));
        let (attempts, connect_timeout, read_timeout) = match patience {
            Patience::Persistent => (5, Duration::from_secs(5), Duration::from_secs(60)),
            Patience::Quick => (2, Duration::from_secs(2), Duration::from_secs(10)),
        };
        // The standard chain, but the instance metadata service (the last place it looks)
        // gets two tries of a second: off EC2 nothing answers there, and a host without
        // credentials would otherwise wait about five seconds for every store it opens.
        let imds = aws_config::imds::Client::builder()
            .max_attempts(2)
            .connect_timeout(Duration::from_secs(1))
            .read_timeout(Duration::from_secs(1))
            .build();
        let credentials = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
            .region(region.clone())
            .imds_client(imds)
            .build()
            .await;
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials)
            .load()
            .await;
        let retry = aws_sdk_s3::config::retry::RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(500))
            .with_max_backoff(Duration::from_secs(10));
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .build();
        let mut b = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(r.path_style)
            .retry_config(retry)
            .timeout_config(timeouts)
            // Recent SDKs add checksums to every request, as `aws-chunked` trailers where
            // the body streams; several S3-compatible stores reject them. The SDK sends
            // them only where S3 requires them; where `checksum` asks for it, ccops sets
            // its own CRC32 as a plain header (with the value given, the SDK neither
            // computes one nor switches to trailers).
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(e) = &r.endpoint {
            b = b.endpoint_url(e.clone());
        }
        let mut prefix = r.prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(S3Store {
            client: Client::from_conf(b.build()),
            name: name.to_string(),
            bucket: r.bucket.clone(),
            prefix,
            storage_class: r.storage_class.as_deref().map(StorageClass::from),
            sse: r.server_side_encryption.as_deref().map(ServerSideEncryption::from),
            max_parts: r.max_parts.map_or(DEFAULT_MAX_PARTS, u64::from).max(1),
            endpoint: r.endpoint.clone().unwrap_or_else(|| format!("AWS S3 ({region})")),
            crc32: r.checksum.map_or(r.endpoint.is_none(), |c| c == Checksum::Crc32),
        })
    }

    /// The object key in the bucket of a key of the store.
    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// A failed request as an operator reads it: what failed on which remote, then the
    /// cause and its fix (reason.rs); the SDK's raw error is kept for `-vv`.
    fn explain<E>(&self, what: &str, e: &SdkError<E, HttpResponse>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let place = reason::Place { endpoint: &self.endpoint, bucket: &self.bucket };
        anyhow::Error::new(Explained::new(reason::of(e, &place), e))
            .context(format!("{what} failed on remote `{}`", self.name))
    }

    /// Put an object (full key) from memory: a small object, or a file no larger than
    /// one part.
    async fn put_object(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let crc = self.crc32.then(|| crc32(&data));
        let len = data.len() as i64;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(len)
            .set_checksum_algorithm(crc.is_some().then_some(ChecksumAlgorithm::Crc32))
            .set_checksum_crc32(crc)
            .body(ByteStream::from(data));
        if let Some(c) = &self.storage_class {
            req = req.storage_class(c.clone());
        }
        if let Some(s) = &self.sse {
            req = req.server_side_encryption(s.clone());
        }
        req.send().await.map_err(|e| self.explain(&format!("uploading `{key}`"), &e))?;
        Ok(())
    }

    /// Start reading an object (full key); None when it does not exist.
    async fn get_object(&self, key: &str) -> Result<Option<Object>> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(o) => {
                let len = o.content_length().map(|n| u64::try_from(n).unwrap_or(u64::MAX));
                let body = futures_util::stream::unfold(o.body, |mut body| async move {
                    let next = body.next().await?;
                    Some((next.map_err(|e| anyhow::Error::new(Explained::new(crate::error::readable(&e), &e))), body))
                });
                Ok(Some(Object { len, body: Box::pin(body) }))
            }
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(self.explain(&format!("reading `{key}`"), &e)),
        }
    }

    /// Keys (full) under `prefix` (full); with `delimiter`, the common prefixes instead.
    async fn list_keys(&self, prefix: &str, delimiter: bool) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.then(|| "/".to_string()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.explain("listing", &e))?;
            if delimiter {
                out.extend(page.common_prefixes().iter().filter_map(|p| p.prefix()).map(String::from));
            } else {
                out.extend(page.contents().iter().filter_map(|o| o.key()).map(String::from));
            }
        }
        Ok(out)
    }

    /// Delete an object (full key).
    async fn delete_object(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.explain(&format!("deleting `{key}`"), &e))?;
        Ok(())
    }
}

impl Store for S3Store {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!("bucket `{}`", self.bucket)
    }

    fn put_file<'a>(
        &'a self,
        key: &'a str,
        file: std::fs::File,
        path: &'a Path,
        bar: &'a indicatif::ProgressBar,
    ) -> Fut<'a, Written> {
        Box::pin(async move { self.upload_file(file, path, &self.full(key), bar).await })
    }

    fn put<'a>(&'a self, key: &'a str, data: Vec<u8>) -> Fut<'a, ()> {
        Box::pin(async move { self.put_object(&self.full(key), data).await })
    }

    fn get<'a>(&'a self, key: &'a str) -> Fut<'a, Option<Object>> {
        Box::pin(async move { self.get_object(&self.full(key)).await })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(async move {
            let keys = self.list_keys(&self.full(prefix), false).await?;
            Ok(keys.into_iter().filter_map(|k| k.strip_prefix(&self.prefix).map(String::from)).collect())
        })
    }

    fn folders<'a>(&'a self, prefix: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(async move {
            let full = self.full(prefix);
            let found = self.list_keys(&full, true).await?;
            Ok(found
                .iter()
                .filter_map(|p| p.strip_prefix(&full))
                .map(|p| p.trim_end_matches('/'))
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> Fut<'a, ()> {
        Box::pin(async move { self.delete_object(&self.full(key)).await })
    }
}

/// CRC32 of `data` as S3 wants it in `x-amz-checksum-crc32`: base64 of the big-endian value.
fn crc32(data: &[u8]) -> String {
    use base64::Engine;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    base64::engine::general_purpose::STANDARD.encode(crc.sum().to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_header_s3_expects() {
        // The standard check value of CRC-32 (0xCBF43926), big-endian, base64.
        assert_eq!(crc32(b"123456789"), "y/Q5Jg==");
        assert_eq!(crc32(b""), "AAAAAA==");
    }
}
