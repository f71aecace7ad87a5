//! A minimal blocking HTTP/1.1 client over std TCP, for readiness checks and for tests that talk
//! to a loopback server without an HTTP client crate.
//!
//! One request per connection (`Connection: close`), plain `http://` only, and the answer is read
//! whole: by `Content-Length`, by chunks, or until the server closes.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect, read and write timeout of [`request`] and [`get`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names as the server sent them, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8), for assertions and messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET url`.
pub fn get(url: &str) -> io::Result<Response> {
    request("GET", url, &[], &[])
}

/// Sends one request and reads the whole answer. `Host`, `Content-Length` and
/// `Connection: close` are added; `headers` come after them.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<Response> {
    request_with_timeout(method, url, headers, body, DEFAULT_TIMEOUT)
}

/// [`request`] with its own connect, read and write timeout.
pub fn request_with_timeout(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let (authority, target) = split_url(url)?;
    let stream = connect(authority, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\n");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = &stream;
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()?;

    read_response(BufReader::new(&stream), method == "HEAD")
}

/// `Authorization` header value for HTTP basic auth.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn split_url(url: &str) -> io::Result<(&str, &str)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| invalid(format!("only http:// URLs are supported: {url}")))?;
    Ok(match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], &rest[i..]),
        // "host:port?query" has the empty path "/" before its query; keep it simple and refuse.
        Some(_) => return Err(invalid(format!("URL without a path before its query: {url}"))),
        None => (rest, "/"),
    })
}

fn connect(authority: &str, timeout: Duration) -> io::Result<TcpStream> {
    let with_port = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    let mut last = invalid(format!("no address for {authority}"));
    for addr in with_port.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn read_response(mut reader: impl BufRead, head_only: bool) -> io::Result<Response> {
    let status_line = read_line(&mut reader)?;
    // "HTTP/1.1 200 OK"
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| invalid(format!("not an HTTP status line: {status_line:?}")))?;

    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid(format!("bad header line: {line:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut response = Response { status, headers, body: Vec::new() };

    // RFC 9112 §6.3: HEAD, 1xx, 204 and 304 answers have no body.
    if head_only || status < 200 || status == 204 || status == 304 {
        return Ok(response);
    }
    let chunked = response.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        response.body = read_chunked(&mut reader)?;
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().map_err(|_| invalid(format!("bad Content-Length: {len}")))?;
        response.body = vec![0; len];
        reader.read_exact(&mut response.body)?;
    } else {
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size line: {line:?}")))?;
        if size == 0 {
            // Trailers, then the empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

/// One line without its CRLF; an error at end of stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before the end of the HTTP head"));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        // RFC 4648 §10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "input {input:?}");
        }
    }

    #[test]
    fn splits_urls() {
        assert_eq!(split_url("http://127.0.0.1:5/").unwrap(), ("127.0.0.1:5", "/"));
        assert_eq!(split_url("http://h:1").unwrap(), ("h:1", "/"));
        assert_eq!(split_url("http://h:1/v2/a/b?x=1&y=2").unwrap(), ("h:1", "/v2/a/b?x=1&y=2"));
        assert!(split_url("https://h/").is_err());
    }

    #[test]
    fn reads_chunked_and_sized_bodies() {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let r = read_response(chunked.as_bytes(), false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));

        let sized = "HTTP/1.1 201 Created\r\ncontent-length: 2\r\nLocation: /x\r\n\r\nokEXTRA";
        let r = read_response(sized.as_bytes(), false).unwrap();
        assert_eq!((r.status, r.text().as_str()), (201, "ok"));
        assert_eq!(r.header("LOCATION"), Some("/x"));

        let head = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        assert!(read_response(head.as_bytes(), true).unwrap().body.is_empty());

        assert!(read_response(&b"SSH-2.0-x\r\n\r\n"[..], false).is_err());
    }
}
