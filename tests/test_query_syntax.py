"""Pure logic behind the exploring features: the map projection, query arithmetic, near-duplicate hashes."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from artsearch import dedupe, projection, query_syntax
from artsearch.query_syntax import Term
from artsearch.storage.base import map_key
from artsearch.testing import synthetic
from tests.support.datasets import painting

# --- projection ------------------------------------------------------------------------------------


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


# --- query arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("sunflowers + blue - yellow", [Term("sunflowers", 1), Term("blue", 1), Term("yellow", -1)]),
        ("sunflowers + 2*blue", [Term("sunflowers", 1), Term("blue", 2)]),
        ("sunflowers - 0.5 * blue", [Term("sunflowers", 1), Term("blue", -0.5)]),
        ("a gloomy landscape + blue:0.5", [Term("a gloomy landscape", 1), Term("blue", 0.5)]),
        ("2*blue", [Term("blue", 2)]),
        ("self-portrait + 19th-century", [Term("self-portrait", 1), Term("19th-century", 1)]),
    ],
)
def test_arithmetic_parses(text, terms):
    assert query_syntax.parse(text) == terms


@pytest.mark.parametrize(
    "text",
    [
        "a gloomy landscape",  # plain words
        "self-portrait",
        "sunflowers +",
        "+ blue",
        "- blue",
        "sunflowers + - blue",
        "sunflowers + + blue",
        "blue:abc + red",
        "2* + red",
        "red + *",
        "red:0 - blue",  # nothing positive left
        "blue: + red",
        "a + b + c + d + e + f + g + h + i",
        "99*blue + red",
        "",
    ],
)
def test_plain_or_bad_syntax_is_not_arithmetic(text):
    assert query_syntax.parse(text) is None


def test_combine_weights_and_renormalises():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 3.0])
    both = query_syntax.combine([a, b], [1.0, 1.0])
    assert np.allclose(both, [2**-0.5, 2**-0.5])
    heavy = query_syntax.combine([a, b], [1.0, 3.0])
    assert heavy[1] > both[1] and np.isclose(np.linalg.norm(heavy), 1)
    away = query_syntax.combine([a + b, b], [1.0, -1.0])
    assert away[1] < (a + b)[1] / np.linalg.norm(a + b)
    assert query_syntax.combine([a, a], [1.0, -1.0]) is None


def test_name_words_drop_stopwords_short_words_and_numbers():
    assert query_syntax.name_words("Monet water lilies") == ["monet", "water", "lilies"]
    assert query_syntax.name_words("a portrait of a woman in 1880") == ["portrait", "woman"]
    assert query_syntax.name_words("Albrecht Dürer, Dürer!") == ["albrecht", "dürer"]
    assert query_syntax.name_words("a of the") == []


# --- near-duplicate hashes ------------------------------------------------------------------------


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def copies(img: Image.Image) -> list[Image.Image]:
    w, h = img.size
    cx, cy = int(w * 0.04), int(h * 0.04)
    return [
        img.resize((w // 2, h // 2)),
        img.resize((w // 4, h // 4)),
        _jpeg(img, 30),
        _jpeg(img, 60),
        img.crop((cx, cy, w - cx, h - cy)),
    ]


def distinct_pictures() -> list[Image.Image]:
    return (
        [painting(1000 + i) for i in range(20)]
        + [s.image for s in synthetic.generate(20, seed=7)]
        + [painting(i, (400, 300)) for i in range(3000, 3020)]
    )


def test_tuned_thresholds_separate_copies_from_distinct_images():
    """The evidence for HASH_DISTANCE: copies within 21 bits, distinct pictures 30 or more apart."""
    pictures = distinct_pictures()
    hashes = [dedupe.dhash(p) for p in pictures]
    copy_distances = [
        dedupe.hamming(h, dedupe.dhash(c)) for p, h in zip(pictures, hashes, strict=True) for c in copies(p)
    ]
    distinct_distances = [dedupe.hamming(a, b) for a, b in itertools.combinations(hashes, 2)]
    assert max(copy_distances) <= dedupe.HASH_DISTANCE < min(distinct_distances)
    assert max(copy_distances) <= 21 and min(distinct_distances) >= 30  # the measured margins, as documented


def test_hash_format_and_hamming():
    h = dedupe.dhash(painting(1))
    assert len(h) == 96 and int(h, 16) >= 0
    assert dedupe.hamming(h, h) == 0
    assert dedupe.hamming(h, "") == dedupe.HASH_BITS + 1 and dedupe.hamming("zz", h) == dedupe.HASH_BITS + 1


def test_collapse_groups_copies_under_the_best_ranked_and_keeps_order():
    a, b = painting(11, (300, 200)), painting(12, (300, 200))
    images = [a, b, *copies(a)[:2], copies(b)[4]]
    hashes = [dedupe.dhash(i) for i in images]
    groups = dedupe.collapse([None] * len(images), hashes)
    assert [(g.first, g.others, g.copies) for g in groups] == [(0, [2, 3], 3), (1, [4], 2)]


def test_without_hashes_the_cosine_decides():
    v = np.array([1.0, 0.0, 0.0])
    near = np.array([0.99, 0.05, 0.0])
    far = np.array([0.6, 0.8, 0.0])
    groups = dedupe.collapse([v, far, near, None], [None, None, None, None])
    assert [(g.first, g.others) for g in groups] == [(0, [2]), (1, []), (3, [])]
    # with hashes on both, the hash decides even when the vectors are identical
    assert not dedupe.same_picture(v, v, "0" * 96, "f" * 96)
