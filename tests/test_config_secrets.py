"""Secrets never leave: recognisable fake secrets, failing runs at DEBUG, and a scan of everything printed.

Also: nothing in the package unpickles, and ``.streamlit/secrets.toml`` is git-ignored.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from artsearch.config import load_settings
from artsearch.errors import ArtsearchError
from tests.support import ROOT
from tests.support.app import unescaped
from tests.support.indexes import copy_index
from tests.support.servers import free_port

QDRANT_KEY = "qdrant-FAKE-SECRET-5f0c1e9d7b"
KAGGLE_KEY = "kaggle-FAKE-SECRET-83a2e6c4d1"
PRIVATE_KEY_ID = "pkid-FAKE-SECRET-2b7d9e01"


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@pytest.fixture(scope="module")
def needles(private_key_pem: str) -> list[str]:
    """Every string whose appearance would be a leak: the keys, and each line of the private key's body."""
    body = [line for line in private_key_pem.splitlines() if line and "-----" not in line]
    return [QDRANT_KEY, KAGGLE_KEY, PRIVATE_KEY_ID, "".join(body), *body]


def secrets_toml(path: Path, pem: str, *, qdrant_url: str, storage: str = "local", endpoint: str = "") -> Path:
    key = pem.replace("\n", "\\n")
    path.write_text(
        f"""
[Database]
QDRANT_URL = "{qdrant_url}"
QDRANT_KEY = "{QDRANT_KEY}"

[Kaggle]
KAGGLE_USERNAME = "fake-user"
KAGGLE_KEY = "{KAGGLE_KEY}"

[Storage]
BACKEND = "{storage}"
BUCKET = "no-such-bucket"
ENDPOINT = "{endpoint}"

[gcp_service_account]
type = "service_account"
project_id = "artsearch-fake"
private_key_id = "{PRIVATE_KEY_ID}"
private_key = "{key}"
client_email = "fake@artsearch-fake.iam.gserviceaccount.com"
token_uri = "http://127.0.0.1:{free_port()}/token"
"""
    )
    return path


def assert_no_secret(text: str, needles: list[str], where: str) -> None:
    for needle in needles:
        at = text.find(needle)
        assert at < 0, f"a secret ({needle[:12]}...) appears in {where}: ...{text[max(0, at - 120) : at + 40]!r}"


