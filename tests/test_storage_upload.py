"""``artsearch upload``: the data folder copied to a bucket on a real fake-gcs-server, resumable after a kill."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artsearch.catalog import Artist
from artsearch.config import load_settings
from artsearch.errors import ArtsearchError
from artsearch.storage.gcs import GCSStorage
from artsearch.storage.local import LocalStorage
from artsearch.storage.upload import add_upload_command, local_files, run_upload, upload_to_bucket
from tests.support.datasets import jpeg_like
from tests.support.gcs import FakeGCS


@pytest.fixture
def prepared_data(tmp_path: Path) -> Path:
    """A data folder as ingest leaves it: images, artists.json, plus things that must not be uploaded."""
    root = tmp_path / "data"
    for artist in ("Edgar_Degas", "Albrecht_Dürer", "Frida_Kahlo"):
        for i in range(8):
            LocalStorage(root).put_image(f"kaggle/images/{artist}/{artist}_{i}.jpg", jpeg_like(f"{artist}-{i}"))
    LocalStorage(root).put_image("folder/scan.PNG", b"\x89PNG....")
    LocalStorage(root).write_artists({"edgar-degas": Artist(name="Edgar Degas")})
    (root / "qdrant" / "collection").mkdir(parents=True)
    (root / "qdrant" / "collection" / "thumb.jpg").write_bytes(b"not ours")
    (root / "kaggle" / "best-artworks.zip").write_bytes(b"PK")
    (root / "kaggle" / "artists.csv").write_text("name\n")
    (root / "kaggle" / "images" / ".DS_Store").write_bytes(b"x")
    (root / "kaggle" / "images" / ".half.jpg.tmp").write_bytes(b"x")
    return root


def expected_keys(root: Path) -> set[str]:
    keys = {p.relative_to(root).as_posix() for p in root.rglob("*.jpg") if "qdrant" not in p.parts}
    return keys | {"folder/scan.PNG", "artists.json"}


def test_upload_copies_images_and_artists_and_nothing_else(
    prepared_data: Path, gcs_storage: GCSStorage, fake_gcs: FakeGCS, gcs_bucket: str
) -> None:
    keys = expected_keys(prepared_data)
    assert set(local_files(LocalStorage(prepared_data))) == keys
    report = upload_to_bucket(LocalStorage(prepared_data), gcs_storage, workers=4, progress=False)
    assert report.ok and not report.skipped
    assert set(report.uploaded) == keys
    objects = fake_gcs.objects(gcs_bucket)
    assert set(objects) == {f"art/{k}" for k in keys}
    for key in keys:
        assert objects[f"art/{key}"].download_as_bytes() == (prepared_data / key).read_bytes()
    assert gcs_storage.read_artists() == LocalStorage(prepared_data).read_artists()


def test_second_upload_sends_nothing_and_a_changed_file_is_sent_again(
    prepared_data: Path, gcs_storage: GCSStorage
) -> None:
    source = LocalStorage(prepared_data)
    first = upload_to_bucket(source, gcs_storage, progress=False)
    second = upload_to_bucket(source, gcs_storage, progress=False)
    assert second.uploaded == [] and second.failed == []
    assert sorted(second.skipped) == sorted(first.uploaded)

    changed = "kaggle/images/Edgar_Degas/Edgar_Degas_3.jpg"
    old = (prepared_data / changed).read_bytes()
    (prepared_data / changed).write_bytes(old[::-1])  # same size, other checksum
    third = upload_to_bucket(source, gcs_storage, progress=False)
    assert third.uploaded == [changed]
    assert gcs_storage.read_image(changed) == old[::-1]


def test_interrupted_upload_resumes_with_exactly_the_rest(
    prepared_data: Path, gcs_storage: GCSStorage, fake_gcs: FakeGCS, gcs_bucket: str
) -> None:
    source = LocalStorage(prepared_data)
    total = len(local_files(source))
    seen: list[str] = []

    def ctrl_c_after_five(key: str, outcome: str) -> None:
        seen.append(key)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload_to_bucket(source, gcs_storage, workers=2, progress=False, on_done=ctrl_c_after_five)
    there = {name.removeprefix("art/") for name in fake_gcs.objects(gcs_bucket)}
    assert 5 <= len(there) < total  # the queue was cancelled; only files in flight finished

    report = upload_to_bucket(source, gcs_storage, workers=2, progress=False)
    assert report.ok
    assert set(report.skipped) == there
    assert len(report.uploaded) == total - len(there)
    assert set(report.uploaded).isdisjoint(there)
    assert len(fake_gcs.objects(gcs_bucket)) == total


def test_upload_command(
    prepared_data: Path,
    fake_gcs: FakeGCS,
    gcs_bucket: str,
    service_account_info: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="artsearch")
    add_upload_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["upload", "--workers", "3", "--no-progress", "--prefix", "v1"])
    settings = load_settings(
        secrets={
            "gcp_service_account": service_account_info,
            "Storage": {"BUCKET": f"gs://{gcs_bucket}", "ENDPOINT": fake_gcs.url},
            "Artsearch": {"DATA_DIR": str(prepared_data)},
        },
        env={},
    )
    assert callable(args.run)  # what cli.main calls: args.run(args)
    total = len(expected_keys(prepared_data))
    assert run_upload(args, settings) == 0
    assert set(fake_gcs.objects(gcs_bucket)) == {f"v1/{k}" for k in expected_keys(prepared_data)}
    assert f"gs://{gcs_bucket}/v1/: {total} uploaded, 0 already there, 0 failed" in capsys.readouterr().out
    assert run_upload(args, settings) == 0
    assert f"0 uploaded, {total} already there, 0 failed" in capsys.readouterr().out

    args = parser.parse_args(["upload", "--data-dir", str(prepared_data / "nope")])
    with pytest.raises(ArtsearchError):
        run_upload(args, settings)


KILLABLE_UPLOAD = """
import json, sys, time
from pathlib import Path
from artsearch.storage.gcs import GCSStorage
from artsearch.storage.local import LocalStorage
from artsearch.storage.upload import upload_to_bucket

