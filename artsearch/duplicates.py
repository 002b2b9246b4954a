"""``python -m artsearch duplicates``: every group of near-duplicate artworks in the collection.

The rules are the page's (:mod:`artsearch.dedupe`): two pictures are copies when their colour dHashes are
within :data:`~artsearch.dedupe.HASH_DISTANCE` bits, or, for a point indexed without a hash, when the cosine
of the vectors reaches :data:`~artsearch.dedupe.COSINE_THRESHOLD`. Comparing every pair is quadratic (5e9 pairs
at 100k artworks), so candidates come from **hash bands** (multi-index hashing): the 384 bits are cut into
``HASH_DISTANCE + 1`` bands, and two hashes at most ``HASH_DISTANCE`` bits apart agree on at least one whole
band (pigeonhole), so only hashes that share a band value are compared, in numpy. Points without a hash ask
Qdrant for their neighbours above the cosine threshold, one query each.

Candidate pairs join into connected components; inside each, copies are grouped as the page folds results:
greedy, each member against the group's *first* member only (so a chain of small differences never merges
distinct pictures), the first being the copy to keep: the largest picture (then the lowest id).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from artsearch.dedupe import COSINE_THRESHOLD, HASH_BITS, HASH_DISTANCE, collapse, hamming, same_picture
from artsearch.text import terminal_safe

#: Payload fields the report reads (never the vectors, except for points without a hash).
FIELDS = ["phash", "title", "artist", "image_key", "width", "height", "source_id"]
#: A point without a hash asks Qdrant for at most this many neighbours above the cosine threshold.
NEIGHBOURS = 32


@dataclass
class Member:
    """One artwork of a group, with what a curator needs to find it."""

    artwork_id: str
    title: str = ""
    artist: str = ""
    image_key: str = ""
    width: int | None = None
    height: int | None = None
    phash: str | None = None
    bits: int | None = None  #: hash bits from the group's kept copy (None without hashes)

    @property
    def pixels(self) -> int:
        return int(self.width or 0) * int(self.height or 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "artwork_id": self.artwork_id,
            "title": self.title,
            "artist": self.artist,
            "image": self.image_key,
            "width": self.width,
            "height": self.height,
            "hash_bits_from_kept": self.bits,
        }


@dataclass
class DuplicateGroup:
    """Copies of one picture: ``members[0]`` is the one to keep (the largest), the rest are its copies."""

    members: list[Member] = field(default_factory=list)

    @property
    def kept(self) -> Member:
        return self.members[0]

    @property
    def copies(self) -> int:
        return len(self.members)


@dataclass
class DuplicateReport:
    artworks: int  #: artworks looked at
    groups: list[DuplicateGroup]

    @property
    def redundant(self) -> int:
        """Artworks that could go: every member of a group but the kept one."""
        return sum(g.copies - 1 for g in self.groups)

    def summary(self) -> str:
        if not self.groups:
            return f"No near-duplicates among {self.artworks} artworks."
        n = sum(g.copies for g in self.groups)
        return (
            f"{len(self.groups)} groups of near-duplicates among {self.artworks} artworks: "
            f"{n} artworks, {self.redundant} of them copies of a kept one."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "artworks": self.artworks,
            "count": len(self.groups),
            "redundant": self.redundant,
            "groups": [{"copies": g.copies, "members": [m.to_json() for m in g.members]} for g in self.groups],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", "role", "artwork_id", "title", "artist", "image", "width", "height", "hash_bits"])
        for number, group in enumerate(self.groups, 1):
            for i, m in enumerate(group.members):
                writer.writerow(
                    [
                        number,
                        "keep" if i == 0 else "copy",
                        m.artwork_id,
                        m.title,
                        m.artist,
                        m.image_key,
                        m.width or "",
                        m.height or "",
                        "" if m.bits is None else m.bits,
                    ]
                )
        return out.getvalue()

    def table(self) -> list[str]:
        """Plain lines: one heading per group, one line per member (the kept copy first)."""
        lines = [self.summary()]
        for number, group in enumerate(self.groups, 1):
            lines.append(f"\n{number}. {group.copies} copies")
            for i, m in enumerate(group.members):
                size = f"{m.width}x{m.height}" if m.width and m.height else "?"
                bits = "" if i == 0 or m.bits is None else f", {m.bits} bits off"
                role = "keep" if i == 0 else "copy"
                title, artist = (terminal_safe(t, one_line=True) for t in (m.title or "Untitled", m.artist or "?"))
                lines.append(f"   {role}  {title} - {artist}  ({size}{bits})  [{m.artwork_id}]")
        return lines


# --- the hash bands --------------------------------------------------------------------------------------------


def hash_bits(hashes: Sequence[str]) -> np.ndarray:
    """Hex hashes as an ``(n, HASH_BITS)`` array of bits (an unreadable hash should not reach here)."""
    raw = np.frombuffer(b"".join(bytes.fromhex(h) for h in hashes), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(hashes), HASH_BITS // 8), axis=1)


def band_values(bits: np.ndarray, bands: int) -> list[np.ndarray]:
    """Each band's value per hash: the bits cut into ``bands`` nearly equal runs, each packed into an int64."""
    edges = np.linspace(0, bits.shape[1], bands + 1).round().astype(int)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        weights = (1 << np.arange(hi - lo, dtype=np.int64))[::-1]
        out.append(bits[:, lo:hi].astype(np.int64) @ weights)
    return out


