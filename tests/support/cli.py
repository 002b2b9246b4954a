"""The command line as a user runs it: ``python -m artsearch ...`` or ``python qdrant/initialize_db.py`` in a
process of its own, pointed at a test index and nothing from the developer's environment."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def run_cli(
    args: list[str], settings, env_extra: dict | None = None, timeout: float = 300, **kwargs
) -> subprocess.CompletedProcess:
    """Run ``python *args`` from the repository root with ``settings``' model, Qdrant folder and data folder.

    ``settings.embedder_name`` None runs with no model configured (no ``--model``, no EMBEDDER_NAME). An
    ``env_extra`` value of None unsets that variable (e.g. ``HF_HUB_OFFLINE``, set to 1 by default).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QDRANT", "ARTSEARCH", "KAGGLE", "EMBEDDER", "TEXT_EMBEDDER"))
    }
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), ARTSEARCH_SECRETS=str(settings.data_dir / "none.toml"))
    env["ARTSEARCH_EMBEDDED_ENGINE"] = settings.embedded_engine
    env["ARTSEARCH_INFERENCE"] = settings.inference
    for name, value in (env_extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    base = ["--model", settings.embedder_name] if settings.embedder_name else []
    base += ["--qdrant-path", str(settings.qdrant_path), "--data-dir", str(settings.data_dir)]
    return subprocess.run(
        [sys.executable, *args, *base], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kwargs
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line of a failed run, which must have no traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]
