"""Where a model's files are, without the network: folders, hub names in the cache, and the mistakes users make."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from artsearch.errors import ModelLoadError
from artsearch.model.locate import declared_dimension, locate
from artsearch.testing.clip_factory import build_random_clip
from artsearch.testing.hub_cache import HUB_REPO
from tests.support import ROOT
from tests.support.cli import one_line_error, run_cli
from tests.support.indexes import test_settings

SHIPPED = "models/tiny-clip-shapes"


def test_a_hub_name_is_its_cached_snapshot(hub_home, monkeypatch):
    home, snapshot = hub_home
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(home / "hub"))
    for name in ("clip-ViT-B-32", HUB_REPO):
        files = locate(name)
        assert (files.folder, files.repo_id, files.revision) == (snapshot, HUB_REPO, snapshot.name)
        assert files.export_key() == Path("sentence-transformers--clip-ViT-B-32") / snapshot.name


def test_an_uncached_hub_name_has_no_folder_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path))
    files = locate("clip-ViT-L-14")
    assert files.folder is None and files.repo_id == "sentence-transformers/clip-ViT-L-14"


def test_a_folder_is_keyed_by_its_content(tmp_path, tiny_clip_path):
    a = shutil.copytree(tiny_clip_path, tmp_path / "one" / "clip")
    b = shutil.copytree(tiny_clip_path, tmp_path / "two" / "clip")
    assert locate(str(a)).export_key() == locate(str(b)).export_key()  # a copy finds the same export
    (b / "config.json").write_text((b / "config.json").read_text() + "\n")
    assert locate(str(a)).export_key() != locate(str(b)).export_key()  # a changed model does not
    assert not locate(str(a)).from_hub and locate(str(a)).folder == a.resolve()


@pytest.mark.parametrize("name", ["models/tiny-clip-shpes", "./models/tiny-clip-shape/", "models/tiny_clip_shapes"])
def test_a_mistyped_folder_says_so_and_suggests_the_right_one(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert not Path(name).exists()
    with pytest.raises(ModelLoadError) as err:
        locate(name)
    assert f"There is no model folder {name}" in str(err.value)
    assert f"Did you mean {SHIPPED}" in str(err.value)


def test_a_missing_absolute_folder_is_not_looked_up_on_the_hub(tmp_path):
    with pytest.raises(ModelLoadError, match="There is no model folder"):
        locate(str(tmp_path / "no" / "model"))


def test_a_file_or_a_folder_that_is_not_a_sentence_transformers_model_is_named(tmp_path, tiny_clip_path):
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ModelLoadError, match="is a file, not a folder"):
        locate(str(tmp_path / "weights.bin"))
    plain = shutil.copytree(tiny_clip_path, tmp_path / "plain-hf")  # a transformers save: no modules.json
    (plain / "modules.json").unlink()
    with pytest.raises(ModelLoadError, match="Hugging Face model folder without modules.json"):
        locate(str(plain))
    (tmp_path / "photos").mkdir()
    with pytest.raises(ModelLoadError, match="is a folder without modules.json, so it is not a sentence-transformers"):
        locate(str(tmp_path / "photos"))


def test_the_vector_size_is_read_from_the_files(hub_home, tiny_clip_path, tmp_path):
    assert declared_dimension(Path(tiny_clip_path)) == 64
    assert declared_dimension(hub_home[1]) == 64  # the hub layout: 0_CLIPModel/config.json
    assert declared_dimension(build_random_clip(tmp_path / "m32", projection_dim=32)) == 32
    assert declared_dimension(tmp_path) is None


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("models/tiny-clip-shpes", f"Did you mean {SHIPPED}"),
        ("data", "not a sentence-transformers model"),
    ],
)
def test_the_command_line_names_the_real_cause_in_one_line(tmp_path, model, needle):
    """A mistyped folder, or a folder that is not a model, is said at once, not as 'could not be downloaded'."""
    settings = test_settings(tmp_path, model)
    line = one_line_error(run_cli(["-m", "artsearch", "search", "a painting"], settings))
    assert needle in line and "download" not in line
