"""The project installs as a package: ``pip install .`` gives the ``artsearch`` command and the rebuild script.

The wheel is built from this checkout and installed, without its dependencies, into a fresh
virtual environment that borrows the test environment's installed packages (so nothing is
downloaded); then the installed command runs from a folder outside the checkout, where only the
installed package can be imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(600)


def requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_pyproject_declares_the_requirements_a_backend_and_the_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == requirements()
    assert project["build-system"]["build-backend"]
    assert project["project"]["scripts"] == {"artsearch": "artsearch.cli:main"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the artsearch wheel installed (no dependencies: they come from the test venv)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"  # a copy, so the build's own folders never land in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "data", "build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work), str(source)],
        check=True,
        cwd=work,
        timeout=300,
    )
    wheel = next(work.glob("artsearch-*.whl"))
    fresh = work / "venv"
    venv.create(fresh, with_pip=False)
    site = next((fresh / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(fresh / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",  # the borrowed packages may hold an (editable) artsearch already
            str(wheel),
        ],
        check=True,
        cwd=work,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=300,
    )
    return wheel


def test_the_wheel_carries_the_package_its_requirements_and_the_command(installed):
    with zipfile.ZipFile(installed) as whl:
        names = whl.namelist()
        metadata = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = whl.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "artsearch/search.py" in names and "artsearch/index/edge.py" in names
    assert "artsearch/testing/assets/bpe_simple_vocab_16e6.txt.gz" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    required = sorted(
        line.removeprefix("Requires-Dist: ") for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    )
    assert required == sorted(requirements())
    assert "artsearch = artsearch.cli:main" in entry_points


def test_the_installed_command_and_the_rebuild_script_run_outside_the_checkout(installed, tmp_path):
    fresh = installed.parent / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what is installed may be imported
    where = subprocess.run(
        [str(fresh / "bin" / "python"), "-c", "import artsearch, sys; print(artsearch.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert str(fresh) in where  # the installed copy, not the checkout
    command = subprocess.run(
        [str(fresh / "bin" / "artsearch"), "info", "--qdrant-path", str(tmp_path / "nothing-here")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "collection" in command.stdout and "Traceback" not in command.stderr
    script = subprocess.run(
        [str(fresh / "bin" / "python"), str(ROOT / "qdrant" / "initialize_db.py"), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert script.returncode == 0 and "--source" in script.stdout, script.stderr[-2000:]


def import_graph() -> dict[str, set[str]]:
    """artsearch module -> the artsearch modules it imports (anywhere in the file, lazy imports included)."""
    import ast

    modules = {}
    for path in (ROOT / "artsearch").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("artsearch"):
                for alias in node.names:  # "from artsearch.web import cards" imports the module artsearch.web.cards
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("artsearch"))
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_the_package_has_no_import_circles():
    graph = import_graph()
    circles = []

    def walk(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in trail:
                circles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in done:
                walk(nxt, [*trail, nxt])
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            walk(start, [start])
    assert not circles, f"import circles: {circles[:3]}"


def test_the_product_never_imports_the_testing_helpers():
    graph = import_graph()
    users = sorted(
        m
        for m, deps in graph.items()
        if not m.startswith("artsearch.testing") and any(d.startswith("artsearch.testing") for d in deps)
    )
    assert users == []
