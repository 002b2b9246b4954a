"""``python -m artsearch eval``: search quality of the current collection, as numbers.

Works for any model and dataset; everything is computed from the collection
itself (its payloads, stored vectors and stored images):

- image to image: leave-one-out artist match@1 / @10 (is the nearest *other*
  artwork by the same artist?), and near-duplicate recovery (a resized,
  re-compressed, slightly cropped copy of an artwork finds the original first);
- text to image: precision@10 of templated queries, "a painting by {artist}"
  and "a {genre} painting", next to the chance level of each label;
- ANN fidelity: recall@10 of what Qdrant returns against exact brute force over
  the same vectors;
- gallery photos: synthetic phone photos of indexed artworks on a wall (frame, perspective, glare, colour
  cast, JPEG noise; :func:`artsearch.gallery.gallery_photo`) searched through the service as the page's
  "Take a photo" does, recall@1 / @5 of the artwork, with the whole photo and with the painting found.
- with a text model (``TEXT_EMBEDDER_NAME``): per language, top-10 overlap with the same
  query in English and text->image precision@10 (:mod:`artsearch.crosslingual`).
"""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from artsearch import crosslingual, gallery, match_measures
from artsearch.errors import ArtsearchError
from artsearch.images import load_image
from artsearch.search import Query, SearchService

MAX_VECTORS = 200_000  # brute force needs every vector in memory: 200k x 512 x 4 B = 400 MB


@dataclass
class Metric:
    name: str
    value: float
    n: int
    chance: float | None = None
    note: str = ""


@dataclass
class EvalReport:
    collection: str
    model: str
    artworks: int
    metrics: list[Metric] = field(default_factory=list)
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)

    def get(self, name: str) -> float:
        return next(m.value for m in self.metrics if m.name == name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"collection {self.collection}: {self.artworks} artworks, model {self.model}",
            "",
            "| metric | value | chance | queries |",
            "|---|---|---|---|",
        ]
        for m in self.metrics:
            chance = f"{m.chance:.3f}" if m.chance is not None else "-"
            lines.append(f"| {m.name} | {m.value:.3f} | {chance} | {m.n} |" + (f" {m.note}" if m.note else ""))
        return "\n".join(lines)


def iter_points(service: SearchService, *, with_vectors: bool, batch: int = 1000) -> Iterator[Any]:
    """Every point of the live collection (payload, optionally vector), in pages."""
    offset = None
    while True:
        points, offset = service.index.scroll_page(limit=batch, offset=offset, with_vectors=with_vectors)
        yield from points
        if offset is None:
            return


def stored_images(service: SearchService, points: list[Any]) -> Iterator[tuple[Any, Image.Image]]:
    """Each point with its stored image, decoded; points whose image storage cannot give are passed over."""
    for p in points:
        key = (p.payload or {}).get("image_key", "")
        try:
            yield p, load_image(service.storage.read_image(key), name=key)
        except ArtsearchError:
            continue


