"""artsearch.fetch against a real HTTP(S) server on 127.0.0.1: what is fetched, and everything refused.

No mocks: a ``ThreadingHTTPServer`` serves real images, pages, errors,
redirects and slow responses; HTTPS uses a throwaway CA and certificate built
with ``cryptography`` and trusted through ``SSL_CERT_FILE``. Timeouts are kept
to fractions of a second so the module runs quickly.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from PIL import Image

from artsearch.errors import ArtsearchError, FetchError, UnsafeURL
from artsearch.fetch import fetch_image_bytes, redact_url, vet_url
from artsearch.images import load_image
from tests.support.servers import free_port


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()
BIG = 200_000  # bytes in the oversized responses; tests set max_bytes below it
FAST = {"connect_timeout": 1.0, "read_timeout": 2.0}


@dataclass
class Served:
    """What the test server saw, and the event that releases its slow handlers."""

    requests: list[tuple[str, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # no keep-alive; a body without Content-Length ends at close
    served: Served  # set per server class

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, content_type: str | None, body: bytes = b"", length: bool = True, **headers: str):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.served.requests.append((self.path, self.headers.get("Host")))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        try:
            ROUTES.get(parts.path, _not_found)(self, query)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up on purpose (size limit, timeout)


def _not_found(h: Handler, q: dict[str, list[str]]) -> None:
    h._send(404, "text/html", b"<h1>Not Found</h1>")


def _chunks_until_stopped(h: Handler, chunk: bytes, pause: float, limit: int) -> None:
    for _ in range(limit):
        h.wfile.write(chunk)
        h.wfile.flush()
        if pause and h.served.stop.wait(pause):
            return


ROUTES: dict[str, Callable[[Handler, dict[str, list[str]]], None]] = {
    "/img.png": lambda h, q: h._send(200, "image/png", PNG),
    "/img-no-length.png": lambda h, q: h._send(200, "image/png; charset=binary", PNG, length=False),
    "/no-type": lambda h, q: h._send(200, None, PNG),
    "/page.html": lambda h, q: h._send(200, "text/html; charset=utf-8", b"<html><body><img src=x.png></body></html>"),
    "/data.json": lambda h, q: h._send(200, "application/json", b"{}"),
    "/drawing.svg": lambda h, q: h._send(200, "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    "/empty.png": lambda h, q: h._send(200, "image/png", b""),
    "/server-error": lambda h, q: h._send(500, "text/plain", b"boom"),
    "/forbidden": lambda h, q: h._send(403, "text/plain", b"no"),
    "/big-declared.png": lambda h, q: h._send(200, "image/png", b"\0" * BIG),
    "/big-streamed.png": lambda h, q: (
        h._send(200, "image/png", length=False),
        _chunks_until_stopped(h, b"\0" * 10_000, 0, BIG // 10_000),
    ),
    "/slow-headers": lambda h, q: (h.served.stop.wait(5), h._send(200, "image/png", PNG)),
    "/stall-body": lambda h, q: (
        h._send(200, "image/png", length=False),
        _chunks_until_stopped(h, PNG[:10], 5, 1),
    ),
    "/drip": lambda h, q: (h._send(200, "image/png", length=False), _chunks_until_stopped(h, b"\0", 0.05, 200)),
    "/redirect": lambda h, q: h._send(302, "text/html", b"moved", Location=q["to"][0]),
    "/relative-redirect": lambda h, q: h._send(301, None, Location="img.png"),
    "/no-location": lambda h, q: h._send(302, None),
    "/loop": lambda h, q: h._send(302, None, Location="/loop"),
    "/chain": lambda h, q: h._send(
        307, None, Location=f"/chain?n={int(q['n'][0]) - 1}" if int(q["n"][0]) > 0 else "/img.png"
    ),
}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # disconnects by the client under test are expected


def _start(served: Served, tls: ssl.SSLContext | None = None) -> tuple[QuietServer, threading.Thread]:
    handler = type("BoundHandler", (Handler,), {"served": served})
    server = QuietServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def served() -> Served:
    return Served()


@pytest.fixture(scope="module")
def base(served: Served) -> Iterator[str]:
    """http://127.0.0.1:PORT of a server running for this module."""
    server, thread = _start(served)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    served.stop.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    return free_port()


