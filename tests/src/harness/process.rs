//! [`ServerProcess`]: one child process serving on loopback, started and awaited until ready,
//! killed on drop, with its output kept in a log file for failure messages.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{free_port, http};

/// How long [`ServerProcess::start`] waits for readiness unless the spec says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines of the log quoted in a failure message.
const LOG_TAIL_LINES: usize = 40;

/// Timeout of one readiness probe; the overall deadline is the spec's.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How [`ServerProcess`] knows that a server is ready to be used.
#[derive(Clone)]
pub enum Readiness {
    /// `GET url` gets any HTTP answer with a status below 500.
    HttpAnswer(String),
    /// `GET url` gets exactly this status.
    HttpStatus(String, u16),
    /// A custom check, polled until it returns `Ok`; the `Err` text of the last poll goes into the
    /// timeout message.
    Check(Arc<dyn Fn() -> Result<(), String> + Send + Sync>),
}

impl Readiness {
    fn probe(&self) -> Result<(), String> {
        let (url, wanted) = match self {
            Readiness::HttpAnswer(url) => (url, None),
            Readiness::HttpStatus(url, status) => (url, Some(*status)),
            Readiness::Check(check) => return check(),
        };
        let response =
            http::request_with_timeout("GET", url, &[], &[], PROBE_TIMEOUT).map_err(|e| format!("GET {url}: {e}"))?;
        let ok = match wanted {
            Some(status) => response.status == status,
            None => response.status < 500,
        };
        if ok { Ok(()) } else { Err(format!("GET {url} answered {}", response.status)) }
    }

    fn describe(&self) -> String {
        match self {
            Readiness::HttpAnswer(url) => format!("GET {url} answers with a status below 500"),
            Readiness::HttpStatus(url, status) => format!("GET {url} answers {status}"),
            Readiness::Check(_) => "a custom check passes".to_owned(),
        }
    }
}

/// What to run and how to tell it is ready. Built with [`ServerSpec::new`] and the chained
/// setters; handed to [`ServerProcess::start`].
#[derive(Clone)]
pub struct ServerSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    readiness: Readiness,
    timeout: Duration,
}

