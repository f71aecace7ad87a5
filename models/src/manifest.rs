//! A model's OCI image manifest (validator.md §17.5): one layer per file, titled by its path
//! relative to the model folder, plus an empty config. Parsing checks everything the cache later
//! relies on; building is deterministic, so the same folder always gets the same digest.

use albedo_ledger::Hash32;
use albedo_ledger::event::ModelRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

/// The manifest media type we push and accept.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI empty descriptor's media type, bytes and digest (image-spec 1.1, "Guidance for an
/// empty descriptor").
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";
pub const EMPTY_CONFIG_DIGEST: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// The layer annotation that holds a file's relative path.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// Media type of every file layer we push (the bytes are the file, not a tar).
pub const LAYER_MEDIA_TYPE: &str = "application/octet-stream";
/// Our manifests' `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.albedo.model.v1";
/// The folder inside a cached model where the cache keeps its record; no layer may be there.
pub const RESERVED_DIR: &str = ".albedo";
/// Manifests larger than this are refused before parsing (a 4B model has a dozen layers).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// One file of a model: its layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFile {
    /// Relative path, `/`-separated, checked by [`check_relative_path`].
    pub path: String,
    /// SHA-256 of the file's bytes (the layer digest).
    pub sha256: Hash32,
    pub size: u64,
}

impl ModelFile {
    /// The layer digest, `sha256:<hex>`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.sha256.to_hex())
    }
}

/// A manifest whose bytes hash to the model's committed digest, with its files checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelManifest {
    pub model: ModelRef,
    /// The exact bytes the registry served (their SHA-256 is `model.digest()`).
    pub bytes: Vec<u8>,
    /// Every file, sorted by path; paths are unique.
    pub files: Vec<ModelFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    config: RawDescriptor,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: String,
    digest: String,
    size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl ModelManifest {
    /// Verifies that SHA-256(`bytes`) is the committed digest, then parses and checks the
    /// manifest: schema 2, an OCI image manifest, every layer a `sha256` digest with a size and
    /// a title that is a safe relative path, no two layers with the same title.
    pub fn parse(model: &ModelRef, bytes: Vec<u8>) -> Result<ModelManifest> {
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != model.digest() {
            return Err(ModelError::ManifestDigest {
                model: model.to_string(),
                expected: model.digest().to_owned(),
                actual,
            });
        }
        let bad = |detail: String| ModelError::Manifest { model: model.to_string(), detail };
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(bad(format!("{} bytes, more than the {MAX_MANIFEST_BYTES} accepted", bytes.len())));
        }
        let raw: RawManifest = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a manifest: {e}")))?;
        if raw.schema_version != 2 {
            return Err(bad(format!("schemaVersion {} (only 2 is supported)", raw.schema_version)));
        }
        if let Some(mt) = &raw.media_type
            && mt != MANIFEST_MEDIA_TYPE
        {
            return Err(bad(format!("media type {mt:?}; expected {MANIFEST_MEDIA_TYPE:?}")));
        }
        let mut files = Vec::with_capacity(raw.layers.len());
        for (i, layer) in raw.layers.iter().enumerate() {
            let title = layer
                .annotations
                .as_ref()
                .and_then(|a| a.get(TITLE_ANNOTATION))
                .ok_or_else(|| bad(format!("layer {i} ({}) has no {TITLE_ANNOTATION} annotation", layer.digest)))?;
            check_relative_path(title).map_err(|e| bad(format!("layer {i}: {e}")))?;
            if title == RESERVED_DIR || title.starts_with(&format!("{RESERVED_DIR}/")) {
                return Err(bad(format!(
                    "layer {i}: {title:?} is under {RESERVED_DIR}/, where the cache keeps its record"
                )));
            }
            let sha256 = parse_digest(&layer.digest).ok_or_else(|| {
                bad(format!("layer {i} ({title:?}) has digest {:?}, not sha256:<64 hex>", layer.digest))
            })?;
            let size = u64::try_from(layer.size)
                .map_err(|_| bad(format!("layer {i} ({title:?}) has a negative size {}", layer.size)))?;
            files.push(ModelFile { path: title.clone(), sha256, size });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = files.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(bad(format!("two layers are titled {:?}", w[0].path)));
        }
        // A file and a directory of the same name cannot both exist on disk.
        for f in &files {
            let dir = format!("{}/", f.path);
            if files.iter().any(|g| g.path.starts_with(&dir)) {
                return Err(bad(format!("{:?} is both a file and a directory", f.path)));
            }
        }
        Ok(ModelManifest { model: model.clone(), bytes, files })
    }

    /// The file at `path`, if the manifest has it.
    pub fn file(&self, path: &str) -> Option<&ModelFile> {
        self.files.binary_search_by(|f| f.path.as_str().cmp(path)).ok().map(|i| &self.files[i])
    }

    /// The layer titles, sorted (validator.md §17.1 `list_remote_files`).
    pub fn paths(&self) -> Vec<String> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    /// Total bytes of all files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The manifest bytes we push for these files: deterministic (files sorted by path, no
/// timestamps), so pushing the same folder twice gives the same digest.
pub fn build_manifest(files: &[ModelFile]) -> Vec<u8> {
    let mut files: Vec<&ModelFile> = files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let raw = RawManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.into()),
        artifact_type: Some(ARTIFACT_TYPE.into()),
        config: RawDescriptor {
            media_type: EMPTY_CONFIG_MEDIA_TYPE.into(),
            digest: EMPTY_CONFIG_DIGEST.into(),
            size: EMPTY_CONFIG.len() as i64,
            annotations: None,
        },
        layers: files
            .iter()
            .map(|f| RawDescriptor {
                media_type: LAYER_MEDIA_TYPE.into(),
                digest: f.digest(),
                size: f.size as i64,
                annotations: Some([(TITLE_ANNOTATION.to_owned(), f.path.clone())].into()),
            })
            .collect(),
    };
    serde_json::to_vec(&raw).expect("a manifest always serialises")
}

