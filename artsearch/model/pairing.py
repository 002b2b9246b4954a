"""A text model distilled into an image model's space, and whether it may search a given index.

``TEXT_EMBEDDER_NAME`` (``--text-model``) names a text-only model whose vectors land in a CLIP image
model's space, as ``clip-ViT-B-32-multilingual-v1`` was distilled for ``clip-ViT-B-32``: text queries
use it while images, the index and "more like this" stay on the image model. It only makes sense
with an index built by that very image model, so a search checks, from the files alone:

* the vector sizes agree (always refused otherwise);
* the image model the text model was distilled for is the index's own. A model folder says which one
  in :data:`DISTILLED_FOR` (``{"image_model": "clip-ViT-B-32"}`` for a hub model, plus
  ``"fingerprint"`` for a folder model, the content fingerprint of :func:`artsearch.model.locate.fingerprint`);
  hub models without that file are looked up in :data:`KNOWN_PAIRS`. An unknown or different one is
  refused unless ``ARTSEARCH_ALLOW_OTHER_MODEL`` (``--allow-other-model``), as for a different image model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from artsearch.errors import ModelMismatch
from artsearch.model.choice import FORCE, IndexModel
from artsearch.model.locate import ModelFiles, declared_dimension, hub_repo_ids

log = logging.getLogger(__name__)

#: The file in a text model's folder naming the image model it was distilled for.
DISTILLED_FOR = "distilled_for.json"

#: Hub text models and the hub image model each was distilled for (repo ids).
KNOWN_PAIRS: dict[str, str] = {
    "sentence-transformers/clip-ViT-B-32-multilingual-v1": "sentence-transformers/clip-ViT-B-32",
}


@dataclass(frozen=True)
class Teacher:
    """The image model a text model was distilled for: a hub repo id, or a folder's name and content fingerprint."""

    name: str
    repo_id: str | None = None
    fingerprint: str | None = None

    def matches(self, image: IndexModel) -> bool:
        if self.repo_id:
            return image.repo_id == self.repo_id
        return bool(self.fingerprint) and image.fingerprint == self.fingerprint


def write_distilled_for(text_model_folder: Path, image_files: ModelFiles) -> Path:
    """Record in a text model's folder the image model it was distilled for (training scripts call this)."""
    record: dict[str, str] = {"image_model": image_files.repo_id or image_files.folder.name}  # type: ignore[union-attr]
    if not image_files.repo_id:
        record["fingerprint"] = image_files.fingerprint
    path = Path(text_model_folder) / DISTILLED_FOR
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def teacher_of(files: ModelFiles) -> Teacher | None:
    """The image model ``files`` (a text model) was distilled for: its :data:`DISTILLED_FOR`, else the table of
    known hub pairs; None when neither says."""
    if files.folder is not None and (files.folder / DISTILLED_FOR).is_file():
        try:
            data = json.loads((files.folder / DISTILLED_FOR).read_text())
            name = str(data["image_model"]).strip()
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("%s in %s cannot be read: the text model's image model is unknown", DISTILLED_FOR, files.name)
            return None
        if data.get("fingerprint"):
            return Teacher(name, fingerprint=str(data["fingerprint"]))
        return Teacher(name, repo_id=hub_repo_ids(name)[0])
    for repo_id in [files.repo_id] if files.repo_id else hub_repo_ids(files.name):
        if repo_id in KNOWN_PAIRS:
            return Teacher(KNOWN_PAIRS[repo_id], repo_id=KNOWN_PAIRS[repo_id])
    return None


def check_text_model(text: ModelFiles, image: IndexModel, *, allow_other: bool) -> None:
    """ModelMismatch (one line) unless the text model ``text`` may embed queries for an index of ``image``."""
    dim = declared_dimension(text.folder) if text.folder is not None else None
    if dim is not None and dim != image.dim:
        raise ModelMismatch(
            f"TEXT_EMBEDDER_NAME (or --text-model) is {text.name}, which makes {dim}-d vectors, but the index holds "
            f"{image.dim}-d vectors from {image.describe()}: use a text model distilled for that image model, or "
            "unset TEXT_EMBEDDER_NAME."
        )
    teacher = teacher_of(text)
    if teacher is not None and teacher.matches(image):
        return
    what = (
        f"was distilled for {teacher.name}"
        if teacher is not None
        else f"does not say which image model it was distilled for (no {DISTILLED_FOR}, not a known hub pair)"
    )
    if allow_other:
        log.warning(
            "The text model %s %s, and the index was built with %s: using it anyway, as asked.",
            text.name,
            what,
            image.describe(),
        )
        return
    raise ModelMismatch(
        f"The text model {text.name} (TEXT_EMBEDDER_NAME or --text-model) {what}, but the index was built with "
        f"{image.describe()}: its queries would not land in this index's space. Use the text model made for it, "
        f"unset TEXT_EMBEDDER_NAME, or set {FORCE} to search anyway."
    )
