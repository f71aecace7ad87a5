//! Headless Chromium (Debian's package) as a one-shot command: dump a page's DOM after its
//! scripts ran, or take a screenshot. Each run gets a fresh profile dir and a deadline.

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::chromium_path;

/// Deadline for one Chromium run; measured at ~0.5 s on an idle machine (infra.md §3).
pub const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// The flags infra.md §3 and the machine notes give: as root Chromium needs `--no-sandbox`, and
/// without the background-networking flags it keeps dialling hosts this machine cannot reach.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The DOM of `url` after load, scripts included, as Chromium serializes it.
///
/// # Panics
/// If Chromium is missing, fails, or runs past [`CHROMIUM_TIMEOUT`]; the message has its stderr.
pub fn chromium_dump_dom(url: &str) -> String {
    let stdout = run_chromium(&["--dump-dom".into()], url);
    String::from_utf8_lossy(&stdout).into_owned()
}

/// Writes a `width`×`height` PNG screenshot of `url` to `out_png` (made absolute, since
/// Chromium resolves it against its own working dir).
///
/// # Panics
/// As [`chromium_dump_dom`], or if no non-empty file was written.
pub fn chromium_screenshot(url: &str, out_png: &Path, width: u32, height: u32) {
    let out =
        std::path::absolute(out_png).unwrap_or_else(|e| panic!("cannot make {} absolute: {e}", out_png.display()));
    let _ = fs::remove_file(&out);
    let mut screenshot = OsString::from("--screenshot=");
    screenshot.push(&out);
    let args = [screenshot, format!("--window-size={width},{height}").into(), "--hide-scrollbars".into()];
    run_chromium(&args, url);
    let len = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    assert!(len > 0, "chromium wrote no screenshot to {}", out.display());
}

/// Runs headless Chromium with the standard flags, `extra` and `url` in a fresh profile dir, and
/// returns its stdout.
///
/// # Panics
/// If Chromium is missing, exits non-zero, or runs past [`CHROMIUM_TIMEOUT`] (then its whole
/// process group is killed); the message has the command and the tail of its stderr.
pub fn run_chromium(extra: &[OsString], url: &str) -> Vec<u8> {
    let program = chromium_path();
    let dir = tempfile::Builder::new().prefix("albedo-chromium-").tempdir().expect("create a chromium profile dir");
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    let mut user_data_dir = OsString::from("--user-data-dir=");
    user_data_dir.push(dir.path().join("profile"));

    let mut command = Command::new(&program);
    command
        .args(FLAGS)
        .arg(&user_data_dir)
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("create chromium stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("create chromium stderr file"))
        // Its own process group, so a timeout kills the renderer and helper processes too.
        .process_group(0);
    let command_line = format!("{command:?}");
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));

    let stderr_tail = || {
        let text = fs::read(&stderr_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            // The pgid is the child's pid (process_group(0)); std has no killpg, kill(1) does.
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {CHROMIUM_TIMEOUT:?} (killed)\n  command: \
                 {command_line}\n  stderr tail:\n{}",
                stderr_tail()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "chromium failed ({status})\n  command: {command_line}\n  stderr tail:\n{}",
        stderr_tail()
    );
    fs::read(&stdout_path).expect("read chromium stdout")
}