def fetch(url: str, **kwargs: object) -> bytes:
    return fetch_image_bytes(url, **{"allow_private": True, **FAST, **kwargs})  # type: ignore[arg-type]


def assert_one_line(exc: ArtsearchError) -> str:
    message = str(exc)
    assert message and "\n" not in message
    return message


# ---------------------------------------------------------------- fetched


def test_fetches_an_image(base: str) -> None:
    data = fetch(f"{base}/img.png")
    assert data == PNG
    assert load_image(data).size == (32, 24)


def test_fetches_a_body_without_content_length(base: str) -> None:
    assert fetch(f"{base}/img-no-length.png") == PNG


def test_connects_to_the_vetted_address_with_the_original_host_header(base: str, served: Served) -> None:
    port = base.rsplit(":", 1)[1]
    assert fetch(f"http://localhost:{port}/img.png?size=large") == PNG
    assert served.requests[-1] == ("/img.png?size=large", f"localhost:{port}")


def test_fetches_over_ipv6_loopback() -> None:
    class Server6(QuietServer):
        address_family = socket.AF_INET6

    served = Served()
    try:
        server = Server6(("::1", 0), type("BoundHandler", (Handler,), {"served": served}))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        assert fetch(f"http://[::1]:{port}/img.png") == PNG
        assert served.requests == [("/img.png", f"[::1]:{port}")]
    finally:
        server.shutdown()
        server.server_close()


def test_path_is_percent_encoded(base: str, served: Served) -> None:
    with pytest.raises(FetchError, match="no image was found"):
        fetch(f"{base}/a painting/é.png")
    assert served.requests[-1][0] == "/a%20painting/%C3%A9.png"


def test_follows_redirects_up_to_the_limit(base: str) -> None:
    assert fetch(f"{base}/relative-redirect") == PNG
    assert fetch(f"{base}/chain?n=2", max_redirects=3) == PNG  # 3 redirects
    with pytest.raises(FetchError, match=r"redirected more than 3 times; open it in a browser") as info:
        fetch(f"{base}/chain?n=3", max_redirects=3)  # 4 redirects
    assert_one_line(info.value)
    with pytest.raises(FetchError, match="redirected more than 3 times"):
        fetch(f"{base}/loop")
    with pytest.raises(FetchError, match="redirected more than 0 times"):
        fetch(f"{base}/relative-redirect", max_redirects=0)


def test_redirect_without_location(base: str) -> None:
    with pytest.raises(FetchError, match="redirects without saying where"):
        fetch(f"{base}/no-location")


