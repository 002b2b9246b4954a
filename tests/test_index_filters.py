"""The facet table and the filters built from it: one entry per filterable field, used by every consumer."""

from __future__ import annotations

import pytest
from qdrant_client import models

from artsearch.cli import build_parser
from artsearch.index.filters import FACET_NAMES, KEYWORD_FACETS, RANGE_FACETS, Filters, facet
from artsearch.search import SearchService
from artsearch.web.state import PageState, params_from_state, state_from_params


def test_filters_keep_chosen_values_once_and_drop_blanks():
    chosen = Filters(artist=["Claude Monet", "", "Claude Monet", "  "], genre=["Baroque"], nationality=[])
    assert dict(chosen) == {"artist": ("Claude Monet",), "genre": ("Baroque",)}
    assert chosen.values_of("nationality") == []
    assert not Filters(artist=["", " "])  # a blank shell variable filters nothing out
    with pytest.raises(KeyError, match="the facets are artist, genre, nationality, subject, colour, period"):
        Filters(painter=["Claude Monet"])


def test_each_facet_becomes_one_condition_on_its_payload_key():
    chosen = Filters({f.name: [f"{f.name} value"] for f in KEYWORD_FACETS})
    flt = chosen.to_qdrant(exclude_ids=["6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a"])
    assert [(c.key, c.match.any) for c in flt.must] == [(f.payload_key, [f"{f.name} value"]) for f in KEYWORD_FACETS]
    assert isinstance(flt.must_not[0], models.HasIdCondition)
    assert Filters().to_qdrant() is None


def test_links_and_the_cli_offer_every_facet_of_the_table():
    chosen = Filters({f.name: ["x", "y"] for f in KEYWORD_FACETS} | {f.name: ["1850", "1900"] for f in RANGE_FACETS})
    params = params_from_state(PageState(text="winter", filters=chosen))
    assert {f.name: params[f.name] for f in KEYWORD_FACETS} == {f.name: ["x", "y"] for f in KEYWORD_FACETS}
    assert {b: params[b] for f in RANGE_FACETS for b in f.bounds} == {"from": "1850", "to": "1900"}
    assert state_from_params(params).filters == chosen
    search = build_parser()._subparsers._group_actions[0].choices["search"]  # type: ignore[union-attr]
    flags = {opt for action in search._actions for opt in action.option_strings}
    assert {f"--{f.name}" for f in KEYWORD_FACETS} | {"--from", "--to"} <= flags
    args = search.parse_args(["x", *(arg for f in KEYWORD_FACETS for arg in (f"--{f.name}", f"{f.name} one"))])
    assert all(getattr(args, f"facet_{f.name}") == [f"{f.name} one"] for f in KEYWORD_FACETS)


def test_a_range_facet_keeps_works_whose_span_overlaps_either_end_open():
    period = facet("period")
    assert period.kind == "range" and period.index_keys == ("year_earliest", "year_latest")
    both = Filters(period=["1900", "1850"]).to_qdrant()  # given the wrong way round: put right
    assert [(c.key, c.range.gte, c.range.lte) for c in both.must] == [
        ("year_latest", 1850, None),  # ends at or after the span's start
        ("year_earliest", None, 1900),  # and starts at or before its end
    ]
    (only_to,) = Filters(period=["", "1500"]).to_qdrant().must
    assert (only_to.key, only_to.range.lte) == ("year_earliest", 1500)
    assert not Filters(period=["", ""]) and not Filters(period=["soon", "later"])  # nothing readable: no filter
    assert dict(Filters(period=["-500", "1e3"])) == {"period": ("-500", "1000")}  # BC years are negative
    assert state_from_params({"to": "1900"}).filters.span("period") == (None, 1900)


def test_the_index_counts_every_facet(kaggle_index, shared_encoder):
    service = SearchService(kaggle_index[0], encoder=shared_encoder)
    try:
        counts = service.facets()
    finally:
        service.index.close()
    assert list(counts) == list(FACET_NAMES)
    assert dict(counts["artist"])["Claude Monet"] >= 4 and dict(counts["nationality"])["Dutch"] == 4
    # The period's choices are its bounds, from the integer indexes: Kaggle's earliest birth, latest death.
    assert counts["period"] == [("earliest", 1471), ("latest", 1926)]
    assert facet("genre").payload_key == "genre"


def test_a_colour_facet_keeps_two_valid_colours_and_matches_their_lab_cubes():
    chosen = Filters(colour=["#1F3A93", "blue", "1f3a93", "#cc7722", "#ffffff"])
    assert dict(chosen) == {"colour": ("#1f3a93", "#cc7722")}  # parsed, once each, at most two; "blue" dropped
    assert chosen.colours() == ["#1f3a93", "#cc7722"]
    blue, ochre = chosen.to_qdrant().must
    assert blue.key == ochre.key == "colour_keys"
    assert "5:2:2:-6" in blue.match.any and "5:2:2:-6" not in ochre.match.any  # blue's own cube, at the 5% tier
    assert state_from_params({"colour": ["#1f3a93"]}).filters.colours() == ["#1f3a93"]
