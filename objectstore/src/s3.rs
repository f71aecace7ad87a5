//! [`S3Store`]: the object store in an S3-compatible bucket (Cloudflare R2, Hippius S3, AWS, and
//! s3s-fs in tests) through `aws-sdk-s3`.
//!
//! The client is the lean one of ../shared/infra.md §4 ("variant B"): no aws-lc, no
//! `aws-config` (no credential chain, profile files or STS: the keys are given), an HTTP client
//! from `aws-smithy-http-client` with ring-backed rustls, path-style addressing, a static
//! region. The SDK's own retries are off; [`RetryPolicy`] retries instead, so both stores retry
//! alike and an error says how many attempts it took. Connect and read deadlines
//! ([`S3Timeouts`]) make a dead or hanging endpoint an error, never a hang.
//!
//! Immutability (the trait's contract): `put_immutable` first reads the key. If the object is
//! there, identical bytes are a no-op and different bytes an error; only if it is absent does it
//! PUT, with `If-None-Match: *`, and a `412 Precondition Failed` (another writer got there first)
//! is settled by reading and comparing again. Reading first costs one small request per tile but
//! keeps the contract on servers that ignore conditional PUTs (garage 2.5, infra.md §1c).
//! s3s-fs checks the condition but not atomically (infra.md §1b); the mirror has one writer.
//!
//! Request checksums are sent only when an operation requires them: several S3-compatible
//! servers refuse the SDK's default streaming checksums on PUT, and every entry is verified by
//! hash link when read back anyway.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::time::Duration;

use super::{BoxFuture, Failure, ObjectStore, ObjectStoreError, RetryPolicy, check_key, check_prefix};

/// The S3 endpoint URL, e.g. `https://<account>.r2.cloudflarestorage.com` (validator.md §24).
pub const ENV_ENDPOINT: &str = "ALBEDO_R2_ENDPOINT";
/// The bucket (validator.md §24).
pub const ENV_BUCKET: &str = "ALBEDO_R2_BUCKET";
/// The access key id (validator.md §24).
pub const ENV_ACCESS_KEY: &str = "ALBEDO_R2_ACCESS_KEY";
/// The secret access key (validator.md §24). Never printed.
pub const ENV_SECRET_KEY: &str = "ALBEDO_R2_SECRET_KEY";
/// New, optional: a key prefix inside the bucket under which this store keeps everything
/// (default: none, the bucket's root).
pub const ENV_PREFIX: &str = "ALBEDO_R2_PREFIX";
/// New, optional: the SigV4 signing region (default `auto`, which R2 expects; AWS needs the
/// bucket's region).
pub const ENV_REGION: &str = "ALBEDO_R2_REGION";

/// The default region: R2's (any region is accepted by s3s-fs).
pub const DEFAULT_REGION: &str = "auto";

/// Deadlines of one S3 request. A connect or read that takes longer fails the attempt, which
/// [`RetryPolicy`] may retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S3Timeouts {
    /// TCP (and TLS) connection set-up.
    pub connect: Duration,
    /// Longest wait for the next bytes of a response.
    pub read: Duration,
    /// Whole attempt, including the upload of the body.
    pub attempt: Duration,
}

impl Default for S3Timeouts {
    /// Generous for a tile (≤ a few MB) on a slow link, short enough that an outage surfaces
    /// within a minute and the mirror retries on its next pass.
    fn default() -> Self {
        S3Timeouts { connect: Duration::from_secs(5), read: Duration::from_secs(20), attempt: Duration::from_secs(60) }
    }
}

/// Where the bucket is and how to reach it. `Debug` hides the secret key.
#[derive(Clone)]
pub struct S3Config {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Key prefix inside the bucket: every key of the store is `<prefix>/<key>`; empty for none.
    pub prefix: String,
    pub access_key: String,
    secret_key: String,
    pub timeouts: S3Timeouts,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish()
    }
}

