"""The facet table and the filters built from it: one entry per filterable field, used by every consumer."""

from __future__ import annotations

import pytest
from qdrant_client import models

from artsearch.cli import build_parser
from artsearch.index.filters import FACET_NAMES, FACETS, Filters, facet
from artsearch.search import SearchService
from artsearch.web.state import PageState, params_from_state, state_from_params


def test_filters_keep_chosen_values_once_and_drop_blanks():
    chosen = Filters(artist=["Claude Monet", "", "Claude Monet", "  "], genre=["Baroque"], nationality=[])
    assert dict(chosen) == {"artist": ("Claude Monet",), "genre": ("Baroque",)}
    assert chosen.values_of("nationality") == []
    assert not Filters(artist=["", " "])  # a blank shell variable filters nothing out
    with pytest.raises(KeyError, match="the facets are artist, genre, nationality"):
        Filters(painter=["Claude Monet"])


def test_each_facet_becomes_one_condition_on_its_payload_key():
    chosen = Filters({name: [f"{name} value"] for name in FACET_NAMES})
    flt = chosen.to_qdrant(exclude_ids=["6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a"])
    assert [(c.key, c.match.any) for c in flt.must] == [(f.payload_key, [f"{f.name} value"]) for f in FACETS]
    assert isinstance(flt.must_not[0], models.HasIdCondition)
    assert Filters().to_qdrant() is None


def test_links_and_the_cli_offer_every_facet_of_the_table():
    chosen = Filters({name: ["x", "y"] for name in FACET_NAMES})
    params = params_from_state(PageState(text="winter", filters=chosen))
    assert {name: params[name] for name in FACET_NAMES} == {name: ["x", "y"] for name in FACET_NAMES}
    assert state_from_params(params).filters == chosen
    search = build_parser()._subparsers._group_actions[0].choices["search"]  # type: ignore[union-attr]
    flags = {opt for action in search._actions for opt in action.option_strings}
    assert {f"--{name}" for name in FACET_NAMES} <= flags
    args = search.parse_args(["x", *(arg for f in FACETS for arg in (f"--{f.name}", f"{f.name} one"))])
    assert all(getattr(args, f"facet_{f.name}") == [f"{f.name} one"] for f in FACETS)


def test_the_index_counts_every_facet(kaggle_index, shared_encoder):
    service = SearchService(kaggle_index[0], encoder=shared_encoder)
    try:
        counts = service.facets()
    finally:
        service.index.close()
    assert list(counts) == list(FACET_NAMES)
    assert dict(counts["artist"])["Claude Monet"] >= 4 and dict(counts["nationality"])["Dutch"] == 4
    assert facet("genre").payload_key == "genre"
