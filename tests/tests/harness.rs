//! Self-tests of the shared server harness, against the real programs: each test can fail if a
//! server does not start, does not check what it should, or outlives its handle.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::thread;
use std::time::Duration;

use albedo_tests::harness::{
    self, Readiness, Registry, S3Server, ServerProcess, ServerSpec, chromium_dump_dom, chromium_screenshot, free_port,
    http,
};
use sha2::{Digest, Sha256};

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
}

/// Runs `f`, expecting a panic, and returns its message.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn free_port_can_be_bound_again() {
    let port = free_port();
    assert_ne!(port, 0);
    TcpListener::bind(("127.0.0.1", port)).expect("the port is free after free_port returns");
}

#[test]
fn s3_refuses_unsigned_requests() {
    let s3 = S3Server::start();
    assert_eq!(s3.endpoint(), format!("http://127.0.0.1:{}", s3.port()));
    assert_eq!(s3.region(), "us-east-1");
    assert!(s3.data_dir().is_dir());

    // An unsigned request is refused: the server checks credentials (moto would answer 200).
    let response = http::get(&format!("{}/", s3.endpoint())).expect("GET /");
    assert_eq!(response.status, 403, "body: {}", response.text());
    let put = http::request("PUT", &format!("{}/bucket", s3.endpoint()), &[], b"").expect("PUT /bucket");
    assert_eq!(put.status, 403, "body: {}", put.text());
    assert!(!s3.data_dir().join("bucket").exists());
}

#[test]
fn s3_servers_get_their_own_ports_and_free_them_on_drop() {
    let (a, b) = thread::scope(|scope| {
        let a = scope.spawn(S3Server::start);
        let b = scope.spawn(S3Server::start);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());

    let (port, data_dir) = (a.port(), a.data_dir().to_owned());
    drop(a);
    assert!(refuses_connections(port), "port {port} still answers after drop");
    assert!(!data_dir.exists(), "data dir {} outlived the server", data_dir.display());
    // The other one is untouched.
    assert_eq!(http::get(&format!("{}/", b.endpoint())).unwrap().status, 403);
}

#[test]
fn s3_restart_keeps_port_and_data() {
    let mut s3 = S3Server::start();
    let port = s3.port();
    let first_pid = s3.process().pid().expect("running");
    // s3s-fs serves plain files: DATA/<bucket>/<key>.
    let bucket = s3.data_dir().join("kept");
    std::fs::create_dir(&bucket).unwrap();
    std::fs::write(bucket.join("object"), b"survives").unwrap();

    s3.stop();
    assert!(refuses_connections(port), "port {port} answers while stopped");
    assert!(!s3.process().is_running());

    s3.restart();
    assert_eq!(s3.port(), port);
    assert_ne!(s3.process().pid(), Some(first_pid), "a new process");
    assert_eq!(http::get(&format!("{}/", s3.endpoint())).unwrap().status, 403);
    assert_eq!(std::fs::read(bucket.join("object")).unwrap(), b"survives");

    // Restart of a running server kills it first.
    s3.restart();
    assert_eq!(http::get(&format!("{}/", s3.endpoint())).unwrap().status, 403);
    let log = s3.process().log_tail(100);
    assert_eq!(log.matches("=== albedo harness: start #").count(), 3, "log:\n{log}");
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Pushes one blob with the POST/PUT upload flow (infra.md §2) and returns its digest.
fn push_blob(registry: &Registry, repo: &str, blob: &[u8], auth: &[(&str, &str)]) -> String {
    let digest = sha256_digest(blob);
    let start = format!("{}/v2/{repo}/blobs/uploads/", registry.url());
    let response = http::request("POST", &start, auth, b"").expect("POST upload");
    assert_eq!(response.status, 202, "POST upload: {}", response.text());
    let location = response.header("location").expect("Location header");
    let location =
        if location.starts_with("http://") { location.to_owned() } else { format!("{}{location}", registry.url()) };
    let separator = if location.contains('?') { '&' } else { '?' };
    let mut headers = vec![("Content-Type", "application/octet-stream")];
    headers.extend_from_slice(auth);
    let put = format!("{location}{separator}digest={digest}");
    let response = http::request("PUT", &put, &headers, blob).expect("PUT blob");
    assert_eq!(response.status, 201, "PUT blob: {}", response.text());
    digest
}

#[test]
fn registry_serves_v2_and_takes_a_push() {
    let registry = Registry::start();
    assert_eq!(registry.url(), format!("http://{}", registry.host()));

    let v2 = http::get(&format!("{}/v2/", registry.url())).unwrap();
    assert_eq!((v2.status, v2.text().trim()), (200, "{}"));

    let repo = "albedo/selftest";
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let digest = push_blob(&registry, repo, &blob, &[]);
    let config_digest = push_blob(&registry, repo, b"{}", &[]);

    let blob_url = format!("{}/v2/{repo}/blobs/{digest}", registry.url());
    let head = http::request("HEAD", &blob_url, &[], b"").unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
    let pulled = http::get(&blob_url).unwrap();
    assert_eq!(pulled.status, 200);
    assert!(pulled.body == blob, "pulled blob differs");

    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config_digest}","size":2}},
"layers":[{{"mediaType":"application/octet-stream","digest":"{digest}","size":{}}}]}}"#,
        blob.len()
    );
    let oci = ("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    let manifest_url = format!("{}/v2/{repo}/manifests/v1", registry.url());
    let put = http::request("PUT", &manifest_url, &[oci], manifest.as_bytes()).unwrap();
    assert_eq!(put.status, 201, "PUT manifest: {}", put.text());
    let accept = ("Accept", "application/vnd.oci.image.manifest.v1+json");
    let got = http::request("GET", &manifest_url, &[accept], b"").unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.body, manifest.as_bytes());

    let catalog = http::get(&format!("{}/v2/_catalog", registry.url())).unwrap();
    assert_eq!(catalog.status, 200);
    assert!(catalog.text().contains(repo), "catalog: {}", catalog.text());
    assert!(registry.storage_dir().join("docker/registry/v2/blobs").is_dir());
}

