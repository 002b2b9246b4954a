"""The period filter end to end: museum records in the API's shape with dates in every form, ingested by the real
rebuild; the CLI's --from/--to, the page's year slider, its link and the timeline (a click opens the work), with
the filter applied inside Qdrant. Kaggle's undated works are placed on their artist's lifetime, labelled so."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from artsearch.catalog import artwork_id
from tests.support.app import assert_clean, card_titles, detail_text, new_app, point_env, search_text
from tests.support.cli import run_cli
from tests.support.indexes import all_payloads
from tests.support.museum import DATED, build_dated_index

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("fresh_services")]


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory, tiny_clip_path, shared_encoder):
    return build_dated_index(tmp_path_factory.mktemp("dated_index"), tiny_clip_path, shared_encoder)


def _titles(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return sorted(h["title"] for h in json.loads(result.stdout))


def test_every_date_form_is_stored_as_its_earliest_and_latest_year_beside_the_text(dated_index):
    payloads = {p["source_id"]: p for p in all_payloads(dated_index)}
    for rid, _, date, _, _, span in DATED:
        p = payloads[str(rid)]
        assert p["date"] == date  # the text, for display
        assert (p.get("year_earliest"), p.get("year_latest")) == (span or (None, None)), date


def test_the_cli_keeps_works_whose_span_overlaps_from_to(dated_index):
    search = ["-m", "artsearch", "search", "a painting", "--k", "10", "--json"]
    env = {"ARTSEARCH_COLLAPSE_DUPLICATES": "false"}  # flat colours: the hash cannot tell them apart
    assert _titles(run_cli([*search, "--from", "1850", "--to", "1900"], dated_index, env)) == ["One year", "Span"]
    assert _titles(run_cli([*search, "--to", "1505"], dated_index, env)) == ["Before", "Circa span"]
    assert _titles(run_cli([*search, "--from", "1765", "--to", "1765"], dated_index, env)) == ["Circa"]
    assert _titles(run_cli([*search, "--from", "1550", "--to", "1640"], dated_index, env)) == ["Century part", "Decade"]
    # The filter runs inside Qdrant: one result asked for, one matching result found (not 1 fetched, then dropped).
    assert _titles(run_cli([*search[:-3], "--k", "1", "--json", "--from", "1635"], dated_index, env)) in (
        ["One year"],
        ["Span"],
        ["Decade"],
        ["Circa"],
    )
    one = json.loads(run_cli([*search, "--from", "1888", "--to", "1890"], dated_index, env).stdout)
    assert sorted((h["title"], h["date"], h["period"], h["period_basis"]) for h in one) == [
        ("One year", "1889", [1889, 1889], "work"),
        ("Span", "1884 - 1920", [1884, 1920], "work"),
    ]
    assert "give a year" in one_line_error_usage(run_cli([*search, "--from", "soon"], dated_index))


def one_line_error_usage(result) -> str:
    """argparse's refusal: exit 2, one 'error:' line, no traceback."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_kaggle_works_sit_on_their_artists_lifetime_and_say_so(kaggle_index):
    settings = kaggle_index[0]
    payloads = [p for p in all_payloads(settings) if p["artist"] == "Claude Monet"]
    assert payloads and all(
        (p["year_earliest"], p["year_latest"], p["period_basis"]) == (1840, 1926, "artist") for p in payloads
    )
    mystery = [p for p in all_payloads(settings) if p["artist"] == "Mystery Painter"]
    assert mystery and all("year_earliest" not in p for p in mystery)  # no artists.csv row: no period
    hits = json.loads(
        run_cli(["-m", "artsearch", "search", "a painting", "--k", "50", "--json", "--from", "1900"], settings).stdout
    )
    assert hits and {h["artist"] for h in hits} == {"Claude Monet"}  # Dürer died 1528, van Gogh 1890


def test_the_page_slider_filters_links_and_the_timeline_opens_a_work(dated_index, monkeypatch, tmp_path):
    point_env(monkeypatch, dated_index, tmp_path, ARTSEARCH_COLLAPSE_DUPLICATES="false")
    at = search_text(new_app().run(), "a painting", k=12)
    assert_clean(at)
    assert len(card_titles(at)) == len(DATED)
    slider = at.slider(key="f_period_slider")
    assert (slider.min, slider.max, slider.value) == (1450, 1920, (1450, 1920))  # spans everything: no filter
    at = slider.set_value((1850, 1900)).run()
    assert_clean(at)
    assert sorted(card_titles(at)) == ["One year", "Span"]
    assert (at.query_params["from"], at.query_params["to"]) == ("1850", "1900")
    # The link opens the same filtered search.
    linked = new_app(q="a painting", **{"from": "1850", "to": "1900"}).run()
    assert sorted(card_titles(linked)) == ["One year", "Span"] and linked.slider(key="f_period_slider").value == (
        1850,
        1900,
    )
    # Back to everything, then the timeline: every dated result, the undated one counted under it.
    at = at.slider(key="f_period_slider").set_value((1450, 1920)).run()
    at = at.toggle(key="show_timeline").set_value(True).run()
    assert_clean(at)
    (chart,) = list(at.get("vega_lite_chart"))
    rows = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pylist()
    assert sorted((r["title"], r["earliest"], r["latest"]) for r in rows) == sorted(
        (title, span[0], span[1]) for _, title, _, _, _, span in DATED if span
    )
    assert any("1 of the 8 results have no date" in c.value for c in at.caption)
    # A click on a work (the chart's selection, as the browser sends it) opens it in the detail view.
    states = at._tree.get_widget_states()
    state = WidgetState(id=chart.proto.id)
    century = artwork_id("museum", "2003")
    state.string_value = json.dumps({"selection": {"pick": [{"id": century}]}})
    states.widgets.append(state)
    at = at._run(widget_state=states)
    assert_clean(at)
    assert at.query_params["work"] == century and "Period: 1530–1570" in detail_text(at)
