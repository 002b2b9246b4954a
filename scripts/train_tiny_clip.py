"""Train a small CLIP on synthetic coloured shapes and save it in sentence-transformers format.

The result, ``models/tiny-clip-shapes/``, is a real (if tiny) text-image model that the
project's code loads exactly like ``clip-ViT-B-32``: tests and demos can check that
"a green triangle" actually finds green triangles, which a random-weight model cannot.

Model: transformers ``CLIPModel``, ViT vision tower on 64 px images (patch 16, 4 layers,
width 96), a 2-layer width-64 text tower, 64-d projection, and the real CLIP BPE truncated to 4096 tokens
(``artsearch.testing.clip_factory``). Loss: the standard symmetric contrastive (InfoNCE) loss
with CLIP's learnable temperature (``logit_scale``), over batches built from groups of
same-colour, same-background images that differ only in shape (hard negatives; without
them the model learns colour and background but little shape). Data: 12,000 images from
``artsearch.testing.synthetic`` (seed 0), captions drawn at random from several phrasings each
step. CPU only, 2 threads, seeded and deterministic.

Exact command used for the committed model (seed 0, 1500 steps of batch 125)::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/train_tiny_clip.py --seed 0 --out models/tiny-clip-shapes

It took 645 s in all (535 s of training) on the 2-core development machine while other
jobs kept its load average near 7.5; expect less on an idle machine. ``--steps`` trades
time for quality.

At the end it prints held-out metrics (a different synthetic seed, 224 px images,
evaluated through ``SentenceTransformer`` loading the saved folder): text->image top-5
precision for "a {colour} {shape}" queries and image->text accuracy over those prompts.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

# Before torch loads OpenMP: with other processes on the same 2 cores, spinning OpenMP
# threads slow every step down many times over; passive waiting degrades gracefully.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artsearch.testing import synthetic  # noqa: E402
from artsearch.testing.clip_factory import (  # noqa: E402
    build_clip_tokenizer,
    clip_config,
    image_processor_for,
    save_sentence_transformer,
)
from artsearch.testing.training import lr_at, seed_everything  # noqa: E402

logger = logging.getLogger("train_tiny_clip")

VOCAB_SIZE = 4096
IMAGE_SIZE = 64
TEXT_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
}
VISION_CONFIG = {
    "hidden_size": 96,
    "intermediate_size": 192,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "image_size": IMAGE_SIZE,
    "patch_size": 16,
}
PROJECTION_DIM = 64
EVAL_SEED = 12345


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("models/tiny-clip-shapes"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=12_000)
    p.add_argument("--steps", type=int, default=1_500)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--no-hard-negatives",
        dest="hard_negatives",
        action="store_false",
        help="random batches instead of batches of same-colour, same-background groups",
    )
    p.add_argument("--eval-size", type=int, default=600)
    return p.parse_args(argv)


def make_train_set(n: int, seed: int) -> tuple[torch.Tensor, list[tuple[str, str, str, str]]]:
    """Render ``n`` samples at the model's image size; keep uint8 pixels and the attributes."""
    pixels = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    attrs: list[tuple[str, str, str, str]] = []
    for s in synthetic.iter_samples(n, seed, image_size=IMAGE_SIZE):
        pixels[s.index] = np.asarray(s.image)
        attrs.append((s.colour, s.shape, s.background, s.size))
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), attrs


