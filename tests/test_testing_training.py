"""The training scripts' shared helpers: a warm-up then cosine schedule, and seeding that makes runs repeat."""

from __future__ import annotations

import pytest

from artsearch.testing.training import lr_at, seed_everything


def test_learning_rate_warms_up_then_decays_to_zero() -> None:
    rates = [lr_at(step, 100, 10, 1e-3) for step in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert rates[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))
    assert rates[-1] < 1e-6


def test_seeding_makes_torch_and_numpy_draws_repeat() -> None:
    import numpy as np
    import torch

    def draws() -> tuple[list[float], list[float]]:
        seed_everything(7, threads=1)
        return torch.rand(3).tolist(), np.random.rand(3).tolist()

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        first, second = draws(), draws()
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    finally:  # leave the process as the other tests expect it
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    assert first == second
