"""Where a search page rerun's server time goes: ``app.py`` against ``benchmarks/bare_page.py``, in AppTest.

    .venv/bin/python benchmarks/page_profile.py            # 20 text searches on each page, after 2 to warm up
    .venv/bin/python benchmarks/page_profile.py --searches 40 --top 40

Uses the collection ``benchmarks/page.py`` builds (run that first). Each page's script thread runs under
cProfile for the timed searches; AppTest compiles the script again on every run (the server caches its
bytecode), so the compile (``get_bytecode``) is left out of the script's time. Prints, per rerun, the script's
time on each page and the app's parts (the search, the thumbnails, the card fragments, the sidebar, ...), then
the top functions by internal time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CACHE, ROOT, TRAINED_TINY, markdown_table  # noqa: E402

# (label, the function's file ending and name as pstats shows them)
PARTS = [
    ("the script (without the compile)", ("exec_code.py", "exec_func_with_error_handling")),
    ("the search (session.results: encode + query)", ("session.py", "results")),
    ("  of which the text encode", ("encoder.py", "encode_texts")),
    ("  of which the Qdrant query", ("~", "<method 'query' of 'builtins.EdgeShard' objects>")),
    ("thumbnails (pictures.prefetch)", ("pictures.py", "prefetch")),
    ("the cards (app.card, fragments included)", ("app.py", "card")),
    ("  of which the fragments (actions rows)", ("fragment.py", "wrap")),
    ("  of which st.image", ("image.py", "image")),
    ("the sidebar (facet counts, multiselects)", ("app.py", "sidebar")),
    ("search widgets (app.controls)", ("app.py", "controls")),
    ("explore row (app.explore_controls)", ("app.py", "explore_controls")),
    ("the detail view fragment", ("app.py", "detail_view")),
    ("warm_up, settings, service", ("resources.py", "get_service")),
]


def profiled_searches(script: str, searches: int, profiled: bool = True) -> tuple[list[float], cProfile.Profile]:
    """The script's time per search (``profiled``: under cProfile, which inflates Python-heavy code such as
    Streamlit's own; without it, the wall-clock time a server's script thread takes)."""
    from streamlit.runtime.scriptrunner import exec_code
    from streamlit.testing.v1 import AppTest

    profile, times, on = cProfile.Profile(), [], [False]
    original = exec_code.exec_func_with_error_handling

    def timed(func, ctx):  # the script's own time: AppTest's compile of the script happens before this call
        if not on[0]:
            return original(func, ctx)
        started = time.perf_counter()
        if profiled:
            profile.enable()
        try:
            return original(func, ctx)
        finally:
            if profiled:
                profile.disable()
            times.append(1000 * (time.perf_counter() - started))

    from streamlit.runtime.scriptrunner import script_runner

    script_runner.exec_func_with_error_handling = timed
    try:
        at = AppTest.from_file(str(ROOT / script), default_timeout=120)
        at.query_params["k"] = "12"
        at.run()
        for text in ("warm up", "warm up again"):
            at.text_input(key="q").input(text).run()
        on[0] = True
        for i in range(searches):
            words = f"a study number {i} in {('red', 'blue', 'green')[i % 3]}"
            at.text_input(key="q").input(words if profiled else f"{words}, not profiled").run()
        on[0] = False
        if at.exception:
            raise RuntimeError(f"{script}: {at.exception}")
    finally:
        script_runner.exec_func_with_error_handling = original
    return times, profile


def cumulative(profile: cProfile.Profile, file_end: str, name: str) -> float:
    """Seconds spent in (and under) the functions called ``name`` in files ending in ``file_end``, over every run.

    Read from the raw entries: AppTest runs a fresh copy of the script each time, and ``pstats`` would keep
    only one copy's figures for functions of the same name and line.
    """
    total = 0.0
    for entry in profile.getstats():
        code = entry.code
        label = (code.co_filename, code.co_name) if not isinstance(code, str) else ("~", code)
        if label[1] == name and label[0].endswith(file_end):
            total += entry.totaltime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=int, default=20)
    parser.add_argument("--size", type=int, default=240, help="the collection benchmarks/page.py built")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--inference", default="onnx-int8", help="the page's ARTSEARCH_INFERENCE (as page.py)")
    args = parser.parse_args()
    from tests.support.indexes import test_settings

    root = CACHE / f"page-{args.size}"
    if not (root / "built").is_file():
        sys.exit(f"no collection in {root}: run benchmarks/page.py --size {args.size} first")
    settings = test_settings(root, str(TRAINED_TINY))
    os.chdir(ROOT)
    from tests.support.browser import page_env

    os.environ.update(page_env(settings, root), BARE_PICTURES=str(sorted(root.glob("bare-*"))[-1]))
    os.environ["ARTSEARCH_INFERENCE"] = args.inference
    load = os.getloadavg()
    app_wall, _ = profiled_searches("app.py", args.searches, profiled=False)
    bare_wall, _ = profiled_searches("benchmarks/bare_page.py", args.searches, profiled=False)
    app_times, app_profile = profiled_searches("app.py", args.searches)
    bare_times, _ = profiled_searches("benchmarks/bare_page.py", args.searches)
    n = args.searches
    print(
        f"\nbenchmarks/page_profile.py: {args.searches} text searches per page, k=12, {args.size} artworks; "
        f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}\n"
    )
    app_p50, bare_p50 = statistics.median(app_times), statistics.median(bare_times)
    wall = statistics.median(app_wall) / statistics.median(bare_wall)
    rows = [
        ["bare page: its script, not profiled", f"{statistics.median(bare_wall):.1f}", "-"],
        ["app: its script, not profiled", f"{statistics.median(app_wall):.1f}", f"{wall:.2f}x the bare page"],
        ["bare page: its script", f"{bare_p50:.1f}", "-"],
        ["app: its script", f"{app_p50:.1f}", f"{app_p50 / bare_p50:.2f}x the bare page"],
    ]
    script_total = cumulative(app_profile, *PARTS[0][1]) or 1.0
    for label, (file_end, name) in PARTS:
        seconds = cumulative(app_profile, file_end, name)
        rows.append(
            [f"app: {label}", f"{1000 * seconds / n:.1f}", f"{100 * seconds / script_total:.0f}% of the app's script"]
        )
    print(markdown_table(["per rerun (p50; profiled unless it says not)", "ms", "share"], rows))
    out = io.StringIO()
    pstats.Stats(app_profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print("\nthe app's top functions by internal time (all reruns together):\n" + out.getvalue())


if __name__ == "__main__":
    main()
