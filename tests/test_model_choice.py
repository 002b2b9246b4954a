"""An index knows the model that built it: the newcomer's path from the issue, through the CLI and the page.

A collection of coloured shapes is built with ``--model models/tiny-clip-shapes`` (the trained tiny CLIP the
project ships, which tells colours apart almost perfectly), then searched, described and evaluated with no
model configured at all. Before the fix every one of those loaded the default clip-ViT-B-32 instead (a
download error offline, after 118 s online) and ``info`` said clip-ViT-B-32.
"""

from __future__ import annotations

import json

import pytest

from artsearch.model.encoder import Encoder
from artsearch.search import Query, SearchService
from artsearch.testing.clip_factory import build_random_clip
from artsearch.testing.synthetic import write_dataset
from tests.support import ROOT
from tests.support.app import new_app, point_env, result_captions, unescaped
from tests.support.cli import one_line_error, run_cli
from tests.support.indexes import test_settings

SHIPPED = "models/tiny-clip-shapes"  # as a newcomer types it, relative to the project
COLOURS_FIRST = "a yellow star"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """(root, settings with no model configured): 60 shapes built by the command line with --model SHIPPED."""
    root = tmp_path_factory.mktemp("built_with_shapes")
    write_dataset(root / "shapes", 60, seed=4242, image_format="jpg")
    build = test_settings(root, SHIPPED)
    result = run_cli(
        ["qdrant/initialize_db.py", "--source", "folder", "--images-dir", str(root / "shapes"), "--no-progress"], build
    )
    assert result.returncode == 0, result.stderr
    return root, test_settings(root, None)


@pytest.fixture(scope="module")
def other_models(tmp_path_factory):
    """(a random tiny CLIP of the same size as SHIPPED, 64-d; one of another size, 32-d)."""
    root = tmp_path_factory.mktemp("other_models")
    same = build_random_clip(root / "random-64", seed=7)
    other = build_random_clip(root / "random-32", seed=7, projection_dim=32)
    return str(same), str(other)


def with_model(settings, model):
    return test_settings(settings.qdrant_path.parent, model)


def test_search_info_and_eval_use_the_model_the_index_was_built_with(shapes):
    _, settings = shapes
    found = run_cli(["-m", "artsearch", "search", COLOURS_FIRST, "--k", "4", "--json"], settings)
    assert found.returncode == 0 and found.stderr == "", found.stderr
    artists = [hit["artist"] for hit in json.loads(found.stdout)]
    assert artists[0] == "yellow star" and sum(a.startswith("yellow") for a in artists) >= 3, artists  # chance: 1/6

    info = json.loads(run_cli(["-m", "artsearch", "info", "--json"], settings).stdout)
    assert info["model"] == SHIPPED and info["vector_size"] == 64
    assert info["built_with"].startswith(f"{SHIPPED} (64-d, {ROOT / SHIPPED}, ")
    assert "model_problem" not in info
    text = run_cli(["-m", "artsearch", "info"], settings).stdout
    assert f"built with: {SHIPPED} (64-d" in text

    args = ["-m", "artsearch", "eval", "--json", "--sample", "20", "--duplicates", "4", "--min-label-count", "2"]
    evaluated = run_cli([*args, "--artist-template", "a {artist}"], settings)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["model"] == SHIPPED and report["artworks"] == 60


def test_the_collection_records_the_model(shapes):
    from artsearch.index.read import VectorIndex

    _, settings = shapes
    index = VectorIndex(settings)
    try:
        recorded = index.recorded_model()
    finally:
        index.close()
    assert recorded is not None
    assert (recorded.name, recorded.dim, recorded.path) == (SHIPPED, 64, str(ROOT / SHIPPED))
    assert recorded.repo_id is None and len(recorded.fingerprint or "") == 64
    assert recorded.inference == settings.inference


def test_the_page_uses_the_index_model(shapes, monkeypatch, tmp_path):
    from artsearch.web import resources

    _, settings = shapes
    point_env(monkeypatch, settings, tmp_path)  # no EMBEDDER_NAME
    resources._service.clear()
    try:
        at = new_app(q=COLOURS_FIRST, k="4").run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        captions = result_captions(at)
        assert captions[0].startswith("yellow star") and sum(c.startswith("yellow") for c in captions) >= 3, captions
    finally:
        resources._service.clear()  # releases the embedded folder


def test_a_model_of_another_size_is_refused_in_one_line(shapes, other_models, monkeypatch, tmp_path):
    _, settings = shapes
    _, other = other_models
    for extra in ([], ["--allow-other-model"]):  # not even when forced: its vectors cannot be compared
        line = one_line_error(run_cli(["-m", "artsearch", "search", "a star", *extra], with_model(settings, other)))
        assert "holds 64-d vectors" in line and f"{other}, which makes 32-d vectors" in line
        assert SHIPPED in line and "unset EMBEDDER_NAME" in line

    from artsearch.web import resources

    point_env(monkeypatch, with_model(settings, other), tmp_path)
    resources._service.clear()
    try:
        at = new_app(q="a star").run()
        assert not at.exception
        assert [e for e in map(unescaped, (e.value for e in at.error)) if "64-d" in e and "32-d" in e]
    finally:
        resources._service.clear()


