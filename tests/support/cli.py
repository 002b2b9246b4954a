"""The command line as a user runs it: ``python -m artsearch ...`` or ``python qdrant/initialize_db.py`` in a
process of its own, pointed at a test index and nothing from the developer's environment."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def run_cli(args: list[str], settings, env_extra: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python *args`` from the repository root with ``settings``' model, Qdrant folder and data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QDRANT", "ARTSEARCH", "KAGGLE"))}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), ARTSEARCH_SECRETS=str(settings.data_dir / "none.toml"))
    env["ARTSEARCH_EMBEDDED_ENGINE"] = settings.embedded_engine
    env["ARTSEARCH_INFERENCE"] = settings.inference
    env.update(env_extra or {})
    base = [
        "--model",
        settings.embedder_name,
        "--qdrant-path",
        str(settings.qdrant_path),
        "--data-dir",
        str(settings.data_dir),
    ]
    return subprocess.run(
        [sys.executable, *args, *base], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT, **kwargs
    )
