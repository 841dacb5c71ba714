"""Touch ingest (POST /touches, links function): each item validated on its own with the pydantic contract.

Apart from the click path (attract.tracking.logic) so that the public redirect never imports pydantic.
"""

import hashlib
from datetime import datetime, timezone
from typing import Protocol

from pydantic import ValidationError

from attract.api import describe_errors
from attract.tracking.logic import expiry
from attract.tracking.models import FieldError, IngestItemResult, IngestResult, Touch, TouchIn


class TouchStore(Protocol):
    def put_many(self, touches: list[Touch], expires_at: dict[str, int]) -> None: ...


def import_touch_id(item: TouchIn, subject: str) -> str:
    """Deterministic id: importing the same touch twice writes the same item, never a second one.

    The instant is taken in UTC, so `…T12:00:00Z` and `…T14:00:00+02:00` are the same touch.
    """
    basis = "|".join(
        str(part or "")
        for part in (
            subject, item.occurred_at.astimezone(timezone.utc).isoformat(), item.external_id, item.campaign, item.channel,
            item.source, item.medium, item.content, item.term,
        )
    )
    return "i" + hashlib.sha256(basis.encode()).hexdigest()[:31]


def ingest_touches(
    raw_items: list[dict], touches: TouchStore, now: datetime, retention_days: int, hash_email
) -> IngestResult:
    """Validate each item on its own, store the valid ones, and say which were rejected and why.

    `hash_email` turns a normalised email into its keyed hash; it is only called when an item has one.
    """
    results: list[IngestItemResult] = []
    accepted: list[Touch] = []
    for index, raw in enumerate(raw_items):
        try:
            item = TouchIn.model_validate(raw, context={"now": now})
        except ValidationError as error:
            # The one-subject rule is a whole-item rule; name the field a marketer would fix first.
            errors = [
                FieldError(**{**described, "field": described["field"] if described["field"] != "body" else "visitor_id"})
                for described in describe_errors(error.errors())
            ]
            results.append(IngestItemResult(index=index, status="rejected", errors=errors))
            continue
        email_digest = hash_email(item.email) if item.email else None
        subject = f"v:{item.visitor_id}" if item.visitor_id else f"e:{email_digest}"
        touch = Touch(
            touch_id=import_touch_id(item, subject),
            occurred_at=item.occurred_at,
            origin="import",
            visitor_id=item.visitor_id,
            email_hash=email_digest,
            click_ids=dict(item.click_ids),
            external_id=item.external_id,
            **item.model_dump(include={"campaign", "channel", "source", "medium", "content", "term"}),
        )
        accepted.append(touch)
        results.append(IngestItemResult(index=index, status="recorded", touch_id=touch.touch_id))
    if accepted:
        # Expiry counts from when the touch happened, not from the import.
        touches.put_many(accepted, {t.touch_id: expiry(t.occurred_at, retention_days) for t in accepted})
    recorded = sum(1 for result in results if result.status == "recorded")
    return IngestResult(recorded=recorded, rejected=len(results) - recorded, results=results)
