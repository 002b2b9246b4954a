"""``python -m artsearch upload``: copy the prepared images and artists.json to the bucket.

Resumable by construction: one listing of the bucket tells which objects are
already there with the same size and checksum, and only the rest is uploaded.
GCS makes an object visible only once its upload completes, so a run that was
interrupted (Ctrl-C, a kill, a lost connection) leaves no half objects and a
re-run finishes the job without re-uploading anything.

What is uploaded: every image file under the local storage root (the keys
the index refers to are paths relative to it) plus ``artists.json``; never the
embedded Qdrant folder, downloads such as zip or CSV files, dot files or
temp files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from artsearch.config import Settings, load_settings
from artsearch.errors import ArtsearchError, ConfigError
from artsearch.storage.base import ARTISTS_KEY
from artsearch.storage.gcs import GCSStorage, RemoteObject
from artsearch.storage.local import LocalStorage

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
DEFAULT_EXCLUDE = ("qdrant",)
_CHUNK = 1 << 20


@dataclass
class UploadReport:
    """What one run did. ``failed`` holds (key, one-line reason)."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes_uploaded: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = f"{len(self.uploaded)} uploaded, {len(self.skipped)} already there, {len(self.failed)} failed"
        return text + f" ({self.bytes_uploaded / 1e6:.1f} MB sent)"


