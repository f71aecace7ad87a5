//! [`S3Server`]: s3s-fs 0.14.1 (the project's S3 server for tests, ../shared/infra.md §1) over a
//! data dir that lives as long as the server and survives its restarts.

use std::path::Path;

use tempfile::TempDir;

use super::{Readiness, ServerProcess, ServerSpec, s3s_fs_path};

/// An s3s-fs server on a free loopback port, with SigV4 checks on (static test-only keys), path-
/// style addressing and region [`S3Server::REGION`]. Killed on drop.
#[derive(Debug)]
pub struct S3Server {
    process: ServerProcess,
    port: u16,
    // After `process`, so the server is gone before its files are removed.
    data_dir: TempDir,
}

impl S3Server {
    /// Test-only credentials; s3s-fs refuses unsigned or wrongly signed requests with 403.
    pub const ACCESS_KEY: &'static str = "albedo-test-access-key";
    pub const SECRET_KEY: &'static str = "albedo-test-secret-key-not-secret";
    /// s3s-fs accepts any region in the signature; clients are configured with this one.
    pub const REGION: &'static str = "us-east-1";

    /// Starts s3s-fs on a free port over a fresh, empty data dir, and waits until it answers.
    ///
    /// # Panics
    /// If s3s-fs is not installed (run ./scripts/test) or does not become ready.
    pub fn start() -> S3Server {
        let program = s3s_fs_path();
        let data_dir =
            tempfile::Builder::new().prefix("albedo-s3-data-").tempdir().expect("create the s3s-fs data dir");
        let root = data_dir.path().to_owned();
        let (process, port) = ServerProcess::start_on_free_port(|port| {
            // Unsigned GET / is refused with 403 when keys are set: any answer means it serves.
            let ready = Readiness::HttpAnswer(format!("http://127.0.0.1:{port}/"));
            ServerSpec::new("s3s-fs", &program, ready)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", Self::ACCESS_KEY])
                .args(["--secret-key", Self::SECRET_KEY])
                .arg(&root)
        });
        S3Server { process, port, data_dir }
    }

    /// `http://127.0.0.1:PORT`, for the client's endpoint URL (path-style).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn access_key(&self) -> &'static str {
        Self::ACCESS_KEY
    }

    pub fn secret_key(&self) -> &'static str {
        Self::SECRET_KEY
    }

    pub fn region(&self) -> &'static str {
        Self::REGION
    }

    /// Where s3s-fs keeps objects as plain files: `DATA/<bucket>/<key>`.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The process, for its log ([`ServerProcess::log_tail`]) or pid.
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// Kills the server (SIGKILL, like a crash); the port then refuses connections and the data
    /// dir stays. [`S3Server::restart`] brings it back.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Kills the server if it runs and starts it again on the same port over the same data dir.
    ///
    /// # Panics
    /// If it does not become ready again.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}
