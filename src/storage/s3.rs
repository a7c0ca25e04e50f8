//! S3 and S3-compatible stores (MinIO, Ceph, R2, B2, Scaleway) on aws-sdk-s3 with the
//! standard AWS credential chain: objects under the remote's `prefix` in its bucket.
//! Files are streamed: uploads read the local file part by part (memory bounded by part
//! size × parts in flight); downloads hand the body on as it arrives.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption, StorageClass,
};
use tokio::io::AsyncReadExt;

use super::hash::Written;
use super::{Fut, Object, Store};
use crate::config::{Checksum, Remote};

/// What an upload task hands back: its part, or why it failed.
type PartResult<E, R> = Result<Result<CompletedPart, SdkError<E, R>>, tokio::task::JoinError>;

/// Smallest part S3 accepts (but for the last one), and ccops' default part size.
const MIN_PART: u64 = 8 << 20;
/// Parts in flight at once: bounds memory to about PART × (PARALLEL + 1), 72 MiB with
/// 8 MiB parts. Four left a 1 GiB upload 20 % behind `aws s3 cp` (ten in flight) on a
/// server that answers each part slowly; eight keep up with it (docs/BENCHMARKS.md).
const PARALLEL: usize = 8;
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
    pub async fn connect(name: &str, r: &Remote) -> Result<S3Store> {
        let region = r.region.clone().unwrap_or_else(|| "us-east-1".to_string());
        let shared =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).region(Region::new(region)).load().await;
        let retry = aws_sdk_s3::config::retry::RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(500))
            .with_max_backoff(Duration::from_secs(10));
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(60))
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
            endpoint: r.endpoint.clone().unwrap_or_else(|| "AWS".to_string()),
            crc32: r.checksum.map_or(r.endpoint.is_none(), |c| c == Checksum::Crc32),
        })
    }

    /// The object key in the bucket of a key of the store.
    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// A readable error for a failed request: unreachable, credentials, bucket, other.
    fn explain<E, R>(&self, what: &str, e: &SdkError<E, R>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = e.code().unwrap_or_default();
        let place = format!("remote `{}` (bucket `{}` at {})", self.name, self.bucket, self.endpoint);
        let msg = match (e, code) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => {
                format!("cannot reach {place}: {}; check `endpoint` and the network", DisplayErrorContext(e))
            }
            (_, "NoSuchBucket") => format!("{place}: the bucket does not exist; create it or fix `bucket`"),
            (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "InvalidToken" | "ExpiredToken") => {
                format!(
                    "{place} rejected the credentials ({code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile"
                )
            }
            _ => format!("{place}: {}", DisplayErrorContext(e)),
        };
        anyhow!("{what} failed: {msg}")
    }

    /// Part size for a file: at least 8 MiB, large enough to stay under the part limit.
    pub fn part_size(&self, len: u64) -> u64 {
        part_size(len, self.max_parts)
    }

    /// Upload a local file to `key` (a full key), in parts when it is larger than one
    /// part. Returns the size and SHA-256 of what was read.
    async fn upload_file(
        &self,
        file: std::fs::File,
        path: &Path,
        key: &str,
        bar: &indicatif::ProgressBar,
    ) -> Result<Written> {
        let unreadable =
            |e: &std::io::Error| anyhow!("cannot read `{}`: {}", path.display(), crate::util::io_reason(e));
        let len = file.metadata().map_err(|e| unreadable(&e))?.len();
        let mut file = tokio::fs::File::from_std(file);
        let part = self.part_size(len);
        if len <= part {
            let mut data = Vec::with_capacity(len as usize);
            tokio::io::AsyncReadExt::read_to_end(&mut file, &mut data).await.map_err(|e| unreadable(&e))?;
            let written = Written::of(&data);
            self.put_object(key, data).await?;
            bar.inc(len);
            return Ok(written);
        }
        let mut req = self.client.create_multipart_upload().bucket(&self.bucket).key(key);
        if self.crc32 {
            // A store that knows the parts' CRC32s combines them at completion instead of
            // hashing the whole object again.
            req = req.checksum_algorithm(ChecksumAlgorithm::Crc32);
        }
        if let Some(c) = &self.storage_class {
            req = req.storage_class(c.clone());
        }
        if let Some(s) = &self.sse {
            req = req.server_side_encryption(s.clone());
        }
        let created = req.send().await.map_err(|e| self.explain(&format!("starting the upload of `{key}`"), &e))?;
        let upload_id =
            created.upload_id().ok_or_else(|| anyhow!("the store returned no upload id for `{key}`"))?.to_string();
        match self.upload_parts(file, key, &upload_id, part, bar).await {
            Ok((parts, written)) => {
                let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
                let res = self
                    .client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(done)
                    .send()
                    .await;
                if let Err(e) = res {
                    self.abort(key, &upload_id).await;
                    return Err(self.explain(&format!("finishing the upload of `{key}`"), &e));
                }
                Ok(written)
            }
            Err(e) => {
                // No orphaned parts left in the bucket (they would be billed forever).
                self.abort(key, &upload_id).await;
                Err(e)
            }
        }
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let res = self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send().await;
        if let Err(e) = res {
            crate::output::warn(format!(
                "could not abort the unfinished upload of `{key}` (id {upload_id}): {}; a bucket lifecycle rule for incomplete multipart uploads cleans it up",
                DisplayErrorContext(&e)
            ));
        }
    }

    async fn upload_parts(
        &self,
        mut file: tokio::fs::File,
        key: &str,
        upload_id: &str,
        part: u64,
        bar: &indicatif::ProgressBar,
    ) -> Result<(Vec<CompletedPart>, Written)> {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut total = 0u64;
        let mut tasks = tokio::task::JoinSet::new();
        let mut parts = Vec::new();
        let client = Arc::new(self.client.clone());
        let mut number = 0i32;
        loop {
            crate::util::check_interrupt()?;
            let mut buf = Vec::with_capacity(part as usize);
            let n = (&mut file)
                .take(part)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| anyhow!("cannot read the file for `{key}`: {}", crate::util::io_reason(&e)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf);
            total += n as u64;
            number += 1;
            let (client, bucket, object, upload_id, bar) =
                (client.clone(), self.bucket.clone(), key.to_string(), upload_id.to_string(), bar.clone());
            let with_crc = self.crc32;
            tasks.spawn(async move {
                let crc = with_crc.then(|| crc32(&buf));
                let r = client
                    .upload_part()
                    .bucket(bucket)
                    .key(object)
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(n as i64)
                    .set_checksum_algorithm(crc.is_some().then_some(ChecksumAlgorithm::Crc32))
                    .set_checksum_crc32(crc.clone())
                    .body(ByteStream::from(buf))
                    .send()
                    .await;
                bar.inc(n as u64);
                r.map(|o| {
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(o.e_tag().map(String::from))
                        .set_checksum_crc32(crc)
                        .build()
                })
            });
            while tasks.len() >= PARALLEL {
                parts.push(self.joined(tasks.join_next().await, key)?);
            }
        }
        while let Some(r) = tasks.join_next().await {
            parts.push(self.joined(Some(r), key)?);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok((parts, Written { bytes: total, sha256: hex::encode(hasher.finalize()) }))
    }

    fn joined<E, R>(&self, r: Option<PartResult<E, R>>, key: &str) -> Result<CompletedPart>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match r {
            Some(Ok(Ok(p))) => Ok(p),
            Some(Ok(Err(e))) => Err(self.explain(&format!("uploading a part of `{key}`"), &e)),
            Some(Err(e)) => Err(anyhow!("an upload task failed: {e}")),
            None => Err(anyhow!("no upload task to wait for")),
        }
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
                    Some((next.map_err(|e| anyhow!("{}", DisplayErrorContext(&e))), body))
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
            let page = page.map_err(|e| self.explain("listing the bucket", &e))?;
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

/// At least 8 MiB; grows (in whole MiB) so `len` fits in `max_parts` parts.
pub fn part_size(len: u64, max_parts: u64) -> u64 {
    let needed = len.div_ceil(max_parts.max(1));
    let mib = 1 << 20;
    needed.div_ceil(mib).saturating_mul(mib).max(MIN_PART)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_under_the_limit() {
        assert_eq!(part_size(1, 10_000), 8 << 20);
        assert_eq!(part_size(80 << 30, 10_000), 9 << 20); // 80 GiB / 10,000 = 8.2 MiB
        let scaleway = part_size(50 << 30, 1_000);
        assert!((50u64 << 30).div_ceil(scaleway) <= 1_000);
        assert_eq!(scaleway % (1 << 20), 0);
    }

    #[test]
    fn crc32_is_the_header_s3_expects() {
        // The standard check value of CRC-32 (0xCBF43926), big-endian, base64.
        assert_eq!(crc32(b"123456789"), "y/Q5Jg==");
        assert_eq!(crc32(b""), "AAAAAA==");
    }
}
