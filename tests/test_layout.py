"""The tests' own layout: each test file is named after the module it tests, helpers live in tests/support/,
fixtures come from tests/conftest.py, and no test module imports another.

Each check is a function of a folder, run on the real tree, and shown to fail on a small tree built to break it.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTRA_NAMES = {"test_readme.py", "test_packaging.py", "test_layout.py"}  # tests of the project, not of a module
TOP_LEVEL_HELPERS = {"__init__.py", "conftest.py"}  # everything else at tests/ top level is a test_*.py file


def module_names(root: Path) -> set[str]:
    """The package's modules as test names take them: artsearch/index/edge.py -> "index_edge", app.py -> "app"."""
    names = {"app"} if (root / "app.py").exists() else set()
    for path in (root / "artsearch").rglob("*.py"):
        parts = list(path.relative_to(root / "artsearch").with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts and not parts[-1].startswith("__"):
            names.add("_".join(parts))
    return names


def misnamed_test_files(root: Path) -> list[str]:
    """Test files not called test_<module>.py or test_<module>_<aspect>.py, and helpers outside tests/support/."""
    modules = module_names(root)
    wrong = []
    for path in sorted((root / "tests").glob("*.py")):
        name = path.name
        if name in TOP_LEVEL_HELPERS or name in EXTRA_NAMES:
            continue
        stem = path.stem.removeprefix("test_")
        if not name.startswith("test_") or not any(stem == m or stem.startswith(m + "_") for m in modules):
            wrong.append(name)
    return wrong


def imported_modules(path: Path, root: Path) -> list[str]:
    """Every module ``path`` imports (and each ``from`` import's names as submodules), relative ones resolved."""
    package = list(path.relative_to(root).parent.parts)  # ["tests"] or ["tests", "support"]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*parts, *(node.module or "").split(".")]).strip(".")
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def imports_of_test_modules(root: Path) -> list[str]:
    """Each import (as "file: module") of a test module, or of conftest.py, by a test module or a helper."""
    offenders = []
    files = sorted((root / "tests").glob("test_*.py")) + sorted((root / "tests" / "support").glob("*.py"))
    for path in files:
        for module in imported_modules(path, root):
            parts = module.split(".")
            if parts[0] == "tests" and len(parts) > 1 and (parts[1].startswith("test_") or parts[1] == "conftest"):
                offenders.append(f"{path.relative_to(root)}: {module}")
    return offenders


def f811_ignored_for_tests(root: Path) -> list[str]:
    """Where pyproject.toml tells ruff to ignore F811 (a redefinition: a fixture imported by name) in tests."""
    ruff = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {}).get("ruff", {})
    covers = lambda code: code == "ALL" or "F811".startswith(code)  # noqa: E731 - F, F8, F81 and F811 all do
    where = []
    for section in (ruff, ruff.get("lint", {})):  # [tool.ruff] (the old place) and [tool.ruff.lint]
        where += [f"ignore: {code}" for code in section.get("ignore", []) if covers(code)]
        for pattern, codes in section.get("per-file-ignores", {}).items():
            if pattern.lstrip("./").startswith(("tests", "*")):
                where += [f"per-file-ignores {pattern!r}: {code}" for code in codes if covers(code)]
    return where


# --- on the real tree ------------------------------------------------------------------------------------------


def test_every_test_file_is_named_after_the_module_it_tests():
    assert misnamed_test_files(ROOT) == []


def test_no_test_module_imports_another_test_module_or_conftest():
    assert imports_of_test_modules(ROOT) == []


def test_ruff_does_not_ignore_redefined_names_in_tests():
    assert f811_ignored_for_tests(ROOT) == []


# --- the checks fail when they should ---------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A tree laid out right: a package with modules, app.py, tests named after them, a clean pyproject.toml."""
    for module in ("__init__.py", "search.py", "index/__init__.py", "index/edge.py", "__main__.py"):
        (tmp_path / "artsearch" / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "artsearch" / module).write_text("")
    (tmp_path / "app.py").write_text("")
    (tmp_path / "tests" / "support").mkdir(parents=True)
    for name in ("__init__.py", "conftest.py", "support/__init__.py", "test_layout.py", "test_readme.py"):
        (tmp_path / "tests" / name).write_text("")
    (tmp_path / "tests" / "support" / "app.py").write_text("from tests.support import ROOT\n")
    (tmp_path / "tests" / "test_app_browser.py").write_text("from tests.support.app import new_app\nimport tests\n")
    (tmp_path / "tests" / "test_search.py").write_text("import pytest\n")
    (tmp_path / "tests" / "test_index_edge.py").write_text("from artsearch.index import edge\n")
    (tmp_path / "tests" / "test_index.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nignore = ["E501"]\n')
    return tmp_path


def test_a_tree_laid_out_right_passes(tree: Path):
    assert misnamed_test_files(tree) == []
    assert imports_of_test_modules(tree) == []
    assert f811_ignored_for_tests(tree) == []
    assert module_names(tree) == {"app", "search", "index", "index_edge"}


@pytest.mark.parametrize(
    "name",
    [
        "test_webui.py",  # no artsearch/webui.py
        "test_searching.py",  # "search" is a module, "searching" is not
        "test_edge.py",  # edge.py lives in index/: test_index_edge.py
        "datasets.py",  # a helper at the top level, not in tests/support/
        "check_search.py",  # not a test file name at all
    ],
)
def test_a_misnamed_test_file_is_found(tree: Path, name: str):
    (tree / "tests" / name).write_text("")
    assert misnamed_test_files(tree) == [name]


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("test_search.py", "from tests.test_app_browser import new_app\n"),
        ("test_search.py", "from tests import test_index_edge\n"),
        ("test_search.py", "import tests.test_index_edge\n"),
        ("test_search.py", "from .test_index_edge import pair\n"),
        ("test_search.py", "from . import test_index_edge\n"),
        ("test_search.py", "def test_x():\n    from tests.test_app_browser import served_app\n"),
        ("test_search.py", "from tests.conftest import copy_index\n"),
        ("support/app.py", "from tests.test_search import helper\n"),
        ("support/app.py", "from .. import test_search\n"),
    ],
)
def test_an_import_of_a_test_module_is_found(tree: Path, where: str, source: str):
    (tree / "tests" / where).write_text(source)
    offenders = imports_of_test_modules(tree)
    assert len(offenders) >= 1 and all(o.startswith(f"tests/{where}: tests.") for o in offenders), offenders


@pytest.mark.parametrize(
    "lint",
    [
        '[tool.ruff.lint.per-file-ignores]\n"tests/*" = ["F811"]\n',
        '[tool.ruff.lint.per-file-ignores]\n"tests/**/*.py" = ["E501", "F8"]\n',
        '[tool.ruff.lint]\nignore = ["E501", "F811"]\n',
        '[tool.ruff.per-file-ignores]\n"tests/conftest.py" = ["F811"]\n',
        '[tool.ruff.lint.per-file-ignores]\n"**/test_*.py" = ["F"]\n',
    ],
)
def test_an_f811_ignore_for_tests_is_found(tree: Path, lint: str):
    (tree / "pyproject.toml").write_text(lint)
    assert f811_ignored_for_tests(tree) != []
