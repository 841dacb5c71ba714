"""The people routes' answers (issue 15): an export of everything held, and an erasure's status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ErasureState = Literal["none", "queued", "running", "done"]


class ErasureStatus(BaseModel):
    person: str = Field(description="The keyed hash of the address (HMAC-SHA256 with the pepper), never the address")
    status: ErasureState
    reason: str | None = None
    requested_at: str | None = None
    started_at: str | None = None
    done_at: str | None = None
    steps: list[str] = Field(default_factory=list, description="Steps finished by the latest run")
    removed: dict[str, int] = Field(default_factory=dict, description="Items removed per kind by the latest run")


class Invitations(BaseModel):
    sent: list[dict[str, Any]] = Field(default_factory=list, description="Each campaign's claim: status, times")
    outcomes: list[dict[str, Any]] = Field(default_factory=list, description="A run's outcome for the person")
    links: list[dict[str, Any]] = Field(default_factory=list, description="The invitation touches (per token)")
    index: list[dict[str, Any]] = Field(default_factory=list, description="The person's invitation rows")


class PersonExport(BaseModel):
    """Everything held about one person, as stored (keys left out). `empty` is true when nothing personal is held:
    what an erasure keeps (the tombstone, its own status, erased conversion marks) is listed under `kept`."""

    person: str = Field(description="The keyed hash of the address")
    empty: bool
    member: dict[str, Any] | None = None
    pending_join: dict[str, Any] | None = None
    attribution: dict[str, Any] | None = None
    touches: list[dict[str, Any]] = Field(default_factory=list)
    claims: list[dict[str, Any]] = Field(default_factory=list, description="Clicks and invitations a join credited")
    invitations: Invitations = Field(default_factory=Invitations)
    suppression: dict[str, Any] | None = None
    cooldown: dict[str, Any] | None = None
    conversions: list[dict[str, Any]] = Field(default_factory=list,
                                              description="Sent to each platform (channel) and when (first_at, last_at)")
    held_conversions: list[dict[str, Any]] = Field(default_factory=list)
    relevance: dict[str, Any] = Field(default_factory=dict, description="The member index entry and the scores")
    mail_limits: list[dict[str, Any]] = Field(default_factory=list)
    other: list[dict[str, Any]] = Field(default_factory=list, description="Any other item of the member partition")
    kept: dict[str, Any] = Field(default_factory=dict, description="What an erasure keeps: tombstone, status")
