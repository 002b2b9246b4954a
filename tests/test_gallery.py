"""A photo taken in a gallery: the painting found on the wall (straightened, frame and colour cast taken out) finds
the artwork far more often than the whole photo does, measured by ``python -m artsearch eval`` through the real
service on synthetic gallery photos of an indexed collection of the trained tiny CLIP's shapes."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artsearch import gallery
from artsearch.errors import ImageError
from artsearch.rebuild import rebuild
from artsearch.search import Query, SearchService
from artsearch.sources import SourceOptions
from artsearch.testing.synthetic import COLOURS, SHAPES, generate, write_dataset
from artsearch.web.state import PageState
from tests.support.cli import run_cli
from tests.support.indexes import test_settings

pytestmark = pytest.mark.timeout(600)
TRAINED = str(Path(__file__).resolve().parents[1] / "models" / "tiny-clip-shapes")


@pytest.fixture(scope="module")
def shapes_index(tmp_path_factory):
    from artsearch.model.encoder import Encoder

    root = tmp_path_factory.mktemp("gallery_shapes")
    write_dataset(root / "shapes", len(COLOURS) * len(SHAPES) * 2, seed=4242, image_format="jpg")
    settings = test_settings(root, TRAINED, batch_size=32)
    encoder = Encoder(TRAINED, device="cpu", batch_size=32)
    rebuild(settings, SourceOptions(source="folder", images_dir=root / "shapes"), encoder=encoder, progress=False)
    return settings, encoder


def test_the_painting_is_found_straightened_and_without_its_frame():
    """On a synthetic photo the view holds the painting, not the wall: its colours are the painting's."""
    rng = random.Random(7)
    for sample in generate(6, seed=11):
        photo = gallery.gallery_photo(sample.image, rng)
        assert photo.size == (640, 480)
        (view,) = gallery.photo_views(photo)
        quad = gallery.painting_quad(photo)
        assert quad is not None and len(quad) == 4
        # The view is mostly the painting's colours (its background), not the wall's or the frame's.
        original = np.asarray(sample.image.resize((32, 32)), dtype=float).reshape(-1, 3).mean(axis=0)
        seen = np.asarray(view.resize((32, 32)), dtype=float).reshape(-1, 3).mean(axis=0)
        whole = np.asarray(photo.resize((32, 32)), dtype=float).reshape(-1, 3).mean(axis=0)
        assert np.linalg.norm(seen - original) < np.linalg.norm(whole - original)


def test_a_white_painting_is_found_whole_inside_a_frame_that_glare_cuts_through():
    """A white ground is the wall's colour and glare turns a stretch of a dark frame wall-grey: the painting is still
    the whole framed quadrilateral (the wall is what a fill from the photo's edge reaches), not its coloured shape."""
    photo = Image.new("RGB", (640, 480), (205, 205, 200))
    corners = [(150, 80), (150, 420), (520, 420), (520, 80)]  # upper-left, lower-left, lower-right, upper-right
    framed = Image.new("RGB", (370, 340), (20, 20, 20))
    framed.paste((245, 245, 245), (18, 18, 352, 322))
    framed.paste((215, 35, 35), (250, 200, 320, 270))  # a small red square, low on the right
    photo.paste(framed, corners[0])
    pixels = np.asarray(photo, dtype=np.float64)
    yy, xx = np.mgrid[0:480, 0:640]
    glare = 0.8 * np.exp(-((xx - 300) ** 2 + (yy - 85) ** 2) / (2 * 40**2))[..., None]  # on the top of the frame
    photo = Image.fromarray((pixels * (1 - glare) + 255 * glare).astype(np.uint8))
    quad = gallery.painting_quad(photo)
    assert quad is not None
    for (x, y), (tx, ty) in zip(quad, corners, strict=True):
        assert abs(x - tx) < 12 and abs(y - ty) < 12, (quad, corners)
    (view,) = gallery.photo_views(photo)
    assert 300 < view.width < 370 and 280 < view.height < 340  # the white painting, its frame cut off


