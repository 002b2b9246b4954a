"""The model an index was built with, as its collection records it, and which model a search may use.

A build records its image model in the collection's metadata (:data:`artsearch.catalog.MODEL_METADATA`):
the name as configured, the folder's absolute path, the hub repo id and revision, a content
fingerprint, the vector size and the inference path. Searches, ``info``, ``eval``, ``--append`` and the
page then use that model when none is configured, and refuse a configured model that differs: always
when its vectors have another size, and unless ``ARTSEARCH_ALLOW_OTHER_MODEL`` (``--allow-other-model``)
when only the model differs. An index built before models were recorded has no record: the configured
model (or the default) is used, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from artsearch.config import Settings
from artsearch.errors import ModelLoadError, ModelMismatch
from artsearch.model.locate import ModelFiles, declared_dimension, locate

log = logging.getLogger(__name__)

FORCE = "ARTSEARCH_ALLOW_OTHER_MODEL=true (--allow-other-model)"


@dataclass(frozen=True)
class IndexModel:
    """The image model a collection was built with."""

    name: str
    dim: int
    path: str | None = None  # the folder's absolute path (folder models)
    repo_id: str | None = None  # hub models
    revision: str | None = None
    fingerprint: str | None = None
    inference: str | None = None

    @classmethod
    def of(cls, files: ModelFiles, dim: int, inference: str) -> IndexModel:
        return cls(
            name=files.name,
            dim=int(dim),
            path=None if files.from_hub or files.folder is None else str(files.folder),
            repo_id=files.repo_id,
            revision=files.revision,
            fingerprint=files.fingerprint or None,
            inference=inference,
        )

    @classmethod
    def from_metadata(cls, data: Any) -> IndexModel | None:
        """The record as stored, or None for an index built before models were recorded (or a damaged record)."""
        if not isinstance(data, Mapping) or not data.get("name") or not data.get("dim"):
            return None
        known = {k: data.get(k) for k in cls.__dataclass_fields__}
        try:
            return cls(**{**known, "dim": int(known["dim"])})
        except (TypeError, ValueError):
            return None

    def to_metadata(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for ``info``: the name, where it is, its size and how it ran."""
        where = f", {self.repo_id} at {self.revision[:12]}" if self.repo_id and self.revision else ""
        if self.path and self.path != self.name:
            where = f", {self.path}"
        how = f", {self.inference}" if self.inference else ""
        return f"{self.name} ({self.dim}-d{where}{how})"

    def same_model(self, other: IndexModel) -> bool:
        """The same hub repo (whatever its revision: a README edit makes a new one), or a folder with the same
        content."""
        if self.repo_id or other.repo_id:
            return self.repo_id == other.repo_id
        return bool(self.fingerprint) and other.fingerprint == self.fingerprint

    def same_as(self, files: ModelFiles) -> bool:
        """Whether ``files`` hold this model (see :meth:`same_model`)."""
        return self.same_model(IndexModel.of(files, self.dim, ""))

    def files_here(self) -> ModelFiles:
        """This model's files on this machine: the name as given (when it still holds this model, e.g. a path
        relative to the project), else the recorded absolute path; when neither holds it any more, the first
        that is there (so the caller can say it changed); ModelLoadError when neither is there at all."""
        found = []
        for candidate in dict.fromkeys([self.name, self.path or self.name]):
            try:
                files = locate(candidate)
            except ModelLoadError:
                continue
            if self.same_as(files):
                return files
            found.append(files)
        if found:
            return found[0]
        raise ModelLoadError(
            f"The index was built with the model {self.name} ({self.path or 'a folder'}), which is not on this "
            "machine any more: set EMBEDDER_NAME (or --model) to where that model is now, or rebuild the index."
        )


def model_for_index(settings: Settings, recorded: IndexModel | None) -> str:
    """The model a search of an index built with ``recorded`` must load; ModelMismatch when the configured one
    differs (always for another vector size; unless ``settings.allow_other_model`` otherwise)."""
    if recorded is None:  # built before models were recorded: as before, the configured model or the default
        return settings.model_name
    configured = settings.embedder_name
    files = locate(configured) if configured else recorded.files_here()
    if recorded.same_as(files):
        if files.from_hub and recorded.revision and files.revision and files.revision != recorded.revision:
            log.info(
                "the index was built with %s at %s; the cache holds %s",
                files.repo_id,
                recorded.revision,
                files.revision,
            )
        return files.name
    if configured:
        what = f"EMBEDDER_NAME (or --model) is {configured}"
        fix = (
            f"unset it to search with the index's own model, rebuild the index with it "
            f"(python qdrant/initialize_db.py --model {configured}),"
        )
    else:
        what = f"the files of {files.name} have changed since"
        fix = f"rebuild the index (python qdrant/initialize_db.py --model {files.name}),"
    dim = declared_dimension(files.folder) if files.folder is not None else None
    if dim is not None and dim != recorded.dim:
        raise ModelMismatch(size_message(what, dim, recorded))
    if settings.allow_other_model:
        log.warning(
            "The index was built with %s, but %s: searching with it anyway, as asked.", recorded.describe(), what
        )
        return files.name
    raise ModelMismatch(
        f"The index was built with {recorded.describe()}, but {what}: {fix} or set {FORCE} to search anyway."
    )


def size_message(what: str, dim: int, recorded: IndexModel) -> str:
    return (
        f"The index holds {recorded.dim}-d vectors from {recorded.describe()}, but {what}, which makes {dim}-d "
        "vectors: unset EMBEDDER_NAME (or --model) to search with the index's own model, or rebuild the index "
        "with the new one."
    )


def check_vector_size(name: str, dim: int, index_dim: int | None, recorded: IndexModel | None) -> None:
    """ModelMismatch when a loaded model's vectors do not fit the index (whatever the settings allow)."""
    if index_dim is None or dim == index_dim:
        return
    if recorded is not None:
        raise ModelMismatch(size_message(f"the model is {name}", dim, recorded))
    raise ModelMismatch(
        f"The index holds {index_dim}-d vectors, but the model {name} makes {dim}-d vectors: set EMBEDDER_NAME "
        "(or --model) to the model the index was built with, or rebuild the index with this one."
    )