endpoint, bucket, info_path, root = sys.argv[1:]
target = GCSStorage(bucket, json.loads(Path(info_path).read_text()), prefix="art/", endpoint=endpoint)
put_file, sent = target.put_file, []


def hold_after_three(key, path):
    sent.append(key)
    if len(sent) > 3:  # the fourth upload waits here to be killed: part way, however fast the machine is
        time.sleep(600)
    put_file(key, path)


target.put_file = hold_after_three
upload_to_bucket(LocalStorage(Path(root)), target, workers=1, progress=False)
"""


def test_killed_upload_process_resumes_with_exactly_the_rest(
    prepared_data: Path,
    gcs_storage: GCSStorage,
    fake_gcs: FakeGCS,
    gcs_bucket: str,
    service_account_info: dict[str, str],
    tmp_path: Path,
) -> None:
    info_path = tmp_path / "sa.json"
    info_path.write_text(json.dumps(service_account_info))
    total = len(local_files(LocalStorage(prepared_data)))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_UPLOAD, fake_gcs.url, gcs_bucket, str(info_path), str(prepared_data)],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.monotonic() + 120  # a safety net, not a speed
        while len(fake_gcs.objects(gcs_bucket)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the upload finished or failed before it could be killed"
    finally:
        proc.kill()  # SIGKILL: no cleanup, no chance to finish what is in flight
        proc.wait()
    there = {name.removeprefix("art/") for name in fake_gcs.objects(gcs_bucket)}
    assert 3 <= len(there) < total

    report = upload_to_bucket(LocalStorage(prepared_data), gcs_storage, progress=False)
    assert report.ok
    assert set(report.skipped) == there
    assert len(report.uploaded) == total - len(there)
    objects = fake_gcs.objects(gcs_bucket)
    assert len(objects) == total
    for name, blob in objects.items():
        assert blob.download_as_bytes() == (prepared_data / name.removeprefix("art/")).read_bytes()
