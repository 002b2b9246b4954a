"""The command line as a user runs it: search, info, and one-line errors."""

from __future__ import annotations

import json

import pytest

from artsearch.catalog import artwork_id
from tests.support.cli import one_line_error, run_cli
from tests.support.indexes import copy_index, test_settings
from tests.support.servers import free_port


def test_image_search_finds_the_indexed_artwork_first(kaggle_index):
    settings, layout, _ = kaggle_index
    path = layout.images_dir / "Claude_Monet" / "Claude_Monet_3.jpg"
    result = run_cli(["-m", "artsearch", "search", "--image", str(path), "--k", "5", "--json"], settings)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits[0]["artwork_id"] == artwork_id("kaggle", "Claude_Monet/Claude_Monet_3.jpg")
    assert hits[0]["score"] >= 0.99
    assert hits[0]["artist"] == "Claude Monet" and hits[0]["image"].endswith("Claude_Monet_3.jpg")
    assert {"artwork_id", "title", "artist", "score", "image"} <= set(hits[0])
    assert len(hits) == 5 and hits == sorted(hits, key=lambda h: -h["score"])


def test_naming_an_artist_in_the_text_brings_their_works_up(kaggle_index):
    settings, _, _ = kaggle_index

    def artists(text: str) -> list[str]:
        result = run_cli(["-m", "artsearch", "search", text, "--k", "22", "--json"], settings)
        assert result.returncode == 0, result.stderr
        return [h["artist"] for h in json.loads(result.stdout)]

    plain, named = artists("sunflowers in a vase"), artists("sunflowers in a vase van Gogh")
    van_gogh = named.count("Vincent van Gogh")
    assert van_gogh >= 2 and named[:van_gogh] == ["Vincent van Gogh"] * van_gogh
    assert plain[:van_gogh] != named[:van_gogh]


def test_text_search_with_filters_returns_only_matching_artists(kaggle_index):
    settings, _, _ = kaggle_index
    args = ["-m", "artsearch", "search", "a gloomy winter landscape", "--k", "50", "--json"]
    result = run_cli([*args, "--artist", "Albrecht Dürer", "--artist", "Vincent van Gogh"], settings)
    hits = json.loads(result.stdout)
    assert {h["artist"] for h in hits} == {"Albrecht Dürer", "Vincent van Gogh"}
    assert len(hits) == 8
    result = run_cli([*args, "--nationality", "French"], settings)
    assert {h["artist"] for h in json.loads(result.stdout)} == {"Claude Monet"}
    result = run_cli([*args, "--genre", "Northern Renaissance"], settings)
    assert {h["artist"] for h in json.loads(result.stdout)} == {"Albrecht Dürer"}


def test_more_like_uses_the_stored_vector_and_leaves_the_seed_out(kaggle_index):
    settings, _, _ = kaggle_index
    seed = artwork_id("kaggle", "Claude_Monet/Claude_Monet_1.jpg")
    result = run_cli(["-m", "artsearch", "search", "--like", seed, "--k", "3", "--json"], settings)
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and seed not in {h["artwork_id"] for h in hits}


def test_overlong_and_odd_text_still_searches(kaggle_index):
    settings, _, _ = kaggle_index
    text = "a gloomy landscape, " * 500 + " 🎨 منظر طبيعي"
    result = run_cli(["-m", "artsearch", "search", text, "--k", "2", "--json"], settings)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2


@pytest.mark.parametrize("text", ["a\x00gloomy\x00landscape", "x" * 10_000, "🎨🖼️", "منظر طبيعي شتوي", "\u202eevil"])
def test_service_searches_any_printable_text(kaggle_index, shared_encoder, text):
    from artsearch.search import Query, SearchService

    settings, _, _ = kaggle_index
    service = SearchService(settings, encoder=shared_encoder)
    try:
        assert len(service.page(Query(text=text, k=3)).hits) == 3
    finally:
        service.index.close()


@pytest.mark.parametrize("text", ["", "   ", "\x00\x00", "\n\t"])
def test_service_refuses_blank_text_with_a_message(kaggle_index, shared_encoder, text):
    from artsearch.errors import EmptyQuery
    from artsearch.search import Query, SearchService

    service = SearchService(kaggle_index[0], encoder=shared_encoder)
    try:
        with pytest.raises(EmptyQuery, match="Type a few words"):
            service.page(Query(text=text))
    finally:
        service.index.close()


def test_info_reports_count_model_and_location(kaggle_index):
    settings, layout, _ = kaggle_index
    result = run_cli(["-m", "artsearch", "info", "--json"], settings)
    info = json.loads(result.stdout)
    assert info["artworks"] == len(layout.valid)
    assert info["model"] == settings.embedder_name and info["vector_size"] == 64
    assert str(settings.qdrant_path) in info["qdrant"]


