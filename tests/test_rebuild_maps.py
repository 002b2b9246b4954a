"""Map projections are pruned with their builds: after any number of rebuilds, storage keeps the live build's map
and the previous one (an app that has not noticed the publish yet may still read it), never a pile."""

from __future__ import annotations

from artsearch.index.builds import read_pointer
from artsearch.rebuild import prune_maps, rebuild
from artsearch.search import SearchService
from artsearch.sources import SourceOptions
from artsearch.storage.local import LocalStorage
from tests.support.datasets import jpeg_bytes, painting
from tests.support.indexes import test_settings


def test_three_rebuilds_keep_the_live_and_the_previous_map_only(tmp_path, tiny_clip_path, shared_encoder):
    images = tmp_path / "images"
    for n in range(6):
        (images / f"Painter {n % 2}").mkdir(parents=True, exist_ok=True)
        (images / f"Painter {n % 2}" / f"work_{n}.jpg").write_bytes(jpeg_bytes(painting(300 + n)))
    settings = test_settings(tmp_path, tiny_clip_path)
    storage = LocalStorage(settings.data_dir)
    lives = []
    for _ in range(3):
        rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=shared_encoder, progress=False)
        lives.append(read_pointer(settings)["collection"])
    assert len(set(lives)) == 3
    assert storage.map_collections() == sorted(lives[1:])  # the first build's map is gone
    service = SearchService(settings, encoder=shared_encoder)
    try:
        assert service.projection() is not None  # the live build's map is read back
    finally:
        service.index.close()
    print(f"\nFIGURE maps: 3 rebuilds, {len(storage.map_collections())} map files kept (the live and the previous)")


def test_pruning_keeps_what_it_is_told_and_leaves_other_files(tmp_path):
    storage = LocalStorage(tmp_path)
    for name in ("artworks_1", "artworks_2", "artworks_3"):
        storage.write_map(name, b"{}")
    (tmp_path / "maps" / "notes.txt").write_text("mine")
    assert prune_maps(storage, keep={"artworks_3", None}) == ["artworks_1", "artworks_2"]
    assert storage.map_collections() == ["artworks_3"]
    assert (tmp_path / "maps" / "notes.txt").read_text() == "mine"
