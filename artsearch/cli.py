"""``python -m artsearch``: ingest, search, info (and upload, eval, duplicates).

Every command takes the connection flags (``--model``, ``--qdrant-path`` /
``--qdrant-url``, ``--collection``), which override secrets.toml and the
environment. Errors a user can cause print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from artsearch.calibration import NOTHING_MATCHES
from artsearch.colour import MAX_COLOURS, parse_hex
from artsearch.config import ONNX_PATHS, Settings, load_settings
from artsearch.crosslingual import load_queries
from artsearch.duplicates import find_duplicates
from artsearch.errors import ArtsearchError, EmptyQuery
from artsearch.evaluate import evaluate
from artsearch.files import read_at_most
from artsearch.index.filters import FACETS, Facet, Filters, whole_number
from artsearch.match_measures import load_absent
from artsearch.model.choice import model_for_index
from artsearch.model.encoder import clear_exports, export_model
from artsearch.model.hub import NOISY_LOGGERS
from artsearch.rebuild import live_model, rebuild
from artsearch.search import MAX_K, PageOptions, Query, SearchService
from artsearch.sources import SourceOptions
from artsearch.storage.upload import add_upload_command
from artsearch.text import json_safe, terminal_safe

log = logging.getLogger("artsearch")


def _whole_number(value: str, most: int | None = None) -> int:
    """A count flag's value: a whole number from 1 to ``most``, or argparse's one-line refusal."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1 or (most is not None and n > most):
        bounds = f"from 1 to {most}" if most is not None else "of at least 1"
        raise argparse.ArgumentTypeError(f"give a whole number {bounds}, not {value!r}")
    return n


def positive_int(value: str) -> int:
    """``--limit``, ``--per-artist``: at least 1."""
    return _whole_number(value)


def result_count(value: str) -> int:
    """``--k``: from 1 to the most results one search returns."""
    return _whole_number(value, MAX_K)


def year(value: str) -> int:
    """``--from`` / ``--to``: a year, a whole number (negative for BC)."""
    number = whole_number(value)
    if number is None:
        raise argparse.ArgumentTypeError(f"give a year as a whole number (negative for BC), not {value!r}")
    return number


def colour_flag(value: str) -> str:
    """``--colour``: a colour as ``#rrggbb`` (the # may be left out)."""
    parsed = parse_hex(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"give a colour as #rrggbb, e.g. '#1f3a93', not {value!r}")
    return parsed


def facet_values(args: argparse.Namespace, facet: Facet) -> list[str]:
    """A facet's values from the flags: a keyword facet's repeated flag, a range facet's two bounds."""
    if facet.kind == "range":
        ends = [getattr(args, f"facet_{facet.name}_{bound}") for bound in facet.bounds]
        return [] if ends == [None, None] else ["" if e is None else str(e) for e in ends]
    values = getattr(args, f"facet_{facet.name}")
    if facet.kind == "colour" and len(set(values)) > MAX_COLOURS:
        raise EmptyQuery(f"Give at most {MAX_COLOURS} colours (--colour twice: works with both).")
    return values


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the index lives (override secrets.toml and the environment)")
    group.add_argument(
        "--model",
        help="CLIP model name or local folder (EMBEDDER_NAME; default: the index's own, and clip-ViT-B-32 for a new build)",
    )
    group.add_argument(
        "--text-model",
        help="a text model distilled into the image model's space, for queries in other languages, such as "
        "clip-ViT-B-32-multilingual-v1 (TEXT_EMBEDDER_NAME; default: the image model embeds text too)",
    )
    group.add_argument(
        "--allow-other-model",
        action="store_true",
        default=None,
        help="search with --model (or --text-model) even though the index was built with another model of the "
        "same vector size (ARTSEARCH_ALLOW_OTHER_MODEL)",
    )
    group.add_argument("--qdrant-path", type=Path, help="embedded Qdrant folder (QDRANT_PATH)")
    group.add_argument("--qdrant-url", help="remote Qdrant URL, e.g. a Qdrant Cloud cluster (QDRANT_URL)")
    group.add_argument("--collection", help="collection alias (COLLECTION_NAME)")
    group.add_argument("--data-dir", type=Path, help="folder for images and artists.json (ARTSEARCH_DATA_DIR)")
    group.add_argument("-v", "--verbose", action="store_true", help="log more")


