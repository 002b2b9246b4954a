"""The two towers of a sentence-transformers CLIP as plain torch modules (for ONNX export and the torch fast paths)."""

from __future__ import annotations

from typing import Any


def is_clip(st_model: Any) -> bool:
    """Whether a sentence-transformers model is a CLIP (both towers), not a text-only model."""
    module = st_model[0]
    model = getattr(module, "model", None) or getattr(module, "auto_model", None)
    return model is not None and hasattr(model, "get_image_features")


def clip_of(st_model: Any) -> Any:
    """The transformers ``CLIPModel`` inside a sentence-transformers CLIP."""
    module = st_model[0]
    model = getattr(module, "model", None) or getattr(module, "auto_model", None)
    if model is None or not hasattr(model, "get_image_features"):
        raise TypeError("not a sentence-transformers CLIP model (its first module has no CLIP model)")
    return model


def pooled(out: Any) -> Any:
    """``get_*_features`` returns a tensor in older transformers, a ModelOutput with ``pooler_output`` in newer."""
    return out if hasattr(out, "shape") else out.pooler_output


def towers(clip: Any) -> tuple[Any, Any]:
    import torch

    class Vision(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return pooled(self.clip.get_image_features(pixel_values=pixel_values))

    class Text(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return pooled(self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask))

    return Vision().eval(), Text().eval()
