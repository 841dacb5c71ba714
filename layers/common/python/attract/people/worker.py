"""One erasure message, wired to the table (the eraser function's logic; tests call it the same way)."""

from __future__ import annotations

import re
from datetime import datetime

from attract.audit.trail import Actor, audit
from attract.people.erasure import erase_person
from attract.people.erasure_repository import ErasureRepository
from attract.people.inventory import PersonRecords
from attract.people.requests import REASONS

HASH = re.compile(r"^[0-9a-f]{64}$")


def erase_from_message(message: dict, table: str, shards: int, now: datetime, dynamodb=None) -> dict[str, int]:
    """Erase the person the message names; audit `person.erased` with the counts. ValueError for a message that
    names no person (it would fail on every receive: the dead-letter queue keeps it for a look)."""
    from attract.campaigns.channels import AD_CHANNELS
    from attract.relevance.member_repository import ScoreRepository
    from attract.relevance.rescoring import forget_member

    person, reason = str(message.get("email_hash") or ""), str(message.get("reason") or "")
    if not HASH.match(person) or reason not in REASONS:
        raise ValueError("an erasure message names a 64-hex keyed hash and a known reason")
    actor_fields = message.get("actor") or {}
    actor = Actor(sub=str(actor_fields.get("sub") or "system:unknown"),
                  username=str(actor_fields.get("username") or "unknown"))
    scores = ScoreRepository(table, dynamodb, shards=shards)
    counts = erase_person(person, reason, now, PersonRecords(table, dynamodb), ErasureRepository(table, dynamodb),
                          lambda digest: forget_member(digest, scores), sorted(AD_CHANNELS))
    # Who asked is the actor of the erasure; the eraser only carried it out.
    audit("person.erased", "person", person, actor=actor, request=message,
          details={"reason": reason, "removed": counts, "platforms": "no deletion offered (docs/platforms.md)"},
          dynamodb=dynamodb)
    return counts