# ---------------------------------------------------------------- refused before connecting


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/image.png",
        "file:///etc/passwd",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "gopher://127.0.0.1:70/",
        "//example.com/image.png",
        "example.com/image.png",
    ],
)
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(UnsafeURL, match=r"only http:// and https:// image addresses can be fetched") as info:
        fetch_image_bytes(url, allow_private=True)
    assert_one_line(info.value)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "127.1",  # inet_aton shorthand
        "2130706433",  # 127.0.0.1 as one number
        "0x7f000001",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "0.0.0.0",
        "[::]",
    ],
)
def test_loopback_refused_by_default(base: str, served: Served, host: str) -> None:
    port = base.rsplit(":", 1)[1]
    before = len(served.requests)
    with pytest.raises(UnsafeURL, match=r"points to an? (loopback|unspecified) address.*does not fetch from") as info:
        fetch_image_bytes(f"http://{host}:{port}/img.png", **FAST)
    assert_one_line(info.value)
    assert len(served.requests) == before  # refused before any connection


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("[fd00::1]", "private"),
        ("[fec0::1]", "private"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 form of 169.254.169.254
        ("[2002:a9fe:a9fe::1]", "link-local"),  # 6to4 form
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "public internet"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_private_and_special_addresses_refused(host: str, kind: str) -> None:
    with pytest.raises(UnsafeURL, match=kind):
        fetch_image_bytes(f"http://{host}/latest/meta-data/", connect_timeout=0.2, read_timeout=0.2)
    with pytest.raises(UnsafeURL, match=kind):
        vet_url(f"https://{host}:8443/x.png")


@pytest.mark.parametrize("host", ["169.254.169.254", "[fe80::1]", "224.0.0.1", "0.0.0.0", "[::ffff:169.254.169.254]"])
def test_link_local_multicast_unspecified_refused_even_with_allow_private(host: str) -> None:
    with pytest.raises(UnsafeURL, match="link-local|multicast|unspecified"):
        fetch_image_bytes(f"http://{host}/", allow_private=True, connect_timeout=0.2, read_timeout=0.2)


def test_allow_private_admits_loopback_and_private_ranges() -> None:
    for url in ("http://10.0.0.1/a.png", "http://192.168.1.1/a.png", "http://[::1]:81/a.png", "https://[fd12::1]/"):
        vetted = vet_url(url, allow_private=True)
        assert vetted.addresses == (ipaddress.ip_address(urlsplit(url).hostname),)
    assert vet_url("http://[::1]:81/a.png", allow_private=True).host_header == "[::1]:81"


def test_public_address_passes_the_check_without_connecting() -> None:
    vetted = vet_url("https://93.184.215.14/images/a%20b.jpg?w=1#frag")
    assert vetted.host_header == "93.184.215.14"
    assert vetted.target == "/images/a%20b.jpg?w=1"
    assert vetted.port == 443


def test_every_resolved_address_must_pass() -> None:
    # "localhost" resolves to loopback only here; with ::1 listed too, both must pass.
    with pytest.raises(UnsafeURL, match="loopback"):
        vet_url("http://localhost/")
    vetted = vet_url("http://localhost/", allow_private=True)
    assert all(ip.is_loopback for ip in vetted.addresses)


def test_redirect_to_metadata_address_is_refused(base: str, served: Served) -> None:
    with pytest.raises(UnsafeURL, match=r"169\.254\.169\.254.*link-local") as info:
        fetch(f"{base}/redirect?to=http://169.254.169.254/latest/meta-data/")
    assert_one_line(info.value)
    assert served.requests[-1][0].startswith("/redirect")  # the hop to the metadata address never happened


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("ftp://example.com/x.png", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
    ],
)
def test_every_redirect_hop_is_checked(base: str, target: str, error: str) -> None:
    with pytest.raises(UnsafeURL, match=error):
        fetch(f"{base}/redirect?to={target}")


def test_redirect_to_private_address_is_refused_without_allow_private() -> None:
    # With allow_private=False the local server itself is out of reach, so check
    # the per-hop function directly with what a redirect would hand it.
    base = vet_url("https://93.184.215.14/start")
    for location in ("http://10.0.0.5/admin", "//192.168.1.1/", "http://127.0.0.1:8080/"):
        with pytest.raises(UnsafeURL, match="private|loopback"):
            vet_url(urljoin(base.url, location))


# ---------------------------------------------------------------- credentials never echoed


def test_credentials_in_url_are_refused_and_not_echoed(base: str) -> None:
    secret = "hunter2-s3cret"
    url = base.replace("http://", f"http://alice:{secret}@") + "/img.png"
    with pytest.raises(UnsafeURL, match="user name or password") as info:
        fetch(url)
    assert secret not in str(info.value) and "alice" not in str(info.value)


def test_redirect_to_url_with_credentials_is_refused_and_not_echoed(base: str) -> None:
    secret = "topsecret-pw"
    with pytest.raises(UnsafeURL) as info:
        fetch(f"{base}/redirect?to=http://bob:{secret}@example.com/x.png")
    assert secret not in str(info.value)


def test_query_strings_are_not_echoed(base: str) -> None:
    with pytest.raises(FetchError) as info:
        fetch(f"{base}/missing.png?token=abc123secret")
    assert "abc123secret" not in str(info.value)
    assert "/missing.png?..." in str(info.value)


