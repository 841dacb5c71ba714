"""The stored profile, the member index entry, scores, and what the /profiles routes answer.

Kept apart from `models.py` (the relevance library's contract: ProfileBody, CompiledProfile, Score): these are
the API's and the repositories' own shapes.
"""

import secrets
import time
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# "prf_" + 16 url-safe characters: 8 of them the creation time in milliseconds, in an alphabet whose ASCII order
# is its value order, so the ids of one partition sort by creation (GET /profiles: newest first, one Query).
SORTABLE = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
ProfileId = Annotated[str, StringConstraints(pattern=r"^prf_[-0-9A-Za-z_]{16}$")]
RescoringStatusName = Literal["queued", "running", "done", "deleting"]


def new_profile_id(now_ms: int | None = None) -> str:
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    head = "".join(SORTABLE[(stamp >> (6 * shift)) & 63] for shift in range(7, -1, -1))
    return "prf_" + head + "".join(secrets.choice(SORTABLE) for _ in range(8))


class Rescoring(BaseModel):
    """Where the background scoring of the profile's current version got to."""

    status: RescoringStatusName
    scored: int = Field(0, description="Members scored against this version so far")
    total: int | None = Field(None, description="Members in all, known once the walk is done")


class ResolvedSkillOut(BaseModel):
    term: str
    concept_id: str | None = None
    label: str


class ResolvedOut(BaseModel):
    skills: list[ResolvedSkillOut] = Field(default_factory=list)
    places: list[dict[str, Any]] = Field(default_factory=list)


class ProfileResponse(BaseModel):
    id: str
    name: str
    description: str | None = None
    skills: dict[str, list[str]]
    places: list[dict[str, Any]]
    min_score: float | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    resolved: ResolvedOut
    rescoring: Rescoring


class ProfileList(BaseModel):
    profiles: list[ProfileResponse]
    next_cursor: str | None = None


class StoredProfile(BaseModel):
    """The profile item: the body as sent and as compiled (both JSON text: no float/Decimal round trips)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    body: str  # ProfileBody as JSON
    compiled: str  # CompiledProfile as JSON
    resolved: str = "{}"  # ResolvedOut as JSON
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str = ""
    deleted: bool = False
    rescoring: dict[str, Any] = Field(default_factory=dict)  # {status, version, scored, total, cursor}


class IndexedMember(BaseModel):
    """The member index entry the join's confirmation writes: what scoring needs, no address or name."""

    model_config = ConfigDict(extra="ignore")

    email_hash: str
    joined_at: datetime
    skills: list[str] = Field(default_factory=list)
    location: str | None = None
    # The keys the join was counted under (its attribution item's `reported`): what relevance adds or subtracts.
    reported: dict[str, dict[str, list[Decimal]]] = Field(default_factory=dict)
    relevant: set[str] = Field(default_factory=set)  # the profiles the member is relevant to now


class StoredScore(BaseModel):
    model_config = ConfigDict(extra="ignore")

    profile_id: str
    version: int
    score: float
    relevant: bool


class Touchpoint(BaseModel):
    channel: str
    campaign: str


class MemberRow(BaseModel):
    name: str
    email: str
    skills: list[str]
    place: str | None
    score: float
    joined_at: datetime
    first_touch: Touchpoint | None
    last_touch: Touchpoint | None


class MembersPage(BaseModel):
    profile_id: str
    version: int
    members: list[MemberRow]
    next_cursor: str | None = None


CSV_HEADER = ("name", "email", "skills", "place", "score", "joined_at", "first_touch_channel", "first_touch_campaign",
              "last_touch_channel", "last_touch_campaign")


def csv_rows(page: MembersPage) -> list[list[object]]:
    rows: list[list[object]] = []
    for member in page.members:
        first, last = member.first_touch, member.last_touch
        rows.append([member.name, member.email, "; ".join(member.skills), member.place or "", f"{member.score:.4f}",
                     member.model_dump(mode="json")["joined_at"], first.channel if first else "", first.campaign if first else "",
                     last.channel if last else "", last.campaign if last else ""])
    return rows
