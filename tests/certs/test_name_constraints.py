"""Which real clients honour the CA's name constraints, measured on loopback: a leaf for a name the CA does not
permit must be refused, a permitted one accepted, by OpenSSL (`openssl verify`, `openssl s_client`), curl,
Python's ssl, Node and Go. The same leaves signed by an unconstrained CA are accepted by every client: the
refusal is the constraint's. docs/team.md has the table (and rustls: the Codex CLI e2e runs on this CA)."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from headroom.certs.ca import ca_files, create_ca, load_ca, permitted_domains, unpermitted

PERMITTED = "api.openai.com"
FORBIDDEN = "login.bank.example"
TIMEOUT = 60  # seconds, for every client process (Go's first build of crypto/tls is the slowest)

GO_CLIENT = """package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

func main() {
	pem, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", os.Args[2], &tls.Config{RootCAs: pool, ServerName: os.Args[3]})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	conn.Close()
	fmt.Println("ok")
}
"""

NODE_CLIENT = """
const tls = require('tls'), fs = require('fs');
const [ca, port, name] = process.argv.slice(1);
const s = tls.connect({host: '127.0.0.1', port: +port, servername: name, ca: fs.readFileSync(ca)}, () => {
  console.log('ok'); s.end(); process.exit(0);
});
s.on('error', e => { console.log(e.code || e.message); process.exit(1); });
"""


class Server:
    """A TLS server on 127.0.0.1 presenting one leaf, answering each connection with a tiny HTTP 200."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _ in range(100):  # bounded: a test makes a handful of connections
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            if self._stop:
                raw.close()
                return
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as s:
                    s.settimeout(5)
                    try:
                        s.recv(4096)
                        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    except OSError:
                        pass
            except (OSError, ssl.SSLError):  # the client refused our certificate: what some tests want
                raw.close()

    def close(self) -> None:
        self._stop = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


@pytest.fixture(scope="module", params=["constrained", "unconstrained"])
def pki(request, tmp_path_factory):
    """(CA cert path, {name: server}, constrained?) for a CA limited to api.openai.com, or not limited."""
    root = tmp_path_factory.mktemp(f"ca-{request.param}")
    constrained = request.param == "constrained"
    files = create_ca(ca_files(root), [PERMITTED] if constrained else None)
    cert, key = load_ca(files)
    servers = {}
    for name in (PERMITTED, FORBIDDEN):
        leaf_key = root / f"{name}.key"
        leaf_pem = root / f"{name}.pem"
        leaf, k = _leaf_with_key(cert, key, name)  # as _mint_leaf (mitmproxy's way), keeping the key
        leaf_key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
        leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        servers[name] = Server(leaf_pem, leaf_key)
    yield files.cert, servers, constrained, root
    for s in servers.values():
        s.close()


def _leaf_with_key(ca_cert, ca_key, hostname):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return leaf, key


def expected(name: str, constrained: bool) -> bool:
    return name == PERMITTED or not constrained


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kw)


@pytest.mark.parametrize("name", [PERMITTED, FORBIDDEN])
def test_openssl_verify(pki, name):
    ca, _, constrained, root = pki
    r = run(["openssl", "verify", "-CAfile", str(ca), str(root / f"{name}.pem")])
    assert (r.returncode == 0) == expected(name, constrained), r.stdout + r.stderr
    if not expected(name, constrained):
        assert "permitted subtree violation" in r.stdout + r.stderr


@pytest.mark.parametrize("name", [PERMITTED, FORBIDDEN])
def test_openssl_s_client(pki, name):
    ca, servers, constrained, _ = pki
    r = run(["openssl", "s_client", "-connect", f"127.0.0.1:{servers[name].port}", "-servername", name,
             "-verify_hostname", name, "-CAfile", str(ca), "-verify_return_error", "-brief"], input="")
    assert (r.returncode == 0) == expected(name, constrained), r.stdout + r.stderr


@pytest.mark.parametrize("name", [PERMITTED, FORBIDDEN])
def test_curl(pki, name):
    ca, servers, constrained, _ = pki
    port = servers[name].port
    r = run(["curl", "-sS", "--cacert", str(ca), "--resolve", f"{name}:{port}:127.0.0.1", f"https://{name}:{port}/"])
    assert (r.returncode == 0) == expected(name, constrained), r.stderr
    assert (r.stdout == "ok") == expected(name, constrained)
    if not expected(name, constrained):
        assert r.returncode == 60, r.stderr  # CURLE_PEER_FAILED_VERIFICATION


@pytest.mark.parametrize("name", [PERMITTED, FORBIDDEN])
def test_python_ssl(pki, name):
    ca, servers, constrained, _ = pki
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with socket.create_connection(("127.0.0.1", servers[name].port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname=name):
            accepted = True
    except ssl.SSLCertVerificationError as e:
        accepted = False
        assert "permitted subtree violation" in str(e)
    assert accepted == expected(name, constrained)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", [PERMITTED, FORBIDDEN])
def test_node(pki, name):
    ca, servers, constrained, _ = pki
    r = run(["node", "-e", NODE_CLIENT, str(ca), str(servers[name].port), name])
    assert (r.stdout.strip() == "ok") == expected(name, constrained), r.stdout + r.stderr


@pytest.fixture(scope="module")
def go_client(tmp_path_factory) -> Path:
    if shutil.which("go") is None:
        pytest.skip("go is not installed (Debian golang-go; .ci/run installs it)")
    d = tmp_path_factory.mktemp("go-client")
    (d / "main.go").write_text(GO_CLIENT)
    (d / "go.mod").write_text("module client\n\ngo 1.19\n")
    env = {"HOME": str(d), "GOCACHE": str(d / "cache"), "GOPATH": str(d / "gopath"), "GOFLAGS": "-mod=mod",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    r = subprocess.run(["go", "build", "-o", str(d / "client"), "."], cwd=d, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return d / "client"


@pytest.mark.parametrize("name", [PERMITTED, FORBIDDEN])
def test_go(pki, go_client, name):
    ca, servers, constrained, _ = pki
    r = run([str(go_client), str(ca), f"127.0.0.1:{servers[name].port}", name])
    assert (r.stdout.strip() == "ok") == expected(name, constrained), r.stdout + r.stderr
    if not expected(name, constrained):
        assert "not permitted" in r.stdout or "not authorized to sign" in r.stdout, r.stdout


def test_the_constrained_ca_says_what_it_permits_and_what_not(pki):
    ca, _, constrained, root = pki
    cert, _ = load_ca(ca_files(root))
    assert permitted_domains(cert) == ([PERMITTED] if constrained else None)
    assert unpermitted(cert, [PERMITTED, "llm.corp.example"]) == (["llm.corp.example"] if constrained else [])