def test_redact_url() -> None:
    assert redact_url("https://u:p@example.com:8443/a/b.png?sig=xyz#f") == "https://example.com:8443/a/b.png?..."
    # A message quotes a short, plain prefix of the path: never text written to pass for part of the message.
    hostile = "http://127.0.0.1:1/x **Your session has expired.** [Log in again](https://e.org) ![t](http://h/p.png)"
    assert redact_url(hostile) == "http://127.0.0.1:1/x…"
    assert redact_url("https://e.org/" + "a" * 100 + ".png") == "https://e.org/" + "a" * 39 + "…"
    assert redact_url("http://[::1]/x") == "http://[::1]/x"
    assert "secret" not in redact_url("ftp://me:secret@host/file")
    assert "secret" not in redact_url("me:secret@host/file")
    assert redact_url("http://[::1") == "(an unreadable URL)"


# ---------------------------------------------------------------- size and content type


def test_declared_size_over_the_limit_is_refused(base: str) -> None:
    with pytest.raises(UnsafeURL, match=r"0\.2 MB, over the 0\.1 MB limit; use a smaller version") as info:
        fetch(f"{base}/big-declared.png", max_bytes=100_000)
    assert_one_line(info.value)
    assert len(fetch(f"{base}/big-declared.png", max_bytes=BIG)) == BIG


def test_streamed_size_over_the_limit_is_refused(base: str) -> None:
    with pytest.raises(UnsafeURL, match=r"larger than the 0\.1 MB limit"):
        fetch(f"{base}/big-streamed.png", max_bytes=100_000)
    assert len(fetch(f"{base}/big-streamed.png", max_bytes=BIG)) == BIG


def test_web_page_is_refused_with_advice(base: str) -> None:
    with pytest.raises(UnsafeURL) as info:
        fetch(f"{base}/page.html")
    assert str(info.value).startswith(
        "that URL returned a web page, not an image; right-click the image and copy the image address"
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/data.json", "returned application/json, not an image"),
        ("/no-type", "data without a content type"),
        ("/drawing.svg", "SVG drawing"),
    ],
)
def test_other_content_types_are_refused(base: str, path: str, message: str) -> None:
    with pytest.raises(UnsafeURL, match=message):
        fetch(base + path)


def test_empty_body(base: str) -> None:
    with pytest.raises(FetchError, match="returned no data"):
        fetch(f"{base}/empty.png")


# ---------------------------------------------------------------- HTTP and network failures


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nothing-here.png", r"no image was found at http://127\.0\.0\.1:\d+/nothing-here\.png \(the server said 404"),
        ("/server-error", r"had a server error \(500 Internal Server Error\).*try again later"),
        ("/forbidden", r"refused to send .*\(the server said 403 Forbidden\).*upload the file instead"),
    ],
)
def test_http_errors(base: str, path: str, message: str) -> None:
    with pytest.raises(FetchError, match=message) as info:
        fetch(base + path)
    assert_one_line(info.value)


def test_server_that_never_answers_times_out(base: str) -> None:
    with pytest.raises(FetchError, match=r"stopped responding \(no data for 0\.3 s\)"):
        fetch(f"{base}/slow-headers", read_timeout=0.3)


def test_body_that_stalls_times_out(base: str) -> None:
    with pytest.raises(FetchError, match="stopped responding"):
        fetch(f"{base}/stall-body", read_timeout=0.3)


def test_dripping_body_is_cut_off(base: str) -> None:
    # A byte every 50 ms never trips the per-read timeout; the whole-exchange deadline does.
    with pytest.raises(FetchError, match=r"too slowly \(not finished after 0\.5 s\)"):
        fetch(f"{base}/drip", total_timeout=0.5)


def test_connection_refused(closed_port: int) -> None:
    with pytest.raises(FetchError, match=r"could not connect to 127\.0\.0\.1:\d+ \(connection refused\)") as info:
        fetch(f"http://127.0.0.1:{closed_port}/img.png")
    assert_one_line(info.value)


def test_unknown_host() -> None:
    with pytest.raises(FetchError, match=r"could not find the server 'no-such-host\.invalid'.*check the address"):
        fetch_image_bytes("https://no-such-host.invalid/a.png", **FAST)


