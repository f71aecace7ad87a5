//! One shared way to run real servers in tests.
//!
//! The contract, for every server here ([`S3Server`], [`Registry`], or any command through
//! [`ServerProcess`]):
//! - it listens on a **free loopback port** chosen at start ([`free_port`]), so tests run in
//!   parallel and never collide on a fixed port;
//! - `start` returns only once it is **ready** (an HTTP answer, or a custom check), or panics;
//! - it is **killed on drop** (SIGKILL, then waited for), and its temp dirs go with it, so nothing
//!   leaks from one test into the next;
//! - its stdout and stderr go to a **log file**, and when it fails to start (exits early or
//!   misses the deadline) the panic names the server and gives its command line and the tail
//!   of that log, so a CI failure explains itself. [`ServerProcess::log_tail`] serves tests'
//!   own assertion messages.
//!
//! [`TcpProxy`] sits in front of a server to simulate outages (refuse, stall or cut connections)
//! while the server keeps its state; [`HttpProxy`] works a level up, per HTTP path: it corrupts
//! or replaces bodies, injects error statuses and trickles bodies out slowly.
//!
//! Headless Chromium is not a server: [`chromium_dump_dom`] and [`chromium_screenshot`] run it
//! once, with a deadline.
//!
//! The programs are found through environment variables that `./scripts/test` exports, else at
//! the default paths it installs to. A missing program is a panic that says to run
//! `./scripts/test`: tests never skip silently.
//!
//! | program | variable | default |
//! |---|---|---|
//! | s3s-fs 0.14.1 | `ALBEDO_S3S_FS` | `$ALBEDO_TEST_TOOLS/bin/s3s-fs` (`/var/tmp/albedo-test-tools/bin/s3s-fs`) |
//! | docker-registry | `ALBEDO_DOCKER_REGISTRY` | `/usr/bin/docker-registry` |
//! | chromium | `ALBEDO_CHROMIUM` | `/usr/bin/chromium` |
//! | python3 (venv) | `ALBEDO_PYTHON` | `python3` on `PATH` |

mod chromium;
pub mod http;
mod http_proxy;
mod process;
mod proxy;
mod registry;
mod s3;

use std::env;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub use chromium::{CHROMIUM_TIMEOUT, chromium_dump_dom, chromium_screenshot, run_chromium};
pub use http_proxy::{Fault, HttpProxy};
pub use process::{DEFAULT_READY_TIMEOUT, Readiness, ServerProcess, ServerSpec};
pub use proxy::{ProxyMode, TcpProxy};
pub use registry::Registry;
pub use s3::S3Server;

/// Where `./scripts/test` installs tools unless `ALBEDO_TEST_TOOLS` says otherwise.
pub const DEFAULT_TOOLS_DIR: &str = "/var/tmp/albedo-test-tools";

/// A loopback port that was free a moment ago: bound on 127.0.0.1:0, read, released. Another
/// process may take it before the server binds it; [`ServerProcess::start_on_free_port`] retries.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// `ALBEDO_TEST_TOOLS`, else [`DEFAULT_TOOLS_DIR`].
pub fn tools_dir() -> PathBuf {
    env::var_os("ALBEDO_TEST_TOOLS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_TOOLS_DIR))
}

/// The s3s-fs binary: `ALBEDO_S3S_FS`, else `bin/s3s-fs` in [`tools_dir`].
pub fn s3s_fs_path() -> PathBuf {
    locate_tool("s3s-fs", "ALBEDO_S3S_FS", &tools_dir().join("bin/s3s-fs"))
}

/// The registry binary: `ALBEDO_DOCKER_REGISTRY`, else `/usr/bin/docker-registry`.
pub fn docker_registry_path() -> PathBuf {
    locate_tool("docker-registry", "ALBEDO_DOCKER_REGISTRY", Path::new("/usr/bin/docker-registry"))
}

/// The browser: `ALBEDO_CHROMIUM`, else `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    locate_tool("chromium", "ALBEDO_CHROMIUM", Path::new("/usr/bin/chromium"))
}

/// Python: `ALBEDO_PYTHON`, else the venv `./scripts/test` makes, else `python3` from `PATH`.
pub fn python_path() -> PathBuf {
    match env::var_os("ALBEDO_PYTHON") {
        Some(path) => locate_tool("python", "ALBEDO_PYTHON", Path::new(&path)),
        // The venv ./scripts/test fills (cryptography, sr25519), as the other tools default to
        // their installed place; `python3` only when there is no venv.
        None => {
            let venv = tools_dir().join("venv/bin/python");
            if venv.is_file() { venv } else { PathBuf::from("python3") }
        }
    }
}

/// The program named by the environment variable `env_var`, else `default`.
///
/// # Panics
/// If there is no file there, with a message that says how to install it.
pub fn locate_tool(name: &str, env_var: &str, default: &Path) -> PathBuf {
    let (path, source) = match env::var_os(env_var) {
        Some(path) => (PathBuf::from(path), format!("from {env_var}")),
        None => (default.to_owned(), format!("default; {env_var} overrides it")),
    };
    assert!(path.is_file(), "{name} not found at {} ({source}): run ./scripts/test, which installs it", path.display());
    path
}
