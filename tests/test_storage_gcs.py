"""GCSStorage against a real fake-gcs-server, with a throwaway service account (upload: test_storage_upload.py).

No mocks: the google-cloud-storage client talks HTTP to the emulator, URLs are
signed with a freshly generated RSA key and downloaded with ``requests``, and
permission errors come from a local server that answers 403 like GCS does.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from artsearch.catalog import Artist
from artsearch.config import load_settings
from artsearch.errors import ConfigError, MissingCredentials, NotFound, StorageError
from artsearch.storage import open_storage
from artsearch.storage.base import Storage
from artsearch.storage.gcs import GCSStorage, SignedURLCache
from artsearch.storage.local import LocalStorage
from artsearch.storage.upload import upload_to_bucket
from tests.support.datasets import jpeg_like
from tests.support.gcs import SA_EMAIL, FakeGCS, make_gcs_storage

KEY = "kaggle/images/Albrecht_Dürer/Albrecht_Dürer_1.jpg"


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


# -- the Storage protocol, both backends ------------------------------------


@pytest.fixture(params=["local", "gcs"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "data")
    return request.getfixturevalue("gcs_storage")


def fetch_url(url: str) -> bytes:
    """What st.image would show: a local path is read, an http(s) URL is downloaded."""
    if url.startswith(("http://", "https://")):
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        return response.content
    return Path(url).read_bytes()


def test_both_backends_behave_the_same_through_the_protocol(any_storage: Storage) -> None:
    assert isinstance(any_storage, Storage)
    data = jpeg_like(1)
    assert not any_storage.has_image(KEY)
    any_storage.put_image(KEY, data)
    assert any_storage.has_image(KEY)
    assert any_storage.read_image(KEY) == data
    assert fetch_url(any_storage.image_url(KEY)) == data
    with pytest.raises(NotFound):
        any_storage.read_image("kaggle/images/nobody/missing.jpg")
    assert any_storage.read_artists() == {}
    artists = {"albrecht-durer": Artist(name="Albrecht Dürer", years="1471 – 1528", nationality="German")}
    any_storage.write_artists(artists)
    assert any_storage.read_artists() == artists
    with pytest.raises(StorageError):
        any_storage.put_image("../escape.jpg", data)
    with pytest.raises(NotFound):
        any_storage.read_map("artworks_20260101T000000")
    any_storage.write_map("artworks_20260101T000000", b'{"method": "pca"}')
    assert any_storage.read_map("artworks_20260101T000000") == b'{"method": "pca"}'
    any_storage.write_map("artworks_20260202T000000", b'{"method": "umap"}')
    assert any_storage.map_collections() == ["artworks_20260101T000000", "artworks_20260202T000000"]
    any_storage.delete_map("artworks_20260101T000000")
    any_storage.delete_map("artworks_20260101T000000")  # already gone: nothing happens
    assert any_storage.map_collections() == ["artworks_20260202T000000"]
    with pytest.raises(NotFound):
        any_storage.read_map("artworks_20260101T000000")
    assert any_storage.read_map("artworks_20260202T000000") == b'{"method": "umap"}'


def test_switching_backend_in_settings_changes_nothing_else(
    tmp_path: Path,
    fake_gcs: FakeGCS,
    gcs_bucket: str,
    service_account_info: dict[str, str],
) -> None:
    secrets = {
        "gcp_service_account": service_account_info,
        "Storage": {"BUCKET": gcs_bucket, "PREFIX": "artsearch", "SIGNED_URL_TTL": 600, "ENDPOINT": fake_gcs.url},
        "Artsearch": {"DATA_DIR": str(tmp_path / "data")},
    }
    data = jpeg_like(2)
    for backend, kind in (("local", LocalStorage), ("gcs", GCSStorage)):
        settings = load_settings(secrets=secrets, env={"ARTSEARCH_STORAGE_BACKEND": backend})
        storage = open_storage(settings)
        assert isinstance(storage, kind)
        storage.put_image(KEY, data)
        assert fetch_url(storage.image_url(KEY)) == data
    assert storage.description == f"gs://{gcs_bucket}/artsearch/"
    assert f"artsearch/{KEY}" in fake_gcs.objects(gcs_bucket)


# -- GCS specifics -------------------------------------------------------------


def test_objects_are_named_prefix_plus_key(gcs_storage: GCSStorage, fake_gcs: FakeGCS, gcs_bucket: str) -> None:
    gcs_storage.put_image(KEY, jpeg_like(3))
    blob = fake_gcs.objects(gcs_bucket)[f"art/{KEY}"]
    assert blob.content_type == "image/jpeg"
    assert gcs_storage.description == f"gs://{gcs_bucket}/art/"


def verify_v4_signature(url: str, key: rsa.RSAPrivateKey) -> None:
    """Check X-Goog-Signature against the V4 string-to-sign, rebuilt from the URL per GCS's spec."""
    parts = urlsplit(url)
    query, _, signature = parts.query.rpartition("&X-Goog-Signature=")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    canonical_request = "\n".join(
        ["GET", parts.path, query, f"host:{parts.netloc}\n", params["X-Goog-SignedHeaders"], "UNSIGNED-PAYLOAD"]
    )
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        ["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key.public_key().verify(bytes.fromhex(signature), string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_signed_url_downloads_the_same_bytes_and_carries_a_v4_signature(
    gcs_storage: GCSStorage, fake_gcs: FakeGCS, service_account_key: rsa.RSAPrivateKey
) -> None:
    data = jpeg_like(4, size=50_000)
    gcs_storage.put_image(KEY, data)
    url = gcs_storage.image_url(KEY)

    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data

    assert url.startswith(f"{fake_gcs.url}/{gcs_storage.bucket_name}/art/kaggle/images/")
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert params["X-Goog-Expires"] == "900"
    assert params["X-Goog-Credential"].startswith(f"{SA_EMAIL}/")
    assert params["X-Goog-Credential"].endswith("/auto/storage/goog4_request")
    assert len(params["X-Goog-Signature"]) == 512  # 2048-bit RSA, hex
    verify_v4_signature(url, service_account_key)