def test_bad_urls() -> None:
    with pytest.raises(UnsafeURL, match="not a valid URL"):
        fetch_image_bytes("http://example.com:99999/x.png")
    with pytest.raises(UnsafeURL, match="no host name"):
        fetch_image_bytes("http:///x.png")
    with pytest.raises(UnsafeURL, match="too long"):
        fetch_image_bytes("https://example.com/" + "a" * 9000)


# ---------------------------------------------------------------- HTTPS


@dataclass
class TLSFiles:
    ca: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throwaway CA and a certificate for the name "localhost" only (no IP address in it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "artsearch test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return TLSFiles(ca_path, context)


@pytest.fixture(scope="module")
def tls_port(tls_files: TLSFiles) -> Iterator[int]:
    served = Served()
    server, thread = _start(served, tls_files.server_context)
    yield server.server_address[1]
    served.stop.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def trust_test_ca(tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca))


def test_https_verifies_the_certificate_against_the_host_name(trust_test_ca: None, tls_port: int) -> None:
    # Connects to the vetted 127.0.0.1 while doing SNI and verification for "localhost".
    assert fetch(f"https://localhost:{tls_port}/img.png") == PNG


def test_https_certificate_for_another_name_is_refused(trust_test_ca: None, tls_port: int) -> None:
    with pytest.raises(FetchError, match=r"secure connection to 127\.0\.0\.1:\d+ failed") as info:
        fetch(f"https://127.0.0.1:{tls_port}/img.png")
    assert_one_line(info.value)


