"""notebooks/data_prep.ipynb runs top to bottom, headless, on the Kaggle-layout fixture, and writes a usable dataset.

The kernel is started from a kernelspec written into the test's temp folder
whose command is this interpreter (``sys.executable -m ipykernel_launcher``),
so the notebook runs in the same virtualenv as the tests whatever ``python``
is first on PATH and whether or not ``ipykernel install`` was ever run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from artsearch.sources.folder import FolderSource
from tests.support.datasets import make_kaggle_layout

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "data_prep.ipynb"
CELL_TIMEOUT = 120


def test_committed_notebook_has_parameters_and_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in ("DATA_DIR", "OUT_DIR", "SOURCE"):
        assert f"{name} = " in code[0].source
    # Outputs stripped, so diffs stay small and no dataset content is committed.
    assert all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.timeout(600)
def test_notebook_runs_headless_on_the_fixture_and_writes_the_cleaned_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    layout = make_kaggle_layout(tmp_path / "kaggle")
    out = tmp_path / "cleaned"
    monkeypatch.setenv("DATAPREP_DATA_DIR", str(layout.root))
    monkeypatch.setenv("DATAPREP_OUT_DIR", str(out))
    monkeypatch.setenv("DATAPREP_SOURCE", "kaggle")

    kernels = tmp_path / "kernels"
    write_kernel_spec(kernels / "python3")
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(REPO)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    mimetypes = {m for c in code for o in c.outputs for m in o.get("data", {})}
    assert "image/png" in mimetypes  # the contact sheet
    assert any(m.startswith("application/vnd.vegalite") or m == "text/html" for m in mimetypes)  # the charts
    text = "\n".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert f"wrote {len(layout.valid)} images of 4 artists" in text

    # The cleaned dataset: valid images only, under repaired artist folders, with its metadata.
    images = sorted(p for p in out.rglob("*") if p.is_file() and p.parent != out)
    assert len(images) == len(layout.valid)
    assert (out / "Albrecht Dürer").is_dir() and not any("╠" in p.as_posix() for p in out.rglob("*"))
    broken_names = {p.name for p in layout.broken}
    assert not broken_names & {p.name for p in images}
    artists = json.loads((out / "artists.json").read_text(encoding="utf-8"))
    assert set(artists) == {"albrecht-durer", "claude-monet", "mystery-painter", "vincent-van-gogh"}
    with (out / "rejected.csv").open(encoding="utf-8") as fh:
        assert {Path(r["original"]).name for r in csv.DictReader(fh)} == broken_names

    # ... and it can be ingested: a folder source yields exactly the valid images with the right artists.
    items = list(FolderSource(out, metadata_csv=out / "metadata.csv").items())
    assert len(items) == len(layout.valid)
    expected = {}
    for path in layout.valid:
        folder = path.parent.name
        artist = "Albrecht Dürer" if folder.startswith("Albrecht") else folder.replace("_", " ")
        expected[path.name.replace("Albrecht_Du╠êrer", "Albrecht_Dürer")] = artist
    assert {Path(i.origin).name: i.artwork.artist for i in items} == expected
    assert {i.artwork.nationality for i in items if i.artwork.artist == "Albrecht Dürer"} == {"German"}
