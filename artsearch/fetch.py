"""Fetch an image by URL ("search by image URL") without opening an SSRF hole.

A visitor types a URL and our server fetches it, so the server must not be
usable to reach what only it can reach: cloud metadata (169.254.169.254),
localhost services, the private network. The rules, per hop:

* only ``http`` and ``https``; no user names or passwords in the URL;
* the host is resolved once with ``socket.getaddrinfo`` and refused if *any*
  address is loopback, private, link-local, multicast, reserved, unspecified
  or otherwise not global, including IPv4 addresses wrapped in IPv6
  (``::ffff:a.b.c.d``, NAT64, 6to4, Teredo);
* the connection goes to the vetted address itself (``http.client`` on a
  socket connected to the IP), with the original ``Host`` header, and for
  https with SNI and certificate verification against the host name; a DNS
  answer that changes between the check and the connect (DNS rebinding) is
  never used;
* redirects are followed by hand, each target checked the same way, at most
  ``max_redirects``;
* proxies from the environment are not used (they would bypass the check);
* the body is streamed and refused as soon as it passes ``max_bytes``
  (``Content-Length`` is checked first); the type must be ``image/*``;
* one wall-clock deadline covers the whole exchange (connect, handshake,
  headers, body, chunk-size lines, trailers, redirects), and every byte read
  is counted (headers capped at 64 KB, framing and trailers at 64 KB past the
  body): enforced on the socket itself, below ``http.client``, which reads
  headers and trailers inside single calls.

``allow_private`` lets tests fetch from a server on 127.0.0.1: it admits
loopback and RFC 1918 / unique-local addresses, never link-local (metadata),
multicast or unspecified addresses.
"""

from __future__ import annotations

import errno
import http.client
import io
import ipaddress
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import certifi

from artsearch.errors import ArtsearchError, FetchError, UnsafeURL

__all__ = ["VettedURL", "fetch_image_bytes", "redact_url", "vet_url"]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http": 80, "https": 443}
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_URL_LENGTH = 8192
_TARGET_SAFE = "/?:@!$&'()*+,;=%~[]"
_MAX_ADDRESSES_TRIED = 4
_CHUNK = 64 * 1024
_BUFFER = 8 * 1024  # http.client reads through a buffer of this size
_MAX_HEAD_BYTES = 64 * 1024  # status line and headers
_MAX_FRAMING_BYTES = 64 * 1024  # chunk-size lines and trailers, on top of the body
_USER_AGENT = "artsearch/1.0 (image search by URL)"
_WEB_PAGE = "that URL returned a web page, not an image; right-click the image and copy the image address"

#: Admitted only with allow_private (tests, local development): RFC 1918 and IPv6 unique-local.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class VettedURL:
    """A URL that passed the checks, with the addresses it may be fetched from."""

    url: str  #: the URL as given, minus any user info
    display: str  #: safe to show: no user info, no query string
    scheme: str
    host: str  #: ASCII (IDNA) host name or IP literal, without brackets
    port: int
    target: str  #: path and query to request
    host_header: str
    addresses: tuple[IPAddress, ...]


#: How much of a URL's path a message quotes: messages are shown to the visitor who pasted (or was sent a
#: link with) the URL, so they quote a short, plain prefix, never text someone wrote to pass for a message.
SHOWN_PATH_CHARS = 40
_URL_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/%!$&'+,;=:@")


