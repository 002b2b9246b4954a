"""The README stays true: its module map lists every module of the package with its job, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_map() -> dict[str, str]:
    """The README's "How it is built" block: path -> one-line job."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## How it is built", 1)[1]
    block = section.split("```", 2)[1]
    entries = {}
    for line in block.strip("\n").splitlines():
        match = re.fullmatch(r"(\S+)\s+(.+)", line.strip())
        assert match, f"README module map line without a job: {line!r}"
        entries[match.group(1)] = match.group(2).strip()
    return entries


def package_modules() -> set[str]:
    """Every module file of artsearch/ (a package's __init__.py is listed as its folder)."""
    found = set()
    for path in (ROOT / "artsearch").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if path.name == "__main__.py" or rel == "artsearch/__init__.py":
            continue
        found.add(rel.removesuffix("__init__.py") if path.name == "__init__.py" else rel)
    return found


def test_every_module_is_in_the_readme_map_with_its_job():
    listed = module_map()
    missing = sorted(package_modules() - set(listed))
    assert not missing, f"add these to README.md's 'How it is built' with their job: {missing}"
    assert all(len(job.split()) >= 2 for job in listed.values())


def test_the_readme_map_lists_nothing_that_is_gone():
    gone = sorted(path for path in module_map() if not (ROOT / path).exists())
    assert not gone, f"README.md's module map lists paths that do not exist: {gone}"
