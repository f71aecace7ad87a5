//! [`HttpProxy`]: an HTTP/1.1 proxy in front of a real server (the OCI registry) that forwards
//! every request and can misbehave on purpose, per path: corrupt a response body, answer with
//! an error status a number of times, or trickle a body out slowly. It runs on its own thread
//! and runtime, so sync and async tests use it alike. Loopback only.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

/// What the proxy does to requests whose path contains `path`.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Flip the last byte of the response body (same length, different hash).
    Corrupt { path: String },
    /// Replace the response body with these bytes (the headers stay, Content-Length fixed).
    Replace { path: String, body: Vec<u8> },
    /// Answer `status` instead of forwarding, the next `times` matching requests.
    Fail { path: String, status: u16, times: usize },
    /// Send the body in 64 KiB pieces at about `bytes_per_sec`.
    Throttle { path: String, bytes_per_sec: u64 },
}

impl Fault {
    fn path(&self) -> &str {
        match self {
            Fault::Corrupt { path }
            | Fault::Replace { path, .. }
            | Fault::Fail { path, .. }
            | Fault::Throttle { path, .. } => path,
        }
    }
}

#[derive(Default)]
struct Shared {
    faults: Vec<Fault>,
    /// `METHOD path?query` of every request seen, in order.
    log: Vec<String>,
}

struct Ctx {
    target: String,
    client: reqwest::Client,
    shared: Mutex<Shared>,
}

/// A proxy on a free loopback port; stopped on drop.
pub struct HttpProxy {
    addr: SocketAddr,
    ctx: Arc<Ctx>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpProxy {
    /// Forwards to `target` (`http://127.0.0.1:PORT`).
    pub fn start(target: &str) -> HttpProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build the proxy's HTTP client");
        let ctx = Arc::new(Ctx {
            target: target.trim_end_matches('/').to_owned(),
            client,
            shared: Mutex::new(Shared::default()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new().fallback(forward).with_state(ctx.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .expect("proxy server");
            });
            // Connections still streaming when the proxy is dropped end with the runtime.
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        HttpProxy { addr, ctx, shutdown: Some(tx), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a fault; the first matching fault applies to a request.
    pub fn add(&self, fault: Fault) {
        self.ctx.shared.lock().unwrap().faults.push(fault);
    }

    /// Removes every fault: the proxy forwards faithfully again.
    pub fn clear(&self) {
        self.ctx.shared.lock().unwrap().faults.clear();
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.ctx.shared.lock().unwrap().log.clone()
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn forward(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    let fault = {
        let mut shared = ctx.shared.lock().unwrap();
        shared.log.push(format!("{} {path_and_query}", req.method()));
        let index = shared.faults.iter().position(|f| path_and_query.contains(f.path()));
        match index {
            Some(i) => {
                let fault = shared.faults[i].clone();
                if let Fault::Fail { times, .. } = &mut shared.faults[i] {
                    *times -= 1;
                    if *times == 0 {
                        shared.faults.remove(i);
                    }
                }
                Some(fault)
            }
            None => None,
        }
    };
    if let Some(Fault::Fail { status, .. }) = fault {
        return Response::builder()
            .status(StatusCode::from_u16(status).expect("a valid status"))
            .body(Body::from(format!("injected by the test proxy: {status}")))
            .expect("a response");
    }

    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("proxy: reading the request body: {e}")),
    };
    let mut upstream = ctx.client.request(parts.method.clone(), format!("{}{path_and_query}", ctx.target));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.body(body).send().await {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_GATEWAY, format!("proxy: upstream: {e}")),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let mut bytes = match answer.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return error(StatusCode::BAD_GATEWAY, format!("proxy: upstream body: {e}")),
    };
    let mut throttle = None;
    match fault {
        Some(Fault::Corrupt { .. }) if parts.method != "HEAD" => {
            if let Some(last) = bytes.last_mut() {
                *last ^= 0x01;
            }
        }
        Some(Fault::Replace { body, .. }) if parts.method != "HEAD" => bytes = body,
        Some(Fault::Throttle { bytes_per_sec, .. }) => throttle = Some(bytes_per_sec.max(1)),
        _ => {}
    }
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    let length = if parts.method == "HEAD" {
        headers.get("content-length").cloned()
    } else {
        Some(HeaderValue::from(bytes.len()))
    };
    if let Some(length) = length {
        response = response.header(HeaderName::from_static("content-length"), length);
    }
    let body = match throttle {
        None => Body::from(bytes),
        Some(rate) => {
            let piece = 64 * 1024;
            let pause = Duration::from_secs_f64(piece as f64 / rate as f64);
            let stream = futures_util::stream::unfold((bytes, 0usize), move |(bytes, at)| async move {
                if at >= bytes.len() {
                    return None;
                }
                if at > 0 {
                    tokio::time::sleep(pause).await;
                }
                let end = (at + piece).min(bytes.len());
                let chunk = bytes::Bytes::copy_from_slice(&bytes[at..end]);
                Some((Ok::<_, std::io::Error>(chunk), (bytes, end)))
            });
            Body::from_stream(stream)
        }
    };
    response.body(body).expect("a response")
}

fn error(status: StatusCode, message: String) -> Response {
    Response::builder().status(status).body(Body::from(message)).expect("a response")
}