def test_info_on_an_index_it_cannot_open_is_one_line_and_never_a_count_of_0(kaggle_index, tmp_path):
    import portalocker

    from artsearch.index.builds import read_pointer

    settings, layout = copy_index(kaggle_index, tmp_path)
    live = settings.qdrant_path / read_pointer(settings)["folder"]
    with (live / ".lock").open("r") as lock:  # held exclusively by a process that is not one of our readers
        portalocker.lock(lock, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        result = run_cli(["-m", "artsearch", "info", "--json"], settings)
    line = one_line_error(result)
    assert "is locked by process" in line and "artworks" not in result.stdout, result.stdout
    again = run_cli(["-m", "artsearch", "info", "--json"], settings)
    assert json.loads(again.stdout)["artworks"] == len(layout.valid)  # let go: the right count


@pytest.mark.parametrize("like", ["00000000-0000-5000-8000-000000000000", "not-an-id"])
def test_more_like_an_unknown_artwork_is_one_line(kaggle_index, like):
    settings, _, _ = kaggle_index
    line = one_line_error(run_cli(["-m", "artsearch", "search", "--like", like], settings))
    assert like in line and "not in the collection" in line


@pytest.mark.parametrize("k", ["0", "51", "ten"])
def test_result_count_out_of_range_is_refused_by_name(kaggle_index, k):
    settings, _, _ = kaggle_index
    result = run_cli(["-m", "artsearch", "search", "sea", "--k", k], settings)
    assert result.returncode == 2 and f"give a whole number from 1 to 50, not '{k}'" in result.stderr


@pytest.mark.parametrize("flag", ["--limit", "--per-artist"])
def test_rebuild_counts_below_one_are_refused_by_name(kaggle_index, flag):
    settings, _, _ = kaggle_index
    result = run_cli(["qdrant/initialize_db.py", "--source", "kaggle", flag, "-1"], settings)
    assert result.returncode == 2 and f"argument {flag}: give a whole number of at least 1, not '-1'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_blank_filter_value_filters_nothing_out(kaggle_index):
    settings, _, _ = kaggle_index
    args = ["-m", "artsearch", "search", "sea", "--k", "5", "--json"]
    plain = json.loads(run_cli(args, settings).stdout)
    blank = json.loads(run_cli([*args, "--genre", "", "--artist", " "], settings).stdout)
    assert len(plain) == 5 and blank == plain


def test_empty_query_is_one_line(kaggle_index):
    settings, _, _ = kaggle_index
    assert "Give something to search for" in one_line_error(run_cli(["-m", "artsearch", "search", "  "], settings))


def test_unreadable_query_image_is_one_line(kaggle_index, tmp_path):
    settings, layout, _ = kaggle_index
    truncated = next(p for p in layout.broken if "truncated" in p.name)
    line = one_line_error(run_cli(["-m", "artsearch", "search", "--image", str(truncated)], settings))
    assert "could not be read" in line or "truncated" in line
    line = one_line_error(run_cli(["-m", "artsearch", "search", "--image", str(tmp_path / "nope.jpg")], settings))
    assert "Cannot read the query image" in line


def test_empty_collection_is_one_line(tmp_path, tiny_clip_path):
    settings = test_settings(tmp_path, tiny_clip_path)
    line = one_line_error(run_cli(["-m", "artsearch", "search", "water lilies"], settings))
    assert "No artworks indexed yet" in line and "initialize_db.py" in line


def test_unreachable_qdrant_url_is_one_line_without_the_key(tmp_path, tiny_clip_path):
    settings = test_settings(tmp_path, tiny_clip_path)
    env = {"QDRANT_URL": f"http://127.0.0.1:{free_port()}", "QDRANT_KEY": "secret-key-12345"}
    result = run_cli(["-m", "artsearch", "search", "water lilies"], settings, env_extra=env)
    line = one_line_error(result)
    assert "Cannot reach Qdrant" in line and "QDRANT_URL" in line
    assert "secret-key-12345" not in result.stderr + result.stdout


def test_model_that_cannot_load_offline_says_how_to_point_at_a_folder(tmp_path, tiny_clip_path, kaggle_index):
    settings = test_settings(tmp_path, "clip-ViT-B-32")
    result = run_cli(["-m", "artsearch", "search", "water lilies"], settings)
    line = one_line_error(result)
    assert "clip-ViT-B-32" in line and "EMBEDDER_NAME" in line and "local" in line


def test_missing_kaggle_credentials_say_what_to_set(tmp_path, tiny_clip_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    settings = test_settings(tmp_path, tiny_clip_path)
    result = run_cli(
        ["qdrant/initialize_db.py", "--source", "kaggle"], settings, env_extra={"KAGGLE_CONFIG_DIR": str(tmp_path)}
    )
    line = one_line_error(result)
    assert "KAGGLE_USERNAME" in line and "KAGGLE_KEY" in line and "--source museum" in line


@pytest.mark.parametrize("bad", [["--source", "folder"], ["--source", "folder", "--images-dir", "/nonexistent/dir"]])
def test_folder_source_without_a_folder_is_one_line(tmp_path, tiny_clip_path, bad):
    settings = test_settings(tmp_path, tiny_clip_path)
    line = one_line_error(run_cli(["qdrant/initialize_db.py", *bad], settings))
    assert "--images-dir" in line


def test_failed_kaggle_download_is_one_line_without_the_key(tmp_path, tiny_clip_path):
    settings = test_settings(tmp_path, tiny_clip_path)
    env = {"KAGGLE_USERNAME": "ann", "KAGGLE_KEY": "kaggle-key-0123456789", "KAGGLE_CONFIG_DIR": str(tmp_path)}
    result = run_cli(["qdrant/initialize_db.py", "--source", "kaggle"], settings, env_extra=env)
    line = one_line_error(result)
    assert "Kaggle failed" in line and "network" in line
    assert "kaggle-key-0123456789" not in result.stdout + result.stderr
    assert not (settings.qdrant_path).exists() or not any(settings.qdrant_path.iterdir())


# --- hostile data and hostile arguments ---------------------------------------------------------------------------

ESCAPES = "Nice\x1b[2J\x1b]0;PWNED\x07 picture"  # clears the screen, retitles the terminal, rings the bell
C1_AND_BIDI = "Painter \x9b31m \u202eevil"  # a one-byte CSI, and a right-to-left override


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, tiny_clip_path, shared_encoder):
    """A folder index whose metadata CSV gives a title and an artist full of terminal control characters."""
    import csv

    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.support.datasets import jpeg_bytes, painting

    root = tmp_path_factory.mktemp("hostile")
    images = root / "images" / "Someone"
    images.mkdir(parents=True)
    for n in range(3):
        (images / f"work_{n}.jpg").write_bytes(jpeg_bytes(painting(900 + n)))
    with (root / "meta.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "title", "artist"])
        writer.writerow(["Someone/work_0.jpg", ESCAPES, C1_AND_BIDI])
    settings = test_settings(root, tiny_clip_path)
    options = SourceOptions(source="folder", images_dir=root / "images", artists_csv=root / "meta.csv")
    rebuild(settings, options, encoder=shared_encoder, progress=False)
    return settings


def test_control_characters_from_the_data_are_printed_as_text(hostile_index):
    result = run_cli(["-m", "artsearch", "search", "a picture", "--k", "3"], hostile_index)
    assert result.returncode == 0, result.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in result.stdout + result.stderr, repr(raw)
    assert "Nice\\x1b[2J\\x1b]0;PWNED\\x07 picture - Painter \\x9b31m \\u202eevil" in result.stdout, result.stdout

    as_json = run_cli(["-m", "artsearch", "search", "a picture", "--k", "3", "--json"], hostile_index)
    assert as_json.returncode == 0, as_json.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in as_json.stdout, repr(raw)
    assert "\\u001b[2J" in as_json.stdout and "\\u009b" in as_json.stdout and "\\u202e" in as_json.stdout
    hit = next(h for h in json.loads(as_json.stdout) if h["title"].startswith("Nice"))
    assert (hit["title"], hit["artist"]) == (ESCAPES, C1_AND_BIDI)  # the same data, escaped only on the way out


def test_an_endless_or_huge_image_file_is_refused_without_reading_it_whole(kaggle_index, tmp_path):
    """--image /dev/zero used to be read whole (a MemoryError traceback after gigabytes); now at most the upload
    limit plus one byte is read. The run is capped at 2 GB of memory so a regression fails instead of swapping."""
    import resource

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30))

    settings = kaggle_index[0]
    big = tmp_path / "huge.jpg"
    with big.open("wb") as fh:
        fh.truncate(21 * 1024 * 1024)  # sparse: 21 MB over the 20 MB upload limit
    for path in ("/dev/zero", str(big)):
        result = run_cli(["-m", "artsearch", "search", "--image", path], settings, preexec_fn=cap_memory)
        line = one_line_error(result)
        assert f"{path} is larger than the 20 MB limit; use a smaller file." in line, line


@pytest.mark.parametrize("url", ["https://127.0.0.1:abc", "https://[bad", "https://user:hunter2@127.0.0.1:abc/"])
def test_a_malformed_qdrant_url_is_one_line(kaggle_index, url):
    for command in (["info"], ["search", "water lilies"]):
        result = run_cli(["-m", "artsearch", *command, "--qdrant-url", url], kaggle_index[0])
        line = one_line_error(result)
        assert "QDRANT_URL" in line and "hunter2" not in result.stderr + result.stdout, line


def test_the_client_translates_a_url_it_cannot_parse():
    """Past the settings' own check (Settings built by hand), the Qdrant client's LocationParseError is one line."""
    from artsearch.config import Settings
    from artsearch.errors import ConfigError
    from artsearch.index.client import Qdrant

    with pytest.raises(ConfigError, match=r"^QDRANT_URL is not a URL Qdrant can connect to \(LocationParseError\)"):
        Qdrant.remote(Settings(qdrant_url="https://127.0.0.1:abc"))
