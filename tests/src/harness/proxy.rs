//! [`TcpProxy`]: a loopback TCP proxy in front of a test server that can refuse, stall or cut
//! connections on command, so outage tests break the network while the server keeps its state
//! (../shared/infra.md §1, "Simulate outages with a small TCP proxy").
//!
//! Plain threads and blocking sockets: one thread accepts, two threads per forwarded connection
//! copy bytes. Every open connection is tracked, so a mode change can shut them all down at once.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often the accept loop looks at its mode while no connection arrives.
const POLL: Duration = Duration::from_millis(5);

/// How long the proxy keeps trying to bind its port again after a [`ProxyMode::Refuse`].
const REBIND_DEADLINE: Duration = Duration::from_secs(5);

/// Deadline for connecting to the target (on loopback a refusal is immediate).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward bytes both ways to the target.
    Forward,
    /// The listening socket is closed: a new connection is refused by the kernel
    /// (`ECONNREFUSED`), as by a server that is down.
    Refuse,
    /// New connections are accepted but nothing is forwarded or answered, as by a server that
    /// hangs: clients run into their own timeouts.
    Stall,
}

/// A TCP proxy on a free loopback port forwarding to a target. Stops on drop: the listener
/// closes and every open connection is shut down.
///
/// | call | new connections | open connections |
/// |---|---|---|
/// | [`TcpProxy::cut`] | refused (port closed) | shut down |
/// | [`TcpProxy::stall`] | accepted, never answered | shut down |
/// | [`TcpProxy::restore`] | forwarded (same port) | stalled ones shut down, forwarded ones kept |
///
/// Each call returns once the proxy behaves that way.
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    target: SocketAddr,
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    accepted: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

struct State {
    mode: ProxyMode,
    /// Bumped by every mode change. A forwarded connection registers only if the epoch has not
    /// moved since it was accepted, so none slips past a `cut`.
    epoch: u64,
    /// The epoch the accept loop has put in force (closed or re-bound the port).
    applied: u64,
    /// Set by the accept loop when it could not bind the port again.
    rebind_error: Option<String>,
    next_id: u64,
    /// Open connections: the sockets to shut down on a cut.
    open: HashMap<u64, Vec<TcpStream>>,
}

