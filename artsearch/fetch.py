"""Fetch an image by URL ("search by image URL") without opening an SSRF hole.

A visitor types a URL and our server fetches it, so the server must not be
usable to reach what only it can reach: cloud metadata (169.254.169.254),
localhost services, the private network. The rules, per hop:

* only ``http`` and ``https``; no user names or passwords in the URL;
* the host is resolved once with ``socket.getaddrinfo`` and refused if *any*
  address is loopback, private, link-local, multicast, reserved, unspecified
  or otherwise not global, including IPv4 addresses wrapped in IPv6
  (``::ffff:a.b.c.d``, NAT64, 6to4, Teredo);
* the connection goes to the vetted address itself (urllib3 connection pool
  on the IP), with the original ``Host`` header, and for https with SNI and
  certificate verification against the host name; a DNS answer that changes
  between the check and the connect (DNS rebinding) is never used;
* redirects are followed by hand, each target checked the same way, at most
  ``max_redirects``;
* proxies from the environment are not used (they would bypass the check);
* the body is streamed and refused as soon as it passes ``max_bytes``
  (``Content-Length`` is checked first); the type must be ``image/*``.

``allow_private`` lets tests fetch from a server on 127.0.0.1: it admits
loopback and RFC 1918 / unique-local addresses, never link-local (metadata),
multicast or unspecified addresses.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import certifi
import urllib3
from urllib3 import exceptions as u3

from artsearch.errors import FetchError, UnsafeURL

__all__ = ["VettedURL", "fetch_image_bytes", "redact_url", "vet_url"]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http": 80, "https": 443}
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_URL_LENGTH = 8192
_TARGET_SAFE = "/?:@!$&'()*+,;=%~[]"
_MAX_ADDRESSES_TRIED = 4
_CHUNK = 64 * 1024
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


def _pool(vetted: VettedURL, address: IPAddress, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to the vetted IP; https verifies the certificate against the host name."""
    if vetted.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            str(address),
            vetted.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=_ca_bundle(),
            server_hostname=vetted.host,
            assert_hostname=vetted.host,
        )
    return urllib3.HTTPConnectionPool(str(address), vetted.port, timeout=timeout, retries=False, maxsize=1)


def _connection_error(exc: Exception, vetted: VettedURL, connect_timeout: float, read_timeout: float) -> FetchError:
    host = vetted.host_header
    if isinstance(exc, u3.NewConnectionError):
        why = "connection refused" if "refused" in str(exc).lower() else "the server is unreachable"
        return FetchError(f"could not connect to {host} ({why}) for {vetted.display}; check the address or try later.")
    if isinstance(exc, u3.ConnectTimeoutError):
        return FetchError(
            f"timed out connecting to {host} after {connect_timeout:g} s for {vetted.display}; "
            "the server may be down, try again later."
        )
    if isinstance(exc, (u3.ReadTimeoutError, TimeoutError, socket.timeout)):
        return FetchError(
            f"{host} stopped responding (no data for {read_timeout:g} s) for {vetted.display}; "
            "try again later or use another image."
        )
    if isinstance(exc, u3.SSLError):
        return FetchError(
            f"the secure connection to {host} failed (its certificate is not valid for this name or not trusted) "
            f"for {vetted.display}; check the address."
        )
    if isinstance(exc, u3.ProtocolError) and "IncompleteRead" in repr(exc):
        return FetchError(f"{host} closed the connection before the whole image arrived; try again.")
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


def _check_headers(resp: urllib3.BaseHTTPResponse, vetted: VettedURL, max_bytes: int) -> None:
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


def _read_body(
    resp: urllib3.BaseHTTPResponse, vetted: VettedURL, max_bytes: int, deadline: float, read_timeout: float
) -> bytes:
    """Stream the body, stopping as soon as it passes ``max_bytes`` or the deadline."""
    chunks: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(
                f"{vetted.host_header} is sending {vetted.display} too slowly (not finished after "
                f"{read_timeout:g} s); try again later or use a smaller image."
            )
        chunk = resp.read1(_CHUNK)
        if not chunk:
            break
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


def _get(
    vetted: VettedURL, *, connect_timeout: float, read_timeout: float
) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """Send the GET to the first vetted address that accepts a connection."""
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    headers = {
        "Host": vetted.host_header,
        "User-Agent": _USER_AGENT,
        "Accept": "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8",
        "Accept-Encoding": "identity",  # sizes are what they say; no decompression bombs
    }
    last: Exception | None = None
    for address in vetted.addresses[:_MAX_ADDRESSES_TRIED]:
        pool = _pool(vetted, address, timeout)
        try:
            resp = pool.urlopen(
                "GET",
                vetted.target,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
            )
        except (u3.NewConnectionError, u3.ConnectTimeoutError) as exc:
            pool.close()
            logger.debug("connect to %s for %s failed: %s", address, vetted.display, exc)
            last = exc
            continue
        except (u3.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            pool.close()
            raise _connection_error(exc, vetted, connect_timeout, read_timeout) from None
        return pool, resp
    assert last is not None
    raise _connection_error(last, vetted, connect_timeout, read_timeout) from None


def fetch_image_bytes(
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = 20 * 1024 * 1024,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    max_redirects: int = 3,
) -> bytes:
    """The bytes of the image at ``url``, fetched under the rules in the module docstring.

    ``read_timeout`` is both the longest wait for any data and the budget for
    one whole response, so a server dripping a byte at a time is cut off (the
    check runs between reads, so the worst case is about twice
    ``read_timeout``). DNS resolution has no timeout of its own (the system
    resolver's applies). Raises ``UnsafeURL`` for a refused URL, address, size
    or content type, and ``FetchError`` for network and HTTP failures; the
    bytes are not decoded here (use ``artsearch.images.load_image``).
    """
    if max_bytes < 1 or max_redirects < 0:
        raise ValueError("max_bytes must be positive and max_redirects not negative")
    current = url
    for hop in range(max_redirects + 1):
        vetted = vet_url(current, allow_private=allow_private)
        logger.debug("fetching %s (hop %d) from %s", vetted.display, hop, vetted.addresses[0])
        started = time.monotonic()
        pool, resp = _get(vetted, connect_timeout=connect_timeout, read_timeout=read_timeout)
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
            data = _read_body(resp, vetted, max_bytes, started + read_timeout, read_timeout)
            logger.info("fetched %s: %d bytes", vetted.display, len(data))
            return data
        except (u3.HTTPError, http.client.HTTPException, OSError) as exc:
            raise _connection_error(exc, vetted, connect_timeout, read_timeout) from None
        finally:
            resp.close()
            pool.close()
    raise FetchError(
        f"{redact_url(url)} redirected more than {max_redirects} times; open it in a browser and copy the final "
        "image address."
    )