def test_glare_is_taken_out_of_the_painting_and_a_painting_without_glare_is_left_as_it_is():
    """A soft glare spot washes a flat painting toward white; taken out, the painting's colours come back (within
    a few levels where the spot was), its edges stay where they were, and a painting with no glare is untouched."""
    painting = Image.new("RGB", (400, 300), (35, 75, 215))
    painting.paste((245, 215, 30), (220, 60, 340, 240))  # a yellow bar under the spot's edge
    original = np.asarray(painting, dtype=np.float64)
    yy, xx = np.mgrid[0:300, 0:400]
    wash = 0.6 * np.exp(-((xx - 180) ** 2 + (yy - 140) ** 2) / (2 * 50**2))[..., None]
    glared = Image.fromarray(np.round(original * (1 - wash) + 255 * wash).astype(np.uint8))
    assert gallery.glare_field(glared).max() > gallery.GLARE_MIN
    restored = np.asarray(gallery.without_glare(glared), dtype=np.float64)
    spot = wash[..., 0] > 0.2
    before = np.abs(np.asarray(glared, dtype=np.float64) - original)[spot].mean()
    after = np.abs(restored - original)[spot].mean()
    assert before > 40 and after < 10, (before, after)
    assert gallery.without_glare(painting) is painting


def test_a_phone_sized_photo_is_scaled_down_before_the_painting_is_looked_for():
    """A 12 Mpx phone photo is worked on at WORK_SIDE px (its full size took 0.9 GB of numpy arrays), and the
    painting is still found in it."""
    sample = generate(1, seed=11)[0]
    photo = gallery.gallery_photo(sample.image.resize((1600, 1600)), random.Random(3), size=(4000, 3000))
    (view,) = gallery.photo_views(photo)
    assert max(view.size) <= 1024  # in the photo itself the painting spans 1600 px or more
    original = np.asarray(sample.image.resize((32, 32)), dtype=float).reshape(-1, 3).mean(axis=0)
    seen = np.asarray(view.resize((32, 32)), dtype=float).reshape(-1, 3).mean(axis=0)
    whole = np.asarray(photo.resize((32, 32)), dtype=float).reshape(-1, 3).mean(axis=0)
    assert np.linalg.norm(seen - original) < np.linalg.norm(whole - original)


def test_a_photo_of_a_bare_wall_or_of_the_painting_alone_is_searched_whole():
    wall = Image.new("RGB", (320, 240), (210, 205, 200))
    assert gallery.painting_quad(wall) is None
    (view,) = gallery.photo_views(wall)
    assert view.size == wall.size


def test_eval_reports_gallery_recall_with_and_without_finding_the_painting(shapes_index):
    settings, _ = shapes_index
    result = run_cli(
        ["-m", "artsearch", "eval", "--sample", "10", "--duplicates", "5", "--gallery", "60", "--json"], settings
    )
    assert result.returncode == 0, result.stderr
    metrics = {m["name"]: m for m in json.loads(result.stdout)["metrics"]}
    whole = metrics["gallery photo recall@1 (whole photo)"]["value"]
    found = metrics["gallery photo recall@1 (painting found)"]["value"]
    found5 = metrics["gallery photo recall@5 (painting found)"]["value"]
    assert metrics["gallery photo recall@1 (painting found)"]["n"] == 60
    print(f"\ngallery recall@1 whole photo {whole:.3f}, painting found {found:.3f}; @5 found {found5:.3f}")
    # The target, on this fixed set of 60 photos (0.95 measured; 0.85 without the glare taken out, 0.73
    # with the old painting finder), and far above the whole photo (0.20).
    assert found >= 0.9 and found >= whole + 0.5 and found5 >= 0.95


def test_the_page_and_cli_search_a_photo_with_the_uploads_limits(shapes_index, tmp_path):
    settings, encoder = shapes_index
    # The page's "Take a photo" is an image query that is a photo.
    query = PageState(mode="camera").query(b"jpeg bytes")
    assert isinstance(query, Query) and query.photo and query.mode == "image"
    assert PageState(mode="camera").query(None) is None
    service = SearchService(settings, encoder=encoder)
    try:
        buf = io.BytesIO()
        gallery.gallery_photo(generate(1, seed=5)[0].image, random.Random(1)).save(buf, "JPEG")
        assert service.page(Query(image=buf.getvalue(), photo=True, k=3)).hits
        huge = io.BytesIO()
        Image.new("RGB", (9000, 9000), "white").save(huge, "PNG")  # 81 Mpx: over the decoded-pixel limit
        with pytest.raises(ImageError):
            service.page(Query(image=huge.getvalue(), photo=True))
    finally:
        service.index.close()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(buf.getvalue())
    result = run_cli(["-m", "artsearch", "search", "--image", str(photo), "--photo", "--k", "3", "--json"], settings)
    assert result.returncode == 0 and len(json.loads(result.stdout)) == 3, result.stderr