def redact_url(url: str) -> str:
    """The URL as it may appear in a message or a log: no user info, query string elided, and of the path
    only its first :data:`SHOWN_PATH_CHARS` URL characters, up to the first character a URL does not hold
    (a space, brackets, asterisks: "…" marks the cut)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    query = "?..." if parts.query else ""
    if not parts.scheme or not host:
        text = url.strip().split("@")[-1] if "@" in url else url.strip()
        return _plain_prefix(text)
    return f"{parts.scheme}://{host}{port}{_plain_prefix(parts.path)}{query}"


def _plain_prefix(text: str) -> str:
    end = next((i for i, c in enumerate(text) if c not in _URL_PATH_CHARS), len(text))
    shown = text[: min(end, SHOWN_PATH_CHARS)]
    return shown if shown == text else shown + "…"


def _address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why ``ip`` may not be fetched from, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on the wire
            return _address_refusal(ip.ipv4_mapped, allow_private)
        if ip in _NAT64:  # 64:ff9b::a.b.c.d is translated to a.b.c.d
            return _address_refusal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), allow_private)
        embedded = [ip.sixtofour] if ip.sixtofour is not None else []
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        for inner in embedded:
            reason = _address_refusal(inner, allow_private)
            if reason:
                return reason
    if allow_private and (ip.is_loopback or any(ip in net for net in _PRIVATE_NETWORKS)):
        return None
    if ip.is_loopback:
        return "a loopback address (this server itself)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "an unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "a private network address"
    if not ip.is_global:
        return "an address that is not on the public internet"
    return None


def _resolve(host: str, port: int, display: str) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(
            f"could not find the server {host!r} for {display} ({exc.args[-1] if exc.args else exc}); "
            "check the address for typos."
        ) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchError(f"the server {host!r} for {display} has no address; check the URL.")
    return tuple(addresses)


def vet_url(url: str, *, allow_private: bool = False) -> VettedURL:
    """Check one URL (a first request or a redirect target) and resolve its host.

    Raises ``UnsafeURL`` for a refused scheme, credentials in the URL or a
    refused address (any one of the resolved addresses is enough), and
    ``FetchError`` when the host name does not resolve. Nothing is connected to.
    """
    url = url.strip()
    display = redact_url(url)
    if len(url) > _MAX_URL_LENGTH:
        raise UnsafeURL(f"that URL is too long ({len(url)} characters); use the direct address of the image.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(f"{display} is not a valid URL; copy the image address again.") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise UnsafeURL(
            f"only http:// and https:// image addresses can be fetched, not {shown} ({display}); "
            "use a web address that starts with https://."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURL(
            f"image addresses with a user name or password are not fetched ({display}); use a public image address."
        )
    raw_host = parts.hostname
    if not raw_host:
        raise UnsafeURL(f"{display} has no host name; copy the full image address, starting with https://.")
    try:
        host = raw_host.encode("idna").decode("ascii") if not raw_host.isascii() else raw_host
    except UnicodeError:
        raise UnsafeURL(f"{display} has an invalid host name; check the address.") from None
    if any(c in host for c in " \t\r\n/\\%") and ":" not in host:
        raise UnsafeURL(f"{display} has an invalid host name; check the address.")
    port = port or _SCHEMES[scheme]
    addresses = _resolve(host, port, display)
    for ip in addresses:
        reason = _address_refusal(ip, allow_private)
        if reason:
            raise UnsafeURL(
                f"{display} points to {reason}, which artsearch does not fetch from; "
                "use the address of a public image on the web."
            )
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == _SCHEMES[scheme] else f"{bracketed}:{port}"
    # Percent-encode what a browser would (spaces, non-ASCII); keep reserved characters and existing escapes.
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_TARGET_SAFE)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    clean = parts._replace(netloc=netloc, fragment="").geturl()
    return VettedURL(clean, display, scheme, host, port, target, host_header, addresses)


def _ca_bundle() -> str:
    """CA certificates: the same environment overrides as requests, else certifi's bundle."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or certifi.where()


