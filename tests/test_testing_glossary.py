"""The hand-written glossary: every caption word translates, phrase for phrase, with the right agreement."""

from __future__ import annotations

import pytest

from artsearch.testing import glossary, synthetic

COMBINATIONS = [(c, s, b) for c in synthetic.COLOURS for s in synthetic.SHAPES for b in synthetic.BACKGROUNDS if b != c]


def english_caption_words() -> set[str]:
    return {
        word
        for c, s, b in COMBINATIONS
        for size in (None, *glossary.SIZES)
        for caption in synthetic.caption_variants(c, s, b, size)
        for word in glossary.words(caption)
    }


@pytest.mark.parametrize("language", glossary.LANGUAGES)
def test_every_english_caption_word_has_a_translation(language: str) -> None:
    table = glossary.glossary(language)
    missing = sorted(english_caption_words() - set(table))
    assert not missing, f"no {language} for {missing}"
    assert all(forms for forms in table.values())


@pytest.mark.parametrize("language", glossary.LANGUAGES)
def test_translations_use_only_glossary_words_and_name_the_colour_shape_and_background(language: str) -> None:
    table = glossary.glossary(language)
    vocabulary = set().union(*table.values())
    for c, s, b in COMBINATIONS:
        for size in (None, *glossary.SIZES):
            english = synthetic.caption_variants(c, s, b, size)
            translated = glossary.caption_variants(c, s, b, size, language=language)
            assert len(translated) == len(english)
            for e, t in zip(english, translated, strict=True):
                words = glossary.words(t)
                assert set(words) <= vocabulary, (e, t, set(words) - vocabulary)
                # Each English word that carries meaning shows up as one of its forms.
                for english_word in ("background", "picture", "small", "large", c, s):
                    if english_word in glossary.words(e):
                        assert set(words) & table[english_word], (e, t, english_word)
                if f" {b}" in e:
                    assert set(words) & table[b], (e, t, b)


@pytest.mark.parametrize("language", glossary.LANGUAGES)
def test_different_english_captions_stay_different(language: str) -> None:
    """No two combinations collapse onto the same translation (a glossary typo would do that)."""
    captions = {glossary.make_caption(c, s, b, language) for c, s, b in COMBINATIONS}
    assert len(captions) == len(COMBINATIONS)


@pytest.mark.parametrize(
    ("colour", "shape", "background", "size", "language", "expected"),
    [
        # French: the colour after the noun, agreeing; petit/grand before it; "d'un" for "de un".
        ("green", "star", "white", None, "fr", "une étoile verte sur un fond blanc"),
        ("purple", "cross", "black", None, "fr", "une croix violette sur un fond noir"),
        ("purple", "circle", "white", None, "fr", "un cercle violet sur un fond blanc"),
        ("orange", "star", "gray", None, "fr", "une étoile orange sur un fond gris"),
        ("red", "square", "white", "large", "fr", "un grand carré rouge sur un fond blanc"),
        ("blue", "star", "yellow", "small", "fr", "une petite étoile bleue sur un fond jaune"),
        # German: mixed declension after ein/einem, gender of the noun; lila/orange not declined.
        ("red", "square", "white", None, "de", "ein rotes Quadrat auf einem weißen Hintergrund"),
        ("green", "circle", "gray", None, "de", "ein grüner Kreis auf einem grauen Hintergrund"),
        ("yellow", "triangle", "black", "small", "de", "ein kleines gelbes Dreieck auf einem schwarzen Hintergrund"),
        ("purple", "cross", "orange", None, "de", "ein lila Kreuz auf einem orange Hintergrund"),
        ("blue", "star", "red", "large", "de", "ein großer blauer Stern auf einem roten Hintergrund"),
        # Spanish: colour and size after the noun, agreeing; naranja, azul, verde, gris invariable.
        ("yellow", "star", "black", None, "es", "una estrella amarilla sobre un fondo negro"),
        ("purple", "cross", "white", "large", "es", "una cruz morada grande sobre un fondo blanco"),
        ("orange", "square", "blue", "small", "es", "un cuadrado naranja pequeño sobre un fondo azul"),
        ("red", "cross", "gray", None, "es", "una cruz roja sobre un fondo gris"),
        # Italian: "uno sfondo" (s + consonant); piccolo/grande before the noun.
        ("red", "circle", "white", None, "it", "un cerchio rosso su uno sfondo bianco"),
        ("yellow", "star", "gray", "small", "it", "una piccola stella gialla su uno sfondo grigio"),
        ("blue", "cross", "black", None, "it", "una croce blu su uno sfondo nero"),
    ],
)
def test_full_captions_agree(colour: str, shape: str, background: str, size: str | None, language: str, expected: str):
    variants = glossary.caption_variants(colour, shape, background, size, language=language)
    assert (variants[-1] if size else variants[0]) == expected


@pytest.mark.parametrize(
    ("colour", "shape", "background", "language", "expected"),
    [
        ("red", "square", "white", "fr", ["un carré rouge", "carré rouge", "une image d'un carré rouge"]),
        ("green", "star", "gray", "fr", ["une étoile verte", "étoile verte", "une image d'une étoile verte"]),
        # "von" takes the dative; without an article the adjective is declined strong.
        ("red", "square", "white", "de", ["ein rotes Quadrat", "rotes Quadrat", "ein Bild von einem roten Quadrat"]),
        ("green", "star", "gray", "de", ["ein grüner Stern", "grüner Stern", "ein Bild von einem grünen Stern"]),
        ("red", "cross", "white", "es", ["una cruz roja", "cruz roja", "una imagen de una cruz roja"]),
        ("red", "star", "white", "it", ["una stella rossa", "stella rossa", "un'immagine di una stella rossa"]),
    ],
)
def test_short_phrasings_agree(colour: str, shape: str, background: str, language: str, expected: list[str]):
    assert glossary.caption_variants(colour, shape, background, language=language)[1:4] == expected


@pytest.mark.parametrize(
    ("language", "on_background", "with_background"),
    [
        ("fr", "un cercle rouge sur fond blanc", "cercle rouge avec un fond blanc"),
        ("de", "ein roter Kreis auf weißem Hintergrund", "roter Kreis mit einem weißen Hintergrund"),
        ("es", "un círculo rojo sobre fondo blanco", "círculo rojo con un fondo blanco"),
        ("it", "un cerchio rosso su sfondo bianco", "cerchio rosso con uno sfondo bianco"),
    ],
)
def test_on_and_with_a_background(language: str, on_background: str, with_background: str) -> None:
    variants = glossary.caption_variants("red", "circle", "white", language=language)
    assert variants[4:6] == [on_background, with_background]


def test_english_is_the_synthetic_captions_themselves() -> None:
    assert glossary.caption_variants("orange", "star", "white", "small", language="en") == synthetic.caption_variants(
        "orange", "star", "white", "small"
    )
    assert glossary.make_caption("orange", "star", "white", "en") == "an orange star on a white background"


def test_an_unknown_language_says_which_there_are() -> None:
    with pytest.raises(ValueError, match="use en or one of fr, de, es, it"):
        glossary.caption_variants("red", "circle", "white", language="nl")
    with pytest.raises(ValueError, match="one of fr, de, es, it"):
        glossary.glossary("nl")
