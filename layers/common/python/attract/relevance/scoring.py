"""How relevant a member is to a target profile: skills weighted, times where they are (docs/relevance.md).

    skills = 0.7 × (required matched / required) + 0.3 × (preferred matched / preferred)
             (a profile with one kind of skill only: that kind's fraction; with none: 1)
    place  = 1    the member is in one of the profile's places (inside a radius, in a country, remote),
                  or the profile names no place
             0.5  we cannot tell: no location, a location nothing resolves, or a country that holds one of
                  the profile's cities
             0    the member is known to be elsewhere
    value  = round(skills × place, 4); relevant when value ≥ min_score (DEFAULT_MIN_SCORE when the profile has none)

Pure and without I/O: `compile_profile` and `member_facts` resolve terms once (cached), `score` compares
canonical keys only, so re-scoring a large community costs set operations, not look-ups.
"""

import math

from attract.relevance import places
from attract.relevance.models import (
    CompiledPlace,
    CompiledProfile,
    CountryPlace,
    MemberFacts,
    MemberWhere,
    NearPlace,
    PlaceTarget,
    ProfileBody,
    ResolvedPlace,
    Score,
)
from attract.relevance.places import resolve_country, resolve_place
from attract.relevance.skills import resolve_skill

DEFAULT_MIN_SCORE = 0.5
REQUIRED_WEIGHT, PREFERRED_WEIGHT = 0.7, 0.3
PLACE_UNKNOWN = 0.5


def warm() -> None:
    """Load the skills and places data now (cold start / SnapStart snapshot), not on the first score."""
    resolve_skill("python")
    places.warm()


def compile_profile(body: ProfileBody) -> CompiledProfile:
    """Resolve a profile's skills and places once per profile version."""
    compiled: list[CompiledPlace] = []
    for spec in body.places:
        if isinstance(spec, NearPlace):
            resolved = resolve_place(spec.place)
            # A name that turns out to be a country ("Germany") or "remote" is that, with no radius
            radius = spec.radius_km if resolved is None or resolved.kind == "city" else None
            compiled.append(CompiledPlace(spec=spec.place, resolved=resolved, radius_km=radius))
        elif isinstance(spec, CountryPlace):
            compiled.append(CompiledPlace(spec=spec.country, resolved=resolve_country(spec.country)))
        else:
            compiled.append(CompiledPlace(spec="remote", resolved=ResolvedPlace(text="remote", kind="remote",
                                                                              name="remote")))
    return CompiledProfile(
        required=[resolve_skill(term) for term in body.skills.required],
        preferred=[resolve_skill(term) for term in body.skills.preferred],
        places=compiled,
        min_score=DEFAULT_MIN_SCORE if body.min_score is None else body.min_score)


def member_facts(skills: list[str], location: str | None) -> MemberFacts:
    """Resolve what a member told us (join form or invitation record): skills and a free-text location."""
    terms = [term.strip()[:60] for term in skills if term and term.strip()]
    location = location.strip()[:200] if location and location.strip() else None
    return MemberFacts(skills=[resolve_skill(term) for term in terms], location=location,
                       place=resolve_place(location) if location else None)


def _place_factor(targets: tuple[PlaceTarget, ...], where: MemberWhere) -> tuple[float, str | None]:
    """(factor, label of the profile place that matched)."""
    if not targets:
        return 1.0, None
    maybe = False
    kind = where.kind
    for target in targets:
        if target.kind == "verbatim":
            if where.text is not None and kind is None and where.text == target.text:
                return 1.0, target.label
        elif kind is None:
            continue
        elif target.kind == "remote":
            if kind == "remote":
                return 1.0, target.label
        elif target.kind == "country":
            if kind != "remote" and where.country == target.country:
                return 1.0, target.label
        elif kind == "city":
            # haversine's a, compared with the radius' own: no square root or arcsine per member
            a = (math.sin((where.latitude - target.latitude) / 2) ** 2 + target.cos_latitude * where.cos_latitude
                 * math.sin((where.longitude - target.longitude) / 2) ** 2)
            if where.geoname_id == target.geoname_id or a <= target.within:
                return 1.0, target.label
        elif kind == "country" and where.country == target.country:
            maybe = True  # somewhere in the city's country: could be inside the radius
    return (PLACE_UNKNOWN, None) if maybe or kind is None else (0.0, None)


def score(profile: CompiledProfile, member: MemberFacts) -> Score:
    """How relevant the member is to the profile (see the module docstring for the formula)."""
    keys = member.keys
    required, preferred = profile.required_keys, profile.preferred_keys
    matched_required = [term for key, term in required.items() if key in keys]
    matched_preferred = [term for key, term in preferred.items() if key in keys]
    if required and preferred:
        skills = (REQUIRED_WEIGHT * len(matched_required) / len(required)
                  + PREFERRED_WEIGHT * len(matched_preferred) / len(preferred))
    elif required:
        skills = len(matched_required) / len(required)
    elif preferred:
        skills = len(matched_preferred) / len(preferred)
    else:
        skills = 1.0
    factor, place = _place_factor(profile.targets, member.where)
    value = round(skills * factor, 4)
    # Validated: pydantic-core builds it faster (~5 µs) than model_construct's Python loop does unvalidated
    return Score(value=value, relevant=value > 0 and value >= profile.min_score, matched_required=matched_required,
                 matched_preferred=matched_preferred, place=place)