def near_duplicate(image: Image.Image, rng: random.Random) -> Image.Image:
    """A resized, re-compressed, slightly cropped copy, as a photo or a re-upload would be."""
    w, h = image.size
    dx, dy = int(w * rng.uniform(0.02, 0.06)), int(h * rng.uniform(0.02, 0.06))
    cropped = image.crop((dx, dy, w - dx, h - dy))
    scale = rng.uniform(0.5, 0.8)
    resized = cropped.resize((max(8, int(cropped.width * scale)), max(8, int(cropped.height * scale))))
    buf = io.BytesIO()
    resized.convert("RGB").save(buf, "JPEG", quality=rng.randint(55, 75))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _labels(payload: dict[str, Any], key: str) -> list[str]:
    value = payload.get(key) or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def evaluate(
    service: SearchService,
    *,
    sample: int = 300,
    duplicates: int = 100,
    min_label_count: int = 5,
    max_labels: int = 20,
    artist_template: str = "a painting by {artist}",
    genre_template: str = "a {genre} painting",
    seed: int = 0,
    gallery_photos: int = 100,
    queries: crosslingual.QuerySet | None = None,
    absent: Sequence[str] | None = None,
) -> EvalReport:
    """Compute every metric on (a seeded sample of) the live collection. ``queries``: the parallel queries of the
    cross-lingual measures (default: :data:`artsearch.crosslingual.DEFAULT_QUERIES`), run with a text model only."""
    rng = random.Random(seed)
    total = service.index.require_points()
    report = EvalReport(service.index.alias, service.encoder.name, total)
    points = list(iter_points(service, with_vectors=total <= MAX_VECTORS))
    payload_by_id = {str(p.id): p.payload or {} for p in points}
    chosen = rng.sample(points, min(sample, len(points)))

    # Image to image, leave one out: query by the stored vector; Qdrant excludes the seed itself.
    at1 = at10 = 0
    for p in chosen:
        artist = (p.payload or {}).get("artist")
        hits = service.index.query(str(p.id), limit=10)
        others = [(h.payload or {}).get("artist") for h in hits]
        at1 += bool(others) and others[0] == artist
        at10 += artist in others
    counts = Counter((p.payload or {}).get("artist") for p in points)
    chance = sum(c * (c - 1) for c in counts.values()) / max(1, len(points) * (len(points) - 1))
    report.metrics.append(Metric("image->image artist match@1", at1 / len(chosen), len(chosen), chance))
    report.metrics.append(Metric("image->image artist match@10", at10 / len(chosen), len(chosen)))

    # Near duplicates: altered copies of stored images should find their original at rank 1.
    found = tried = 0
    reciprocal = 0.0
    for p, image in stored_images(service, rng.sample(points, min(duplicates, len(points)))):
        vector = service.encoder.encode_images([near_duplicate(image, rng)])[0]
        ids = [str(h.id) for h in service.index.query(vector, limit=10)]
        tried += 1
        if str(p.id) in ids:
            rank = ids.index(str(p.id)) + 1
            found += rank == 1
            reciprocal += 1 / rank
    if tried:
        report.metrics.append(Metric("near-duplicate recall@1", found / tried, tried, 1 / len(points)))
        report.metrics.append(Metric("near-duplicate MRR@10", reciprocal / tried, tried))

    # Gallery photos: the whole photo searched as an upload is, against the painting found in it ("Take a photo").
    hits_at = {False: [0, 0], True: [0, 0]}
    tried = 0
    for p, image in stored_images(service, rng.sample(points, min(gallery_photos, len(points)))):
        buf = io.BytesIO()
        gallery.gallery_photo(image, rng).save(buf, "JPEG", quality=90)
        tried += 1
        for photo in (False, True):
            ids = [str(h.id) for h in service.index.query(service.image_vector(buf.getvalue(), photo=photo), limit=5)]
            hits_at[photo][0] += bool(ids) and ids[0] == str(p.id)
            hits_at[photo][1] += str(p.id) in ids
    if tried:
        for photo, label in ((False, "whole photo"), (True, "painting found")):
            report.metrics.append(Metric(f"gallery photo recall@1 ({label})", hits_at[photo][0] / tried, tried))
            report.metrics.append(Metric(f"gallery photo recall@5 ({label})", hits_at[photo][1] / tried, tried))
    # Text to image: templated queries per frequent label, precision@10 against the label's share.
    for key, template in (("artist", artist_template), ("genre", genre_template)):
        label_counts = Counter(label for pl in payload_by_id.values() for label in _labels(pl, key) if label)
        labels = [lab for lab, c in label_counts.most_common(max_labels) if c >= min_label_count]
        if not labels:
            continue
        precisions = {}
        for label in labels:
            hits = service.index.query(service.text_vector(template.format(**{key: label})), limit=10)
            precisions[label] = sum(label in _labels(h.payload or {}, key) for h in hits) / 10
        chance = float(np.mean([label_counts[lab] / len(points) for lab in labels]))
        name = f"text->image {key} precision@10"
        report.metrics.append(
            Metric(name, float(np.mean(list(precisions.values()))), len(labels), chance, f'"{template}"')
        )
        report.per_query[name] = precisions

    # ANN fidelity: Qdrant's answer against exact cosine over every stored vector.
    if points and points[0].vector is not None:
        ids = [str(p.id) for p in points]
        matrix = np.asarray([p.vector for p in points], dtype=np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        recall = []
        for p in chosen:
            query = np.asarray(p.vector, dtype=np.float32)
            exact = {ids[i] for i in np.argsort(-(matrix @ query))[:10]}
            returned = {str(h.id) for h in service.index.query(query, limit=10)}
            recall.append(len(exact & returned) / len(exact))
        report.metrics.append(Metric("ANN recall@10 vs exact", float(np.mean(recall)), len(chosen)))
    artists = [a for a, c in counts.most_common(max_labels) if a and c >= min_label_count]
    if service.quality()[0] is not None:  # the build keeps a calibration sample: the labels can be judged
        report.metrics.extend(label_metrics(service, artist_template, artists, chosen[:50], absent, seed))
    if service.settings.text_embedder_name:
        report.metrics.extend(cross_lingual_metrics(service, queries or crosslingual.load_queries(), artists))
    return report


def label_metrics(
    service: SearchService,
    artist_template: str,
    artists: Sequence[str],
    seeds: Sequence[Any],
    absent: Sequence[str] | None,
    seed: int,
) -> list[Metric]:
    """Precision of "strong match" (text and "more like this") and how often absent queries are told nothing
    matches (:mod:`artsearch.match_measures`)."""
    out = []
    text = [(Query(text=artist_template.format(artist=a), k=10), a) for a in artists]
    like = [(Query(like_id=str(p.id), k=10), str((p.payload or {}).get("artist") or "")) for p in seeds]
    for name, queries in (("text", text), ("more like this", like)):
        value, n = match_measures.strong_precision(service, queries)
        if value is not None:
            out.append(Metric(f'"strong match" artist precision ({name})', value, n, note="results labelled strong"))
    words = [Query(text=t, k=10) for t in (absent or match_measures.DEFAULT_ABSENT)]
    noise = [Query(image=b, k=10) for b in match_measures.noise_images(seed=seed)]
    for name, queries in (("absent words", words), ("noise images", noise)):
        value, n = match_measures.nothing_rate(service, queries)
        if value is not None:
            out.append(Metric(f'"nothing matches" for {name}', value, n))
    return out


def cross_lingual_metrics(service: SearchService, queries: crosslingual.QuerySet, artists: list[str]) -> list[Metric]:
    """Per language, top-10 overlap with English and precision@10 (English too) through the text model."""
    figures = crosslingual.measure(service, queries.expanded(artists))
    out = []
    for language, values in figures.items():
        if "overlap" in values:
            name = f"{language} query: top-10 overlap with English"
            out.append(
                Metric(name, values["overlap"], int(values["n_overlap"]), note=service.settings.text_embedder_name)
            )
            name = f"{language} query: top-10 overlap with English via the image model"
            out.append(Metric(name, values["overlap_image_model"], int(values["n_overlap"])))
        if "precision" in values:
            name = f"{language} query: text->image artist precision@10"
            out.append(Metric(name, values["precision"], int(values["n_precision"])))
    return out