impl State {
    fn shut_down_all(&mut self) {
        for (_, streams) in self.open.drain() {
            for stream in streams {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking copy thread must not take the proxy down with it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TcpProxy {
    /// Starts forwarding to `target` on a free loopback port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy: local address");
        let shared = Arc::new(Shared {
            target,
            state: Mutex::new(State {
                mode: ProxyMode::Forward,
                epoch: 0,
                applied: 0,
                rebind_error: None,
                next_id: 0,
                open: HashMap::new(),
            }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("tcp-proxy-{}", addr.port()))
                .spawn(move || accept_loop(listener, addr, &shared))
                .expect("proxy: spawn the accept thread")
        };
        TcpProxy { addr, shared, accept: Some(accept) }
    }

    /// Starts a proxy in front of a server listening on `127.0.0.1:port`.
    pub fn to_port(port: u16) -> TcpProxy {
        TcpProxy::start(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` of the proxy, for a client's endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    pub fn mode(&self) -> ProxyMode {
        self.shared.lock().mode
    }

    /// An outage: refuses new connections (the port is closed) and cuts every open one.
    pub fn cut(&self) {
        self.set_mode(ProxyMode::Refuse);
    }

    /// A hang: cuts every open connection; new ones are accepted but get no answer.
    pub fn stall(&self) {
        self.set_mode(ProxyMode::Stall);
    }

    /// Forwards again, on the same port.
    ///
    /// # Panics
    /// If the port cannot be bound again within a few seconds (another process took it).
    pub fn restore(&self) {
        self.set_mode(ProxyMode::Forward);
    }

    /// Connections accepted so far (forwarded or stalled).
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes taken in for forwarding so far: (client → target, target → client).
    pub fn bytes_forwarded(&self) -> (u64, u64) {
        (self.shared.bytes_up.load(Ordering::SeqCst), self.shared.bytes_down.load(Ordering::SeqCst))
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().open.len()
    }

    fn set_mode(&self, mode: ProxyMode) {
        let mut state = self.shared.lock();
        let leaving = state.mode;
        state.mode = mode;
        state.epoch += 1;
        let epoch = state.epoch;
        // Leaving Stall ends the stalled connections too: they would otherwise hang forever.
        if mode != ProxyMode::Forward || leaving == ProxyMode::Stall {
            state.shut_down_all();
        }
        self.shared.changed.notify_all();
        // Wait until the accept loop has closed or re-bound the port.
        let deadline = Instant::now() + REBIND_DEADLINE + Duration::from_secs(2);
        while state.applied < epoch {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "proxy {}: mode {mode:?} was not in force in time", self.addr);
            state = self.shared.changed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        if let Some(error) = state.rebind_error.take() {
            panic!("proxy {}: {error}", self.addr);
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let mut state = self.shared.lock();
            state.shut_down_all();
            self.shared.changed.notify_all();
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("addr", &self.addr)
            .field("target", &self.shared.target)
            .field("mode", &self.mode())
            .finish()
    }
}

fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: &Arc<Shared>) {
    let mut listener = Some(listener);
    if let Some(l) = &listener {
        l.set_nonblocking(true).expect("proxy: non-blocking listener");
    }
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let (mode, epoch) = {
            let state = shared.lock();
            (state.mode, state.epoch)
        };
        match mode {
            ProxyMode::Refuse => {
                // Closing the socket makes the kernel refuse connections; queued ones are reset.
                listener = None;
                let mut state = shared.lock();
                mark_applied(shared, &mut state, epoch);
                if state.epoch == epoch && !shared.stopping.load(Ordering::SeqCst) {
                    let _ = shared.changed.wait_timeout(state, POLL * 20);
                }
                continue;
            }
            ProxyMode::Forward | ProxyMode::Stall => {
                if listener.is_none() {
                    match rebind(addr) {
                        Ok(l) => listener = Some(l),
                        Err(error) => {
                            let mut state = shared.lock();
                            state.rebind_error = Some(error);
                            // Back to refusing: the port is not ours any more.
                            state.mode = ProxyMode::Refuse;
                            mark_applied(shared, &mut state, epoch);
                            continue;
                        }
                    }
                }
                mark_applied(shared, &mut shared.lock(), epoch);
            }
        }
        let l = listener.as_ref().expect("bound above");
        match l.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nonblocking(false);
                let _ = client.set_nodelay(true);
                match mode {
                    ProxyMode::Stall => {
                        let mut state = shared.lock();
                        if state.epoch == epoch {
                            let id = state.next_id;
                            state.next_id += 1;
                            state.open.insert(id, vec![client]);
                        }
                    }
                    _ => {
                        let shared = Arc::clone(shared);
                        let _ = thread::Builder::new()
                            .name("tcp-proxy-conn".into())
                            .spawn(move || forward(client, epoch, &shared));
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn mark_applied(shared: &Shared, state: &mut State, epoch: u64) {
    if state.applied < epoch {
        state.applied = epoch;
        shared.changed.notify_all();
    }
}

fn rebind(addr: SocketAddr) -> Result<TcpListener, String> {
    let deadline = Instant::now() + REBIND_DEADLINE;
    loop {
        match TcpListener::bind(addr) {
            Ok(listener) => {
                listener.set_nonblocking(true).map_err(|e| format!("non-blocking listener: {e}"))?;
                return Ok(listener);
            }
            Err(e) if Instant::now() >= deadline => return Err(format!("cannot bind {addr} again: {e}")),
            Err(_) => thread::sleep(POLL * 4),
        }
    }
}

/// Connects to the target and copies bytes both ways until either side ends, or a mode change
/// shuts the sockets down.
fn forward(client: TcpStream, epoch: u64, shared: &Arc<Shared>) {
    let upstream = match TcpStream::connect_timeout(&shared.target, CONNECT_TIMEOUT) {
        Ok(upstream) => upstream,
        Err(_) => {
            // The target is down: the client sees its connection closed.
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let clones = (client.try_clone(), upstream.try_clone(), client.try_clone(), upstream.try_clone());
    let (Ok(client_r), Ok(upstream_w), Ok(client_reg), Ok(upstream_reg)) = clones else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
        return;
    };
    let id = {
        let mut state = shared.lock();
        if state.epoch != epoch || state.mode != ProxyMode::Forward {
            // The mode changed while we connected: this connection belongs to the past.
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            return;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, vec![client_reg, upstream_reg]);
        id
    };
    let up = {
        let shared = Arc::clone(shared);
        thread::Builder::new().name("tcp-proxy-up".into()).spawn(move || copy(client_r, upstream_w, &shared.bytes_up))
    };
    copy(upstream, client, &shared.bytes_down);
    if let Ok(up) = up {
        let _ = up.join();
    }
    shared.lock().open.remove(&id);
}

/// Copies until EOF or an error, then shuts both sockets down so the other direction ends too.
fn copy(mut from: TcpStream, mut to: TcpStream, counter: &AtomicU64) {
    let mut buf = vec![0u8; 64 * 1024];
    let result: io::Result<()> = (|| {
        loop {
            let n = from.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            // Counted before the write, so a peer that has received the bytes sees them counted.
            counter.fetch_add(n as u64, Ordering::SeqCst);
            to.write_all(&buf[..n])?;
        }
    })();
    let _ = result;
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free loopback port, serving each connection on its own thread.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut reader = stream.try_clone().unwrap();
                    let mut writer = stream;
                    let _ = io::copy(&mut reader, &mut writer);
                });
            }
        });
        addr
    }

    fn connect(proxy: &TcpProxy) -> io::Result<TcpStream> {
        let stream = TcpStream::connect_timeout(&proxy.addr(), Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        Ok(stream)
    }

    fn round_trip(stream: &mut TcpStream, text: &[u8]) -> io::Result<Vec<u8>> {
        stream.write_all(text)?;
        let mut got = vec![0u8; text.len()];
        stream.read_exact(&mut got)?;
        Ok(got)
    }

    #[test]
    fn forwards_cuts_stalls_and_restores_on_the_same_port() {
        let proxy = TcpProxy::start(echo_server());
        let mut open = connect(&proxy).unwrap();
        assert_eq!(round_trip(&mut open, b"hello").unwrap(), b"hello");
        assert_eq!(proxy.open_connections(), 1);

        // Cut: the open connection ends, a new one is refused.
        proxy.cut();
        assert_eq!(proxy.mode(), ProxyMode::Refuse);
        assert!(round_trip(&mut open, b"again").is_err(), "the open connection was cut");
        let refused = TcpStream::connect_timeout(&proxy.addr(), Duration::from_secs(2)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");

        // Restore: the same port forwards again.
        proxy.restore();
        let mut again = connect(&proxy).unwrap();
        assert_eq!(round_trip(&mut again, b"back").unwrap(), b"back");

        // Stall: the connection is accepted, nothing comes back; restore ends the stalled one.
        proxy.stall();
        assert!(round_trip(&mut again, b"x").is_err(), "stall cuts what was open");
        let mut stalled = connect(&proxy).unwrap();
        stalled.write_all(b"anyone?").unwrap();
        let mut buf = [0u8; 1];
        let hung = stalled.read(&mut buf).unwrap_err();
        assert!(matches!(hung.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{hung}");
        proxy.restore();
        assert!(matches!(stalled.read(&mut buf), Ok(0) | Err(_)), "the stalled connection ends on restore");
        let mut fresh = connect(&proxy).unwrap();
        assert_eq!(round_trip(&mut fresh, b"ok").unwrap(), b"ok");
        let (up, down) = proxy.bytes_forwarded();
        assert!(up >= 11 && down >= 11, "{up} {down}");
    }

    #[test]
    fn a_dead_target_closes_the_client_and_drop_frees_the_port() {
        let target = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let proxy = TcpProxy::start(target);
        let mut stream = connect(&proxy).unwrap();
        let mut buf = [0u8; 1];
        assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)), "no target: the client sees its connection end");
        let addr = proxy.addr();
        drop(proxy);
        let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
    }
}
