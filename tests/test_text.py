"""Name repair and name keys: mis-encoded folder names fixed, folder names matched to the CSV's names."""

from __future__ import annotations

import pytest

from artsearch.catalog import slugify
from artsearch.text import name_key, repair_mojibake


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("Albrecht_Du╠êrer", "Albrecht_Dürer"),  # UTF-8 (decomposed ü) read as cp437, as the Kaggle zip ships it
        ("DÃ¼rer", "Dürer"),  # UTF-8 read as cp1252
        ("Ã‰douard Manet", "Édouard Manet"),
        ("Pierre-Auguste_Renoir", "Pierre-Auguste_Renoir"),  # fine already: unchanged
        ("Nature morte — 静物", "Nature morte — 静物"),
        ("Ñoño", "Ñoño"),
    ],
)
def test_mojibake_is_repaired_in_general_and_good_text_is_left_alone(broken, fixed):
    assert repair_mojibake(broken) == fixed


def test_name_keys_match_folder_names_to_csv_names():
    assert name_key("Albrecht_Du╠êrer") == name_key("Albrecht Dürer") == "albrecht-durer"
    assert slugify("  ") == "unknown"