impl S3Config {
    /// A config with region [`DEFAULT_REGION`], no prefix, default timeouts and retries.
    pub fn new(
        endpoint: impl Into<String>,
        bucket: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> S3Config {
        S3Config {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            region: DEFAULT_REGION.to_owned(),
            prefix: String::new(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            timeouts: S3Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads [`ENV_ENDPOINT`], [`ENV_BUCKET`], [`ENV_ACCESS_KEY`] and [`ENV_SECRET_KEY`]
    /// (required; an empty value counts as missing), and [`ENV_PREFIX`] and [`ENV_REGION`]
    /// (optional) through `vars` (`|name| std::env::var(name).ok()` in production). A missing
    /// variable is an error naming it; a value is never quoted in an error.
    pub fn from_env(vars: &dyn Fn(&str) -> Option<String>) -> Result<S3Config, ObjectStoreError> {
        let get = |name: &str| vars(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &str, what: &str| {
            get(name).ok_or_else(|| ObjectStoreError::Config(format!("{name} is not set ({what})")))
        };
        let mut config = S3Config::new(
            required(ENV_ENDPOINT, "the S3 endpoint URL, e.g. https://<account>.r2.cloudflarestorage.com")?,
            required(ENV_BUCKET, "the bucket name")?,
            required(ENV_ACCESS_KEY, "the S3 access key id")?,
            required(ENV_SECRET_KEY, "the S3 secret access key")?,
        );
        if let Some(region) = get(ENV_REGION) {
            config.region = region;
        }
        if let Some(prefix) = get(ENV_PREFIX) {
            config.prefix = prefix;
        }
        Ok(config)
    }

    pub fn with_region(mut self, region: impl Into<String>) -> S3Config {
        self.region = region.into();
        self
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> S3Config {
        self.prefix = prefix.into();
        self
    }

    pub fn with_timeouts(mut self, timeouts: S3Timeouts) -> S3Config {
        self.timeouts = timeouts;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> S3Config {
        self.retry = retry;
        self
    }
}

/// A bucket (and optional prefix in it) on an S3-compatible server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    endpoint: String,
    bucket: String,
    prefix: String,
    retry: RetryPolicy,
}

impl S3Store {
    /// Builds the client. No request is made: a wrong endpoint or key shows on first use.
    pub fn new(config: S3Config) -> Result<S3Store, ObjectStoreError> {
        let endpoint = config.endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ObjectStoreError::Config(format!(
                "{ENV_ENDPOINT} must be an http:// or https:// URL, got {endpoint:?}"
            )));
        }
        if config.bucket.is_empty() || config.bucket.contains('/') {
            return Err(ObjectStoreError::Config(format!("{ENV_BUCKET}: {:?} is not a bucket name", config.bucket)));
        }
        let prefix = config.prefix.trim_matches('/').to_owned();
        if !prefix.is_empty() {
            check_key(&prefix)
                .map_err(|reason| ObjectStoreError::Config(format!("{ENV_PREFIX}: {prefix:?} {reason}")))?;
        }
        let http = HttpClientBuilder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(config.timeouts.connect)
            .read_timeout(config.timeouts.read)
            .operation_attempt_timeout(config.timeouts.attempt)
            .build();
        let credentials = Credentials::new(&config.access_key, &config.secret_key, None, None, "albedo");
        let sdk = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .http_client(http)
            .timeout_config(timeouts)
            .retry_config(RetryConfig::disabled())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Ok(S3Store { client: Client::from_conf(sdk), endpoint, bucket: config.bucket, prefix, retry: config.retry })
    }

    /// Creates the bucket unless it exists (the demo and tests; production buckets are made by
    /// the operator). With the store's retries.
    pub async fn ensure_bucket(&self) -> Result<(), ObjectStoreError> {
        let describe = || self.describe();
        self.retry
            .run(&describe, "create bucket", "", || async {
                match self.client.head_bucket().bucket(&self.bucket).send().await {
                    Ok(_) => return Ok(()),
                    Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => {}
                    Err(e) => return Err(self.classify("create bucket", "", e)),
                }
                match self.client.create_bucket().bucket(&self.bucket).send().await {
                    Ok(_) => Ok(()),
                    Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => Ok(()),
                    Err(e) => Err(self.classify("create bucket", "", e)),
                }
            })
            .await
    }

    /// The bucket's key for the store's `key`.
    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) }
    }

    fn checked(&self, key: &str) -> Result<(), ObjectStoreError> {
        check_key(key).map_err(|reason| ObjectStoreError::InvalidKey {
            store: self.describe(),
            key: key.into(),
            reason,
        })
    }

    /// Sorts an SDK error into worth-retrying or final, with a message that never holds a secret.
    fn classify<E>(&self, op: &'static str, key: &str, error: SdkError<E>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let cause = match (&error, status) {
            (SdkError::ServiceError(_), Some(status)) => {
                let code = error.code().unwrap_or("no error code");
                let message = error.message().map(|m| format!(": {m}")).unwrap_or_default();
                format!("HTTP {status} {code}{message}")
            }
            _ => error_chain(&error),
        };
        let permanent = |cause: String| {
            Failure::Permanent(ObjectStoreError::Failed { store: self.describe(), op, key: key.into(), cause })
        };
        match &error {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Failure::Transient(cause),
            SdkError::DispatchFailure(failure) if failure.is_user() => permanent(cause),
            SdkError::DispatchFailure(_) => Failure::Transient(cause),
            SdkError::ConstructionFailure(_) => permanent(cause),
            SdkError::ServiceError(_) => {
                let code = error.code().unwrap_or("");
                match status {
                    Some(401 | 403) => Failure::Permanent(ObjectStoreError::Auth {
                        store: self.describe(),
                        op,
                        key: key.into(),
                        cause,
                    }),
                    Some(408 | 429) | Some(500..) => Failure::Transient(cause),
                    _ if matches!(code, "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable") => {
                        Failure::Transient(cause)
                    }
                    _ => permanent(cause),
                }
            }
            _ => Failure::Transient(cause),
        }
    }

