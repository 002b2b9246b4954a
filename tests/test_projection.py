"""The map projection behind the collection map: PCA to the unit square, kept as JSON, placing new vectors."""

from __future__ import annotations

import numpy as np
import pytest

from artsearch import projection
from artsearch.storage.base import map_key


def test_pca_scales_to_the_unit_square_and_places_stored_vectors_where_they_are():
    vectors = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    fitted, coords = projection.fit_pca(vectors)
    assert coords.shape == (200, 2)
    assert np.allclose(coords.min(axis=0), 0) and np.allclose(coords.max(axis=0), 1)
    for i in (0, 57, 199):
        assert np.allclose(fitted.place(vectors[i]), coords[i])
    far = vectors[0] + 100 * fitted.components[0]
    assert fitted.place(far)[0] == 1.0  # a query off the map is kept on its edge


def test_pca_axes_follow_the_largest_spread_and_refits_draw_the_same_map():
    rng = np.random.default_rng(1)
    vectors = np.zeros((100, 8))
    vectors[:, 3] = rng.normal(scale=10, size=100)
    vectors[:, 5] = rng.normal(scale=3, size=100)
    fitted, coords = projection.fit_pca(vectors)
    assert abs(fitted.components[0][3]) > 0.99 and abs(fitted.components[1][5]) > 0.99
    again, coords_again = projection.fit_pca(vectors[::-1].copy())
    assert np.allclose(coords_again[::-1], coords)


def test_projection_round_trips_as_json_not_pickle():
    vectors = np.random.default_rng(2).normal(size=(30, 6))
    fitted, _ = projection.fit_pca(vectors)
    raw = fitted.to_json()
    back = projection.Projection.from_json(raw)
    assert raw.startswith(b"{") and back.method == "pca"
    assert np.allclose(back.place(vectors[4]), fitted.place(vectors[4]))
    with pytest.raises(ValueError):
        projection.Projection.from_json(b'{"method": "pca", "mean": [0], "components": [1], "low": [0], "high": [1]}')


def test_tiny_collections_and_umap_fallback():
    one, coords = projection.fit_pca(np.ones((1, 4)))
    assert coords.shape == (1, 2) and np.all((coords >= 0) & (coords <= 1))
    assert one.place(np.ones(4)) is not None
    fitted, _ = projection.fit(np.random.default_rng(3).normal(size=(20, 5)), "umap")
    assert fitted.method in ("umap", "pca")  # pca when umap-learn is not installed
    assert projection.place_by_neighbours([(0, 0), (1, 1)], [1.0, 3.0]) == (0.75, 0.75)
    assert map_key("artworks_20260101T000000") == "maps/artworks_20260101T000000.json"
