"""Reliability across real processes: a rebuild while the app serves, and SIGKILL anywhere in the ingest.

Both run ``python qdrant/initialize_db.py`` as a separate process, exactly as a user would. Each test prints a
``FIGURE`` line (see ``pytest -s``) that docs/reliability.md quotes.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from artsearch.catalog import artwork_id
from artsearch.index.builds import build_folders, pointer_path, read_pointer
from tests.support import ROOT
from tests.support.datasets import jpeg_bytes, make_kaggle_layout, painting
from tests.support.indexes import all_payloads, all_points, copy_index, test_settings
from tests.support.servers import free_port, stop, wait_until_up

PAYLOAD_FIELDS = {
    "artwork_id", "title", "artist", "artist_slug", "genre", "nationality", "year", "image_key", "source",
    "source_url", "width", "height",
}  # fmt: skip


def cli_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QDRANT", "ARTSEARCH", "KAGGLE"))}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", ARTSEARCH_SECRETS=str(settings.data_dir / "none"))
    env.update(ARTSEARCH_EMBEDDED_ENGINE=settings.embedded_engine, ARTSEARCH_INFERENCE=settings.inference)
    return env


def initialize_db(settings, *extra: str) -> list[str]:
    return [
        sys.executable, "qdrant/initialize_db.py", "--source", "kaggle", *extra,
        "--model", settings.embedder_name, "--qdrant-path", str(settings.qdrant_path),
        "--data-dir", str(settings.data_dir),
    ]  # fmt: skip


# --- 2. rebuild while serving ---------------------------------------------------------------------------------


def page_env(settings) -> dict[str, str]:
    """The environment a deployment of the page sets (tests/support/app.py's point_env, for a process)."""
    env = cli_env(settings)
    env.update(
        QDRANT_URL="", QDRANT_PATH=str(settings.qdrant_path), ARTSEARCH_DATA_DIR=str(settings.data_dir),
        EMBEDDER_NAME=settings.embedder_name, ARTSEARCH_DEVICE="cpu", ARTSEARCH_STORAGE_BACKEND="local",
    )  # fmt: skip
    return env


class Server:
    """tests/support/search_server.py: one long-lived SearchService in its own process, as the app holds one;
    with ``page=True``, tests/support/page_server.py: the page itself (app.py through AppTest)."""

    def __init__(self, settings, *, page: bool = False) -> None:
        # stderr goes to a file: a pipe nobody reads fills up and blocks the server mid-search.
        self.log_path = settings.data_dir / "server-stderr.log"
        self.log = self.log_path.open("w")
        if page:
            command, env = [sys.executable, "tests/support/page_server.py"], page_env(settings)
        else:
            command = [
                sys.executable, "tests/support/search_server.py", "--model", settings.embedder_name,
                "--qdrant-path", str(settings.qdrant_path), "--data-dir", str(settings.data_dir),
            ]  # fmt: skip
            env = cli_env(settings)
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        line = self.proc.stdout.readline()
        assert json.loads(line or "{}").get("ready"), self.log_path.read_text() if not line else line

    def search(self, text: str, k: int = 50) -> dict:
        self.proc.stdin.write(json.dumps({"text": text, "k": k}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


def fingerprint_then_change_the_source(server: Server, settings, layout, remove: str, seed: int):
    """The ids of the whole collection as the server answers now (k=50 returns all of it: a fingerprint of the
    build), then one painting removed from the source and one added; returns (old ids, the next build's ids)."""
    first = server.search("a gloomy winter landscape")
    assert first["ok"], first
    old_ids = frozenset(first["ids"])
    assert len(old_ids) == len(layout.valid)
    images = settings.data_dir / "kaggle" / "images" / "images" / "Claude_Monet"
    (images / f"{remove}.jpg").unlink()
    (images / f"Claude_Monet_added_{seed}.jpg").write_bytes(jpeg_bytes(painting(seed)))
    gone, added = (
        artwork_id("kaggle", f"Claude_Monet/{remove}.jpg"),
        artwork_id("kaggle", f"Claude_Monet/Claude_Monet_added_{seed}.jpg"),
    )
    return old_ids, (old_ids - {gone}) | {added}


def test_app_process_keeps_answering_while_initialize_db_rebuilds(kaggle_index, tmp_path):
    settings, layout = copy_index(kaggle_index, tmp_path)
    server = Server(settings)
    try:
        old_ids, new_ids = fingerprint_then_change_the_source(server, settings, layout, "Claude_Monet_1", 4242)
        old_pointer = read_pointer(settings)

        rebuild = subprocess.Popen(
            initialize_db(settings, "--no-progress"), cwd=ROOT, env=cli_env(settings), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        answers: list[tuple[str, bool]] = []  # (old/new/error, pointer still old after the answer)
        while rebuild.poll() is None:
            reply = server.search("a gloomy winter landscape")
            ids = frozenset(reply.get("ids", []))
            kind = "old" if ids == old_ids else "new" if ids == new_ids else f"error {reply}"
            answers.append((kind, read_pointer(settings) == old_pointer))
        out, err = rebuild.communicate()
        assert rebuild.returncode == 0, err
        assert "open in another process" not in out + err

        after = [server.search("a gloomy winter landscape") for _ in range(3)]
    finally:
        server.close()

    kinds = [kind for kind, _ in answers]
    assert all(kind in ("old", "new") for kind in kinds), [k for k in kinds if k not in ("old", "new")][:3]
    assert all(kind == "old" for kind, unpublished in answers if unpublished), "new data before it was published"
    assert "old" not in kinds[kinds.index("new") :] if "new" in kinds else True, "went back to the old data"
    assert answers  # the first search starts while the rebuild is starting; how many follow depends on speed
    # No restart: the same process serves the new build, and the old folder is gone once it let go.
    assert all(a["ok"] and frozenset(a["ids"]) == new_ids for a in after), after
    new_pointer = read_pointer(settings)
    assert new_pointer != old_pointer
    assert [f.name for f in build_folders(settings)] == [new_pointer["folder"]]
    print(
        f"\nFIGURE rebuild-while-serving: {len(answers)} searches answered by the app process during the rebuild "
        f"({kinds.count('old')} from the old build, {kinds.count('new')} from the new), 0 errors; "
        "next search after it ended served the new build without a restart; old build folder removed"
    )


# --- 2b. the page, 16 CLI searches and a rebuild on one embedded index -----------------------------------------

CLI_SEARCHES = 16


def cli_search(settings, text: str) -> subprocess.Popen:
    """``python -m artsearch search TEXT --k 50 --json --all-copies``: k=50 returns the whole collection."""
    command = [
        sys.executable, "-m", "artsearch", "search", text, "--k", "50", "--json", "--all-copies",
        "--model", settings.embedder_name, "--qdrant-path", str(settings.qdrant_path),
        "--data-dir", str(settings.data_dir),
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cli_info(settings) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "artsearch", "info", "--json", "--model", settings.embedder_name,
        "--qdrant-path", str(settings.qdrant_path), "--data-dir", str(settings.data_dir),
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_page_16_cli_searches_and_a_rebuild_share_one_embedded_index(kaggle_index, tmp_path):
    """The app serving, 16 `python -m artsearch search` processes at once and `initialize_db.py` publishing a new
    build at the same time, all on one --qdrant-path: no errors, and every answer comes from a published build."""
    settings, layout = copy_index(kaggle_index, tmp_path)
    page = Server(settings, page=True)
    rebuild, searches, infos, stop = None, [], [], threading.Event()
    try:
        old_ids, new_ids = fingerprint_then_change_the_source(page, settings, layout, "Claude_Monet_2", 4343)
        old_pointer = read_pointer(settings)

        # The page keeps searching all along, in this process's second thread.
        stop, page_answers = threading.Event(), []

        def keep_searching() -> None:
            while not stop.is_set():
                reply = page.search("a gloomy winter landscape")
                page_answers.append(("ok" if reply["ok"] else f"error {reply}", frozenset(reply.get("ids", []))))
                stop.wait(0.5)  # a visitor's pace, leaving the two cores to the searches and the rebuild

        searching = threading.Thread(target=keep_searching, daemon=True)
        searching.start()
        # The rebuild runs until its progress bar is full (only the map and publishing are left) and is paused
        # there (SIGSTOP) while 16 searches and 2 info runs start at once. When the first search has answered,
        # the others are paused where they are (loading the model, opening their snapshot, or searching it) and
        # the rebuild goes on: it publishes, and prunes the old build, while 15 CLI readers are alive.
        rebuild = Killer(settings, at_progress=len(layout.valid) + len(layout.broken), pause=True)
        rebuild.run()
        paused_before_publishing = rebuild.paused and read_pointer(settings) == old_pointer
        searches = [cli_search(settings, f"a painting {n}") for n in range(CLI_SEARCHES)]
        infos = [cli_info(settings) for _ in range(2)]
        while all(p.poll() is None for p in searches):
            time.sleep(0.02)
        alive = [p for p in searches + infos if p.poll() is None]
        for proc in alive:
            proc.send_signal(signal.SIGSTOP)
        if rebuild.paused:
            rebuild.resume()
        assert rebuild.wait() == 0, rebuild.stderr.decode(errors="replace")[-3000:]
        alive_at_publish = sum(p in alive for p in searches)
        for proc in alive:
            proc.send_signal(signal.SIGCONT)
        while any(p.poll() is None for p in searches + infos):
            time.sleep(0.1)
        stop.set()
        searching.join(timeout=300)
        cli_answers = []
        for proc in searches:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and b"error" not in err, err.decode(errors="replace")[-2000:]
            cli_answers.append(frozenset(h["artwork_id"] for h in json.loads(out)))
        counts = []
        for proc in infos:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
            counts.append(json.loads(out)["artworks"])
        after = [page.search("a gloomy winter landscape") for _ in range(2)]
        late = cli_search(settings, "a painting after the rebuild")
        out, err = late.communicate(timeout=300)
        assert late.returncode == 0, err.decode(errors="replace")[-2000:]
        late_ids = frozenset(h["artwork_id"] for h in json.loads(out))
    finally:
        stop.set()
        page.close()
        for proc in [rebuild.proc] * (rebuild is not None) + searches + infos:  # a failure must not leave them
            if proc.poll() is None:
                proc.kill()  # SIGKILL ends a stopped process too

    builds = {"old": old_ids, "new": new_ids}
    kind = {ids: name for name, ids in builds.items()}
    errors = [a for a, _ in page_answers if a != "ok"]
    assert not errors, errors[:3]
    assert all(ids in kind for _, ids in page_answers), "the page showed a collection no build holds"
    assert all(ids in kind for ids in cli_answers), "a CLI search answered from no published build"
    page_kinds = [kind[ids] for _, ids in page_answers]
    assert "old" not in page_kinds[page_kinds.index("new") :] if "new" in page_kinds else True, "went back"
    assert all(c in (len(old_ids), len(new_ids)) for c in counts), counts  # info: a build's count, never 0
    assert all(a["ok"] and frozenset(a["ids"]) == new_ids for a in after) and late_ids == new_ids
    new_pointer = read_pointer(settings)
    assert new_pointer != old_pointer and [f.name for f in build_folders(settings)] == [new_pointer["folder"]]
    assert not any((Path(settings.qdrant_path) / ".readers").iterdir())  # every reader deleted its snapshot
    assert paused_before_publishing and alive_at_publish >= 1, "the test's premise: publishing amid the searches"
    cli_kinds = [kind[ids] for ids in cli_answers]
    print(
        f"\nFIGURE shared-index: the page answered {len(page_answers)} searches during the rebuild "
        f"({page_kinds.count('old')} old build, {page_kinds.count('new')} new), {CLI_SEARCHES} CLI searches at once "
        f"({cli_kinds.count('old')} old, {cli_kinds.count('new')} new; {alive_at_publish} of them running "
        "when the new build was published and the old one pruned) and "
        f"2 info runs ({counts}): 0 errors, every answer from a published build; after it, the page and a new CLI "
        "search served the new build"
    )


# --- 2c. bash scripts/serve.sh decides from `info` ------------------------------------------------------------


def serve_sh(settings, log: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """``bash scripts/serve.sh`` (no flags) on the installed environment, serving on a free port; returns it and
    its URL. Its output goes to ``log``."""
    port = free_port()
    environment = page_env(settings)
    environment.update(
        ARTSEARCH_SKIP_INSTALL="1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        STREAMLIT_SERVER_PORT=str(port), STREAMLIT_SERVER_ADDRESS="127.0.0.1", **env,
    )  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", "scripts/serve.sh"], cwd=ROOT, env=environment, stdout=out, stderr=out)
    return proc, f"http://127.0.0.1:{port}"


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
        return response.status == 200


def test_serve_sh_builds_once_then_reuses_the_index_the_app_has_open(tmp_path, tiny_clip_path):
    settings = test_settings(tmp_path, tiny_clip_path)
    images = tmp_path / "my paintings"
    for n in range(3):
        (images / "Painter A").mkdir(parents=True, exist_ok=True)
        (images / "Painter A" / f"a{n}.jpg").write_bytes(jpeg_bytes(painting(700 + n)))
    folder_source = {"ARTSEARCH_SOURCE": "folder", "ARTSEARCH_IMAGES_DIR": str(images)}

    # No index yet: serve.sh builds one, then serves.
    log = tmp_path / "serve-1.log"
    proc, url = serve_sh(settings, log, **folder_source)
    try:
        wait_until_up(proc, lambda: healthy(url), what="serve.sh", seconds=600, log=log, poll=0.5)
    finally:
        stop(proc, timeout=15)
    assert "Indexed 3 artworks" in log.read_text()
    pointer = read_pointer(settings)
    assert pointer is not None

    # The app has the index open (a reader holds its snapshot): serve.sh reuses it, it does not rebuild.
    server = Server(settings)
    log = tmp_path / "serve-2.log"
    try:
        assert server.search("a painting", k=5)["ok"]
        proc, url = serve_sh(settings, log, **folder_source)
        try:
            wait_until_up(proc, lambda: healthy(url), what="serve.sh", seconds=300, log=log, poll=0.5)
        finally:
            stop(proc, timeout=15)
    finally:
        server.close()
    assert "Indexed" not in log.read_text(), log.read_text()[-2000:]
    assert read_pointer(settings) == pointer and [f.name for f in build_folders(settings)] == [pointer["folder"]]

    # An index that cannot be read is not rebuilt over: serve.sh stops with the reason.
    (Path(settings.qdrant_path) / pointer["folder"]).rename(tmp_path / "aside")
    log = tmp_path / "serve-3.log"
    proc, _ = serve_sh(settings, log, **folder_source)
    assert proc.wait(timeout=300) != 0
    text = log.read_text()
    assert "is missing" in text and "not rebuilt over" in text and "Indexed" not in text, text[-2000:]
    assert build_folders(settings) == []


# --- 3. SIGKILL anywhere during the ingest --------------------------------------------------------------------

KILLS = 5
SEED = 20_251_121


class Killer:
    """Run initialize_db and SIGKILL it at a chosen moment: a delay after start, or a progress count."""

    def __init__(
        self, settings, *, after_seconds: float | None = None, at_progress: int | None = None, pause: bool = False
    ) -> None:
        self.after_seconds = after_seconds
        self.at_progress = at_progress
        self.pause = pause  # SIGSTOP instead of SIGKILL: run() returns with the process paused, resume() goes on
        self.paused = False
        self.stderr = b""
        self.killed = False
        self.reader: threading.Thread | None = None
        self.proc = subprocess.Popen(
            initialize_db(settings, "--batch-size", "2"),
            cwd=ROOT,
            env=cli_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.started = time.monotonic()

    def progress(self) -> int:
        done = [int(n) for n in re.findall(rb"ingest: (\d+)img", self.stderr)]
        return max(done, default=-1)

    def run(self, timeout: float = 120) -> int:
        """Read stderr on a thread (so the pipe never fills) and kill from here as soon as the moment comes."""

        def read() -> None:
            while chunk := os.read(self.proc.stderr.fileno(), 4096):
                self.stderr += chunk

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        deadline = self.started + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            due = (self.after_seconds is not None and time.monotonic() - self.started >= self.after_seconds) or (
                self.at_progress is not None and self.progress() >= self.at_progress
            )
            if due:
                self.proc.send_signal(signal.SIGSTOP if self.pause else signal.SIGKILL)
                self.paused = self.pause
                break
            time.sleep(0.005)
        return None if self.paused else self.wait()

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def wait(self) -> int:
        rc = self.proc.wait(timeout=300)
        if self.reader is not None:
            self.reader.join(timeout=5)
        self.killed = rc == -signal.SIGKILL
        return rc


def test_sigkill_at_five_random_points_then_one_clean_run_loses_and_duplicates_nothing(tmp_path, tiny_clip_path):
    settings = test_settings(tmp_path, tiny_clip_path)
    layout = make_kaggle_layout(settings.data_dir / "kaggle", per_artist=8)
    total = len(layout.valid)
    rng = random.Random(SEED)
    # Random points: seconds after start (model loading, source scan), progress counts mid-ingest, and the very
    # end (the bar is full: artists.json, pruning, the alias move and the pointer write are left).
    plan: list[dict] = [
        {"after_seconds": rng.uniform(0.5, 4.0)},
        {"at_progress": rng.randint(1, total // 3)},
        {"at_progress": rng.randint(total // 3, 2 * total // 3)},
        {"at_progress": rng.randint(2 * total // 3, total - 1)},
        {"at_progress": total + len(layout.broken)},  # the bar counts broken files too: this is a full bar
    ]
    landed: list[str] = []
    runs = 0
    while len(landed) < KILLS and runs < 3 * KILLS:
        point = plan[runs] if runs < len(plan) else {"at_progress": rng.randint(1, total)}
        runs += 1
        before = read_pointer(settings)
        killer = Killer(settings, **point)
        rc = killer.run()
        assert rc in (0, -signal.SIGKILL), killer.stderr.decode(errors="replace")[-2000:]
        if killer.killed:
            published = read_pointer(settings) != before
            landed.append(f"{point} -> progress {killer.progress()}" + (" (after publishing)" if published else ""))
        # Whatever the moment, what is on disk stays readable.
        if pointer_path(settings).exists():
            json.loads(pointer_path(settings).read_text())
        if (settings.data_dir / "artists.json").exists():
            json.loads((settings.data_dir / "artists.json").read_text())

    final = subprocess.run(
        initialize_db(settings, "--batch-size", "2", "--no-progress"),
        cwd=ROOT, env=cli_env(settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr
    print(f"\nFIGURE sigkill: {len(landed)} kills in {runs} runs: " + "; ".join(landed))
    assert len(landed) == KILLS

    payloads = all_payloads(settings)
    assert len(payloads) == total
    assert len({p["_id"] for p in payloads}) == total
    assert sorted(p["image_key"] for p in payloads) == sorted(
        p.relative_to(settings.data_dir).as_posix() for p in layout.valid
    )
    for p in payloads:
        assert PAYLOAD_FIELDS <= set(p), sorted(PAYLOAD_FIELDS - set(p))
        assert p["_id"] == p["artwork_id"] == artwork_id(p["source"], p["source_id"])
        assert p["title"] and p["artist"] and p["width"] > 0 and p["height"] > 0
        assert (settings.data_dir / p["image_key"]).is_file()
    artists = json.loads((settings.data_dir / "artists.json").read_text())
    assert {p["artist_slug"] for p in payloads} <= set(artists)
    assert [f.name for f in build_folders(settings)] == [read_pointer(settings)["folder"]]
    # A kill inside atomic_write can leave its temp file behind (never the target half-written): litter only.
    litter = sorted(p.name for p in settings.data_dir.rglob(".*.tmp"))
    # artists.json, an image, or a build's map (maps/<collection>.json)
    assert all(re.fullmatch(r"\.[^/]+\.(json|jpg|png|webp|gif)\..+\.tmp", n) for n in litter), litter
    assert not list(Path(settings.qdrant_path).rglob("*.tmp"))
    print(f"FIGURE sigkill: final run: {len(payloads)} points for {total} valid images; temp files left: {litter}")


def test_sigkill_during_an_incremental_rebuild_then_one_clean_run_ends_exactly_right(tmp_path, tiny_clip_path):
    """A rebuild that reuses most vectors, killed mid-way, then run again: every unchanged vector is still the one
    first embedded (bit for bit), every changed or new image has a fresh one, removed ones are gone, and the
    second run embeds at most what the killed one had not finished."""
    settings = test_settings(tmp_path, tiny_clip_path)
    layout = make_kaggle_layout(settings.data_dir / "kaggle", per_artist=8)
    first = subprocess.run(
        initialize_db(settings, "--no-progress"), cwd=ROOT, env=cli_env(settings), capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    before = all_points(settings)

    images = settings.data_dir / "kaggle" / "images" / "images"
    changed = [layout.valid[i] for i in (1, 9, 17)]
    for i, path in enumerate(changed):
        path.write_bytes(jpeg_bytes(painting(7000 + i)))
    added = [images / "Claude_Monet" / f"Claude_Monet_new_{i}.jpg" for i in range(5)]
    for i, path in enumerate(added):
        path.write_bytes(jpeg_bytes(painting(8000 + i)))
    removed = layout.valid[25]
    removed.unlink()
    valid = [p for p in layout.valid if p != removed] + added

    def key(path: Path) -> str:
        return path.relative_to(settings.data_dir).as_posix()

    killer = Killer(settings, at_progress=3)  # batches of 2: killed while the changed and new images embed
    assert killer.run() == -signal.SIGKILL, killer.stderr.decode(errors="replace")[-2000:]
    final = subprocess.run(
        initialize_db(settings, "--no-progress"), cwd=ROOT, env=cli_env(settings), capture_output=True, text=True
    )
    assert final.returncode == 0, final.stderr
    embedded, reused, removed_count = map(
        int, re.search(r"embedded (\d+) .*reused (\d+) .*removed (\d+)", final.stdout).groups()
    )

    after = all_points(settings)
    # Exactly one point per valid image, the removed one gone.
    assert sorted(p["image_key"] for p, _ in after.values()) == sorted(key(p) for p in valid)
    fresh = {key(p) for p in changed + added}
    for point, (payload, vector) in after.items():
        if payload["image_key"] in fresh:
            assert point not in before or not np.allclose(vector, before[point][1])
        else:
            assert vector.tobytes() == before[point][1].tobytes()
        assert payload["artwork_id"] == point and payload["width"] > 0
    assert embedded <= len(fresh) and embedded + reused == len(valid) and removed_count == 1, final.stdout
    assert [f.name for f in build_folders(settings)] == [read_pointer(settings)["folder"]]
    print(
        f"\nFIGURE sigkill-incremental: killed at progress {killer.progress()}; the clean run embedded {embedded} of "
        f"{len(fresh)} changed or new images and reused {reused}; {len(after)} points for {len(valid)} valid images"
    )
