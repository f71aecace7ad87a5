//! [`Registry`]: Debian's `docker-registry` 2.8 (OCI distribution) as a plain process with its
//! own config, storage in a temp dir (../shared/infra.md §2).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::{Readiness, ServerProcess, ServerSpec, docker_registry_path, python_path};

/// A registry on a free loopback port, optionally behind htpasswd basic auth. Killed on drop.
#[derive(Debug)]
pub struct Registry {
    process: ServerProcess,
    port: u16,
    credentials: Option<(String, String)>,
    // After `process`, so the server is gone before its files are removed.
    dir: TempDir,
}

impl Registry {
    /// Starts an open registry (no auth) and waits until `GET /v2/` answers 200.
    ///
    /// # Panics
    /// If docker-registry is not installed (run ./scripts/test) or does not become ready.
    pub fn start() -> Registry {
        Registry::launch(None)
    }

    /// Starts a registry that wants HTTP basic auth with this user and password (a bcrypt
    /// htpasswd file, as the registry requires), and waits until `GET /v2/` answers 401.
    ///
    /// # Panics
    /// As [`Registry::start`], or if python3 cannot make the bcrypt hash.
    pub fn start_with_htpasswd(user: &str, password: &str) -> Registry {
        assert!(!user.contains(':'), "an htpasswd user name cannot contain ':'");
        Registry::launch(Some((user.to_owned(), password.to_owned())))
    }

    fn launch(credentials: Option<(String, String)>) -> Registry {
        let program = docker_registry_path();
        let dir = tempfile::Builder::new().prefix("albedo-registry-").tempdir().expect("create the registry dir");
        let htpasswd = credentials.as_ref().map(|(user, password)| {
            let path = dir.path().join("htpasswd");
            let line = format!("{user}:{}\n", bcrypt_hash(password));
            std::fs::write(&path, line).expect("write the htpasswd file");
            path
        });
        let storage = dir.path().join("data");
        let config = dir.path().join("registry.yml");
        let (process, port) = ServerProcess::start_on_free_port(|port| {
            let yaml = config_yaml(port, &storage, htpasswd.as_deref());
            std::fs::write(&config, yaml).expect("write the registry config");
            let url = format!("http://127.0.0.1:{port}/v2/");
            let status = if htpasswd.is_some() { 401 } else { 200 };
            ServerSpec::new("docker-registry", &program, Readiness::HttpStatus(url, status)).arg("serve").arg(&config)
        });
        Registry { process, port, credentials, dir }
    }

    /// `http://127.0.0.1:PORT`; the API is under `/v2/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, the registry part of a reference like `127.0.0.1:PORT/models/x:v1`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// User and password when started with [`Registry::start_with_htpasswd`].
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The registry's filesystem storage root.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The process, for its log ([`ServerProcess::log_tail`]) or pid.
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

fn config_yaml(port: u16, storage: &Path, htpasswd: Option<&Path>) -> String {
    let mut yaml = format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: albedo-test-only-not-secret
",
        storage = storage.display()
    );
    if let Some(path) = htpasswd {
        let _ = write!(
            yaml,
            "auth:
  htpasswd:
    realm: albedo-test
    path: {}
",
            path.display()
        );
    }
    yaml
}

/// A `$2b$` bcrypt hash from Python's `crypt` module (infra.md §2: the registry accepts only
/// bcrypt in htpasswd). Cost 5 keeps it fast; this guards test data only.
fn bcrypt_hash(password: &str) -> String {
    let python = python_path();
    let script = "import crypt, sys; \
                  print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5)))";
    let output = Command::new(&python)
        .args(["-W", "ignore", "-c", script, password])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} for the htpasswd hash: {e}", python.display()));
    let hash = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success() && hash.starts_with("$2"),
        "{} did not make a bcrypt hash ({}): stdout {hash:?}, stderr {}",
        python.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    hash
}
