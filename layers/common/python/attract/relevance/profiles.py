"""What the /profiles routes do: profiles CRUD, queueing their (re-)scoring, and the relevant members' page.

Handlers (functions/profiles/app.py) call these with the repositories and the queue; nothing here builds a
DynamoDB expression or touches HTTP.
"""

import json
from datetime import datetime
from typing import Protocol

from attract.errors import InvalidRequestError, NotFoundError
from attract.relevance.models import CompiledProfile, ProfileBody
from attract.relevance.profile_repository import NOT_FOUND, ProfileRepository, queued
from attract.relevance.records import (
    MemberRow,
    MembersPage,
    ProfileList,
    ProfileResponse,
    Rescoring,
    ResolvedOut,
    StoredProfile,
    Touchpoint,
    new_profile_id,
)
from attract.signing import Signer

MEMBERS_CURSOR = "profile_members"
PROFILES_CURSOR = "profiles"
CURSOR_SECONDS = 86_400  # a page's cursor works for a day


class ScoringQueue(Protocol):
    def send(self, message: dict) -> None: ...


class MatchReader(Protocol):
    def page(self, profile_id: str, limit: int, after: str | None) -> tuple[list[tuple[str, float]], str | None]: ...
    def details(self, email_hashes: list[str]) -> dict[str, tuple[dict, list[dict]]]: ...


def _resolved(compiled: CompiledProfile) -> ResolvedOut:
    skills = [{"term": s.term, "concept_id": s.concept_id, "label": s.label} for s in [*compiled.required, *compiled.preferred]]
    places = [{"spec": p.spec, "label": p.label, **({"resolved": p.resolved.model_dump(mode="json")} if p.resolved else {})}
              for p in compiled.places]
    return ResolvedOut.model_validate({"skills": skills, "places": places})


def response(profile: StoredProfile) -> ProfileResponse:
    body = ProfileBody.model_validate_json(profile.body)
    progress = profile.rescoring or queued()
    return ProfileResponse(
        id=profile.id, name=body.name, description=body.description, skills=body.skills.model_dump(),
        places=[place.model_dump(mode="json") for place in body.places], min_score=body.min_score,
        version=profile.version, created_at=profile.created_at, updated_at=profile.updated_at,
        resolved=ResolvedOut.model_validate_json(profile.resolved),
        rescoring=Rescoring(status=progress.get("status", "queued"), scored=int(progress.get("scored", 0)),
                            total=int(progress["total"]) if progress.get("total") is not None else None))


def _compiled(body: ProfileBody) -> tuple[str, str, str]:
    from attract.relevance.scoring import (
        compile_profile,  # the taxonomy and GeoNames: loaded where profiles are written
    )

    compiled = compile_profile(body)
    return body.model_dump_json(), compiled.model_dump_json(), _resolved(compiled).model_dump_json()


def rescore_message(profile_id: str, version: int) -> dict:
    return {"kind": "profile", "profile_id": profile_id, "version": version, "cursor": ""}


def create_profile(body: ProfileBody, caller: str, now: datetime, profiles: ProfileRepository,
                   queue: ScoringQueue) -> ProfileResponse:
    """Stored at version 1, then every existing member is scored against it in the background."""
    text, compiled, resolved = _compiled(body)
    profile = StoredProfile(id=new_profile_id(int(now.timestamp() * 1000)), body=text, compiled=compiled,
                            resolved=resolved, version=1, created_at=now, updated_at=now, created_by=caller,
                            rescoring=queued())
    profiles.create(profile)
    queue.send(rescore_message(profile.id, profile.version))
    return response(profile)


def get_profile(profile_id: str, profiles: ProfileRepository) -> ProfileResponse:
    profile = profiles.get(profile_id)
    if profile is None:
        raise NotFoundError(NOT_FOUND)
    return response(profile)


def if_match_version(header: str | None) -> int | None:
    """The version an `If-Match` names (`"3"`, `3`, `W/"3"`); None without one; 422 for anything else."""
    if header is None:
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 18:  # "²" is a digit to str.isdigit
        raise InvalidRequestError("if-match", "if_match_invalid", 'If-Match is a profile version, as "3"',
                                  location="header")
    return int(text)


