"""One ScoringQueue message (functions/profiles/scorer/app.py): a new member, a profile version to walk the
member index with, or a deleted profile to un-count. Each page is idempotent; the walk's progress moves on the
profile item once per page (a redelivered page neither counts nor queues twice)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from attract.relevance.profile_repository import ProfileRepository
from attract.relevance.profiles import ScoringQueue
from attract.relevance.rescoring import (
    PAGE_SIZE,
    FactsOf,
    ProfileVersion,
    Scorer,
    ScoreStore,
    Tally,
    remove_profile_page,
    rescore_page,
    score_new_member,
)


class MemberMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: Literal["member"]
    email_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class ProfileMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: Literal["profile", "profile_deleted"]
    profile_id: str = Field(pattern=r"^prf_[-0-9A-Za-z_]{16}$")
    version: int
    cursor: str = ""


Outcome = Literal["member_scored", "page_scored", "walk_done", "stale", "duplicate", "deleted"]


def handle(message: dict, profiles: ProfileRepository, store: ScoreStore, queue: ScoringQueue, scorer: Scorer,
           facts_of: FactsOf, page_size: int = PAGE_SIZE) -> tuple[Outcome, Tally]:
    if message.get("kind") == "member":
        member = MemberMessage.model_validate(message)
        return "member_scored", score_new_member(member.email_hash, profiles.versions(), store, scorer, facts_of)
    walk = ProfileMessage.model_validate(message)
    state = profiles.cursor(walk.profile_id)
    if state is None or state[0] != walk.version:
        return "stale", Tally(stale=True)  # a newer version (or the deletion) has its own walk
    version, stored_cursor, deleted = state
    if walk.kind == "profile_deleted":
        return _deletion_page(walk, profiles, store, queue, page_size)
    if deleted:
        return "stale", Tally(stale=True)
    from attract.relevance.models import CompiledProfile

    profile = profiles.get(walk.profile_id, consistent=True)
    if profile is None:
        return "stale", Tally(stale=True)
    target = ProfileVersion(walk.profile_id, version, CompiledProfile.model_validate_json(profile.compiled))
    tally, read, next_cursor = rescore_page(target, walk.cursor, store, scorer, facts_of, page_size)
    if tally.stale:
        return "stale", tally
    return _advance(walk, stored_cursor, next_cursor, read, profiles, queue, tally, version)


def _advance(walk: ProfileMessage, stored_cursor: str, next_cursor: str | None, read: int,
             profiles: ProfileRepository, queue: ScoringQueue, tally: Tally, version: int | None) -> tuple[Outcome, Tally]:
    if not profiles.advance(walk.profile_id, version, walk.cursor, next_cursor, read):
        # Another delivery of this page moved the progress first. If it stopped right after (its next message
        # not sent), the walk would stop here: send it again. A duplicate walk ends at its next page.
        state = profiles.cursor(walk.profile_id)
        if next_cursor is None or state is None or state[1] != next_cursor:
            return "duplicate", tally
    if next_cursor is None:
        return "walk_done", tally
    queue.send({"kind": walk.kind, "profile_id": walk.profile_id, "version": walk.version, "cursor": next_cursor})
    return "page_scored", tally


def _deletion_page(walk: ProfileMessage, profiles: ProfileRepository, store: ScoreStore,
                   queue: ScoringQueue, page_size: int) -> tuple[Outcome, Tally]:
    # The page's matches are removed; the next page starts after the last one read (a position, even once
    # deleted), so a match that cannot be removed (its member's entry gone) never holds the walk in place.
    tally, next_cursor = remove_profile_page(walk.profile_id, walk.cursor, store, page_size)
    if next_cursor is None:
        profiles.purge(walk.profile_id)
        return "deleted", tally
    queue.send({"kind": walk.kind, "profile_id": walk.profile_id, "version": walk.version, "cursor": next_cursor})
    return "page_scored", tally