/// `sha256:<64 lowercase hex>` → the hash.
pub fn parse_digest(digest: &str) -> Option<Hash32> {
    digest.strip_prefix("sha256:").and_then(Hash32::from_hex)
}

/// A layer title must be a relative path that stays inside the model folder: not empty, not
/// absolute, `/`-separated with no empty, `.` or `..` segment, no backslash, NUL or other
/// control character, at most 1024 bytes.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty file path".into());
    }
    if path.len() > 1024 {
        return Err(format!("file path of {} bytes is too long", path.len()));
    }
    if path.starts_with('/') {
        return Err(format!("file path {path:?} is absolute"));
    }
    if path.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(format!("file path {path:?} contains a backslash or a control character"));
    }
    if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!("file path {path:?} has an empty, `.` or `..` segment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_for(bytes: &[u8]) -> ModelRef {
        ModelRef::new("ns/albedo-qwen3-4b-x", format!("sha256:{}", hex::encode(Sha256::digest(bytes)))).unwrap()
    }

    fn file(path: &str, byte: u8) -> ModelFile {
        ModelFile { path: path.into(), sha256: Hash32([byte; 32]), size: byte as u64 }
    }

    #[test]
    fn build_then_parse_round_trips_and_sorts() {
        let files = vec![file("model.safetensors", 2), file("config.json", 1), file("sub/a.json", 3)];
        let bytes = build_manifest(&files);
        assert_eq!(bytes, build_manifest(&[files[2].clone(), files[0].clone(), files[1].clone()]));
        let m = ModelManifest::parse(&model_for(&bytes), bytes.clone()).unwrap();
        assert_eq!(m.paths(), ["config.json", "model.safetensors", "sub/a.json"]);
        assert_eq!(m.file("model.safetensors").unwrap().size, 2);
        assert_eq!(m.file("nope"), None);
        assert_eq!(m.total_size(), 6);
    }

    #[test]
    fn the_empty_config_digest_is_the_sha256_of_its_bytes() {
        assert_eq!(EMPTY_CONFIG_DIGEST, format!("sha256:{}", hex::encode(Sha256::digest(EMPTY_CONFIG))));
    }

    #[test]
    fn bytes_that_do_not_hash_to_the_digest_name_both_digests() {
        let bytes = build_manifest(&[file("config.json", 1)]);
        let model = model_for(b"something else");
        let err = ModelManifest::parse(&model, bytes.clone()).unwrap_err();
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let msg = err.to_string();
        assert!(msg.contains(model.digest()) && msg.contains(&actual), "{msg}");
        assert_eq!(err.kind(), crate::ErrorKind::Integrity);
    }

    fn parse_json(json: &str) -> Result<ModelManifest> {
        ModelManifest::parse(&model_for(json.as_bytes()), json.as_bytes().to_vec())
    }

    fn layer(title: Option<&str>, digest: &str, size: i64) -> String {
        let ann = title.map(|t| format!(r#","annotations":{{"{TITLE_ANNOTATION}":{t:?}}}"#)).unwrap_or_default();
        format!(r#"{{"mediaType":"application/octet-stream","digest":"{digest}","size":{size}{ann}}}"#)
    }

    fn manifest_json(layers: &[String]) -> String {
        format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{EMPTY_CONFIG_MEDIA_TYPE}","digest":"{EMPTY_CONFIG_DIGEST}","size":2}},"layers":[{}]}}"#,
            layers.join(",")
        )
    }

    #[test]
    fn unacceptable_manifests_are_refused_with_the_reason() {
        let d = format!("sha256:{}", "a".repeat(64));
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "not a manifest"),
            (
                manifest_json(&[layer(None, &d, 1)]).replace("\"schemaVersion\":2", "\"schemaVersion\":1"),
                "schemaVersion 1",
            ),
            (manifest_json(&[layer(None, &d, 1)]), "has no org.opencontainers.image.title"),
            (manifest_json(&[layer(Some("../etc/passwd"), &d, 1)]), "`..` segment"),
            (manifest_json(&[layer(Some("/abs"), &d, 1)]), "absolute"),
            (manifest_json(&[layer(Some("a\\b"), &d, 1)]), "backslash"),
            (manifest_json(&[layer(Some("a//b"), &d, 1)]), "empty"),
            (manifest_json(&[layer(Some("x"), "sha512:abc", 1)]), "not sha256"),
            (manifest_json(&[layer(Some("x"), &d, -1)]), "negative size"),
            (manifest_json(&[layer(Some("x"), &d, 1), layer(Some("x"), &d, 1)]), "two layers are titled \"x\""),
            (manifest_json(&[layer(Some("x"), &d, 1), layer(Some("x/y"), &d, 1)]), "both a file and a directory"),
            (manifest_json(&[layer(Some(".albedo/model.json"), &d, 1)]), "where the cache keeps its record"),
            (
                manifest_json(&[layer(Some("x"), &d, 1)]).replace(
                    "{\"schemaVersion\":2,",
                    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",",
                ),
                "media type",
            ),
        ];
        for (json, want) in cases {
            let err = parse_json(&json).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Invalid, "{json}");
            assert!(err.to_string().contains(want), "{json}: {err} (wanted {want:?})");
        }
        assert_eq!(parse_json(&manifest_json(&[layer(Some("a/b.json"), &d, 3)])).unwrap().paths(), ["a/b.json"]);
    }
}