def test_signed_url_expiry_is_the_configured_ttl(
    fake_gcs: FakeGCS, gcs_bucket: str, service_account_info: dict[str, str]
) -> None:
    settings = load_settings(
        secrets={
            "gcp_service_account": service_account_info,
            "Storage": {"BACKEND": "gcs", "BUCKET": gcs_bucket, "SIGNED_URL_TTL": 120, "ENDPOINT": fake_gcs.url},
        },
        env={},
    )
    storage = GCSStorage.from_settings(settings)
    storage.put_image(KEY, b"x")
    params = parse_qs(urlsplit(storage.image_url(KEY)).query)
    assert params["X-Goog-Expires"] == ["120"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_signed_urls_are_reused_for_less_than_half_their_ttl(
    fake_gcs: FakeGCS, gcs_bucket: str, service_account_info: dict[str, str]
) -> None:
    clock = FakeClock()
    storage = make_gcs_storage(fake_gcs, service_account_info, gcs_bucket, signed_url_ttl=600, clock=clock)
    storage.put_image(KEY, b"img")

    first = storage.image_url(KEY)
    clock.now += 299  # a re-render within half the TTL: same URL, nothing signed
    assert storage.image_url(KEY) == first
    assert (storage.url_cache.hits, storage.url_cache.misses) == (1, 1)

    time.sleep(1.1)  # X-Goog-Date has one-second resolution; make the new URL visibly new
    clock.now += 2  # 301 s old: less than half its life left, so sign again
    second = storage.image_url(KEY)
    assert second != first
    assert (storage.url_cache.hits, storage.url_cache.misses) == (1, 2)
    assert requests.get(second, timeout=10).content == b"img"
    clock.now += 100
    assert storage.image_url(KEY) == second


def test_signed_url_cache_is_thread_safe() -> None:
    clock = FakeClock()
    cache = SignedURLCache(100, clock=clock)
    signed: list[str] = []
    lock = threading.Lock()

    def sign(key: str) -> str:
        with lock:
            signed.append(key)
        return f"url-{key}"

    def work(i: int) -> None:
        for n in range(200):
            assert cache.get(f"k{(i + n) % 10}", sign) == f"url-k{(i + n) % 10}"

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.hits + cache.misses == 1600
    assert set(signed) == {f"k{i}" for i in range(10)}


def test_image_url_of_a_missing_object_raises_not_found(gcs_storage: GCSStorage) -> None:
    with pytest.raises(NotFound) as info:
        gcs_storage.image_url("kaggle/images/nobody/missing.jpg")
    message = one_line(info.value)
    assert f"gs://{gcs_storage.bucket_name}/art/kaggle/images/nobody/missing.jpg" in message
    assert "python -m artsearch upload" in message


def test_artists_json_round_trips_as_json(gcs_storage: GCSStorage, fake_gcs: FakeGCS, gcs_bucket: str) -> None:
    artists = {
        "albrecht-durer": Artist(name="Albrecht Dürer", years="1471 – 1528", birth_year=1471, death_year=1528),
        "katsushika-hokusai": Artist(name="葛飾 北斎", slug="katsushika-hokusai", nationality="Japanese"),
        "frida-kahlo": Artist(name="Frida Kahlo", bio='Said "I paint myself".\nMexican.'),
    }
    gcs_storage.write_artists(artists)
    assert gcs_storage.read_artists() == artists
    blob = fake_gcs.objects(gcs_bucket)["art/artists.json"]
    raw = blob.download_as_bytes()
    assert json.loads(raw.decode("utf-8"))["katsushika-hokusai"]["name"] == "葛飾 北斎"
    assert blob.content_type.startswith("application/json")


def test_malformed_artists_json_is_a_storage_error(gcs_storage: GCSStorage, fake_gcs: FakeGCS, gcs_bucket: str) -> None:
    fake_gcs.client.bucket(gcs_bucket).blob("art/artists.json").upload_from_string(b"\x80\x04not json")
    with pytest.raises(StorageError) as info:
        gcs_storage.read_artists()
    assert "artists.json" in one_line(info.value)


# -- errors --------------------------------------------------------------------


def assert_no_key_material(message: str, info: dict[str, str]) -> None:
    body = info["private_key"].splitlines()[1]
    assert body not in message


def test_missing_service_account_says_where_to_paste_it(tmp_path: Path) -> None:
    settings = load_settings(secrets={"Storage": {"BACKEND": "gcs", "BUCKET": "b"}}, env={})
    with pytest.raises(MissingCredentials) as info:
        open_storage(settings)
    message = one_line(info.value)
    assert "[gcp_service_account]" in message and ".streamlit/secrets.toml" in message


@pytest.mark.parametrize("drop", ["private_key", "client_email"])
def test_incomplete_service_account_names_what_is_missing(service_account_info: dict[str, str], drop: str) -> None:
    info = {k: v for k, v in service_account_info.items() if k != drop}
    with pytest.raises(MissingCredentials) as err:
        GCSStorage("b", info)
    message = one_line(err.value)
    assert drop in message and "[gcp_service_account]" in message
    assert_no_key_material(message, service_account_info)


def test_bad_private_key_is_a_config_error_without_the_key(service_account_info: dict[str, str]) -> None:
    lines = service_account_info["private_key"].splitlines()
    broken = "\n".join([lines[0], lines[1][::-1], *lines[2:]])  # a PEM whose body is garbage
    with pytest.raises(ConfigError) as err:
        GCSStorage("b", {**service_account_info, "private_key": broken})
    message = one_line(err.value)
    assert "private_key" in message and "BEGIN PRIVATE KEY" in message
    assert lines[1][::-1] not in message
    assert_no_key_material(message, service_account_info)


def test_wrong_kind_of_credentials_is_a_config_error(service_account_info: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as err:
        GCSStorage("b", {**service_account_info, "type": "authorized_user"})
    assert "service_account" in one_line(err.value)


def test_private_key_with_escaped_newlines_still_works(
    fake_gcs: FakeGCS, gcs_bucket: str, service_account_info: dict[str, str]
) -> None:
    escaped = service_account_info["private_key"].replace("\n", "\\n")
    storage = make_gcs_storage(fake_gcs, {**service_account_info, "private_key": escaped}, gcs_bucket)
    storage.put_image(KEY, b"x")
    assert requests.get(storage.image_url(KEY), timeout=10).content == b"x"


def test_empty_bucket_setting_is_a_config_error(service_account_info: dict[str, str]) -> None:
    settings = load_settings(
        secrets={"gcp_service_account": service_account_info, "Storage": {"BACKEND": "gcs"}}, env={}
    )
    with pytest.raises(ConfigError) as err:
        GCSStorage.from_settings(settings)
    assert "BUCKET" in one_line(err.value)


def test_missing_bucket_says_how_to_create_it(fake_gcs: FakeGCS, service_account_info: dict[str, str]) -> None:
    storage = make_gcs_storage(fake_gcs, service_account_info, "no-such-bucket-artsearch")
    for action in (
        lambda: storage.read_image(KEY),
        lambda: storage.put_image(KEY, b"x"),
        lambda: storage.read_artists(),
        lambda: storage.image_url(KEY),
        lambda: storage.list_objects(),
    ):
        with pytest.raises(StorageError) as err:
            action()
        message = one_line(err.value)
        assert "no-such-bucket-artsearch does not exist" in message
        assert "gcloud storage buckets create gs://no-such-bucket-artsearch" in message


def test_missing_object_is_not_found(gcs_storage: GCSStorage) -> None:
    with pytest.raises(NotFound) as err:
        gcs_storage.read_image("kaggle/images/nobody/missing.jpg")
    message = one_line(err.value)
    assert "missing.jpg does not exist" in message and "python -m artsearch upload" in message


def test_permission_errors_name_the_role_to_grant(
    denying_server: str, service_account_info: dict[str, str], tmp_path: Path
) -> None:
    storage = GCSStorage("locked", service_account_info, endpoint=denying_server)
    with pytest.raises(StorageError) as err:
        storage.read_image(KEY)
    message = one_line(err.value)
    assert SA_EMAIL in message and "roles/storage.objectViewer" in message
    assert_no_key_material(message, service_account_info)

    with pytest.raises(StorageError) as err:
        storage.put_image(KEY, b"x")
    assert "may not write" in one_line(err.value) and "--role=roles/storage.objectAdmin" in str(err.value)

    with pytest.raises(StorageError) as err:
        storage.image_url(KEY)
    assert "roles/storage.objectViewer" in one_line(err.value)

    with pytest.raises(StorageError) as err:
        upload_to_bucket(LocalStorage(tmp_path), storage, progress=False)
    assert "roles/storage.objectAdmin" in one_line(err.value)