impl ServerSpec {
    /// `name` appears in the log file's name and in every failure message.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>, readiness: Readiness) -> Self {
        ServerSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            readiness,
            timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Deadline for readiness, from spawn.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command as one line, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|part| {
                let part = part.to_string_lossy();
                if part.is_empty() || part.contains([' ', '"', '\'', '\\']) {
                    format!("{part:?}")
                } else {
                    part.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A running server: a child process whose stdout and stderr go to a log file in its own temp
/// dir. Dropping it kills the child (SIGKILL) and waits for it; the log dir goes with it.
pub struct ServerProcess {
    spec: ServerSpec,
    child: Option<Child>,
    log_path: PathBuf,
    starts: u32,
    // Declared last: removed after the child is gone.
    _log_dir: TempDir,
}

impl ServerProcess {
    /// Spawns the server and waits until it is ready.
    ///
    /// # Panics
    /// If it cannot be spawned, exits before it is ready, or is not ready by the spec's deadline:
    /// the message names the server and gives its command line and the tail of its log. The child
    /// is killed first.
    pub fn start(spec: ServerSpec) -> ServerProcess {
        let mut server = ServerProcess::prepare(spec);
        if let Err(reason) = server.launch() {
            panic!("{}", server.failure(&reason));
        }
        server
    }

    /// Picks a free loopback port, builds the spec for it with `spec_for_port`, and starts it.
    /// A server that exits with "address already in use" (another process took the port between
    /// [`free_port`] and the server's bind) is retried on a new port, twice at most.
    ///
    /// # Panics
    /// As [`ServerProcess::start`].
    pub fn start_on_free_port(mut spec_for_port: impl FnMut(u16) -> ServerSpec) -> (Self, u16) {
        const ATTEMPTS: u32 = 3;
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let mut server = ServerProcess::prepare(spec_for_port(port));
            match server.launch() {
                Ok(()) => return (server, port),
                Err(reason) => {
                    let tail = server.log_tail(LOG_TAIL_LINES).to_ascii_lowercase();
                    if attempt == ATTEMPTS || !tail.contains("address already in use") {
                        panic!("{}", server.failure(&reason));
                    }
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn prepare(spec: ServerSpec) -> ServerProcess {
        let log_dir = tempfile::Builder::new()
            .prefix(&format!("albedo-{}-log-", sanitize(&spec.name)))
            .tempdir()
            .unwrap_or_else(|e| panic!("server `{}`: cannot create a log dir: {e}", spec.name));
        let log_path = log_dir.path().join(format!("{}.log", sanitize(&spec.name)));
        ServerProcess { spec, child: None, log_path, starts: 0, _log_dir: log_dir }
    }

    /// Spawns and polls readiness; on failure the child is already killed and reaped.
    fn launch(&mut self) -> Result<(), String> {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("cannot open log {}: {e}", self.log_path.display()))?;
        // A marker line, so restarts are told apart in the log.
        let _ = writeln!(log, "=== albedo harness: start #{}: {}", self.starts, self.spec.command_line());
        let child =
            self.command(&log)?.spawn().map_err(|e| format!("cannot spawn {}: {e}", self.spec.program.display()))?;
        self.child = Some(child);

        let started = Instant::now();
        let deadline = started + self.spec.timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            let child = self.child.as_mut().expect("spawned above");
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return Err(format!("exited before it was ready ({status})"));
                }
                Ok(None) => {}
                Err(e) => {
                    self.stop();
                    return Err(format!("cannot poll the child: {e}"));
                }
            }
            let probe = self.spec.readiness.probe();
            let Err(last) = probe else {
                // An answer from a process that holds the port while ours failed to bind it must
                // not count: ours has to be alive after the probe too.
                let child = self.child.as_mut().expect("spawned above");
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("exited before it was ready ({status})"));
                }
                return Ok(());
            };
            if Instant::now() >= deadline {
                let pid = self.pid().unwrap_or(0);
                self.stop();
                return Err(format!(
                    "was not ready within {:?} (pid {pid}, killed); last probe: {last}",
                    self.spec.timeout
                ));
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    fn command(&self, log: &File) -> Result<Command, String> {
        let clone = |f: &File| f.try_clone().map_err(|e| format!("cannot clone the log file handle: {e}"));
        let mut command = Command::new(&self.spec.program);
        command
            .args(&self.spec.args)
            .envs(self.spec.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(clone(log)?)
            .stderr(clone(log)?);
        if let Some(dir) = &self.spec.current_dir {
            command.current_dir(dir);
        }
        Ok(command)
    }

    fn failure(&self, reason: &str) -> String {
        let mut message = format!("server `{}` {reason}\n", self.spec.name);
        let _ = writeln!(message, "  command: {}", self.spec.command_line());
        let _ = writeln!(message, "  ready when: {}", self.spec.readiness.describe());
        let _ = writeln!(message, "  log {}, last {LOG_TAIL_LINES} lines:", self.log_path.display());
        for line in self.log_tail(LOG_TAIL_LINES).lines() {
            let _ = writeln!(message, "  | {line}");
        }
        message
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn command_line(&self) -> String {
        self.spec.command_line()
    }

    /// The child's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child is still running (false once stopped, or if it died on its own).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// The log file: stdout and stderr of every start, each after a marker line.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the log, for assertion messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(cannot read the log: {e})"));
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        if tail.is_empty() { "(empty log)".to_owned() } else { tail }
    }

    /// Kills the child (SIGKILL, like a crash) and waits for it. Does nothing if it is not
    /// running. [`ServerProcess::restart`] starts it again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, then starts the same command again and waits until ready.
    ///
    /// # Panics
    /// As [`ServerProcess::start`].
    pub fn restart(&mut self) {
        self.stop();
        if let Err(reason) = self.launch() {
            panic!("{}", self.failure(&format!("(restart) {reason}")));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerProcess")
            .field("name", &self.spec.name)
            .field("pid", &self.pid())
            .field("log", &self.log_path)
            .finish()
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}
