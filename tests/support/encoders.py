"""A real encoder that counts what it is asked to embed (the model still runs: nothing is mocked)."""

from __future__ import annotations

from typing import Any


class CountingEncoder:
    """Wraps a loaded :class:`artsearch.model.encoder.Encoder`; ``images`` counts the images it embedded."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self.images = 0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode_features(self, features: Any) -> Any:
        self.calls += 1
        self.images += len(features["pixel_values"])
        return self._encoder.encode_features(features)

    def reset(self) -> None:
        self.images = self.calls = 0