def candidate_pairs(bits: np.ndarray, max_distance: int = HASH_DISTANCE) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of hashes that agree on at least one of ``max_distance + 1`` bands (with
    repeats): a superset of the pairs within ``max_distance`` bits. Vectorised per band: values sorted, equal neighbours paired at each
    distance until no run is that long."""
    n = bits.shape[0]
    found: list[np.ndarray] = []
    for values in band_values(bits, max_distance + 1):
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        for d in range(1, n):
            same = ordered[d:] == ordered[:-d]
            if not same.any():
                break
            a, b = order[:-d][same], order[d:][same]
            found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    return np.concatenate(found)  # a pair sharing several bands is listed once per band


def close_pairs(hashes: Sequence[str], max_distance: int = HASH_DISTANCE) -> np.ndarray:
    """Pairs ``(i, j)`` of hashes within ``max_distance`` bits, found through the bands and checked in numpy."""
    if len(hashes) < 2:
        return np.empty((0, 2), dtype=np.int64)
    bits = hash_bits(hashes)
    pairs = candidate_pairs(bits, max_distance)
    words = np.packbits(bits, axis=1).view(">u8").astype(np.uint64)
    distance = np.bitwise_count(words[pairs[:, 0]] ^ words[pairs[:, 1]]).sum(axis=1)
    n = len(hashes)
    keys = np.unique(pairs[distance <= max_distance] @ np.array([n, 1], dtype=np.int64))  # few: checked first
    return np.stack([keys // n, keys % n], axis=1)


def valid_hash(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != HASH_BITS // 4:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


# --- grouping --------------------------------------------------------------------------------------------------


def group_members(
    members: Sequence[Member],
    edges: Iterable[tuple[int, int]],
    vectors: dict[int, np.ndarray] | None = None,
) -> list[DuplicateGroup]:
    """The groups of copies among ``members``, given candidate ``edges`` between them (by position).

    Components of the edge graph are split with :func:`artsearch.dedupe.collapse`, the page's rule, the
    largest picture first; ``vectors`` (by position) judge members without a hash.
    """
    pairs = np.asarray(list(edges), dtype=np.int64).reshape(-1, 2)
    n = len(members)
    if n == 0 or len(pairs) == 0:
        return []
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels, minlength=count)
    vectors = vectors or {}
    groups = []
    for label in np.flatnonzero(sizes > 1):
        positions = sorted(np.flatnonzero(labels == label), key=lambda p: (-members[p].pixels, members[p].artwork_id))
        folded = collapse([vectors.get(p) for p in positions], [members[p].phash for p in positions])
        for g in folded:
            if not g.others:
                continue
            chosen = [members[positions[i]] for i in [g.first, *g.others]]
            kept = chosen[0]
            for m in chosen:
                m.bits = hamming(kept.phash, m.phash) if kept.phash and m.phash else None
            groups.append(DuplicateGroup(chosen))
    groups.sort(key=lambda g: (-g.copies, g.kept.title, g.kept.artwork_id))
    return groups


def _member(point: Any) -> Member:
    p = point.payload or {}
    phash = p.get("phash")

    def whole(value: Any) -> int | None:
        return int(value) if isinstance(value, (int, float)) else None

    return Member(
        artwork_id=str(point.id),
        title=str(p.get("title") or ""),
        artist=str(p.get("artist") or ""),
        image_key=str(p.get("image_key") or ""),
        width=whole(p.get("width")),
        height=whole(p.get("height")),
        phash=phash if valid_hash(phash) else None,
    )


def find_duplicates(index: Any, *, page_size: int = 2000) -> DuplicateReport:
    """The report for the live collection behind ``index`` (a :class:`~artsearch.index.read.VectorIndex`).

    One scroll of the payloads (no vectors); hash pairs from the bands; one Qdrant query per point without a hash.
    """
    members: list[Member] = []
    offset = None
    while True:
        records, offset = index.scroll_page(limit=page_size, offset=offset, fields=FIELDS)
        members.extend(_member(r) for r in records)
        if offset is None:
            break
    position = {m.artwork_id: i for i, m in enumerate(members)}
    # Identical hashes are paired at once (many blank scans would otherwise make one huge band bucket).
    first_with: dict[str, int] = {}
    edges: list[tuple[int, int]] = []
    for i, m in enumerate(members):
        if m.phash:
            j = first_with.setdefault(m.phash, i)
            if j != i:
                edges.append((j, i))
    distinct = list(first_with.values())
    edges += [(distinct[a], distinct[b]) for a, b in close_pairs([members[i].phash or "" for i in distinct]).tolist()]
    vectors: dict[int, np.ndarray] = {}
    unhashed = [i for i, m in enumerate(members) if not m.phash]
    for i in unhashed:
        for hit in index.query(
            members[i].artwork_id, limit=NEIGHBOURS, score_threshold=COSINE_THRESHOLD, with_vectors=True
        ):
            j = position.get(str(hit.id))
            if j is not None and j != i:
                edges.append((i, j))
                vectors[j] = np.asarray(hit.vector, dtype=np.float32)
    if unhashed:  # the members without a hash need their own vectors too, for the page's cosine rule
        for record in index.retrieve([members[i].artwork_id for i in unhashed], with_vectors=True):
            vectors[position[str(record.id)]] = np.asarray(record.vector, dtype=np.float32)
    return DuplicateReport(artworks=len(members), groups=group_members(members, edges, vectors))


def copies_of(index: Any, artwork_id: str, *, limit: int = NEIGHBOURS) -> list[str]:
    """Ids of the collection's copies of one artwork (the page's rule against it), nearest first: its vector's
    ``limit`` nearest neighbours, kept where :func:`~artsearch.dedupe.same_picture` says so. What the detail view
    lists, for a work opened from a link as for one whose copies folded into a result."""
    records = index.retrieve([artwork_id], with_vectors=True) if artwork_id else []
    if not records:
        return []
    me = records[0]
    mine = (me.payload or {}).get("phash")
    vector = np.asarray(me.vector, dtype=np.float32)
    out = []
    for hit in index.query(vector, limit=limit, exclude_ids=[artwork_id], with_vectors=True):
        theirs = (hit.payload or {}).get("phash")
        if same_picture(vector, np.asarray(hit.vector, dtype=np.float32), mine or None, theirs or None):
            out.append(str(hit.id))
    return out