def test_https_untrusted_certificate_is_refused(tls_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # certifi's bundle does not know our test CA
    with pytest.raises(FetchError, match="secure connection to localhost"):
        fetch(f"https://localhost:{tls_port}/img.png")


# ---------------------------------------------------------------- one deadline and one byte cap for the whole exchange

# A server that writes raw bytes (http.server cannot send what these attacks send), counting what it managed to send
# before the client hung up. Each attack would take 15 s or more to finish, or never end; the client's deadline is
# 1 s, so it reads a small fraction of it. Only byte counts are asserted, never a duration.
DRIP_PAUSE = 0.05  # seconds between dripped bytes
DRIP_BYTES = 300  # 15 s of dripping, then the answer would complete
DEADLINE = {"total_timeout": 1.0, "read_timeout": 2.0, "connect_timeout": 1.0}
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


@dataclass
class RawAttack:
    sent: dict[str, int] = field(default_factory=dict)  # bytes sent per path, before the client hung up
    dripped: dict[str, int] = field(default_factory=dict)  # of which dripped one at a time
    stop: threading.Event = field(default_factory=threading.Event)


Send = Callable[[bytes], None]
Drip = Callable[[bytes], None]


def _flood(send: Send, unit: bytes, total: int) -> None:
    for _ in range(total // len(unit)):
        send(unit)


ATTACKS: dict[str, Callable[[Send, Drip], None]] = {
    # one header byte at a time: http.client reads the whole header block inside one call
    "/drip-header": lambda send, drip: (send(HEAD + b"X-Drip: "), drip(b"a"), send(b"\r\n\r\n" + PNG)),
    # a chunk-size line dripped: read inside one read1() call
    "/drip-chunk-size": lambda send, drip: (
        send(CHUNKED),
        drip(b"0"),
        send(b"%x\r\n" % len(PNG) + PNG + b"\r\n0\r\n\r\n"),
    ),
    # trailers dripped after the last chunk
    "/drip-trailers": lambda send, drip: (
        send(CHUNKED + b"%x\r\n" % len(PNG) + PNG + b"\r\n0\r\nX-Trailer: "),
        drip(b"a"),
        send(b"\r\n\r\n"),
    ),
    # endless trailers, as fast as the socket takes them: 64 MB of them, then the answer would be complete
    "/endless-trailers": lambda send, drip: (
        send(CHUNKED + b"%x\r\n" % len(PNG) + PNG + b"\r\n0\r\n"),
        _flood(send, b"X-Trailer: " + b"t" * 1000 + b"\r\n", 64 * 1024 * 1024),
        send(b"\r\n"),
    ),
    # a header block of 5.8 MB (90 headers of 64,000 bytes: under http.client's own limits of 64 KB a line, 100 lines)
    "/huge-headers": lambda send, drip: (
        send(HEAD),
        _flood(send, b"X-Pad: " + b"p" * 64_000 + b"\r\n", 90 * 64_009),
        send(b"Content-Length: %d\r\n\r\n" % len(PNG) + PNG),
    ),
}


@pytest.fixture(scope="module")
def raw_server() -> Iterator[tuple[str, RawAttack]]:
    attack = RawAttack()

    class RawHandler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                data = self.request.recv(4096)
                if not data:
                    return
                request += data
            path = request.split(b" ", 2)[1].decode()
            attack.sent[path] = attack.dripped[path] = 0

            def send(data: bytes) -> None:
                self.request.sendall(data)
                attack.sent[path] += len(data)

            def drip(unit: bytes) -> None:
                for _ in range(DRIP_BYTES):
                    send(unit)
                    attack.dripped[path] += 1
                    if attack.stop.wait(DRIP_PAUSE):
                        return

            try:
                ATTACKS[path](send, drip)
            except OSError:
                pass  # the client hung up: what it was sent so far is counted

    class RawServer(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = RawServer(("127.0.0.1", 0), RawHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", attack
    attack.stop.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _sent_after_hangup(attack: RawAttack, path: str) -> int:
    """What the server had sent when the client hung up (its handler ends on the broken connection)."""
    for _ in range(200):  # the handler notices the closed socket on its next send
        before = attack.sent[path]
        if attack.stop.wait(DRIP_PAUSE * 2) or attack.sent[path] == before:
            break
    return attack.sent[path]


@pytest.mark.parametrize("path", ["/drip-header", "/drip-chunk-size", "/drip-trailers"])
def test_a_dripping_answer_meets_one_deadline_wherever_it_drips(raw_server, path: str) -> None:
    """Headers, chunk-size lines and trailers are read inside single http.client calls; the deadline holds anyway."""
    base, attack = raw_server
    with pytest.raises(FetchError, match=r"too slowly \(not finished after 1 s\)") as info:
        fetch(base + path, **DEADLINE)
    assert_one_line(info.value)
    _sent_after_hangup(attack, path)
    dripped = attack.dripped[path]
    # The server would drip DRIP_BYTES bytes (15 s) and then finish; the client hung up after about a 15th of them.
    assert dripped < DRIP_BYTES // 2, f"{dripped} of {DRIP_BYTES} dripped bytes were read before the client gave up"
    print(f"\nFIGURE fetch-deadline {path}: refused after {dripped} of {DRIP_BYTES} dripped bytes")


def test_endless_trailers_are_cut_off_by_the_byte_cap(raw_server) -> None:
    base, attack = raw_server
    with pytest.raises(UnsafeURL, match=r"larger than the 0\.1 MB limit \(counting the answer's framing") as info:
        fetch(f"{base}/endless-trailers", max_bytes=100_000, **DEADLINE)
    assert_one_line(info.value)
    sent = _sent_after_hangup(attack, "/endless-trailers")
    # 64 MB would follow; what was sent is the cap (about 164 KB) plus what the two sockets' kernel buffers held.
    assert sent < 24 * 1024 * 1024, f"{sent:,} bytes of trailers were sent before the client hung up"
    print(
        f"\nFIGURE fetch-trailers: refused after the server sent {sent:,} of 64 MB of trailers (socket buffers included)"
    )


def test_a_header_block_over_the_cap_is_refused(raw_server) -> None:
    base, attack = raw_server
    with pytest.raises(FetchError, match=r"sent more than 64 KB of headers") as info:
        fetch(f"{base}/huge-headers", **DEADLINE)
    assert_one_line(info.value)
    print(
        f"\nFIGURE fetch-headers: a 5.8 MB header block refused at 64 KB ({_sent_after_hangup(attack, '/huge-headers'):,} bytes sent)"
    )
