"""Fidelity of the fast inference paths against torch fp32, judged by the rankings they produce.

    .venv/bin/python benchmarks/fidelity.py                  # random ViT-B/32 on 128 benchmark JPEGs + trained tiny

With random weights every image embeds to nearly the same vector, so a raw cosine near 1 proves
nothing. Reported per path:

* image->image top-10 overlap with fp32 (each image queries the others) and text->image top-10
  overlap (text queries), the rule for a default: both >= 0.9;
* mean cosine to fp32, raw and after subtracting the fp32 mean embedding ("centred");
* with the trained tiny CLIP (``models/tiny-clip-shapes``, copied to the cache so its folder is
  never written): text->image precision@10 for "a {colour} {shape}" queries, fp32 and the path.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import (  # noqa: E402
    CACHE,
    TRAINED_TINY,
    base_model,
    centred_cosine,
    jpeg_folder,
    markdown_table,
    overlap_at_k,
)

PATHS = ("onnx", "onnx-int8", "torch-bf16", "torch-int8")
BASE_TEXTS = [
    f"a {a} {b}"
    for a in ("gloomy", "sunlit", "stormy", "quiet", "golden", "frozen", "misty", "crowded")
    for b in ("winter landscape", "harbour", "portrait of a woman", "still life", "city street")
]


def embed(model: str, inference: str, images, texts) -> tuple[np.ndarray, np.ndarray]:
    from artsearch.model.encoder import Encoder

    enc = Encoder(model, device="cpu", batch_size=32, inference=inference)
    assert enc.inference == inference, f"{inference} fell back to {enc.inference}"
    return enc.encode_images(images), enc.encode_texts(texts)


def rows_for(model: str, images, texts, paths, labels=None) -> list[list[str]]:
    ref_img, ref_txt = embed(model, "torch", images, texts)
    rows = []
    for p in paths:
        img, txt = embed(model, p, images, texts)
        raw, centred = centred_cosine(ref_img, img)
        row = [
            p,
            f"{overlap_at_k(ref_img, img):.3f}",
            f"{overlap_at_k(ref_img, img, queries=(ref_txt, txt)):.3f}",
            f"{raw:.4f}",
            f"{centred:.4f}",
        ]
        if labels is not None:
            row.append(f"{precision_at_10(ref_img, ref_txt, labels):.3f} / {precision_at_10(img, txt, labels):.3f}")
        rows.append(row)
    return rows


def precision_at_10(img: np.ndarray, txt: np.ndarray, labels: tuple[list[str], list[str]]) -> float:
    image_labels, query_labels = labels
    top = np.argsort(-(txt @ img.T), axis=1)[:, :10]
    return float(np.mean([[image_labels[j] == q for j in row] for row, q in zip(top, query_labels, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from artsearch.images import load_image
    from artsearch.ingest import DRAFT_SIZE
    from artsearch.model.encoder import export_model

    headers = ["path", "image->image top-10 overlap", "text->image top-10 overlap", "cosine raw", "cosine centred"]
    model = str(base_model())
    export_model(model, [p for p in args.paths if p.startswith("onnx")])
    files = sorted(jpeg_folder(256).glob("*.jpg"))[: args.images]
    images = [load_image(f.read_bytes(), draft_size=DRAFT_SIZE) for f in files]
    print(f"\nRandom-weight ViT-B/32, {len(images)} benchmark JPEGs, {len(BASE_TEXTS)} text queries, vs torch fp32\n")
    print(markdown_table(headers, rows_for(model, images, BASE_TEXTS, args.paths)))

    if not (TRAINED_TINY / "modules.json").is_file():
        print(f"\n{TRAINED_TINY} is not there: trained-model check skipped")
        return
    from artsearch.testing import synthetic

    tiny = CACHE / "tiny-clip-shapes"
    if not tiny.is_dir():
        shutil.copytree(TRAINED_TINY, tiny)
    export_model(str(tiny), [p for p in args.paths if p.startswith("onnx")])
    samples = synthetic.generate(300, seed=7)
    queries = sorted({s.label for s in samples})
    labels = ([s.label for s in samples], queries)
    texts = [f"a {q}" for q in queries]
    print(f"\nTrained tiny CLIP (models/tiny-clip-shapes), {len(samples)} held-out shapes, {len(texts)} queries\n")
    rows = rows_for(str(tiny), [s.image for s in samples], texts, args.paths, labels)
    print(markdown_table([*headers, "text->image P@10 fp32 / path"], rows))


if __name__ == "__main__":
    main()
