"""A 2-D map of the collection: a projection of every vector, scaled to [0, 1].

Fitted once per build, after the ingest (see :func:`artsearch.rebuild.add_map`):
each point's payload gets ``x`` and ``y``, and the fitted projection is kept as
JSON in storage (``Storage.write_map``; plain numbers, never a
pickle), so a query's vector can be placed on the same map later.

* ``pca`` (default): the two principal axes, from numpy's SVD of the centred
  vectors. Placing a query is exact: centre, project, scale.
* ``umap`` (when ``umap-learn`` is installed): a neighbourhood-preserving
  layout. A fitted UMAP model cannot be saved without pickle, so a query is
  placed at the similarity-weighted mean of its nearest artworks' positions
  (:func:`place_by_neighbours`), which is where UMAP would put it too, near
  its neighbours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

METHODS = ("pca", "umap")


@dataclass
class Projection:
    """A fitted 2-D projection: ``scaled = (centred @ components.T - low) / (high - low)``."""

    method: str
    mean: np.ndarray  # (d,)
    components: np.ndarray  # (2, d); zeros for umap
    low: np.ndarray  # (2,)
    high: np.ndarray  # (2,)
    #: Artworks added, re-embedded or removed by the rebuilds that kept this fit (placed on it, not fitted).
    drift: int = 0

    def raw(self, vectors: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(np.asarray(vectors, dtype=np.float64)) - self.mean) @ self.components.T

    def scale(self, raw: np.ndarray) -> np.ndarray:
        span = np.where(self.high - self.low > 0, self.high - self.low, 1.0)
        return np.clip((raw - self.low) / span, 0.0, 1.0)

    def place(self, vector: Sequence[float] | np.ndarray) -> tuple[float, float] | None:
        """Where a query vector falls on the map, or None when the method cannot say (umap: use neighbours)."""
        if self.method != "pca":
            return None
        x, y = self.scale(self.raw(np.asarray(vector)))[0]
        return float(x), float(y)

    def to_json(self) -> bytes:
        data = {
            "method": self.method,
            "mean": self.mean.tolist(),
            "components": self.components.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "drift": self.drift,
        }
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Projection:
        data = json.loads(raw.decode("utf-8"))
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "components", "low", "high")}
        if arrays["components"].ndim != 2 or arrays["components"].shape[0] != 2:
            raise ValueError("components must be a 2 x d array")
        return cls(method=str(data["method"]), **arrays, drift=int(data.get("drift", 0)))


def fit_pca(vectors: np.ndarray) -> tuple[Projection, np.ndarray]:
    """Fit PCA to ``(n, d)`` vectors; returns the projection and the points' scaled ``(n, 2)`` coordinates."""
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or len(data) == 0:
        raise ValueError("fit_pca needs a non-empty (n, d) array")
    mean = data.mean(axis=0)
    centred = data - mean
    components = np.zeros((2, data.shape[1]))
    if len(data) > 1:
        # The principal axes are the top eigenvectors of the d x d covariance: one n x d x d product and a small
        # symmetric eigensolver, about 10x cheaper than an SVD of the n x d data (2.5 s -> 0.25 s for 10,000 CLIP
        # vectors on two busy cores) and not slowed down by BLAS threads competing for busy cores.
        _, vectors_by_variance = np.linalg.eigh(centred.T @ centred)
        k = min(2, len(data) - 1, data.shape[1])
        components[:k] = vectors_by_variance[:, ::-1][:, :k].T
        # A fixed sign per axis, so refits of the same data draw the same map.
        for i in range(k):
            if components[i][np.argmax(np.abs(components[i]))] < 0:
                components[i] = -components[i]
    raw = centred @ components.T
    projection = Projection("pca", mean, components, raw.min(axis=0), raw.max(axis=0))
    return projection, projection.scale(raw)


def fit_umap(vectors: np.ndarray, seed: int = 0) -> tuple[Projection, np.ndarray]:
    """UMAP layout (needs ``umap-learn``); queries are placed by neighbours. Raises ImportError without it."""
    import umap  # type: ignore[import-not-found]

    data = np.asarray(vectors, dtype=np.float64)
    layout = umap.UMAP(n_components=2, metric="cosine", random_state=seed).fit_transform(data)
    low, high = layout.min(axis=0), layout.max(axis=0)
    projection = Projection("umap", data.mean(axis=0), np.zeros((2, data.shape[1])), low, high)
    return projection, projection.scale(layout)


def fit(vectors: np.ndarray, method: str = "pca") -> tuple[Projection, np.ndarray]:
    """Fit the configured method; ``umap`` without ``umap-learn`` installed falls back to PCA (logged)."""
    if method == "umap":
        try:
            return fit_umap(vectors)
        except ImportError:
            log.warning("umap-learn is not installed; the map uses PCA (pip install umap-learn for UMAP)")
    return fit_pca(vectors)


def place_by_neighbours(positions: Sequence[tuple[float, float]], scores: Sequence[float]) -> tuple[float, float]:
    """A query's place from its nearest artworks: their positions weighted by (positive) similarity."""
    xy = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    w = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, None)
    x, y = (xy * w[:, None]).sum(axis=0) / w.sum()
    return float(x), float(y)
