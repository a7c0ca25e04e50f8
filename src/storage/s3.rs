//! S3 and S3-compatible stores (MinIO, Ceph, R2, B2, Scaleway) on aws-sdk-s3 with the
//! standard AWS credential chain. Files are streamed: uploads read the local file part by
//! part (memory bounded by part size × parts in flight), downloads hash while writing.

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

use crate::backup::sink::{HashWriter, Written};
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

pub struct S3Store {
    client: Client,
    pub name: String,
    pub bucket: String,
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

    /// The object key of a file of a set.
    pub fn key(&self, id: &str, file: &str) -> String {
        format!("{}{id}/{file}", self.prefix)
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

    /// Upload a local file to `key`, in parts when it is larger than one part. Returns the
    /// size and SHA-256 of what was read, so the caller can check it against the manifest
    /// before it uploads the manifest.
    /// `file` is opened by the caller, which decides what may be read; `path` names it in
    /// messages.
    pub async fn upload_file(
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
            let written = hash_bytes(&data);
            self.put_small(key, data).await?;
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

    /// Stream an object through `out` (hashing what passes); returns size and SHA-256.
    /// At most `limit` bytes are read: an object larger than its manifest says is cut off
    /// with an error rather than filling the disk.
    pub async fn download<W: std::io::Write + Send + 'static>(
        &self,
        key: &str,
        out: W,
        limit: u64,
        bar: &indicatif::ProgressBar,
    ) -> Result<(W, Written)> {
        let obj = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
            if e.code() == Some("NoSuchKey") {
                anyhow!("remote `{}` has no object `{key}` (deleted?)", self.name)
            } else {
                self.explain(&format!("downloading `{key}`"), &e)
            }
        })?;
        let mut body = obj.body;
        let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(8);
        let writer = tokio::task::spawn_blocking(move || -> std::io::Result<(W, Written)> {
            let mut w = HashWriter::new(out);
            for chunk in rx {
                std::io::Write::write_all(&mut w, &chunk)?;
            }
            let (inner, written) = w.finish();
            Ok((inner, written))
        });
        let mut failure = None;
        let mut seen: u64 = 0;
        loop {
            let next = tokio::select! {
                n = body.next() => n,
                _ = crate::util::wait_interrupt() => { failure = Some(anyhow::Error::new(crate::error::Interrupted)); break; }
            };
            match next {
                Some(Ok(chunk)) => {
                    seen = seen.saturating_add(chunk.len() as u64);
                    if seen > limit {
                        failure = Some(anyhow!(
                            "`{key}` on remote `{}` is larger than the {limit} bytes its manifest says; stopped reading it",
                            self.name
                        ));
                        break;
                    }
                    bar.inc(chunk.len() as u64);
                    if tx.send(chunk).is_err() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    failure = Some(anyhow!("downloading `{key}` broke off: {}", DisplayErrorContext(&e)));
                    break;
                }
                None => break,
            }
        }
        drop(tx);
        let written = writer.await.map_err(|e| anyhow!("{e}"))?;
        if let Some(f) = failure {
            return Err(f);
        }
        written.map_err(|e| anyhow!("cannot write what `{key}` holds: {}", crate::util::io_reason(&e)))
    }

    /// A small object (a manifest) whole, or None when it does not exist. An object of
    /// more than `max` bytes is refused, by its declared length or as it streams.
    pub async fn get_small(&self, key: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let too_big = || {
            anyhow::Error::new(TooLarge(format!(
                "`{key}` on remote `{}` is larger than {max} bytes; not reading it",
                self.name
            )))
        };
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(o) => {
                if o.content_length().is_some_and(|n| u64::try_from(n).unwrap_or(u64::MAX) > max) {
                    return Err(too_big());
                }
                let mut body = o.body;
                let mut data = Vec::new();
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| anyhow!("reading `{key}` failed: {}", DisplayErrorContext(&e)))?;
                    if (data.len() + chunk.len()) as u64 > max {
                        return Err(too_big());
                    }
                    data.extend_from_slice(&chunk);
                }
                Ok(Some(data))
            }
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(self.explain(&format!("reading `{key}`"), &e)),
        }
    }

    /// Put an object from memory: a manifest, or a file no larger than one part.
    pub async fn put_small(&self, key: &str, data: Vec<u8>) -> Result<()> {
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

    /// The set IDs under the prefix (folders `<prefix><ID>/`).
    pub async fn list_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.explain("listing the bucket", &e))?;
            for p in page.common_prefixes() {
                if let Some(id) = p.prefix().and_then(|x| x.strip_prefix(&self.prefix)).map(|x| x.trim_end_matches('/'))
                {
                    if crate::backup::layout::parse_id(id).is_some() {
                        ids.push(id.to_string());
                    }
                }
            }
        }
        Ok(ids)
    }

    /// Delete every object of a set (manifest first, so a half-deleted set reads as incomplete).
    pub async fn delete_set(&self, id: &str) -> Result<()> {
        let manifest = self.key(id, crate::backup::manifest::FILE);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&manifest)
            .send()
            .await
            .map_err(|e| self.explain(&format!("deleting `{manifest}`"), &e))?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{id}/", self.prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.explain("listing the bucket", &e))?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    self.client
                        .delete_object()
                        .bucket(&self.bucket)
                        .key(k)
                        .send()
                        .await
                        .map_err(|e| self.explain(&format!("deleting `{k}`"), &e))?;
                }
            }
        }
        Ok(())
    }

    /// Put and remove a small object: credentials valid, bucket there and writable.
    pub async fn probe(&self) -> Result<()> {
        let key = format!("{}.ccops-probe-{}", self.prefix, std::process::id());
        self.put_small(&key, b"ccops probe\n".to_vec()).await?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| self.explain("removing the probe object", &e))?;
        Ok(())
    }
}

/// CRC32 of `data` as S3 wants it in `x-amz-checksum-crc32`: base64 of the big-endian value.
fn crc32(data: &[u8]) -> String {
    use base64::Engine;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    base64::engine::general_purpose::STANDARD.encode(crc.sum().to_be_bytes())
}

fn hash_bytes(data: &[u8]) -> Written {
    use sha2::Digest;
    Written { bytes: data.len() as u64, sha256: hex::encode(sha2::Sha256::digest(data)) }
}

/// An object larger than the caller allowed: the listing reports that set as damaged
/// instead of failing as a whole.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TooLarge(String);

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