class _Everything(logging.Handler):
    """Collects every record from every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs() -> Iterator[_Everything]:
    """Root logger at DEBUG and every library logger opened up, so nothing is filtered before the scan."""
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    for name in levels:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


# --- CLI runs that fail, scanned -----------------------------------------------------------------------------


def run(args: list[str], secrets: Path, settings, connection: bool = True, **env_extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QDRANT", "ARTSEARCH", "KAGGLE", "STORAGE_"))}
    env.update(HF_HUB_OFFLINE="1", ARTSEARCH_SECRETS=str(secrets), KAGGLE_CONFIG_DIR=str(settings.data_dir / "kg"))
    env.update(ARTSEARCH_EMBEDDED_ENGINE=settings.embedded_engine, ARTSEARCH_INFERENCE=settings.inference)
    env.update(env_extra)
    base = ["--model", settings.embedder_name, "--qdrant-path", str(settings.qdrant_path)] if connection else []
    return subprocess.run(
        [sys.executable, *args, *base, "--data-dir", str(settings.data_dir), "-v"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_failing_cli_runs_never_print_a_secret(
    kaggle_index, tmp_path, private_key_pem, needles, fake_gcs, denying_server
):
    settings, _ = copy_index(kaggle_index, tmp_path)
    unreachable = f"http://127.0.0.1:{free_port()}"
    remote = secrets_toml(tmp_path / "remote.toml", private_key_pem, qdrant_url=unreachable)
    # Embedded Qdrant, so a search gets as far as storage: a bucket the emulator does not have, and a
    # server that refuses the service account (403). (A stopped server is retried for 120 s by the GCS
    # client: see docs/reliability.md.)
    no_bucket = secrets_toml(
        tmp_path / "gcs.toml", private_key_pem, qdrant_url="", storage="gcs", endpoint=fake_gcs.url
    )
    denied = secrets_toml(tmp_path / "403.toml", private_key_pem, qdrant_url="", storage="gcs", endpoint=denying_server)
    no_network = {"HTTPS_PROXY": unreachable, "HTTP_PROXY": unreachable, "NO_PROXY": ""}
    runs = {
        "search, Qdrant unreachable": run(["-m", "artsearch", "search", "water lilies"], remote, settings),
        "info, Qdrant unreachable": run(["-m", "artsearch", "info", "--json"], remote, settings),
        "ingest, Qdrant unreachable": run(
            ["qdrant/initialize_db.py", "--source", "kaggle", "--images-dir", str(settings.data_dir / "kaggle")],
            remote,
            settings,
        ),
        "ingest, Kaggle download without network": run(
            ["qdrant/initialize_db.py", "--source", "kaggle"], remote, settings.replace(data_dir=tmp_path / "empty"),
            **no_network,
        ),
        "upload, bucket missing": run(["-m", "artsearch", "upload", "--no-progress"], no_bucket, settings, False),
        "search, bucket missing": run(["-m", "artsearch", "search", "water lilies"], no_bucket, settings),
        "search, bucket refuses the account": run(["-m", "artsearch", "search", "water lilies"], denied, settings),
    }  # fmt: skip
    for name, result in runs.items():
        output = result.stdout + result.stderr
        assert_no_secret(output, needles, name)
        assert "Traceback" not in output, f"{name}: {output[-1500:]}"
        assert result.returncode != 0 and "error: " in result.stderr, f"{name}: {output[-800:]}"
        if name.startswith("info"):  # an index it cannot reach is an error, never "artworks: 0"
            assert "Cannot reach Qdrant" in result.stderr and "artworks" not in result.stdout, output
    print(
        f"\nFIGURE secrets-cli: {len(runs)} failing CLI runs at -v scanned for {len(needles)} secret strings: 0 found"
    )


def test_failing_calls_in_process_never_log_a_secret_even_at_debug(
    kaggle_index, tmp_path, private_key_pem, needles, all_logs, capsys
):
    from artsearch.search import Query, SearchService
    from artsearch.storage.gcs import GCSStorage

    settings, _ = copy_index(kaggle_index, tmp_path)
    secrets = secrets_toml(tmp_path / "s.toml", private_key_pem, qdrant_url=f"http://127.0.0.1:{free_port()}")
    remote = load_settings(env={"ARTSEARCH_SECRETS": str(secrets)}, embedder_name=settings.embedder_name)
    messages = [repr(remote), str(remote.describe())]
    service = SearchService(remote.replace(device="cpu"))
    for call in (lambda: service.page(Query(text="water lilies")).hits, service.index.count, service.facets):
        with pytest.raises(ArtsearchError) as info:
            call()
        messages.append(str(info.value))
    with pytest.raises(ArtsearchError) as info:  # an unreachable index is an error, never "artworks: 0"
        service.info()
    messages.append(str(info.value))
    # A GCS call that fails: a bucket on a server that says 403 to everything is not needed, a missing
    # object on an endpoint nobody serves is enough to exercise the error path without the 120 s retry.
    storage = GCSStorage("no-such-bucket", remote.gcp_service_account, endpoint=f"http://127.0.0.1:{free_port()}")
    messages.append(repr(storage))
    with pytest.raises(ArtsearchError) as info:
        storage.image_url("../escape.jpg")
    messages.append(str(info.value))
    broken = dict(remote.gcp_service_account or {}, private_key=private_key_pem[:200] + "garbage")
    with pytest.raises(ArtsearchError) as info:
        GCSStorage("b", broken)
    messages.append(str(info.value))
    out = capsys.readouterr()
    text = "\n".join([*messages, *all_logs.lines, out.out, out.err])
    assert_no_secret(text, needles + [private_key_pem[:200]], "messages and DEBUG logs")
    assert any("Cannot reach Qdrant" in m for m in messages)
    print(f"\nFIGURE secrets-inprocess: {len(messages)} messages and {len(all_logs.lines)} DEBUG log lines: 0 secrets")


def test_page_with_unreachable_qdrant_shows_no_secret(kaggle_index, tmp_path, private_key_pem, needles, monkeypatch):
    if not (ROOT / "app.py").exists():
        pytest.skip("no app.py")
    from streamlit.testing.v1 import AppTest

    from artsearch.web import resources

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ARTSEARCH_SECRETS", str(tmp_path / "none.toml"))
    for name in ("QDRANT_URL", "QDRANT_KEY", "QDRANT_PATH", "EMBEDDER_NAME"):
        monkeypatch.delenv(name, raising=False)
    secrets = {
        "Database": {"QDRANT_URL": f"http://127.0.0.1:{free_port()}", "QDRANT_KEY": QDRANT_KEY,
                     "EMBEDDER_NAME": kaggle_index[0].embedder_name},
        "Kaggle": {"KAGGLE_USERNAME": "fake-user", "KAGGLE_KEY": KAGGLE_KEY},
        "Artsearch": {"DEVICE": "cpu"},
    }  # fmt: skip
    resources._service.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.secrets = secrets
        at.query_params["q"] = "water lilies"
        at.run()
        shown = [
            str(getattr(e, "value", "") or getattr(e, "body", ""))
            for kind in ("error", "info", "warning", "markdown", "caption", "exception", "title", "text", "code")
            for e in getattr(at, kind)
        ]
    finally:
        resources._service.clear()
    assert_no_secret("\n".join(shown), needles, "the page")
    assert len(at.error) == 1 and "Cannot reach Qdrant" in unescaped(at.error[0].value), shown


# --- no unpickling, secrets file ignored ---------------------------------------------------------------------

UNSAFE_LOADS = re.compile(r"\b(c?pickle\.loads?|cloudpickle|dill\.loads?|joblib\.load|marshal\.loads?|shelve\.open)\b")
TORCH_LOAD = re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)")


def test_package_never_unpickles():
    files = sorted((ROOT / "artsearch").rglob("*.py")) + [ROOT / "app.py", ROOT / "qdrant" / "initialize_db.py"]
    files = [f for f in files if f.exists()]
    offenders = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.name}: {m.group(0)}" for m in UNSAFE_LOADS.finditer(text)]
        offenders += [f"{path.name}: torch.load without weights_only=True" for _ in TORCH_LOAD.finditer(text)]
    assert not offenders
    print(f"\nFIGURE pickle: {len(files)} source files grepped, no unpickling calls")


def test_streamlit_secrets_file_is_git_ignored():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, "add .streamlit/secrets.toml to .gitignore"
    tracked = subprocess.run(["git", "ls-files", ".streamlit"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "secrets.toml\n" not in tracked.replace("secrets.toml.example", "")


# --- a gateway that echoes the key, a key straddling the old cut, credentials in QDRANT_URL, a misplaced key ------

URL_PASSWORD = "urlpass-FAKE-SECRET-77c3a1"


def fragments(secret: str, size: int = 8) -> list[str]:
    """Every piece of ``secret`` ``size`` characters long: a key cut in two must not survive in part either."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