def local_files(source: LocalStorage, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> dict[str, Path]:
    """key -> path for everything to upload, in a stable order.

    ``exclude`` lists folders relative to the root (``qdrant`` by default).
    """
    root = source.root
    skip = {Path(e).as_posix().strip("/") for e in exclude if e}
    files: dict[str, Path] = {}
    artists = root / ARTISTS_KEY
    if artists.is_file():
        files[ARTISTS_KEY] = artists
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        key = rel.as_posix()
        if any(part.startswith(".") for part in rel.parts) or path.suffix.lower() == ".tmp":
            continue
        if any(key == s or key.startswith(s + "/") for s in skip):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.is_symlink():
            files[key] = path
    return files


def file_md5(path: Path) -> str:
    """Base64 MD5, the form GCS reports in ``md5Hash``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def file_crc32c(path: Path) -> str:
    """Base64 big-endian CRC32C, for composite objects that carry no MD5."""
    import google_crc32c

    checksum = google_crc32c.Checksum()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            checksum.update(chunk)
    return base64.b64encode(checksum.digest()).decode("ascii")


def same_object(path: Path, remote: RemoteObject | None) -> bool:
    """True when the bucket already holds these exact bytes (size first, then checksum)."""
    if remote is None or remote.size != path.stat().st_size:
        return False
    if remote.md5:
        return remote.md5 == file_md5(path)
    if remote.crc32c:
        return remote.crc32c == file_crc32c(path)
    return False


def upload_to_bucket(
    source: LocalStorage,
    target: GCSStorage,
    *,
    workers: int = 8,
    progress: bool = True,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
    on_done: Callable[[str, str], None] | None = None,
) -> UploadReport:
    """Copy ``source``'s images and artists.json to ``target``, skipping identical objects.

    ``on_done(key, outcome)`` is called in this thread after each file, with
    outcome 'uploaded', 'skipped' or 'failed'; if it raises (like Ctrl-C
    does), queued files are cancelled, files in flight finish, and the
    exception propagates: a re-run picks up where this one stopped.
    Errors on single files are collected in the report; a missing bucket or
    a permission error on the listing raises before anything is sent.
    """
    files = local_files(source, exclude)
    remote = target.list_objects()
    report = UploadReport()
    log.info(
        "Uploading %d files from %s to %s (%d objects there)", len(files), source.root, target.description, len(remote)
    )

    def one(key: str, path: Path) -> str:
        if same_object(path, remote.get(key)):
            return "skipped"
        target.put_file(key, path)
        return "uploaded"

    bar = tqdm(total=len(files), unit="file", desc="upload", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="upload")
    futures: dict[Future[str], str] = {}
    try:
        futures = {pool.submit(one, key, path): key for key, path in files.items()}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                key = futures[future]
                outcome = _record(report, key, files[key], future)
                bar.update(1)
                bar.set_postfix(up=len(report.uploaded), skip=len(report.skipped), fail=len(report.failed))
                if on_done is not None:
                    on_done(key, outcome)
    except BaseException:
        log.warning("Upload interrupted after %s; run it again to finish.", report.summary())
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    log.info("Upload to %s: %s", target.description, report.summary())
    return report


def _record(report: UploadReport, key: str, path: Path, future: Future[str]) -> str:
    try:
        outcome = future.result()
    except ArtsearchError as exc:
        report.failed.append((key, str(exc)))
        return "failed"
    except OSError as exc:
        report.failed.append((key, f"cannot read {path}: {exc.strerror or exc}"))
        return "failed"
    if outcome == "uploaded":
        report.uploaded.append(key)
        report.bytes_uploaded += path.stat().st_size
    else:
        report.skipped.append(key)
    return outcome


# -- CLI ------------------------------------------------------------------


def add_upload_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``upload`` on the CLI's ``add_subparsers()`` object; returns its parser.

    The parser's ``run`` default is a one-argument callable (``args.run(args)``),
    which loads the settings and calls :func:`run_upload`.
    """
    parser = subparsers.add_parser(
        "upload",
        help="copy the prepared images and artists.json to the GCS bucket",
        description=(
            "Copy the images under the data folder and artists.json to [Storage] BUCKET/PREFIX. "
            "Objects already there with the same size and checksum are skipped, so re-running "
            "after an interruption finishes the job."
        ),
    )
    parser.add_argument("--workers", type=int, default=8, help="parallel uploads (default 8)")
    parser.add_argument("--data-dir", type=Path, default=None, help="local folder to upload (default: data_dir)")
    parser.add_argument("--bucket", default=None, help="bucket name (default: [Storage] BUCKET)")
    parser.add_argument("--prefix", default=None, help="object name prefix (default: [Storage] PREFIX)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.set_defaults(run=_cmd_upload)
    return parser


def _cmd_upload(args: argparse.Namespace) -> int:
    return run_upload(args, load_settings(data_dir=getattr(args, "data_dir", None)))


def run_upload(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``upload``: 0 when every file is in the bucket, 1 when some failed, 130 on Ctrl-C.

    Raises :class:`artsearch.errors.ArtsearchError` for configuration problems
    (the CLI prints the message and exits non-zero). Works whatever BACKEND
    says: uploading is how you prepare the bucket before switching to gcs.
    """
    data_dir = Path(getattr(args, "data_dir", None) or settings.data_dir)
    if not data_dir.is_dir():
        raise ConfigError(
            f"Nothing to upload: {data_dir} does not exist; prepare it with python qdrant/initialize_db.py."
        )
    settings = settings.replace(
        storage_bucket=getattr(args, "bucket", None), storage_prefix=getattr(args, "prefix", None)
    )
    source = LocalStorage(data_dir)
    target = GCSStorage.from_settings(settings)
    exclude = list(DEFAULT_EXCLUDE)
    try:
        exclude.append(Path(settings.qdrant_path).resolve().relative_to(source.root).as_posix())
    except ValueError:
        pass  # the Qdrant folder is outside the data folder
    try:
        report = upload_to_bucket(
            source,
            target,
            workers=getattr(args, "workers", 8),
            progress=not getattr(args, "no_progress", False),
            exclude=exclude,
        )
    except KeyboardInterrupt:
        log.warning("Interrupted; run python -m artsearch upload again to finish without re-uploading.")
        return 130
    for key, reason in report.failed:
        log.error("%s: %s", key, reason)
    # This function is the command itself: its one-line result goes to stdout, like the other commands'.
    print(f"{source.root} -> {target.description}: {report.summary()}")
    if report.failed:
        print("Some files failed (see above); run python -m artsearch upload again to retry them.")
    return 0 if report.ok else 1