    /// One GET attempt: the bytes, `None` for a missing key. `op` names the caller's operation
    /// in errors (a put reads first).
    async fn get_once(&self, op: &'static str, key: &str) -> Result<Option<Vec<u8>>, Failure> {
        let result = self.client.get_object().bucket(&self.bucket).key(self.full_key(key)).send().await;
        let output = match result {
            Ok(output) => output,
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() || e.raw().status().as_u16() == 404 => {
                return Ok(None);
            }
            Err(e) => return Err(self.classify(op, key, e)),
        };
        match output.body.collect().await {
            Ok(data) => Ok(Some(data.into_bytes().to_vec())),
            // The connection broke while the body streamed in: worth another try.
            Err(e) => Err(Failure::Transient(format!("reading the body: {}", error_chain(&e)))),
        }
    }

    /// One PUT attempt; with `if_absent`, `Ok(false)` when the server answered 412 (the key
    /// exists).
    async fn put_once(&self, key: &str, bytes: &[u8], if_absent: bool) -> Result<bool, Failure> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .content_length(bytes.len() as i64)
            .body(ByteStream::from(bytes.to_vec()));
        if if_absent {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if if_absent && e.raw().status().as_u16() == 412 => Ok(false),
            Err(e) => Err(self.classify("put", key, e)),
        }
    }

    /// One attempt of the immutable put (module doc).
    async fn put_immutable_once(&self, key: &str, bytes: &[u8]) -> Result<(), Failure> {
        if let Some(existing) = self.get_once("put", key).await? {
            return self.same_or_immutable(key, &existing, bytes);
        }
        if self.put_once(key, bytes, true).await? {
            return Ok(());
        }
        // 412: someone stored it between our GET and our PUT.
        let existing = self.get_once("put", key).await?.unwrap_or_default();
        self.same_or_immutable(key, &existing, bytes)
    }

    fn same_or_immutable(&self, key: &str, existing: &[u8], bytes: &[u8]) -> Result<(), Failure> {
        if existing == bytes {
            Ok(())
        } else {
            Err(Failure::Permanent(ObjectStoreError::Immutable { store: self.describe(), key: key.into() }))
        }
    }

    /// One attempt at listing everything under `prefix`, all pages.
    async fn list_once(&self, prefix: &str) -> Result<Vec<String>, Failure> {
        let full_prefix = self.full_key(prefix);
        // With a store prefix, `full_key("")` is `<prefix>/`, so only this store's keys match.
        let strip = if self.prefix.is_empty() { 0 } else { self.prefix.len() + 1 };
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full_prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.classify("list", prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()?.get(strip..)).map(str::to_owned));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        let prefix = if self.prefix.is_empty() { String::new() } else { format!("/{}", self.prefix) };
        format!("s3://{}{prefix} at {}", self.bucket, self.endpoint)
    }

    fn put_immutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>> {
        Box::pin(async move {
            self.checked(key)?;
            let describe = || self.describe();
            self.retry.run(&describe, "put", key, || self.put_immutable_once(key, bytes)).await
        })
    }

    fn put_mutable<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, Result<(), ObjectStoreError>> {
        Box::pin(async move {
            self.checked(key)?;
            let describe = || self.describe();
            self.retry.run(&describe, "put", key, || async { self.put_once(key, bytes, false).await.map(|_| ()) }).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ObjectStoreError>> {
        Box::pin(async move {
            self.checked(key)?;
            let describe = || self.describe();
            self.retry.run(&describe, "get", key, || self.get_once("get", key)).await
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, ObjectStoreError>> {
        Box::pin(async move {
            check_prefix(prefix).map_err(|reason| ObjectStoreError::InvalidKey {
                store: self.describe(),
                key: prefix.into(),
                reason,
            })?;
            let describe = || self.describe();
            self.retry.run(&describe, "list", prefix, || self.list_once(prefix)).await
        })
    }
}

/// An error and its sources, `: `-separated, each said once (the SDK repeats a cause in its
/// wrapper's text). Unlike the SDK's `DisplayErrorContext`, no `Debug` dump is appended.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const ALL: [(&str, &str); 4] = [
        (ENV_ENDPOINT, "http://127.0.0.1:9"),
        (ENV_BUCKET, "mirror"),
        (ENV_ACCESS_KEY, "AKIDEXAMPLE"),
        (ENV_SECRET_KEY, "very-secret-value"),
    ];

    #[test]
    fn from_env_names_the_missing_variable() {
        for missing in 0..ALL.len() {
            let mut pairs = ALL.to_vec();
            let (name, _) = pairs.remove(missing);
            let error = S3Config::from_env(&vars(&pairs)).unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
            // Empty counts as missing (validator.md §24: the default is empty).
            pairs.insert(missing, (name, " "));
            let error = S3Config::from_env(&vars(&pairs)).unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn from_env_reads_optional_prefix_and_region_and_hides_the_secret() {
        let mut pairs = ALL.to_vec();
        let config = S3Config::from_env(&vars(&pairs)).unwrap();
        assert_eq!((config.region.as_str(), config.prefix.as_str()), (DEFAULT_REGION, ""));
        pairs.push((ENV_PREFIX, "/albedo/"));
        pairs.push((ENV_REGION, "us-east-1"));
        let config = S3Config::from_env(&vars(&pairs)).unwrap();
        assert_eq!((config.region.as_str(), config.prefix.as_str()), ("us-east-1", "/albedo/"));
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret-value") && debug.contains("AKIDEXAMPLE"), "{debug}");
        let store = S3Store::new(config).unwrap();
        assert_eq!(store.describe(), "s3://mirror/albedo at http://127.0.0.1:9");
        assert!(!format!("{store:?}").contains("very-secret-value"));
    }

    #[test]
    fn bad_endpoint_and_prefix_are_refused() {
        let bad = S3Config::new("127.0.0.1:9000", "b", "a", "s");
        assert!(S3Store::new(bad).unwrap_err().to_string().contains(ENV_ENDPOINT));
        let bad = S3Config::new("http://h", "b", "a", "s").with_prefix("a/../b");
        assert!(S3Store::new(bad).unwrap_err().to_string().contains(ENV_PREFIX));
    }
}