def settings_from_args(args: argparse.Namespace) -> Settings:
    return load_settings(
        embedder_name=args.model,
        text_embedder_name=args.text_model,
        qdrant_path=args.qdrant_path,
        qdrant_url=args.qdrant_url,
        collection_name=args.collection,
        data_dir=args.data_dir,
        batch_size=getattr(args, "batch_size", None),
        allow_other_model=args.allow_other_model,
    )


def add_source_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=["auto", "kaggle", "folder", "museum"],
        help="where artworks come from (default: ARTSEARCH_SOURCE or auto: folder if --images-dir, "
        "else Kaggle if credentials or a download exist, else the museum API)",
    )
    parser.add_argument("--images-dir", type=Path, help="a folder of images (one sub-folder per artist)")
    parser.add_argument("--artists-csv", type=Path, help="artists.csv (Kaggle) or a metadata CSV (folder)")
    parser.add_argument("--limit", type=positive_int, help="index at most this many artworks")
    parser.add_argument("--per-artist", type=positive_int, help="at most this many artworks per artist")
    parser.add_argument("--batch-size", type=int, help="images per encode/upsert batch (default 32)")
    parser.add_argument("--type", dest="artwork_type", default="Painting", help="museum: artwork type")
    parser.add_argument("--department", help="museum: department")
    parser.add_argument("--query", help="museum: free-text filter")
    parser.add_argument(
        "--append", action="store_true", help="add new artworks to the live collection instead of rebuilding"
    )
    parser.add_argument(
        "--reembed",
        action="store_true",
        help="embed every image again instead of reusing unchanged ones from the vector cache",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    options = SourceOptions(
        source=args.source,
        images_dir=args.images_dir,
        artists_csv=args.artists_csv,
        per_artist=args.per_artist,
        artwork_type=args.artwork_type or None,
        department=args.department,
        query=args.query,
        limit=args.limit,
    )
    report = rebuild(settings, options, append=args.append, progress=not args.no_progress, reuse=not args.reembed)
    print(report.summary())
    return 0


def add_search_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", default="", help='what to look for, e.g. "a gloomy winter landscape"')
    parser.add_argument("--image", type=Path, help="search with an image file")
    parser.add_argument("--url", help="search with an image URL")
    parser.add_argument(
        "--photo",
        action="store_true",
        help="--image is a photo of a painting on a wall (a gallery): find the painting in it, then search",
    )
    parser.add_argument("--like", metavar="ARTWORK_ID", help="more like an indexed artwork")
    parser.add_argument("--k", type=result_count, default=10, help="how many results (1-50)")
    for facet in FACETS:
        if facet.kind == "range":
            for end, bound in zip(("from", "to"), facet.bounds, strict=True):
                parser.add_argument(
                    f"--{bound}", type=year, dest=f"facet_{facet.name}_{bound}", help=f"{facet.help}: {end} this year"
                )
            continue
        parser.add_argument(
            f"--{facet.name}",
            action="append",
            default=[],
            dest=f"facet_{facet.name}",
            help=facet.help,
            type=colour_flag if facet.kind == "colour" else None,
        )
    parser.add_argument(
        "--per-artist", type=int, default=0, choices=range(4), metavar="N", help="at most N (1-3) works per artist"
    )
    parser.add_argument(
        "--all-copies",
        action="store_true",
        help="list near-duplicates of one picture separately (default: folded, per ARTSEARCH_COLLAPSE_DUPLICATES)",
    )
    parser.add_argument(
        "--hide-weak",
        action="store_true",
        default=None,
        help='leave out results labelled "weak match" (ARTSEARCH_HIDE_WEAK_MATCHES)',
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def cmd_search(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    image = None
    if args.image is not None:  # at most the upload limit is read: /dev/zero is refused, not read whole
        image = read_at_most(args.image, settings.max_upload_mb * 1024 * 1024, what="the query image")
    query = Query(
        text=args.text,
        image=image,
        image_url=args.url or "",
        like_id=args.like or "",
        k=args.k,
        photo=args.photo,
        filters=Filters({f.name: facet_values(args, f) for f in FACETS}),
    )
    if query.mode == "text" and not query.text.strip():
        raise EmptyQuery(
            'Give something to search for: text ("a gloomy winter landscape"), --image, --url, --like or --colour.'
        )
    # The page's search: names in the text count, one per artist on request, copies of one picture folded.
    options = PageOptions(
        per_artist=args.per_artist,
        collapse=settings.collapse_duplicates and not args.all_copies,
        hide_weak=bool(args.hide_weak) or settings.hide_weak_matches,
    )
    service = SearchService(settings)
    try:
        result = service.page(query, options)
    finally:
        service.index.close()  # deletes this process's snapshot of the index at once
    hits = result.hits
    if args.json:
        print(to_json([h.to_json() for h in hits]))
        return 0
    if result.nothing_matches:
        print(NOTHING_MATCHES if hits else NOTHING_MATCHES.split(";")[0] + " (weak matches hidden).")
    elif not hits:
        print("No matching artworks.")
    for rank, hit in enumerate(hits, 1):
        year = f" ({hit.year})" if hit.year else ""
        copies = f"  (+{len(hit.copies)} copies: {', '.join(hit.copies)})" if hit.copies else ""
        title, artist = terminal_safe(hit.title, one_line=True), terminal_safe(hit.artist_name, one_line=True)
        label = f"  {hit.match}" if hit.match else ""
        why = f"  ({terminal_safe(' · '.join(hit.why), one_line=True)})" if hit.why else ""
        print(f"{rank:>2}. {hit.score:.3f}{label}  {title}{year} - {artist}  [{hit.artwork_id}]{why}{copies}")
    return 0


def to_json(data: object) -> str:
    """JSON for the terminal: control characters from the data are escapes (\\u001b), never raw."""
    return json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cmd_info(args: argparse.Namespace) -> int:
    service = SearchService(settings_from_args(args))
    try:
        info = service.info()
    finally:
        service.index.close()
    if args.json:
        print(to_json(info))
    else:
        for key, value in info.items():
            print(f"{key.replace('_', ' '):>13}: {terminal_safe(str(value), one_line=True)}")
    return 0


def add_eval_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", type=int, default=300, help="artworks sampled for image and ANN metrics")
    parser.add_argument("--duplicates", type=int, default=100, help="artworks copied for near-duplicate recovery")
    parser.add_argument(
        "--gallery", type=int, default=100, help="artworks photographed on a synthetic gallery wall (Take a photo)"
    )
    parser.add_argument("--artist-template", default="a painting by {artist}", help="text query per artist")
    parser.add_argument("--genre-template", default="a {genre} painting", help="text query per genre")
    parser.add_argument("--min-label-count", type=int, default=5, help="only labels with at least this many works")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--queries",
        type=Path,
        help="parallel queries (JSON) for the cross-lingual measures, run with a text model (--text-model); "
        "default: artsearch/assets/multilingual_queries.json",
    )
    parser.add_argument(
        "--absent",
        type=Path,
        help='queries the collection holds nothing of, one a line, for the "nothing matches" rate '
        "(default: a few things no art collection shows)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def cmd_eval(args: argparse.Namespace) -> int:
    service = SearchService(settings_from_args(args))
    try:
        report = evaluate(
            service,
            sample=args.sample,
            duplicates=args.duplicates,
            artist_template=args.artist_template,
            genre_template=args.genre_template,
            min_label_count=args.min_label_count,
            seed=args.seed,
            gallery_photos=args.gallery,
            queries=load_queries(args.queries) if args.queries else None,
            absent=load_absent(args.absent) if args.absent else None,
        )
    finally:
        service.index.close()
    print(to_json(report.to_json()) if args.json else report.table())
    return 0


def add_duplicates_flags(parser: argparse.ArgumentParser) -> None:
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print JSON: the count and every group")
    shape.add_argument("--csv", action="store_true", help="print CSV: one row per artwork of a group")


def cmd_duplicates(args: argparse.Namespace) -> int:
    service = SearchService(settings_from_args(args))
    try:
        service.index.require_points()
        report = find_duplicates(service.index)
    finally:
        service.index.close()
    if args.json:
        print(to_json(report.to_json()))
    elif args.csv:
        sys.stdout.write(report.to_csv())
    else:
        for line in report.table():
            print(terminal_safe(line))
    return 0


def add_optimize_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inference", choices=ONNX_PATHS, default="onnx-int8", help="which fast path to export")
    parser.add_argument("--force", action="store_true", help="export again even when an export is up to date")
    parser.add_argument("--clear", action="store_true", help="delete the model's exports instead")


def cmd_optimize(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    # The model searches will use: the configured one, else the index's own, else the default.
    name = model_for_index(settings, live_model(settings))
    if args.clear:
        print(f"removed {clear_exports(name, cache_dir=settings.export_cache_dir)}")
        return 0
    for result in export_model(name, [args.inference], force=args.force, cache_dir=settings.export_cache_dir):
        files = ", ".join(str(path) for path in result.files.values())
        print(f"{result.inference}: {files} ({result.seconds:.1f} s)")
    return 0


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _commands() -> list[Command]:
    commands: list[Command] = [
        ("ingest", "build or update the index (same as qdrant/initialize_db.py)", add_source_flags, cmd_ingest),
        ("search", "search the collection", add_search_flags, cmd_search),
        (
            "info",
            "show the collection, its size, the model and where data lives",
            lambda p: p.add_argument("--json", action="store_true"),
            cmd_info,
        ),
        ("eval", "measure search quality on the current collection", add_eval_flags, cmd_eval),
        (
            "duplicates",
            "list the groups of near-duplicate artworks (the rules the page folds copies by)",
            add_duplicates_flags,
            cmd_duplicates,
        ),
        (
            "optimize",
            "export the model for the fast ONNX inference path (rebuilds do it too)",
            add_optimize_flags,
            cmd_optimize,
        ),
    ]
    return commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m artsearch", description="Artwork similarity search.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_flags, run in _commands():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        add_flags(cmd)
        add_connection_flags(cmd)
        cmd.set_defaults(run=run)
    add_upload_command(sub)
    return parser


def quiet_libraries(verbose: bool = False) -> None:
    """Keep third-party chatter (deprecations, optional torchvision, hub retries) off the user's terminal;
    with ``-v`` their warnings are shown."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning" if verbose else "error")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.ERROR)


class TerminalSafe:
    """A text stream that shows control characters (from titles, file names, messages) as escapes instead of
    letting the terminal act on them: ESC[2J clears no screen and ESC]0; retitles no window. Tab, newline and
    carriage return pass (the progress bar redraws its line with one)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(terminal_safe(text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalSafe(sys.stdout), TerminalSafe(sys.stderr)  # type: ignore[assignment]
    try:
        logging.basicConfig(
            level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
            format="%(levelname)s %(message)s",
            force=True,  # onto the safe stream, also when main() runs twice in one process
        )
        quiet_libraries(getattr(args, "verbose", False))
        return int(args.run(args) or 0)
    except ArtsearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        sys.stdout, sys.stderr = streams


if __name__ == "__main__":
    sys.exit(main())