def normaliser(processor) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's mean/std as broadcastable tensors: images here are already at the model's size."""
    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    return mean, std


def group_by_colour_and_background(attrs: list[tuple[str, str, str, str]]) -> list[list[np.ndarray]]:
    """Training indices grouped by (colour, background), then by shape; only groups holding every shape."""
    cells: dict[tuple[str, str], dict[str, list[int]]] = {}
    for i, (colour, shape, background, _size) in enumerate(attrs):
        cells.setdefault((colour, background), {}).setdefault(shape, []).append(i)
    return [
        [np.array(by_shape[shape]) for shape in synthetic.SHAPES]
        for _key, by_shape in sorted(cells.items())
        if len(by_shape) == len(synthetic.SHAPES)
    ]


def sample_batch(rng: np.random.Generator, groups: list[list[np.ndarray]], batch_size: int) -> np.ndarray:
    """Hard-negative batches: groups of one image per shape that share colour and background.

    With random batches, colour and background already separate almost every pair, so the
    contrastive loss barely asks about shape; here every image has a negative that differs
    only in shape. The loss is still the standard symmetric InfoNCE over the batch.
    """
    n_groups = batch_size // len(synthetic.SHAPES)
    chosen = rng.choice(len(groups), size=n_groups, replace=False)
    return np.array([rng.choice(cell) for g in chosen for cell in groups[int(g)]])


def train(args: argparse.Namespace) -> tuple[object, object, dict[str, float]]:
    from transformers import CLIPModel

    seed_everything(args.seed, args.threads)
    tokenizer = build_clip_tokenizer(vocab_size=VOCAB_SIZE)
    config = clip_config(
        "tiny",
        vocab_size=len(tokenizer),
        text_config=TEXT_CONFIG,
        vision_config=VISION_CONFIG,
        projection_dim=PROJECTION_DIM,
    )
    model = CLIPModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    processor = image_processor_for(config)
    mean, std = normaliser(processor)

    t0 = time.perf_counter()
    pixels, attrs = make_train_set(args.train_size, args.seed)
    logger.info(
        "rendered %d training images in %.1fs; model has %.2fM parameters",
        args.train_size,
        time.perf_counter() - t0,
        n_params / 1e6,
    )

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    rng = np.random.default_rng([args.seed, 99])
    groups = group_by_colour_and_background(attrs) if args.hard_negatives else None
    model.train()
    t_train = time.perf_counter()
    for step in range(args.steps):
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step, args.steps, args.warmup, args.lr)
        idx = (
            sample_batch(rng, groups, args.batch_size)
            if groups
            else rng.choice(args.train_size, args.batch_size, False)
        )
        images = pixels[torch.from_numpy(idx)].float().div_(255.0)
        if rng.random() < 0.5:  # mirror images; every shape here is still the same shape
            images = images.flip(-1)
        images = (images - mean) / std
        captions = []
        for i in idx:
            colour, shape, background, size = attrs[int(i)]
            variants = synthetic.caption_variants(colour, shape, background, size)
            captions.append(variants[int(rng.integers(len(variants)))])
        tokens = tokenizer(captions, padding=True, truncation=True, return_tensors="pt")

        out = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"], pixel_values=images)
        logits_per_text = out.logits_per_text  # scaled by exp(logit_scale), the learnable temperature
        targets = torch.arange(len(idx))
        loss = (F.cross_entropy(logits_per_text, targets) + F.cross_entropy(logits_per_text.T, targets)) / 2

        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        with torch.no_grad():  # CLIP clamps the temperature at 100
            model.logit_scale.clamp_(0, math.log(100))
        if step % 100 == 0 or step == args.steps - 1:
            logger.info(
                "step %4d  loss %.4f  temperature %.4f  lr %.2e  %.1fs",
                step,
                loss.item(),
                1 / model.logit_scale.exp().item(),
                optimiser.param_groups[0]["lr"],
                time.perf_counter() - t_train,
            )
    model.eval()
    stats = {"train_seconds": time.perf_counter() - t_train, "final_loss": float(loss.item()), "params": n_params}
    return model, tokenizer, stats


def evaluate(model_dir: Path, n: int, seed: int = EVAL_SEED) -> dict[str, float]:
    """Held-out metrics through ``SentenceTransformer`` loading the saved folder (the real inference path)."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")
    samples = synthetic.generate(n, seed)  # 224 px: the processor resizes, as it will in the app
    img = st.encode([s.image for s in samples], batch_size=64, normalize_embeddings=True)
    labels = [f"{c} {s}" for c in synthetic.COLOURS for s in synthetic.SHAPES]
    queries = [f"{synthetic._a(c)} {c} {s}" for c in synthetic.COLOURS for s in synthetic.SHAPES]
    txt = st.encode(queries, normalize_embeddings=True)
    sims = txt @ img.T  # (queries, images)
    sample_labels = np.array([s.label for s in samples])
    top5 = np.argsort(-sims, axis=1)[:, :5]
    p_at_5 = float(np.mean([(sample_labels[top5[q]] == labels[q]).mean() for q in range(len(labels))]))
    predicted = np.array(labels)[np.argmax(sims, axis=0)]
    acc = float((predicted == sample_labels).mean())
    colour_acc = float(np.mean([p.split()[0] == t.split()[0] for p, t in zip(predicted, sample_labels, strict=True)]))
    shape_acc = float(np.mean([p.split()[1] == t.split()[1] for p, t in zip(predicted, sample_labels, strict=True)]))
    # Full captions (with background) as candidates: 6 colours x 5 shapes x 8 backgrounds.
    full = sorted(
        {
            synthetic.make_caption(c, s, b)
            for c in synthetic.COLOURS
            for s in synthetic.SHAPES
            for b in synthetic.BACKGROUNDS
            if b != c
        }
    )
    full_emb = st.encode(full, normalize_embeddings=True)
    full_pred = np.array(full)[np.argmax(full_emb @ img.T, axis=0)]
    full_acc = float(np.mean(full_pred == np.array([s.caption for s in samples])))
    return {
        "text_to_image_p@5": p_at_5,
        "image_to_text_acc": acc,
        "colour_acc": colour_acc,
        "shape_acc": shape_acc,
        "full_caption_acc": full_acc,
        "chance_p@5": 1 / len(labels),
        "chance_full_caption_acc": 1 / len(full),
        "eval_images": n,
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    t_start = time.perf_counter()
    model, tokenizer, stats = train(args)
    save_sentence_transformer(model, tokenizer, args.out)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    logger.info("saved to %s (%.2f MB)", args.out, size / 1e6)
    metrics = evaluate(args.out, args.eval_size)
    metrics.update({k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()})
    metrics["total_seconds"] = round(time.perf_counter() - t_start, 1)
    metrics["model_bytes"] = size
    metrics["seed"] = args.seed
    for k, v in metrics.items():
        logger.info("%-24s %s", k, f"{v:.4f}" if isinstance(v, float) else v)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
