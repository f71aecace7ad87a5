//! The rendered site in a real browser: the fixture competition is rendered, written to a temp
//! dir, served over loopback HTTP, and read back by headless Chromium (DOM dump and
//! screenshots).
//!
//! `ALBEDO_UPDATE_SCREENSHOTS=1` also copies the overview and eval screenshots to
//! `docs/screenshot-index.png` and `docs/screenshot-eval.png`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use albedo_ledger::{ENTRY_VERSION, Envelope, Hash32};
use albedo_projections::fixture::small_competition;
use albedo_projections::views::Views;
use albedo_tests::harness::{chromium_dump_dom, chromium_screenshot};

/// A static file server for one directory on 127.0.0.1:0: `GET /<path>` → 200 with the file
/// and its content type, anything else → 404. It records the paths asked for, and stops on
/// drop.
struct StaticServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    accept: Option<JoinHandle<()>>,
}

impl StaticServer {
    fn start(root: PathBuf) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, requests) = (root.clone(), requests2.clone());
                // One thread per connection: a browser may open a socket it never uses.
                thread::spawn(move || serve(stream, &root, &requests));
            }
        });
        StaticServer { port, stop, requests, accept: Some(accept) }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn requested(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path, requests: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(n) if n > 2 => continue,
            _ => break,
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("").trim_start_matches('/');
    requests.lock().unwrap().push(path.to_string());
    let safe = !path.is_empty() && path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    let file = safe.then(|| std::fs::read(root.join(path)).ok()).flatten();
    let mut out = &stream;
    let _ = match (method, file) {
        ("GET", Some(body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                albedo_site::content_type(path),
                body.len()
            );
            out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
        }
        _ => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
    let _ = stream.shutdown(Shutdown::Both);
}

fn fixture_views() -> Views {
    let mut views = Views::new();
    for (seq, d) in small_competition().into_iter().enumerate() {
        let env = Envelope {
            v: ENTRY_VERSION,
            seq: seq as u64,
            prev: Hash32::ZERO,
            time_ms: d.time_ms,
            block: d.block,
            event: d.event,
        };
        views.apply(&env, Hash32::of(&seq.to_le_bytes()));
    }
    views
}

fn write_site(dir: &Path) {
    for (path, bytes) in &albedo_site::render(&fixture_views()).files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
}

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
    (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()))
}

#[test]
fn the_fixture_site_reads_in_a_browser() {
    let site_dir = tempfile::tempdir().unwrap();
    write_site(site_dir.path());
    let server = StaticServer::start(site_dir.path().to_owned());

    // The overview: the king, a verdict's figures, the charts.
    let index = chromium_dump_dom(&server.url("index.html"));
    let king = &index[index.find("id=\"king-h\"").expect("the king card")..];
    let king = &king[..king.find("</section>").unwrap()];
    assert!(king.contains("dave/albedo-qwen3-4b-long"), "the current king is dave's model:\n{king}");
    assert!(king.contains("Reign 2"), "{king}");
    assert!(index.contains("84.85 : 15.15") && index.contains("73.94 : 26.06"), "the verdicts' scores");
    assert!(index.matches("<svg").count() >= 3, "the three charts");
    assert!(index.contains("Challenger minus king score per verdict"), "the margin chart's title");
    assert!(server.requested().iter().any(|p| p == "style.css"), "the browser fetched the stylesheet");

    // An eval page: its figures, its seed, a chart.
    let eval = chromium_dump_dom(&server.url("evals/eval-000001.html"));
    for needle in ["alice/albedo-qwen3-4b-sft1", "73.9394", "26.0606", "+47.8788 points", "How to verify"] {
        assert!(eval.contains(needle), "eval-000001 lacks {needle:?}");
    }
    assert!(eval.contains("<svg"), "the score split chart");
    assert!(eval.contains("albedo-replay verdict --ledger LEDGER eval-000001"));

    // A missing page is a 404, not a crash.
    let missing = chromium_dump_dom(&server.url("evals/eval-999999.html"));
    assert!(!missing.contains("Albedo"));

    // Screenshots.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("site-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let pages = [
        ("index.html", "index.png", 1600),
        ("evals/eval-000001.html", "eval.png", 1600),
        ("kings.html", "kings.png", 1000),
        ("history.html", "history.png", 1400),
        ("miners/5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy.html", "miner.png", 1000),
    ];
    for (page, png, height) in pages {
        let out = shots.join(png);
        chromium_screenshot(&server.url(page), &out, 1280, height);
        assert_eq!(png_size(&out), (1280, height), "{png}");
    }
    eprintln!("screenshots in {}", shots.display());
    if std::env::var_os("ALBEDO_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").join("docs");
        std::fs::copy(shots.join("index.png"), docs.join("screenshot-index.png")).unwrap();
        std::fs::copy(shots.join("eval.png"), docs.join("screenshot-eval.png")).unwrap();
        eprintln!("copied index.png and eval.png to {}", docs.display());
    }
}
