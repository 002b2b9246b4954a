"""Loading the encoder: the device it runs on, and what a user is told when it cannot be used."""

from __future__ import annotations

import pytest
import torch

from artsearch.errors import ModelLoadError
from artsearch.model.encoder import Encoder, resolve_device
from tests.support.cli import one_line_error, run_cli
from tests.support.indexes import test_settings


def unusable_gpu() -> tuple[str, str]:
    """A CUDA device this machine's torch cannot use, and what the message must say about it."""
    if torch.version.cuda is None:
        return "cuda", "is a CPU-only build"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cuda:{count}", "sees"


def test_auto_is_a_device_this_torch_has():
    assert resolve_device("auto") in {"cpu", "cuda", "mps"}
    assert resolve_device(" CPU ") == "cpu"


def test_a_gpu_this_torch_cannot_use_is_named_before_the_model_loads(tiny_clip_path):
    device, reason = unusable_gpu()
    with pytest.raises(ModelLoadError) as err:
        Encoder(tiny_clip_path, device=device)
    assert f"ARTSEARCH_DEVICE is '{device}'" in str(err.value) and reason in str(err.value)
    assert "ARTSEARCH_DEVICE=cpu" in str(err.value)


def test_the_command_line_says_why_the_gpu_cannot_be_used(tmp_path, tiny_clip_path):
    device, reason = unusable_gpu()
    settings = test_settings(tmp_path, tiny_clip_path)
    line = one_line_error(run_cli(["-m", "artsearch", "search", "sea"], settings, {"ARTSEARCH_DEVICE": device}))
    assert reason in line and torch.__version__ in line
    line = one_line_error(run_cli(["-m", "artsearch", "search", "sea"], settings, {"ARTSEARCH_DEVICE": "gpu"}))
    assert "ARTSEARCH_DEVICE must be one of auto, cpu, cuda, cuda:N, mps" in line
