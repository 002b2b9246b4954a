"""What an artwork's detail view says: every fact its source keeps, and where to read more.

Each source keeps what it has in the point's payload (see :mod:`artsearch.sources`): the museum the date as
written ("c. 1765"), medium, measurements, department, culture, accession number, credit line and licence;
Kaggle the artist's record (nationality, life dates, genre, a Wikipedia article); a folder what its CSV
gives. :func:`facts` lists them as (label, value) pairs of plain text, in one order for every source and
without the ones a source does not have; :func:`source_link` is the page to read more on.
"""

from __future__ import annotations

from artsearch import periods
from artsearch.catalog import Artist
from artsearch.search import Hit
from artsearch.web.cards import artist_line, date_text, score_text

SOURCE_NAMES = {
    "kaggle": 'Kaggle, "Best Artworks of All Time"',
    "museum": "The Cleveland Museum of Art, Open Access",
    "folder": "A folder of images",
}
#: Payload fields the museum keeps, shown under these labels, in this order (after artist and date).
_RECORD_FIELDS = (
    ("technique", "Medium"),
    ("measurements", "Dimensions"),
    ("department", "Department"),
    ("culture", "Culture"),
    ("accession_number", "Accession number"),
    ("credit_line", "Credit line"),
)
COPIES_HELP = (
    "Near-duplicates: the same picture resized, re-compressed or cropped (by the colour hash, as results fold). "
    "python -m artsearch duplicates lists every group in the collection."
)
_LICENCES = {"CC0": "CC0 (public domain: free to use for any purpose)"}


def facts(hit: Hit, artist: Artist | None = None) -> list[tuple[str, str]]:
    """The artwork's facts as (label, plain text value), the empty ones left out."""
    payload = hit.payload
    artist = artist or hit.artist
    rows = [("Artist", artist_line(artist, hit.artist_name)), ("Date", date_text(hit)), ("Period", period_text(hit))]
    genre = payload.get("genre") or []
    rows.append(("Genre" if payload.get("source") != "museum" else "Type", _joined(genre)))
    rows += [(label, _joined(payload.get(key))) for key, label in _RECORD_FIELDS]
    licence = str(payload.get("licence") or "").strip()
    rows.append(("Licence", _LICENCES.get(licence, licence)))
    width, height = payload.get("width"), payload.get("height")
    if width and height:
        rows.append(("Image", f"{width} × {height} pixels"))
    source = str(payload.get("source") or "")
    rows.append(("Source", SOURCE_NAMES.get(source, source)))
    if source == "folder" and payload.get("source_id"):
        rows.append(("File", str(payload["source_id"])))
    return [(label, value) for label, value in rows if value]


def period_text(hit: Hit) -> str:
    """The years the period filter and the timeline use, when they say more than the date: a span read from the
    date text ("1530–1570" for "mid 16th century"), or an undated work's artist's lifetime, labelled so."""
    lo, hi = hit.payload.get(periods.EARLIEST), hit.payload.get(periods.LATEST)
    if not isinstance(lo, int) or not isinstance(hi, int):
        return ""
    span = periods.Period(lo, hi).text()
    if hit.payload.get(periods.BASIS) == "artist":
        return f"{span} (the artist's lifetime: the work itself is undated)"
    return "" if span == date_text(hit) else span


def why_shown(hit: Hit) -> str:
    """Why a result is where it is: its similarity, and the name match that moved it up, if any."""
    text = score_text(hit.score)
    return f"{text}, moved up because the search names its artist or title" if hit.name_match else text


def source_link(hit: Hit, artist: Artist | None = None) -> tuple[str, str] | None:
    """(label, https URL) of the page to read more on: the museum's object page, else the artist's article."""
    artist = artist or hit.artist
    url = str(hit.payload.get("source_url") or "").strip()
    if url.startswith(("http://", "https://")):
        return ("The museum's page" if hit.payload.get("source") == "museum" else "The source's page"), url
    wikipedia = artist.wikipedia.strip() if artist else ""
    if wikipedia.startswith(("http://", "https://")):
        return f"{artist.name or hit.artist_name} on Wikipedia", wikipedia
    return None


def _joined(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()