class _Budget:
    """One wall-clock deadline and one byte count for a whole exchange: every connect, handshake, send and
    read, over every redirect hop. ``http.client`` reads the status line, the headers, each chunk-size line and
    the trailers inside single calls, so the limits are enforced below it, on the socket: before each blocking
    operation the socket's timeout is set to the time left, and every byte read is counted against a cap."""

    def __init__(self, vetted: VettedURL, *, total: float, idle: float, max_body: int) -> None:
        self.vetted = vetted
        self.total = total
        self.idle = idle
        self.deadline = time.monotonic() + total
        self.max_body = max_body
        self.read = 0  # bytes read on this hop
        self.limit = _MAX_HEAD_BYTES + _BUFFER  # raised to admit the body once the headers are in

    def wait(self) -> float:
        """The socket timeout for the next blocking operation; FetchError once the deadline has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.too_slow()
        return min(left, self.idle)

    def too_slow(self) -> FetchError:
        return FetchError(
            f"{self.vetted.host_header} is sending {self.vetted.display} too slowly (not finished after "
            f"{self.total:g} s); try again later or use a smaller image."
        )

    def timed_out(self, waited: float) -> FetchError:
        if time.monotonic() >= self.deadline - 0.001:
            return self.too_slow()
        return FetchError(
            f"{self.vetted.host_header} stopped responding (no data for {waited:g} s) for {self.vetted.display}; "
            "try again later or use another image."
        )

    def count(self, n: int) -> None:
        self.read += n
        if self.read > self.limit:
            if self.limit <= _MAX_HEAD_BYTES + _BUFFER:
                raise FetchError(
                    f"{self.vetted.host_header} sent more than {_MAX_HEAD_BYTES // 1024} KB of headers for "
                    f"{self.vetted.display}; that is not an image server's answer, use another image address."
                )
            raise UnsafeURL(
                f"the image at {self.vetted.display} is larger than the {_megabytes(self.max_body)} limit "
                "(counting the answer's framing and trailers); use a smaller version of the image."
            )

    def admit_body(self) -> None:
        """The headers are in: the rest of the exchange may read the body, its framing and trailers."""
        self.limit = self.read + self.max_body + _MAX_FRAMING_BYTES


class _BudgetReader(io.RawIOBase):
    """The socket as a raw stream for ``http.client``: each read waits at most the time left and is counted."""

    def __init__(self, owner: _BudgetSocket) -> None:
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        budget = self.owner.budget
        wait = budget.wait()
        self.owner.sock.settimeout(wait)
        try:
            n = self.owner.sock.recv_into(buffer)
        except TimeoutError:
            raise budget.timed_out(wait) from None
        budget.count(n)
        return n

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.owner.reader_closed()


class _BudgetSocket:
    """The connected socket as ``http.client`` uses it (sendall, makefile, close), under a :class:`_Budget`.

    Like a real socket, it stays open while a reader made by :meth:`makefile` is (``http.client`` closes the
    connection as soon as the response is read from a ``Connection: close`` answer, before the body)."""

    def __init__(self, sock: socket.socket, budget: _Budget) -> None:
        self.sock = sock
        self.budget = budget
        self._readers = 0
        self._closing = False

    def sendall(self, data: bytes) -> None:
        wait = self.budget.wait()
        self.sock.settimeout(wait)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise self.budget.timed_out(wait) from None

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_BudgetReader(self), _BUFFER)

    def reader_closed(self) -> None:
        self._readers -= 1
        self._close_when_done()

    def close(self) -> None:
        self._closing = True
        self._close_when_done()

    def _close_when_done(self) -> None:
        if self._closing and self._readers <= 0:
            self.sock.close()


class _Connection(http.client.HTTPConnection):
    """One HTTP(S) connection to a vetted address (never a name looked up again), under a :class:`_Budget`;
    https does SNI and verifies the certificate against the URL's host name."""

    def __init__(self, vetted: VettedURL, address: IPAddress, budget: _Budget, connect_timeout: float) -> None:
        super().__init__(str(address), vetted.port)
        self.vetted = vetted
        self.address = address
        self.budget = budget
        self.connect_timeout = connect_timeout

    def connect(self) -> None:
        timeout = min(self.connect_timeout, self.budget.wait())
        raw = socket.create_connection((str(self.address), self.vetted.port), timeout=timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock: socket.socket = raw
            if self.vetted.scheme == "https":
                context = ssl.create_default_context(cafile=_ca_bundle())
                sock = context.wrap_socket(raw, server_hostname=self.vetted.host, do_handshake_on_connect=False)
                wait = self.budget.wait()
                sock.settimeout(wait)  # CPython bounds the whole handshake by this timeout
                try:
                    sock.do_handshake()
                except TimeoutError:
                    raise self.budget.timed_out(wait) from None
        except BaseException:
            raw.close()
            raise
        self.sock = _BudgetSocket(sock, self.budget)  # type: ignore[assignment]


def _connection_error(exc: BaseException, vetted: VettedURL, connect_timeout: float) -> FetchError:
    host = vetted.host_header
    if isinstance(exc, ConnectionRefusedError):
        return FetchError(
            f"could not connect to {host} (connection refused) for {vetted.display}; check the address or try later."
        )
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return FetchError(
            f"timed out connecting to {host} after {connect_timeout:g} s for {vetted.display}; "
            "the server may be down, try again later."
        )
    if isinstance(exc, ssl.SSLError):
        return FetchError(
            f"the secure connection to {host} failed (its certificate is not valid for this name or not trusted) "
            f"for {vetted.display}; check the address."
        )
    if isinstance(exc, http.client.IncompleteRead):
        return FetchError(f"{host} closed the connection before the whole image arrived; try again.")
    if isinstance(exc, http.client.RemoteDisconnected):
        return FetchError(f"{host} closed the connection without answering for {vetted.display}; try again later.")
    if isinstance(exc, http.client.HTTPException):
        return FetchError(
            f"{host} sent a malformed answer for {vetted.display} ({type(exc).__name__}); use another image address."
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return FetchError(
            f"could not connect to {host} (the server is unreachable) for {vetted.display}; check the address or "
            "try later."
        )
    detail = " ".join(str(exc).split())[:120] or type(exc).__name__
    return FetchError(f"the connection to {host} failed ({detail}) for {vetted.display}; try again later.")


def _http_error(status: int, reason: str, vetted: VettedURL) -> FetchError:
    said = f"{status} {reason}".strip()
    if status in (404, 410):
        return FetchError(f"no image was found at {vetted.display} (the server said {said}); check the address.")
    if status in (401, 403):
        return FetchError(
            f"{vetted.host_header} refused to send {vetted.display} (the server said {said}); the image may be "
            "private or the site blocks direct links, so download it and upload the file instead."
        )
    if status == 429:
        return FetchError(f"{vetted.host_header} is limiting requests (429 Too Many Requests); try again in a minute.")
    if status >= 500:
        return FetchError(
            f"{vetted.host_header} had a server error ({said}) for {vetted.display}; "
            "try again later or use another image."
        )
    return FetchError(
        f"{vetted.host_header} answered {said} for {vetted.display}; use the address of the image itself."
    )


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


def _check_headers(resp: http.client.HTTPResponse, vetted: VettedURL, max_bytes: int) -> None:
    content_type = (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type in ("text/html", "application/xhtml+xml"):
        raise UnsafeURL(f"{_WEB_PAGE} ({vetted.display}).")
    if content_type == "image/svg+xml":
        raise UnsafeURL(
            f"{vetted.display} is an SVG drawing, which artsearch cannot search with; use a PNG, JPEG or WEBP image."
        )
    if not content_type.startswith("image/"):
        kind = content_type or "data without a content type"
        raise UnsafeURL(f"that URL returned {kind}, not an image ({vetted.display}); use the address of the image.")
    length = resp.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise UnsafeURL(
            f"the image at {vetted.display} is {_megabytes(int(length))}, over the {_megabytes(max_bytes)} limit; "
            "use a smaller version of the image."
        )


def _read_body(resp: http.client.HTTPResponse, vetted: VettedURL, max_bytes: int) -> bytes:
    """Stream the body, stopping as soon as it passes ``max_bytes`` (the budget bounds time and framing)."""
    chunks: list[bytes] = []
    total = 0
    while chunk := resp.read1(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise UnsafeURL(
                f"the image at {vetted.display} is larger than the {_megabytes(max_bytes)} limit; "
                "use a smaller version of the image."
            )
        chunks.append(chunk)
    if not total:
        raise FetchError(f"{vetted.display} returned no data; check the address.")
    return b"".join(chunks)


def _get(vetted: VettedURL, budget: _Budget, connect_timeout: float) -> tuple[_Connection, http.client.HTTPResponse]:
    """Send the GET to the first vetted address that accepts a connection, and read the status and headers."""
    headers = {
        "Host": vetted.host_header,
        "User-Agent": _USER_AGENT,
        "Accept": "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8",
        "Accept-Encoding": "identity",  # sizes are what they say; no decompression bombs
        "Connection": "close",
    }
    last: BaseException | None = None
    for address in vetted.addresses[:_MAX_ADDRESSES_TRIED]:
        conn = _Connection(vetted, address, budget, connect_timeout)
        try:
            conn.connect()
        except ArtsearchError:
            conn.close()
            raise
        except (ConnectionRefusedError, TimeoutError) as exc:
            conn.close()
            logger.debug("connect to %s for %s failed: %s", address, vetted.display, exc)
            last = exc
            continue
        except (OSError, ValueError) as exc:
            conn.close()
            if not isinstance(exc, ssl.SSLError):
                logger.debug("connect to %s for %s failed: %s", address, vetted.display, exc)
                last = exc
                continue
            raise _connection_error(exc, vetted, connect_timeout) from None
        try:
            conn.request("GET", vetted.target, headers=headers)
            resp = conn.getresponse()
        except ArtsearchError:
            conn.close()
            raise
        except (http.client.HTTPException, OSError, ValueError) as exc:
            conn.close()
            raise _connection_error(exc, vetted, connect_timeout) from None
        budget.admit_body()
        return conn, resp
    assert last is not None
    raise _connection_error(last, vetted, connect_timeout) from None


def fetch_image_bytes(
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = 20 * 1024 * 1024,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    total_timeout: float = 20.0,
    max_redirects: int = 3,
) -> bytes:
    """The bytes of the image at ``url``, fetched under the rules in the module docstring.

    ``total_timeout`` is one wall-clock deadline for the whole exchange: connecting, the TLS handshake, the
    request, the status line, the headers, the body, chunk-size lines and trailers, over every redirect; a
    server dripping a byte at a time is cut off when it passes. ``read_timeout`` is the longest wait for any
    data, ``connect_timeout`` for a connection. Everything read is counted: headers past 64 KB, and a body
    (with its framing and trailers) past ``max_bytes``, are refused. DNS resolution has no timeout of its own
    (the system resolver's applies). Raises ``UnsafeURL`` for a refused URL, address, size or content type, and
    ``FetchError`` for network and HTTP failures; the bytes are not decoded here (use
    ``artsearch.images.load_image``).
    """
    if max_bytes < 1 or max_redirects < 0 or min(connect_timeout, read_timeout, total_timeout) <= 0:
        raise ValueError("max_bytes and the timeouts must be positive and max_redirects not negative")
    current = url
    deadline = time.monotonic() + total_timeout
    for hop in range(max_redirects + 1):
        vetted = vet_url(current, allow_private=allow_private)
        logger.debug("fetching %s (hop %d) from %s", vetted.display, hop, vetted.addresses[0])
        budget = _Budget(vetted, total=total_timeout, idle=read_timeout, max_body=max_bytes)
        budget.deadline = deadline  # one deadline for every hop
        conn, resp = _get(vetted, budget, connect_timeout)
        try:
            if resp.status in _REDIRECTS:
                location = resp.headers.get("Location")
                if not location:
                    raise FetchError(f"{vetted.display} redirects without saying where to; use the image's address.")
                current = urljoin(vetted.url, location.strip())
                logger.debug("%s redirects to %s", vetted.display, redact_url(current))
                continue
            if not 200 <= resp.status < 300 or resp.status in (204, 205, 206):
                raise _http_error(resp.status, resp.reason or "", vetted)
            _check_headers(resp, vetted, max_bytes)
            data = _read_body(resp, vetted, max_bytes)
            logger.info("fetched %s: %d bytes", vetted.display, len(data))
            return data
        except (http.client.HTTPException, OSError, ValueError) as exc:
            raise _connection_error(exc, vetted, connect_timeout) from None
        finally:
            resp.close()
            conn.close()
    raise FetchError(
        f"{redact_url(url)} redirected more than {max_redirects} times; open it in a browser and copy the final "
        "image address."
    )
