"""Distil the tiny CLIP's text tower into a multilingual student, as clip-ViT-B-32-multilingual-v1 was made.

The result, ``models/tiny-clip-shapes-multilingual/``, is a text-only sentence-transformers
model laid out like the hub's ``clip-ViT-B-32-multilingual-v1`` (DistilBERT ``Transformer`` ->
mean ``Pooling`` -> bias-free ``Dense``; ``artsearch.testing.student_factory``) whose vectors
land in ``models/tiny-clip-shapes``'s image space for captions in English, French, German,
Spanish and Italian. Tests and demos use it as a real stand-in for the hub's student.

Method: multilingual knowledge distillation (Reimers & Gurevych, 2020). The teacher (the tiny
CLIP's text tower, frozen) embeds each English caption once; the student learns, by mean squared
error, student(english) ~ teacher(english) and student(translation) ~ teacher(english), over every
phrasing of ``artsearch.testing.synthetic.caption_variants`` and its translations
(``artsearch.testing.glossary``). Two backgrounds of every colour x shape are held out
(``artsearch.testing.multilingual.split_combinations``): their captions are never trained on.
The WordPiece vocabulary is trained (``tokenizers``) over the training captions. CPU only,
2 threads, seeded and deterministic.

Exact command used for the committed model::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/train_tiny_multilingual.py --seed 0 --out models/tiny-clip-shapes-multilingual

At the end it prints held-out metrics, evaluated through ``SentenceTransformer`` loading the
saved folder: for each language, how the held-out captions rank a collection of 600 synthetic
images (embedded by the teacher's image tower, a synthetic seed no model was trained on) next
to the same caption in English (top-10 overlap), and text->image precision@10 against the
images' colour x shape; also written to ``metrics.json`` in the model folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

# Before torch loads OpenMP: with other processes on the same 2 cores, spinning OpenMP
# threads slow every step down many times over; passive waiting degrades gracefully.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artsearch.model.locate import locate  # noqa: E402
from artsearch.model.pairing import write_distilled_for  # noqa: E402
from artsearch.testing import glossary, multilingual  # noqa: E402
from artsearch.testing.student_factory import build_student, build_wordpiece_tokenizer, save_student  # noqa: E402
from artsearch.testing.training import lr_at, seed_everything  # noqa: E402

logger = logging.getLogger("train_tiny_multilingual")

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", type=Path, default=ROOT / "models" / "tiny-clip-shapes")
    p.add_argument("--out", type=Path, default=Path("models/tiny-clip-shapes-multilingual"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--vocab-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-size", type=int, default=600)
    return p.parse_args(argv)


def load_teacher(path: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def encode_texts(model, texts: list[str]) -> np.ndarray:
    return model.encode(texts, batch_size=256, convert_to_numpy=True, show_progress_bar=False)


def train(args: argparse.Namespace, teacher) -> tuple[object, dict[str, float]]:
    seed_everything(args.seed, args.threads)
    train_combos, _held_out = multilingual.split_combinations()
    pairs = multilingual.training_pairs(train_combos)
    english = sorted({p.english for p in pairs})
    targets = dict(zip(english, torch.from_numpy(encode_texts(teacher, english)), strict=True))
    tokenizer = build_wordpiece_tokenizer(sorted({p.text for p in pairs}), vocab_size=args.vocab_size)
    student = build_student(tokenizer, teacher.get_embedding_dimension(), seed=args.seed)
    n_params = sum(p.numel() for p in student.parameters())
    logger.info(
        "%d training pairs (%d English captions, %d combinations held out); vocabulary %d; %.2fM parameters",
        len(pairs),
        len(english),
        len(_held_out),
        len(tokenizer),
        n_params / 1e6,
    )
    texts = [p.text for p in pairs]
    target_matrix = torch.stack([targets[p.english] for p in pairs])

    decay = [p for n, p in student.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in student.named_parameters() if p.ndim < 2]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
    )
    rng = np.random.default_rng([args.seed, 18])
    student.train()
    t_train = time.perf_counter()
    order = rng.permutation(len(pairs))
    cursor = 0
    for step in range(args.steps):
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step, args.steps, args.warmup, args.lr)
        if cursor + args.batch_size > len(order):  # a new epoch
            order, cursor = rng.permutation(len(pairs)), 0
        idx = order[cursor : cursor + args.batch_size]
        cursor += args.batch_size
        features = student.preprocess([texts[i] for i in idx])
        predicted = student(features)["sentence_embedding"]
        loss = F.mse_loss(predicted, target_matrix[torch.from_numpy(idx)])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimiser.step()
        if step % 250 == 0 or step == args.steps - 1:
            logger.info(
                "step %4d  mse %.5f  lr %.2e  %.1fs",
                step,
                loss.item(),
                optimiser.param_groups[0]["lr"],
                time.perf_counter() - t_train,
            )
    student.eval()
    stats = {
        "train_seconds": time.perf_counter() - t_train,
        "final_train_mse": float(loss.item()),
        "params": n_params,
        "training_pairs": len(pairs),
        "vocabulary": len(tokenizer),
    }
    return student, stats


def held_out_fit(teacher, student, combinations: list[multilingual.Combination]) -> dict[str, dict[str, float]]:
    """MSE and cosine of student(held-out caption) against teacher(English caption), per language."""
    target = encode_texts(teacher, multilingual.held_out_queries(combinations, "en"))
    fit = {}
    for language in ("en", *glossary.LANGUAGES):
        got = encode_texts(student, multilingual.held_out_queries(combinations, language))
        cosine = (got * target).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(target, axis=1))
        fit[language] = {"mse": float(((got - target) ** 2).mean()), "cosine": float(cosine.mean())}
    return fit


def evaluate(teacher_dir: Path, model_dir: Path, n: int) -> dict[str, object]:
    """Held-out metrics with both models loaded from disk through ``SentenceTransformer``."""
    teacher = load_teacher(teacher_dir)
    student = load_teacher(model_dir)
    _train, held_out = multilingual.split_combinations()
    samples = multilingual.collection(n)
    images = teacher.encode([s.image for s in samples], batch_size=64, convert_to_numpy=True, show_progress_bar=False)
    labels = [s.label for s in samples]
    ranking = multilingual.cross_lingual_measures(
        lambda t: encode_texts(teacher, t), lambda t: encode_texts(student, t), images, labels, held_out
    )
    short = multilingual.cross_lingual_measures(
        lambda t: encode_texts(teacher, t),
        lambda t: encode_texts(student, t),
        images,
        labels,
        held_out,
        query=multilingual.colour_shape_query,
    )
    return {
        "held_out_combinations": len(held_out),
        "collection_images": n,
        "collection_seed": multilingual.COLLECTION_SEED,
        "chance_p@10": round(1 / 30, 4),
        "ranking": _rounded(ranking),
        "ranking_colour_shape_queries": _rounded(short),
        "fit": _rounded(held_out_fit(teacher, student, held_out)),
        "max_seq_length": student.max_seq_length,
    }


def _rounded(report: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {language: {k: round(v, 4) for k, v in figures.items()} for language, figures in report.items()}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    t_start = time.perf_counter()
    teacher = load_teacher(args.teacher)
    student, stats = train(args, teacher)
    save_student(student, args.out)
    write_distilled_for(args.out, locate(str(args.teacher)))  # searches check the index was built by the teacher
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    logger.info("saved to %s (%.2f MB)", args.out, size / 1e6)
    metrics = evaluate(args.teacher, args.out, args.eval_size)
    metrics.update({k: round(v, 5) if isinstance(v, float) else v for k, v in stats.items()})
    metrics["total_seconds"] = round(time.perf_counter() - t_start, 1)
    metrics["model_bytes"] = size
    metrics["seed"] = args.seed
    metrics["steps"] = args.steps
    logger.info("held-out captions, ranking %d images (chance p@10 %.3f):", args.eval_size, 1 / 30)
    for language, figures in metrics["ranking"].items():
        fit = metrics["fit"][language]
        logger.info(
            "  %-8s %s  mse %.4f  cosine %.4f",
            glossary.LANGUAGE_NAMES[language],
            "  ".join(f"{k} {v:.3f}" for k, v in figures.items()),
            fit["mse"],
            fit["cosine"],
        )
    logger.info("'a {colour} {shape}' queries for the held-out combinations (phrasings seen in training):")
    for language, figures in metrics["ranking_colour_shape_queries"].items():
        logger.info(
            "  %-8s %s", glossary.LANGUAGE_NAMES[language], "  ".join(f"{k} {v:.3f}" for k, v in figures.items())
        )
    for key in ("train_seconds", "total_seconds", "model_bytes", "params", "vocabulary", "max_seq_length"):
        logger.info("%-16s %s", key, metrics[key])
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