def test_the_same_size_but_another_model_is_refused_unless_forced(shapes, other_models):
    _, settings = shapes
    same, _ = other_models
    configured = with_model(settings, same)
    line = one_line_error(run_cli(["-m", "artsearch", "search", "a star"], configured))
    assert f"built with {SHIPPED} (64-d" in line and f"EMBEDDER_NAME (or --model) is {same}" in line
    assert "unset it" in line and "--allow-other-model" in line and "ARTSEARCH_ALLOW_OTHER_MODEL=true" in line
    info = json.loads(run_cli(["-m", "artsearch", "info", "--json"], configured).stdout)
    assert info["artworks"] == 60 and "--allow-other-model" in info["model_problem"]

    for forced in (
        run_cli(["-m", "artsearch", "search", "a star", "--allow-other-model"], configured),
        run_cli(["-m", "artsearch", "search", "a star"], configured, {"ARTSEARCH_ALLOW_OTHER_MODEL": "true"}),
    ):
        assert forced.returncode == 0, forced.stderr
        assert forced.stdout.count("\n") == 10  # ten results
        warning = [line for line in forced.stderr.splitlines() if line.strip()]
        assert len(warning) == 1 and "searching with it anyway, as asked" in warning[0], forced.stderr


def test_append_with_no_model_configured_uses_the_index_model(tmp_path, other_models):
    write_dataset(tmp_path / "first", 12, seed=5, image_format="jpg")
    write_dataset(tmp_path / "more", 18, seed=5, image_format="jpg")  # the first 12 again, and 6 more
    built = run_cli(
        ["qdrant/initialize_db.py", "--source", "folder", "--images-dir", str(tmp_path / "first"), "--no-progress"],
        test_settings(tmp_path, SHIPPED),
    )
    assert built.returncode == 0, built.stderr
    settings = test_settings(tmp_path, None)
    append = ["qdrant/initialize_db.py", "--append", "--source", "folder", "--images-dir", str(tmp_path / "more")]
    added = run_cli([*append, "--no-progress"], settings)
    assert added.returncode == 0, added.stderr
    assert "embedded 6" in added.stdout and "12 were already indexed" in added.stdout
    assert "removed 0 no longer in the source" in added.stdout  # an append removes nothing
    line = one_line_error(run_cli([*append, "--no-progress"], with_model(settings, other_models[0])))
    assert f"built with {SHIPPED}" in line  # another model's vectors never join the index


def test_an_index_built_before_models_were_recorded_keeps_working(tmp_path, tiny_clip_path, shared_encoder):
    """What an older artsearch built: no model in the collection. The configured model searches it, silently."""
    from artsearch.index.write import IndexBuilder
    from artsearch.ingest import run_ingest
    from artsearch.sources.folder import FolderSource
    from artsearch.storage.local import LocalStorage

    write_dataset(tmp_path / "shapes", 10, seed=9, image_format="jpg")
    settings = test_settings(tmp_path, tiny_clip_path)
    builder = IndexBuilder.start_build(settings, shared_encoder.dim)  # no model: as before this change
    try:
        source = FolderSource(tmp_path / "shapes")
        storage = LocalStorage(settings.data_dir)
        run_ingest(source, settings=settings, encoder=shared_encoder, storage=storage, builder=builder, progress=False)
        builder.publish()
    finally:
        builder.close()
    found = run_cli(["-m", "artsearch", "search", "a red circle", "--k", "3"], settings)
    assert found.returncode == 0 and found.stderr == "", found.stderr
    info = json.loads(run_cli(["-m", "artsearch", "info", "--json"], settings).stdout)
    assert info["built_with"].startswith("not recorded") and info["model"] == tiny_clip_path
    assert "model_problem" not in info and info["artworks"] == 10


def test_a_serving_service_follows_a_rebuild_made_with_another_model(tmp_path, other_models, monkeypatch):
    """The app's one SearchService: a rebuild published with another model makes its next search use that model."""
    monkeypatch.chdir(ROOT)
    write_dataset(tmp_path / "shapes", 10, seed=11, image_format="jpg")
    build = ["qdrant/initialize_db.py", "--source", "folder", "--images-dir", str(tmp_path / "shapes"), "--no-progress"]
    assert run_cli(build, test_settings(tmp_path, SHIPPED)).returncode == 0
    settings = test_settings(tmp_path, None)
    service = SearchService(settings)
    try:
        assert len(service.page(Query(text="a blue square", k=3)).hits) == 3
        assert service.encoder.name == SHIPPED
        same, _ = other_models
        rebuilt = run_cli(build, test_settings(tmp_path, same))
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert len(service.page(Query(text="a blue square", k=3)).hits) == 3
        assert service.encoder.name == same
        assert isinstance(service.encoder, Encoder)
    finally:
        service.index.close()
