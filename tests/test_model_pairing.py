"""A text model (TEXT_EMBEDDER_NAME) may only search an index built by the image model it was distilled for.

Checked at the service, on real indexes: the committed student with an index of its teacher (accepted), of
another CLIP of the same size (refused in one line, or used when forced), a student of another vector size
(always refused), one that does not say its teacher (refused), and the real hub pair
(clip-ViT-B-32-multilingual-v1 for clip-ViT-B-32) recognised from the table of known pairs, in a real hub cache.
"""

from __future__ import annotations

import json
import shutil

import pytest

from artsearch.errors import ModelMismatch
from artsearch.model.choice import IndexModel
from artsearch.model.encoder import Encoder
from artsearch.model.locate import locate
from artsearch.model.pairing import DISTILLED_FOR, check_text_model, teacher_of
from artsearch.search import SearchService
from artsearch.testing.hub_cache import install_in_hub_cache
from tests.support.cli import one_line_error, run_cli
from tests.support.indexes import STUDENT, TRAINED_CLIP, build_dupes_index, copy_index


def student_copy(tmp_path, *, record: bool = True, dim: int | None = None):
    folder = tmp_path / "student"
    shutil.copytree(STUDENT, folder)
    if not record:
        (folder / DISTILLED_FOR).unlink()
    if dim is not None:
        config = json.loads((folder / "2_Dense" / "config.json").read_text())
        (folder / "2_Dense" / "config.json").write_text(json.dumps({**config, "out_features": dim}))
    return str(folder)


def test_the_student_records_its_teacher_and_fits_only_it(tiny_clip_path):
    teacher = teacher_of(locate(STUDENT))
    assert teacher is not None and teacher.name == "tiny-clip-shapes"
    trained = IndexModel.of(locate(TRAINED_CLIP), 64, "torch")
    check_text_model(locate(STUDENT), trained, allow_other=False)  # accepted
    other = IndexModel.of(locate(tiny_clip_path), 64, "torch")  # another 64-d CLIP
    with pytest.raises(ModelMismatch, match="was distilled for tiny-clip-shapes"):
        check_text_model(locate(STUDENT), other, allow_other=False)


def test_an_index_of_another_clip_refuses_the_student_in_one_line_unless_forced(kaggle_index, tmp_path):
    """The session index was built with a random tiny CLIP (64-d, as the student): same size, wrong space."""
    settings, _ = copy_index(kaggle_index, tmp_path)
    service = SearchService(settings.replace(text_embedder_name=STUDENT))
    try:
        with pytest.raises(ModelMismatch) as refused:
            service.text_vector("un cercle rouge")
        message = str(refused.value)
        assert "\n" not in message and "ARTSEARCH_ALLOW_OTHER_MODEL=true (--allow-other-model)" in message
        assert "TEXT_EMBEDDER_NAME" in message and "tiny-clip-shapes" in message
        assert "text_model_problem" in service.info()
    finally:
        service.index.close()
    forced = SearchService(settings.replace(text_embedder_name=STUDENT, allow_other_model=True))
    try:
        assert forced.text_vector("un cercle rouge").shape == (64,)
        assert forced.text_encoder.name == STUDENT
    finally:
        forced.index.close()
    # The command line says the same in one line.
    result = run_cli(["-m", "artsearch", "search", "un cercle rouge", "--text-model", STUDENT], settings)
    assert "TEXT_EMBEDDER_NAME" in one_line_error(result)


def test_a_text_model_of_another_size_is_refused_even_when_forced(tmp_path):
    image = IndexModel.of(locate(TRAINED_CLIP), 64, "torch")
    wrong = student_copy(tmp_path, dim=32)
    with pytest.raises(ModelMismatch, match="makes 32-d vectors, but the index holds 64-d"):
        check_text_model(locate(wrong), image, allow_other=True)


def test_a_text_model_that_does_not_name_its_image_model_is_refused(tmp_path):
    image = IndexModel.of(locate(TRAINED_CLIP), 64, "torch")
    anonymous = student_copy(tmp_path, record=False)
    with pytest.raises(ModelMismatch, match="does not say which image model"):
        check_text_model(locate(anonymous), image, allow_other=False)
    check_text_model(locate(anonymous), image, allow_other=True)  # forced: used, with a warning


def test_the_real_hub_pair_is_known_in_a_real_hub_cache(hub_home, tmp_path, monkeypatch):
    """clip-ViT-B-32-multilingual-v1 as the hub ships it (no record of ours) next to clip-ViT-B-32: accepted
    for an index built with clip-ViT-B-32 by the table of known pairs."""
    home, _ = hub_home
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(home / "hub"))
    shipped = tmp_path / "shipped"
    shutil.copytree(STUDENT, shipped)
    (shipped / DISTILLED_FOR).unlink()
    install_in_hub_cache(shipped, home, "sentence-transformers/clip-ViT-B-32-multilingual-v1")
    text = locate("clip-ViT-B-32-multilingual-v1")
    assert text.repo_id == "sentence-transformers/clip-ViT-B-32-multilingual-v1"
    encoder = Encoder("clip-ViT-B-32", device="cpu")
    settings, _ = build_dupes_index(tmp_path / "index", "clip-ViT-B-32", encoder)
    service = SearchService(settings.replace(text_embedder_name="clip-ViT-B-32-multilingual-v1"), encoder=encoder)
    try:
        assert service.text_vector("un tableau").shape == (64,)
        assert service.text_encoder.files.repo_id == "sentence-transformers/clip-ViT-B-32-multilingual-v1"
    finally:
        service.index.close()
    # The student's own folder names tiny-clip-shapes, not clip-ViT-B-32: refused for this index.
    with pytest.raises(ModelMismatch, match="was distilled for tiny-clip-shapes"):
        check_text_model(locate(STUDENT), encoder.index_model(), allow_other=False)


def test_a_text_model_runs_on_torch_and_embeds_no_images():
    student = Encoder(STUDENT, device="cpu", inference="onnx-int8")
    assert student.inference == "torch" and not student.has_images  # said once: the fast paths are CLIP's
    from PIL import Image

    with pytest.raises(Exception, match="is a text model: it cannot embed images"):
        student.encode_images([Image.new("RGB", (32, 32))])


def test_a_text_model_given_as_the_image_model_stops_the_build_in_one_line(tmp_path):
    from artsearch.testing import synthetic
    from tests.support.indexes import test_settings

    synthetic.write_dataset(tmp_path / "shapes", 4, seed=1)
    settings = test_settings(tmp_path, STUDENT)
    result = run_cli(
        ["qdrant/initialize_db.py", "--source", "folder", "--images-dir", str(tmp_path / "shapes"), "--no-progress"],
        settings,
    )
    line = one_line_error(result)
    assert "is a text model: it cannot embed images" in line and "TEXT_EMBEDDER_NAME" in line
