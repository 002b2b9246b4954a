"""How remote collections (Qdrant Cloud or a Qdrant server, ``QDRANT_URL``) are built and searched, in one place.

A server holds collections far past one machine's embedded index, so the vectors are laid out for memory:

* **HNSW** (:data:`HNSW`: ``m=16`` links per node, ``ef_construct=128``): a graph search touches a few
  thousand vectors per query instead of all of them; 16/128 is Qdrant's recommended balance for 512-d
  embeddings (recall@10 about 0.99 at ``hnsw_ef=128``). ``full_scan_threshold`` (KB of vectors, about 5,000
  artworks) makes small segments, and filters matching fewer points than that (one artist's works), use an
  exact scan through the payload index instead of the graph, which is both faster and exact for them.
* **float32 originals on disk** (:data:`VECTORS_ON_DISK`), memory-mapped: they are read only to rescore the
  candidates of each search.
* **int8 scalar quantisation kept in RAM** (:data:`QUANTIZATION`, ``quantile=0.99`` so outliers do not
  stretch the scale): the graph is searched on int8 copies, a quarter of float32's bytes.
* **Rescoring with oversampling** (:data:`SEARCH`): every search fetches 2x the wanted hits on the int8
  copies and re-ranks them with the originals, which recovers the ranking float32 would give.
* **Payloads on disk** (:data:`ON_DISK_PAYLOAD`): they are read only for the hits returned; the payload
  indexes (``index.write``: the facets, lookups and the name text index) stay in RAM.

Memory per million artworks (512-d CLIP): int8 copies 0.49 GiB (1M x 512 B), HNSW links about 0.15 GiB
(about 2 x 16 links of 4 B per point on the base layer, plus the upper layers), payload indexes about
0.05 GiB: **about 0.7 GiB of RAM**, plus about 2 GiB of disk for the float32 originals (1M x 2 KiB) and
about 0.5 GiB for payloads. Without quantisation and with vectors in RAM the same collection needs about
2.5 GiB of RAM.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import models

#: The graph: 16 links per point, 128 candidates while building; small segments and small filters scan exactly.
HNSW = models.HnswConfigDiff(m=16, ef_construct=128, full_scan_threshold=10_000)
#: The float32 originals live on disk (memory-mapped) and are read only for rescoring.
VECTORS_ON_DISK = True
#: int8 copies of every vector, kept in RAM: what the graph search scores.
QUANTIZATION = models.ScalarQuantization(
    scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
)
#: Payloads are read from disk for the returned hits only.
ON_DISK_PAYLOAD = True
#: Every search: a beam of 128 in the graph, 2x candidates on the int8 copies, rescored with the originals.
SEARCH = models.SearchParams(hnsw_ef=128, quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0))


def collection_params(dim: int) -> dict[str, Any]:
    """The keyword arguments of ``create_collection`` for a remote collection of ``dim``-d cosine vectors."""
    return {
        "vectors_config": models.VectorParams(size=dim, distance=models.Distance.COSINE, on_disk=VECTORS_ON_DISK),
        "hnsw_config": HNSW,
        "quantization_config": QUANTIZATION,
        "on_disk_payload": ON_DISK_PAYLOAD,
    }