class _EchoingGateway(BaseHTTPRequestHandler):
    """Answers every request with 502 and a body that echoes the api-key header at every offset from 0 to 300,
    so one copy of it straddles any place a message might be cut."""

    def _answer(self) -> None:
        key = self.headers.get("api-key", "")
        auth = self.headers.get("Authorization", "")
        body = json.dumps({"status": {"error": " ".join(f"{'x' * n}{key} {auth}" for n in range(0, 300, 7))}})
        self.send_response(502)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echoing_gateway() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_an_echoing_gateway_and_credentials_in_the_url_leak_nothing(
    kaggle_index, tmp_path, private_key_pem, echoing_gateway, all_logs, capsys, monkeypatch
):
    """The key echoed in an upstream error body (at every offset, so one copy straddles the old 160-character cut),
    and a user name and password inside QDRANT_URL: no piece of either on the page, in CLI output or in the logs at
    DEBUG. Visitors get a generic line; the log has the (masked) detail."""
    from streamlit.testing.v1 import AppTest

    from artsearch.search import Query, SearchService
    from artsearch.web import resources

    settings, _ = copy_index(kaggle_index, tmp_path)
    url = f"http://artsearch:{URL_PASSWORD}@127.0.0.1:{echoing_gateway}"
    secrets = secrets_toml(tmp_path / "gateway.toml", private_key_pem, qdrant_url=url)
    pieces = fragments(QDRANT_KEY) + fragments(URL_PASSWORD)

    # The command line, as an operator runs it (-v).
    runs = {
        "search": run(["-m", "artsearch", "search", "water lilies"], secrets, settings),
        "info": run(["-m", "artsearch", "info"], secrets, settings),
        "info --json": run(["-m", "artsearch", "info", "--json"], secrets, settings),
    }
    for name, result in runs.items():
        output = result.stdout + result.stderr
        assert_no_secret(output, pieces, f"the CLI's {name}")
        assert "Traceback" not in output and "Cannot reach Qdrant at http://127.0.0.1:" in output, output[-1500:]
        assert "HTTP 502" in output, output[-1500:]

    # In process, every logger at DEBUG.
    remote = load_settings(env={"ARTSEARCH_SECRETS": str(secrets)}, embedder_name=settings.embedder_name)
    service = SearchService(remote.replace(device="cpu"))
    with pytest.raises(ArtsearchError) as info:
        service.page(Query(text="water lilies"))
    with pytest.raises(ArtsearchError) as described:  # info never guesses a count for an index it cannot reach
        service.info()
    messages = [str(info.value), str(described.value), str(remote.describe()), repr(remote)]
    assert "the details are in the log" in messages[0] and "the details are in the log" in messages[1]
    logged = "\n".join(all_logs.lines)
    assert "502" in logged  # the operator's detail is there, masked
    out = capsys.readouterr()
    assert_no_secret("\n".join([*messages, logged, out.out, out.err]), pieces, "messages and DEBUG logs")

    # The page (AppTest): one generic line.
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ARTSEARCH_SECRETS", str(tmp_path / "none.toml"))
    for name in ("QDRANT_URL", "QDRANT_KEY", "QDRANT_PATH", "EMBEDDER_NAME"):
        monkeypatch.delenv(name, raising=False)
    resources._service.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.secrets = {
            "Database": {"QDRANT_URL": url, "QDRANT_KEY": QDRANT_KEY, "EMBEDDER_NAME": settings.embedder_name},
            "Artsearch": {"DEVICE": "cpu"},
        }
        at.query_params["q"] = "water lilies"
        at.run()
        shown = page_text(at)
    finally:
        resources._service.clear()
    assert_no_secret(shown, pieces, "the page")
    assert len(at.error) == 1 and "Cannot reach Qdrant at http://127.0.0.1:" in unescaped(at.error[0].value), shown
    print(
        f"\nFIGURE secrets-gateway: {len(runs)} CLI runs, {len(messages)} messages, {len(all_logs.lines)} DEBUG log "
        f"lines and the page scanned for {len(pieces)} pieces of the key and the URL's password: 0 found"
    )


