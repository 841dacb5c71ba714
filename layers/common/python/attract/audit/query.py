"""What GET /audit does: one page of the trail, newest first, by actor, by object or by time (admins).

The handler (functions/audit/app.py) passes the query as received; the rules across fields (one filter, a
bounded time range, a cursor this API issued for this query) are checked here and broken ones answered as 422
naming the field and the rule. Nothing here touches HTTP or builds a DynamoDB expression.
"""

import base64
import binascii
import hashlib
import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Protocol

from pydantic import BaseModel, Field

from attract.audit.trail import plain
from attract.clock import iso
from attract.errors import InvalidRequestError
from attract.signing import Signer

AUDIT_CURSOR = "audit"
CURSOR_SECONDS = 86_400  # a page's cursor works for a day
DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_PAGE = 100
EARLIEST, LATEST = 2000, 2999  # years a range may name (the arithmetic below stays far from datetime's limits)


class AuditActor(BaseModel):
    sub: str = Field(description="The Cognito `sub` of the caller, or `system:<name>` for a part of Attract")
    username: str = Field(description="The Cognito username (or the system part's name)")


class AuditEntry(BaseModel):
    id: str
    at: str = Field(description="When the action was recorded (UTC, ms)")
    action: str = Field(examples=["invite_campaign.create"])
    object_type: str = Field(examples=["invite_campaign"])
    object_id: str = Field(description="The object's id; a person is named by the keyed hash of the address")
    actor: AuditActor
    request_digest: str = Field(description="sha256 of the request as received (method, path, query, body)")
    details: dict[str, Any] = Field(description="Non-personal details: counts, targeting and budget, outcomes")


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end")


class AuditQuery(BaseModel):
    """GET /audit's query as received (types checked by the route, rules across fields here)."""

    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: str | None = None  # `from`
    until: str | None = None  # `to`
    limit: int = 50
    cursor: str | None = None


class Reader(Protocol):  # attract.audit.reader.AuditReader
    def by_index(self, by: str, value: str, low: str, high: str, limit: int,
                 after: str | None) -> tuple[list[dict], str | None]: ...
    def by_time(self, first: date, last: date, low: str, high: str, limit: int,
                after: str | None) -> tuple[list[dict], str | None]: ...


def _moment(field: str, text: str, end_of_day: bool) -> datetime:
    """An ISO date (the day's start, or its end for `to`) or datetime (UTC when no offset is given)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min, tzinfo=timezone.utc)
        else:
            moment = datetime.fromisoformat(text)
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InvalidRequestError(field, "iso_datetime", "An ISO date (2026-12-04) or datetime "
                                                         "(2026-12-04T13:00:00Z)") from None
    if not EARLIEST <= moment.year <= LATEST:
        raise InvalidRequestError(field, "out_of_range", f"A year from {EARLIEST} to {LATEST}")
    return moment


def _range(query: AuditQuery, now: datetime) -> tuple[datetime, datetime]:
    until = _moment("to", query.until, True) if query.until else now
    since = _moment("from", query.since, False) if query.since else until - timedelta(days=DEFAULT_DAYS)
    if since > until:
        raise InvalidRequestError("from", "range_order", "`from` must not be after `to`")
    if until - since > timedelta(days=MAX_DAYS):
        raise InvalidRequestError("from", "range_too_long", f"At most {MAX_DAYS} days between `from` and `to`")
    return since, until


def _filter(query: AuditQuery) -> tuple[str, str] | None:
    """("actor", sub), ("object", "<type>#<id>") or None (every entry of the range)."""
    has_object = query.object_type is not None or query.object_id is not None
    if query.actor is not None and has_object:
        raise InvalidRequestError("actor", "one_filter", "Filter by `actor` or by `object_type` + `object_id`, "
                                                         "not both")
    if has_object:
        if query.object_type is None:
            raise InvalidRequestError("object_type", "missing", "`object_id` needs `object_type`")
        if query.object_id is None:
            raise InvalidRequestError("object_id", "missing", "`object_type` needs `object_id`")
        return "object", f"{query.object_type}#{query.object_id}"
    return ("actor", query.actor) if query.actor is not None else None


def _fingerprint(selection: tuple[str, str] | None, query: AuditQuery) -> str:
    """Binds a cursor to its query (filter and range as asked): another query refuses it instead of skipping."""
    raw = json.dumps([selection, query.since, query.until]).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def _opened(signer: Signer, cursor: str | None, fingerprint: str, now: datetime) -> tuple[str, str] | None:
    """(the last entry's sort key, the range's lower bound) of a cursor this API issued for this query."""
    if cursor is None:
        return None
    opened = signer.open(AUDIT_CURSOR, cursor, int(now.timestamp()), 3)
    if opened is None:
        raise InvalidRequestError("cursor", "cursor_invalid", "The cursor is not one this API issued, or it expired")
    if opened[0] != fingerprint:
        raise InvalidRequestError("cursor", "cursor_invalid", "The cursor belongs to another query")
    try:
        return _unb64(opened[1]), _unb64(opened[2])
    except (binascii.Error, UnicodeDecodeError, ValueError):  # signed by us: only a bug gets here
        raise InvalidRequestError("cursor", "cursor_invalid", "The cursor cannot be read") from None


def entry(item: dict) -> AuditEntry:
    return AuditEntry(id=item["id"], at=item["at"], action=item["action"], object_type=item["object_type"],
                      object_id=item["object_id"],
                      actor=AuditActor(sub=item["actor_sub"], username=item["actor_username"]),
                      request_digest=item["request_digest"], details=plain(item.get("details") or {}))


def audit_page(query: AuditQuery, signer: Signer, now: datetime, reader: Reader) -> AuditPage:
    """One page of entries, newest first, and the signed cursor of the next page.

    The next pages keep the first page's lower bound (the default range moves with the clock), and start after the
    last entry given, so a walk through the pages sees each entry once."""
    selection = _filter(query)
    since, until = _range(query, now)
    low, high = iso(since), iso(until) + "#~"  # `~` sorts after every entry id (hex) of the last millisecond
    fingerprint = _fingerprint(selection, query)
    opened = _opened(signer, query.cursor, fingerprint, now)
    after, low = opened if opened else (None, low)
    limit = max(1, min(query.limit, MAX_PAGE))
    if selection is None:
        first, last_day = date.fromisoformat(low[:10]), until.astimezone(timezone.utc).date()
        items, last = reader.by_time(first, last_day, low, high, limit, after)
    else:
        items, last = reader.by_index(selection[0], selection[1], low, high, limit, after)
    next_cursor = (signer.token(AUDIT_CURSOR, [fingerprint, _b64(last), _b64(low)],
                                int(now.timestamp()) + CURSOR_SECONDS) if last else None)
    return AuditPage(entries=[entry(item) for item in items], next_cursor=next_cursor)
