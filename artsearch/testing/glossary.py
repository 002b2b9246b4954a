"""The synthetic shapes captions in French, German, Spanish and Italian, with proper agreement.

:func:`caption_variants` translates :func:`artsearch.testing.synthetic.caption_variants` phrase
for phrase (same order, same meaning), so ``zip`` of the two lists gives (English, translation)
pairs: what ``scripts/train_tiny_multilingual.py`` distils a multilingual student on.

Agreement is done as each language wants it:

* French, Spanish, Italian: colour and size adjectives agree in gender with the noun ("une
  étoile verte", "una cruz morada", "una stella rossa"); invariable ones stay ("orange",
  "naranja", "blu", "viola"); the indefinite article follows the noun's gender and, in Italian,
  the sound of the word after it ("uno sfondo", "un'immagine"); French elides "de un" to "d'un".
* German: nouns keep their capital and gender (der Kreis, das Quadrat, der Hintergrund);
  adjectives take the mixed declension after "ein"/"einem" ("ein rotes Quadrat", "auf einem
  weißen Hintergrund"), the strong one without an article ("roter Kreis", "auf grauem
  Hintergrund"); "lila" and "orange" are not declined ("ein lila Kreuz").

Adjective order follows the language: French puts "petit"/"grand" before the noun and colours
after; Spanish puts both after ("un círculo rojo pequeño"); Italian puts "piccolo"/"grande"
before. :func:`glossary` lists every form each English caption word takes, so a test can check
that a translation uses only glossary words. Pure Python; nothing runs at import time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from artsearch.testing import synthetic

Language = Literal["fr", "de", "es", "it"]
Gender = Literal["m", "f", "n"]

#: The languages the captions translate into, besides English.
LANGUAGES: tuple[Language, ...] = ("fr", "de", "es", "it")
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian"}
SIZES: tuple[str, ...] = ("small", "large")


@dataclass(frozen=True)
class Noun:
    word: str
    gender: Gender


#: The shape nouns, then "background", per language.
SHAPE_NOUNS: dict[str, dict[str, Noun]] = {
    "fr": {
        "circle": Noun("cercle", "m"),
        "square": Noun("carré", "m"),
        "triangle": Noun("triangle", "m"),
        "star": Noun("étoile", "f"),
        "cross": Noun("croix", "f"),
    },
    "de": {
        "circle": Noun("Kreis", "m"),
        "square": Noun("Quadrat", "n"),
        "triangle": Noun("Dreieck", "n"),
        "star": Noun("Stern", "m"),
        "cross": Noun("Kreuz", "n"),
    },
    "es": {
        "circle": Noun("círculo", "m"),
        "square": Noun("cuadrado", "m"),
        "triangle": Noun("triángulo", "m"),
        "star": Noun("estrella", "f"),
        "cross": Noun("cruz", "f"),
    },
    "it": {
        "circle": Noun("cerchio", "m"),
        "square": Noun("quadrato", "m"),
        "triangle": Noun("triangolo", "m"),
        "star": Noun("stella", "f"),
        "cross": Noun("croce", "f"),
    },
}
BACKGROUND_NOUN: dict[str, Noun] = {
    "fr": Noun("fond", "m"),
    "de": Noun("Hintergrund", "m"),
    "es": Noun("fondo", "m"),
    "it": Noun("sfondo", "m"),
}
#: "picture" (in "a picture of ..."), per language.
PICTURE_NOUN: dict[str, Noun] = {
    "fr": Noun("image", "f"),
    "de": Noun("Bild", "n"),
    "es": Noun("imagen", "f"),
    "it": Noun("immagine", "f"),
}

#: Romance adjectives as (masculine, feminine) singular; the same word twice where it does not vary.
ROMANCE_ADJECTIVES: dict[str, dict[str, tuple[str, str]]] = {
    "fr": {
        "red": ("rouge", "rouge"),
        "green": ("vert", "verte"),
        "blue": ("bleu", "bleue"),
        "yellow": ("jaune", "jaune"),
        "purple": ("violet", "violette"),
        "orange": ("orange", "orange"),  # a colour named after a thing: invariable
        "white": ("blanc", "blanche"),
        "black": ("noir", "noire"),
        "gray": ("gris", "grise"),
        "small": ("petit", "petite"),
        "large": ("grand", "grande"),
    },
    "es": {
        "red": ("rojo", "roja"),
        "green": ("verde", "verde"),
        "blue": ("azul", "azul"),
        "yellow": ("amarillo", "amarilla"),
        "purple": ("morado", "morada"),
        "orange": ("naranja", "naranja"),  # invariable, like "rosa"
        "white": ("blanco", "blanca"),
        "black": ("negro", "negra"),
        "gray": ("gris", "gris"),
        "small": ("pequeño", "pequeña"),
        "large": ("grande", "grande"),
    },
    "it": {
        "red": ("rosso", "rossa"),
        "green": ("verde", "verde"),
        "blue": ("blu", "blu"),  # invariable
        "yellow": ("giallo", "gialla"),
        "purple": ("viola", "viola"),  # invariable
        "orange": ("arancione", "arancione"),
        "white": ("bianco", "bianca"),
        "black": ("nero", "nera"),
        "gray": ("grigio", "grigia"),
        "small": ("piccolo", "piccola"),
        "large": ("grande", "grande"),
    },
}
#: German adjective stems; declined with :data:`GERMAN_ENDINGS` unless in :data:`GERMAN_UNDECLINED`.
GERMAN_ADJECTIVES: dict[str, str] = {
    "red": "rot",
    "green": "grün",
    "blue": "blau",
    "yellow": "gelb",
    "purple": "lila",
    "orange": "orange",
    "white": "weiß",
    "black": "schwarz",
    "gray": "grau",
    "small": "klein",
    "large": "groß",
}
GERMAN_UNDECLINED = frozenset({"lila", "orange"})
GermanCase = Literal["nom", "dat"]
GermanDeclension = Literal["mixed", "strong"]
#: Adjective endings, singular: after ein/einem ("mixed") and without an article ("strong").
GERMAN_ENDINGS: dict[tuple[GermanDeclension, GermanCase], dict[str, str]] = {
    ("mixed", "nom"): {"m": "er", "n": "es", "f": "e"},
    ("mixed", "dat"): {"m": "en", "n": "en", "f": "en"},
    ("strong", "nom"): {"m": "er", "n": "es", "f": "e"},
    ("strong", "dat"): {"m": "em", "n": "em", "f": "er"},
}
GERMAN_ARTICLE: dict[GermanCase, dict[str, str]] = {
    "nom": {"m": "ein", "n": "ein", "f": "eine"},
    "dat": {"m": "einem", "n": "einem", "f": "einer"},
}
#: The connecting words, per language: "on", "with", "of" (in "a picture of").
PREPOSITIONS: dict[str, dict[str, str]] = {
    "fr": {"on": "sur", "with": "avec", "of": "de"},
    "de": {"on": "auf", "with": "mit", "of": "von"},
    "es": {"on": "sobre", "with": "con", "of": "de"},
    "it": {"on": "su", "with": "con", "of": "di"},
}
_ITALIAN_IMPURE_S = re.compile(r"^(s[^aeiouàèéìòù]|z|gn|ps|pn|x|y|i[aeiou])")


# --- articles and adjectives -------------------------------------------------------------------


def indefinite_article(noun: Noun, language: str, *, case: GermanCase = "nom", next_word: str | None = None) -> str:
    """The indefinite article for ``noun``: un/une, ein/einem/einer, un/una, un/uno/una/un'.

    Italian looks at the word that follows the article (``next_word``, default the noun):
    "uno sfondo", "un piccolo sfondo", "un'immagine", "una grande stella".
    """
    if language == "de":
        return GERMAN_ARTICLE[case][noun.gender]
    if language == "fr":
        return "une" if noun.gender == "f" else "un"
    if language == "es":
        return "una" if noun.gender == "f" else "un"
    if language == "it":
        following = (next_word or noun.word).lower()
        if noun.gender == "f":
            return "un'" if following[0] in "aeiouàèéìòù" else "una"
        return "uno" if _ITALIAN_IMPURE_S.match(following) else "un"
    raise ValueError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")


def adjective(
    english: str, noun: Noun, language: str, *, case: GermanCase = "nom", declension: GermanDeclension = "mixed"
) -> str:
    """``english`` (a colour or a size) agreeing with ``noun``: "verte", "rotes", "roja", "rossa"."""
    if language == "de":
        stem = GERMAN_ADJECTIVES[english]
        return stem if stem in GERMAN_UNDECLINED else stem + GERMAN_ENDINGS[(declension, case)][noun.gender]
    masculine, feminine = ROMANCE_ADJECTIVES[language][english]
    return feminine if noun.gender == "f" else masculine


def _with_article(article: str, phrase: str) -> str:
    return article + phrase if article.endswith("'") else f"{article} {phrase}"


# --- noun phrases ------------------------------------------------------------------------------


def shape_phrase(
    colour: str,
    shape: str,
    language: str,
    *,
    article: bool = True,
    size: str | None = None,
    case: GermanCase = "nom",
) -> str:
    """ "a {size} {colour} {shape}" in ``language``, with or without the article."""
    noun = SHAPE_NOUNS[language][shape]
    col = adjective(colour, noun, language, case=case, declension="mixed" if article else "strong")
    if language == "de":
        words = (
            [adjective(size, noun, language, case=case, declension="mixed" if article else "strong")] if size else []
        )
        phrase = " ".join([*words, col, noun.word])
    elif language == "es":  # both after the noun: "un círculo rojo pequeño"
        phrase = " ".join([noun.word, col, *([adjective(size, noun, language)] if size else [])])
    else:  # French and Italian: "petit"/"piccolo" before the noun, the colour after
        phrase = " ".join([*([adjective(size, noun, language)] if size else []), noun.word, col])
    if not article:
        return phrase
    return _with_article(indefinite_article(noun, language, case=case, next_word=phrase.split()[0]), phrase)


def background_phrase(background: str, language: str, *, article: bool = True) -> str:
    """ "on a {background} background" (``article=False``: "on {background}", said the usual way)."""
    noun = BACKGROUND_NOUN[language]
    on = PREPOSITIONS[language]["on"]
    if language == "de":  # dative after "auf" (where something is)
        col = adjective(background, noun, language, case="dat", declension="mixed" if article else "strong")
        phrase = f"{col} {noun.word}"
        return f"{on} {indefinite_article(noun, language, case='dat')} {phrase}" if article else f"{on} {phrase}"
    phrase = f"{noun.word} {adjective(background, noun, language)}"
    # "on white" is said "sur fond blanc", "sobre fondo blanco", "su sfondo bianco".
    return (
        f"{on} {_with_article(indefinite_article(noun, language, next_word=noun.word), phrase)}"
        if article
        else f"{on} {phrase}"
    )


def with_background_phrase(background: str, language: str) -> str:
    """ "with a {background} background"."""
    noun = BACKGROUND_NOUN[language]
    with_ = PREPOSITIONS[language]["with"]
    if language == "de":
        col = adjective(background, noun, language, case="dat")
        return f"{with_} {indefinite_article(noun, language, case='dat')} {col} {noun.word}"
    phrase = f"{noun.word} {adjective(background, noun, language)}"
    return f"{with_} {_with_article(indefinite_article(noun, language), phrase)}"


def picture_of_phrase(colour: str, shape: str, language: str) -> str:
    """ "a picture of a {colour} {shape}": "une image d'un cercle rouge", "ein Bild von einem roten Kreis"."""
    picture = PICTURE_NOUN[language]
    of = PREPOSITIONS[language]["of"]
    head = _with_article(indefinite_article(picture, language), picture.word)
    if language == "de":  # "von" takes the dative
        return f"{head} {of} {shape_phrase(colour, shape, language, case='dat')}"
    thing = shape_phrase(colour, shape, language)
    if language == "fr":  # de + un/une -> d'un/d'une
        return f"{head} d'{thing}"
    return f"{head} {of} {thing}"


# --- captions ----------------------------------------------------------------------------------


def make_caption(colour: str, shape: str, background: str, language: str) -> str:
    """:func:`synthetic.make_caption` in ``language``: "un cercle rouge sur un fond bleu"."""
    if language == "en":
        return synthetic.make_caption(colour, shape, background)
    return f"{shape_phrase(colour, shape, language)} {background_phrase(background, language)}"


def caption_variants(colour: str, shape: str, background: str, size: str | None = None, *, language: str) -> list[str]:
    """:func:`synthetic.caption_variants` in ``language``, phrase for phrase, in the same order."""
    if language == "en":
        return synthetic.caption_variants(colour, shape, background, size)
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use en or one of {', '.join(LANGUAGES)}")
    variants = [
        make_caption(colour, shape, background, language),
        shape_phrase(colour, shape, language),
        shape_phrase(colour, shape, language, article=False),
        picture_of_phrase(colour, shape, language),
        f"{shape_phrase(colour, shape, language)} {background_phrase(background, language, article=False)}",
        f"{shape_phrase(colour, shape, language, article=False)} {with_background_phrase(background, language)}",
    ]
    if size is not None:
        variants.append(f"{shape_phrase(colour, shape, language, size=size)} {background_phrase(background, language)}")
    return variants


# --- the word list -----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """The words of a caption, lower-cased; an elided article keeps its apostrophe ("d'", "un'")."""
    return re.findall(r"\w+'|\w+", text.lower())


def _forms(language: str) -> dict[str, set[str]]:
    """Every form each English caption word takes in ``language``."""
    forms: dict[str, set[str]] = {}

    def add(english: str, *translations: str) -> None:
        forms.setdefault(english, set()).update(t.lower() for t in translations)

    nouns = [*SHAPE_NOUNS[language].values(), BACKGROUND_NOUN[language], PICTURE_NOUN[language]]
    for english, noun in SHAPE_NOUNS[language].items():
        add(english, noun.word)
    add("background", BACKGROUND_NOUN[language].word)
    add("picture", PICTURE_NOUN[language].word)
    for english in [*synthetic.BACKGROUNDS, *SIZES]:  # every colour, the shapes' and the backgrounds'
        for noun in nouns:
            for case in ("nom", "dat"):
                for declension in ("mixed", "strong"):
                    add(english, adjective(english, noun, language, case=case, declension=declension))
    for noun in nouns:
        for case in ("nom", "dat"):
            for follower in (noun.word, "piccolo", "grande", "sfondo"):
                add("a", indefinite_article(noun, language, case=case, next_word=follower))
    forms["an"] = forms["a"]
    for english, translation in PREPOSITIONS[language].items():
        add(english, translation)
    if language == "fr":
        add("of", "d'")
    return forms


@cache
def glossary(language: str) -> dict[str, frozenset[str]]:
    """``english caption word -> every form it takes`` in ``language`` (``"a"`` -> un, une, ...)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    return {english: frozenset(f) for english, f in _forms(language).items()}