#[test]
fn registry_with_htpasswd_wants_the_password() {
    let registry = Registry::start_with_htpasswd("tester", "s3cret");
    assert_eq!(registry.credentials(), Some(("tester", "s3cret")));
    let v2 = format!("{}/v2/", registry.url());

    let anonymous = http::get(&v2).unwrap();
    assert_eq!(anonymous.status, 401);
    let challenge = anonymous.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Basic"), "challenge: {challenge}");

    let wrong = http::basic_auth("tester", "wrong");
    let response = http::request("GET", &v2, &[("Authorization", &wrong)], b"").unwrap();
    assert_eq!(response.status, 401);

    let right = http::basic_auth("tester", "s3cret");
    let auth = [("Authorization", right.as_str())];
    assert_eq!(http::request("GET", &v2, &auth, b"").unwrap().status, 200);
    push_blob(&registry, "private/blob", b"secret bytes", &auth);
}

/// Serves `page` to every request on a loopback port, from a thread that lives as long as the
/// test process.
fn serve_page(page: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    port
}

#[test]
fn chromium_dumps_the_dom_after_scripts_ran() {
    let port = serve_page(
        "<!doctype html><title>t</title><p id=out>static</p>\
         <script>document.getElementById('out').textContent = 'albedo-' + (40 + 2);</script>",
    );
    let dom = chromium_dump_dom(&format!("http://127.0.0.1:{port}/"));
    assert!(dom.contains("albedo-42"), "script output missing from the DOM:\n{dom}");
    assert!(!dom.contains(">static<"));
}

#[test]
fn chromium_screenshot_writes_a_png_of_the_asked_size() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(&page, "<body style='background:#c33'><h1>albedo</h1></body>").unwrap();
    let png = dir.path().join("shot.png");

    chromium_screenshot(&format!("file://{}", page.display()), &png, 320, 200);

    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // The IHDR chunk follows the signature: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (320, 200));
}

#[test]
fn a_server_that_exits_at_once_panics_with_its_name_and_log() {
    let spec = ServerSpec::new(
        "doomed-server",
        "/bin/sh",
        Readiness::HttpAnswer(format!("http://127.0.0.1:{}/", free_port())),
    )
    .args(["-c", "echo 'fatal: the marker line' >&2; exit 3"]);

    let message = panic_message(|| {
        ServerProcess::start(spec);
    });
    assert!(message.contains("server `doomed-server` exited before it was ready"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("/bin/sh -c"), "command line missing: {message}");
    assert!(message.contains("| fatal: the marker line"), "log tail missing: {message}");
}

#[test]
fn a_server_that_never_gets_ready_is_killed_at_the_deadline() {
    let spec = ServerSpec::new(
        "sleepy-server",
        "/bin/sh",
        Readiness::Check(std::sync::Arc::new(|| Err("never ready".to_owned()))),
    )
    .args(["-c", "echo still-booting; exec sleep 600"])
    .timeout(Duration::from_millis(500));

    let message = panic_message(|| {
        ServerProcess::start(spec);
    });
    assert!(message.contains("server `sleepy-server` was not ready within"), "{message}");
    assert!(message.contains("last probe: never ready"), "{message}");
    assert!(message.contains("| still-booting"), "{message}");
    let pid = message
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no pid in: {message}"));
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} still exists");
}

#[test]
fn dropping_a_server_kills_its_process() {
    let port = free_port();
    let spec = ServerSpec::new(
        "python-http",
        harness::python_path(),
        Readiness::HttpStatus(format!("http://127.0.0.1:{port}/"), 200),
    )
    .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()]);
    let mut server = ServerProcess::start(spec);
    let pid = server.pid().expect("running");
    assert!(server.is_running());
    drop(server);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} outlived the drop");
    assert!(refuses_connections(port));
}

#[test]
fn a_port_taken_before_the_server_binds_it_is_retried() {
    // The first spec is handed a port someone else holds, as when another process takes the port
    // between free_port() and the server's bind.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    // Hang up at once, so the readiness probe of the first attempt fails fast.
    thread::spawn(move || taken.incoming().for_each(drop));
    let mut ports_tried = Vec::new();
    let (mut server, port) = ServerProcess::start_on_free_port(|offered| {
        let port = if ports_tried.is_empty() { taken_port } else { offered };
        ports_tried.push(port);
        ServerSpec::new(
            "python-http",
            harness::python_path(),
            Readiness::HttpStatus(format!("http://127.0.0.1:{port}/"), 200),
        )
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
    });
    assert_eq!(ports_tried.len(), 2, "ports tried: {ports_tried:?}");
    assert_eq!(ports_tried[1], port);
    assert_ne!(port, taken_port);
    assert!(server.is_running());
}

#[test]
fn a_missing_tool_says_how_to_install_it() {
    let message = panic_message(|| {
        harness::locate_tool("s3s-fs", "ALBEDO_TEST_VARIABLE_NOBODY_SETS", Path::new("/nonexistent/bin/s3s-fs"));
    });
    assert!(
        message.contains("s3s-fs not found at /nonexistent/bin/s3s-fs")
            && message.contains("run ./scripts/test, which installs it"),
        "{message}"
    );
}
