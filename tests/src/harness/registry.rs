//! [`Registry`]: Debian's `docker-registry` 2.8 (OCI distribution) as a plain process with its
//! own config, storage in a temp dir (../shared/infra.md §2).

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::{Readiness, ServerProcess, ServerSpec, docker_registry_path, python_path};

/// A registry on a free loopback port, optionally behind htpasswd basic auth or a token
/// service (the bearer-token flow). Killed on drop.
#[derive(Debug)]
pub struct Registry {
    process: ServerProcess,
    port: u16,
    credentials: Option<(String, String)>,
    /// With token auth: the token service (a Python `http.server`) and its port.
    token_server: Option<(ServerProcess, u16)>,
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

    /// Starts a registry that wants bearer tokens (`auth: token`), and beside it a token service
    /// that hands a token for this user and password (HTTP basic) with the requested scope: the
    /// Docker token flow of ../shared/infra.md §2. The token is an RS256 JWT signed by a key
    /// made at start, its certificate in the `x5c` header. Waits until both answer 401.
    ///
    /// # Panics
    /// As [`Registry::start`], or if python3 (with `cryptography`) cannot make the key.
    pub fn start_with_token_auth(user: &str, password: &str) -> Registry {
        assert!(!user.contains(':'), "a user name cannot contain ':'");
        let dir = tempfile::Builder::new().prefix("albedo-registry-").tempdir().expect("create the registry dir");
        let script = dir.path().join("token_server.py");
        std::fs::write(&script, TOKEN_SERVER).expect("write the token server");
        let python = python_path();
        let made = Command::new(&python).arg(&script).arg("gen").arg(dir.path()).output().expect("run python3");
        assert!(
            made.status.success(),
            "making the token signing key failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let cred = format!("{user}:{password}");
        let (token_server, token_port) = ServerProcess::start_on_free_port(|port| {
            ServerSpec::new(
                "token-server",
                &python,
                Readiness::HttpStatus(format!("http://127.0.0.1:{port}/token"), 401),
            )
            .arg(&script)
            .arg("serve")
            .arg(dir.path())
            .arg(port.to_string())
            .arg(&cred)
        });
        let auth = format!(
            "auth:
  token:
    realm: http://127.0.0.1:{token_port}/token
    service: {TOKEN_SERVICE}
    issuer: {TOKEN_ISSUER}
    rootcertbundle: {}
",
            dir.path().join("tok.crt").display()
        );
        let mut registry = Registry::launch_in(dir, Some((user.to_owned(), password.to_owned())), Some(auth));
        registry.token_server = Some((token_server, token_port));
        registry
    }

    /// A bearer token from the token service for `scope` (`repository:NAME:pull,push`), as a
    /// miner would get one to put in `HIPPIUS_HUB_TOKEN`.
    ///
    /// # Panics
    /// Without token auth, or if the service refuses.
    pub fn issue_token(&self, scope: &str) -> String {
        let (_, port) = self.token_server.as_ref().expect("started with token auth");
        let (user, password) = self.credentials().expect("credentials");
        let url = format!("http://127.0.0.1:{port}/token?service={TOKEN_SERVICE}&scope={scope}");
        let answer =
            super::http::request("GET", &url, &[("Authorization", &super::http::basic_auth(user, password))], &[])
                .expect("ask the token service");
        assert_eq!(answer.status, 200, "token service: {}", answer.text());
        let body = answer.text();
        let start = body.find("\"token\": \"").expect("a token in the answer") + 10;
        body[start..].split('"').next().expect("token text").to_owned()
    }

    fn launch(credentials: Option<(String, String)>) -> Registry {
        let dir = tempfile::Builder::new().prefix("albedo-registry-").tempdir().expect("create the registry dir");
        let htpasswd = credentials.as_ref().map(|(user, password)| {
            let path = dir.path().join("htpasswd");
            let line = format!("{user}:{}\n", bcrypt_hash(password));
            std::fs::write(&path, line).expect("write the htpasswd file");
            format!(
                "auth:
  htpasswd:
    realm: albedo-test
    path: {}
",
                path.display()
            )
        });
        Registry::launch_in(dir, credentials, htpasswd)
    }

    fn launch_in(dir: TempDir, credentials: Option<(String, String)>, auth: Option<String>) -> Registry {
        let program = docker_registry_path();
        let storage = dir.path().join("data");
        let config = dir.path().join("registry.yml");
        let (process, port) = ServerProcess::start_on_free_port(|port| {
            let yaml = config_yaml(port, &storage, auth.as_deref());
            std::fs::write(&config, yaml).expect("write the registry config");
            let url = format!("http://127.0.0.1:{port}/v2/");
            let status = if auth.is_some() { 401 } else { 200 };
            ServerSpec::new("docker-registry", &program, Readiness::HttpStatus(url, status)).arg("serve").arg(&config)
        });
        Registry { process, port, credentials, token_server: None, dir }
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

fn config_yaml(port: u16, storage: &Path, auth: Option<&str>) -> String {
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
    if let Some(auth) = auth {
        yaml.push_str(auth);
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

const TOKEN_SERVICE: &str = "albedo-test-registry";
const TOKEN_ISSUER: &str = "albedo-test-issuer";

/// The token service: `gen DIR` makes an RSA key and a self-signed certificate; `serve DIR PORT
/// USER:PASS` answers `GET /token?service=…&scope=…` with an RS256 JWT for that scope when the
/// basic credentials match, else 401. JWT signing by hand with `cryptography` (no PyJWT).
const TOKEN_SERVER: &str = r#"
import base64, datetime, http.server, json, sys, time, uuid, urllib.parse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ISSUER, SERVICE = "albedo-test-issuer", "albedo-test-registry"

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

if sys.argv[1] == "gen":
    d = sys.argv[2]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "albedo-test-token-issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    open(d + "/tok.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    open(d + "/tok.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    sys.exit(0)

d, port, cred = sys.argv[2], int(sys.argv[3]), sys.argv[4]
key = serialization.load_pem_private_key(open(d + "/tok.key", "rb").read(), None)
der = x509.load_pem_x509_certificate(open(d + "/tok.crt", "rb").read()).public_bytes(serialization.Encoding.DER)
header = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}).encode())

def jwt(claims):
    signing = header + "." + b64u(json.dumps(claims).encode())
    return signing + "." + b64u(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/token":
            self.send_response(404); self.end_headers(); return
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic ") or base64.b64decode(auth[6:]).decode() != cred:
            body = b'{"details": "bad credentials"}'
            self.send_response(401); self.send_header("WWW-Authenticate", 'Basic realm="token"')
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body); return
        q = urllib.parse.parse_qs(u.query)
        access = []
        for s in q.get("scope", []):
            typ, rest = s.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            access.append({"type": typ, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": cred.split(":")[0], "aud": q.get("service", [SERVICE])[0], "iat": now,
                  "nbf": now - 10, "exp": now + 300, "jti": uuid.uuid4().hex, "access": access}
        tok = jwt(claims)
        body = json.dumps({"token": tok, "access_token": tok, "expires_in": 300}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;