def page_text(at) -> str:
    """Everything the page shows, as a visitor reads it (the page's markdown escaping removed, so an escaped
    copy of a secret is still found)."""
    return unescaped(
        "\n".join(
            str(getattr(e, "value", "") or getattr(e, "body", ""))
            for kind in ("error", "info", "warning", "markdown", "caption", "exception", "title", "text", "code")
            for e in getattr(at, kind)
        )
    )


def test_a_key_pasted_into_the_wrong_setting_is_not_echoed(kaggle_index, tmp_path, monkeypatch):
    """SIGNED_URL_TTL = "<key>" (a key in the wrong line): the one-line error says what is wrong, not the value."""
    from streamlit.testing.v1 import AppTest

    settings, _ = copy_index(kaggle_index, tmp_path)
    misplaced = tmp_path / "misplaced.toml"
    misplaced.write_text(f'[Storage]\nSIGNED_URL_TTL = "{QDRANT_KEY}"\n[Artsearch]\nINFERENCE = "{KAGGLE_KEY}"\n')
    result = run(["-m", "artsearch", "info"], misplaced, settings)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "SIGNED_URL_TTL" in result.stderr and "not shown: it may be a secret" in result.stderr, result.stderr
    assert_no_secret(result.stdout + result.stderr, fragments(QDRANT_KEY), "the CLI")
    for setting in ({"Artsearch": {"INFERENCE": KAGGLE_KEY}}, {"Storage": {"BACKEND": KAGGLE_KEY}}):
        with pytest.raises(ArtsearchError) as info:
            load_settings(secrets=setting, env={})
        assert_no_secret(str(info.value), fragments(KAGGLE_KEY), "a choice's error")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ARTSEARCH_SECRETS", str(tmp_path / "none.toml"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets = {"Storage": {"SIGNED_URL_TTL": QDRANT_KEY}}
    at.run()
    assert_no_secret(page_text(at), fragments(QDRANT_KEY), "the page")
    assert len(at.error) == 1 and "SIGNED_URL_TTL" in unescaped(at.error[0].value)
