"""What the scripts that train the tiny models share: seeding for reproducible CPU runs, and the learning-rate schedule."""

from __future__ import annotations

import math
import random


def seed_everything(seed: int, threads: int) -> None:
    """Seed Python, numpy and torch, pin torch to ``threads`` threads and to deterministic kernels."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up over ``warmup`` steps to ``base``, then a cosine decay to 0 at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * progress))