def replace_profile(profile_id: str, body: ProfileBody, now: datetime, profiles: ProfileRepository,
                    queue: ScoringQueue, expected_version: int | None = None) -> ProfileResponse:
    """The new body as the next version; members are re-scored against it (older versions' walks stop).
    With `expected_version` (If-Match), only if the profile is still at that version (else 412)."""
    text, compiled, resolved = _compiled(body)
    profile = profiles.replace(profile_id, text, compiled, resolved, now, expected_version)
    queue.send(rescore_message(profile.id, profile.version))
    return response(profile)


def delete_profile(profile_id: str, now: datetime, profiles: ProfileRepository, queue: ScoringQueue) -> None:
    """Gone for readers at once; the scorer un-counts its matches and then removes the item."""
    version = profiles.mark_deleted(profile_id, now)
    queue.send({"kind": "profile_deleted", "profile_id": profile_id, "version": version, "cursor": ""})


def _cursor(signer: Signer, purpose: str, fields: list[str], now: datetime) -> str:
    return signer.token(purpose, fields, int(now.timestamp()) + CURSOR_SECONDS)


def _opened(signer: Signer, purpose: str, cursor: str | None, fields: int, now: datetime) -> list[str] | None:
    if cursor is None:
        return None
    opened = signer.open(purpose, cursor, int(now.timestamp()), fields)
    if opened is None:
        raise InvalidRequestError("cursor", "cursor_invalid", "The cursor is not one this API issued, or it expired")
    return opened


def list_profiles(limit: int, cursor: str | None, signer: Signer, now: datetime,
                  profiles: ProfileRepository) -> ProfileList:
    opened = _opened(signer, PROFILES_CURSOR, cursor, 1, now)
    page, after = profiles.page(limit, opened[0] if opened else None)
    return ProfileList(profiles=[response(p) for p in page],
                       next_cursor=_cursor(signer, PROFILES_CURSOR, [after], now) if after else None)


def _touchpoint(touch: dict | None) -> Touchpoint | None:
    return Touchpoint(channel=str(touch["channel"]), campaign=str(touch["campaign"])) if touch else None


def members_page(profile_id: str, limit: int, cursor: str | None, signer: Signer, now: datetime,
                 profiles: ProfileRepository, matches: MatchReader) -> MembersPage:
    """The profile's relevant members, best first; only confirmed members whose consent stands."""
    opened = _opened(signer, MEMBERS_CURSOR, cursor, 2, now)
    if opened is not None and opened[0] != profile_id:  # a cursor of another profile's list
        raise InvalidRequestError("cursor", "cursor_invalid", "The cursor belongs to another list")
    profile = profiles.get(profile_id)
    if profile is None:
        raise NotFoundError(NOT_FOUND)
    ranked, after = matches.page(profile_id, limit, opened[1] if opened else None)
    details = matches.details([email_hash for email_hash, _ in ranked])
    rows = []
    for email_hash, value in ranked:
        if email_hash not in details:
            continue  # left (erased) since it was scored
        member, touches = details[email_hash]
        if not (member.get("consent") or {}).get("granted"):
            continue
        ordered = sorted(touches, key=lambda t: str(t.get("occurred_at", "")))
        rows.append(MemberRow(name=str(member.get("name") or ""), email=str(member["email"]),
                              skills=[str(s) for s in member.get("skills") or []], place=member.get("location"),
                              score=value, joined_at=member["joined_at"],
                              first_touch=_touchpoint(ordered[0] if ordered else None),
                              last_touch=_touchpoint(ordered[-1] if ordered else None)))
    return MembersPage(profile_id=profile_id, version=profile.version, members=rows,
                       next_cursor=_cursor(signer, MEMBERS_CURSOR, [profile_id, after], now) if after else None)


def decode_json(text: str) -> dict:
    return json.loads(text)
