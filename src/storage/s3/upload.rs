//! Uploading a local file to S3: one PUT when it fits in one part, else a multipart
//! upload whose parts are read, hashed and sent with a bounded number in flight, and
//! which is aborted when anything fails (no orphaned parts billed forever).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncReadExt;

use super::{S3Store, crc32};
use crate::storage::hash::Written;

/// What an upload task hands back: its part, or why it failed.
type PartResult<E, R> = Result<Result<CompletedPart, SdkError<E, R>>, tokio::task::JoinError>;

/// Smallest part S3 accepts (but for the last one), and ccops' default part size.
const MIN_PART: u64 = 8 << 20;
/// Parts in flight at once: bounds memory to about PART × (PARALLEL + 1), 72 MiB with
/// 8 MiB parts. Four left a 1 GiB upload 20 % behind `aws s3 cp` (ten in flight) on a
/// server that answers each part slowly; eight keep up with it (docs/BENCHMARKS.md).
const PARALLEL: usize = 8;
impl S3Store {
    /// Part size for a file: at least 8 MiB, large enough to stay under the part limit.
    pub fn part_size(&self, len: u64) -> u64 {
        part_size(len, self.max_parts)
    }

    /// Upload a local file to `key` (a full key), in parts when it is larger than one
    /// part. Returns the size and SHA-256 of what was read.
    pub(super) async fn upload_file(
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
                self.explain("aborting the upload", &e).root_cause()
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

    fn joined<E>(&self, r: Option<PartResult<E, HttpResponse>>, key: &str) -> Result<CompletedPart>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match r {
            Some(Ok(Ok(p))) => Ok(p),
            Some(Ok(Err(e))) => Err(self.explain(&format!("uploading a part of `{key}`"), &e)),
            Some(Err(e)) => Err(anyhow!("an upload task failed: {e}")),
            None => Err(anyhow!("no upload task to wait for")),
        }
    }
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
}
