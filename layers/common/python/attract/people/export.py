"""An export of everything held about a person (issue 15, GET /people/export): the inventory, shown as stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from attract.people.inventory import Holdings
from attract.people.models import Invitations, PersonExport

HIDDEN = frozenset({"PK", "SK"})


def plain(value: Any) -> Any:
    """DynamoDB's values as JSON's: Decimals as int or float, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items() if key not in HIDDEN}
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _one(item: dict | None) -> dict | None:
    return plain(item) if item else None


def _all(items: list[dict]) -> list[dict]:
    return [plain(item) for item in items]


def build_export(held: Holdings) -> PersonExport:
    sends = [item for item in held.sends if item.get("SK") == "SEND"]
    outcomes = [item for item in held.sends if item.get("SK") != "SEND"]
    kept: dict[str, Any] = {}
    if held.tombstoned:
        kept["tombstone"] = _one(held.suppression)
    if held.erasure:
        kept["erasure"] = {key: plain(held.erasure.get(key)) for key in
                           ("status", "reason", "requested_at", "done_at") if held.erasure.get(key) is not None}
    erased_marks = [item for item in held.conversions if item.get("status") == "erased"]
    if erased_marks:
        kept["erased_conversion_marks"] = _all(erased_marks)
    return PersonExport(
        person=held.email_hash, empty=not held.personal_items(),
        member=_one(held.member), pending_join=_one(held.pending), attribution=_one(held.attribution),
        touches=_all(held.touches), claims=_all(held.claims),
        invitations=Invitations(sent=_all(sends), outcomes=_all(outcomes), links=_all(held.invitations),
                                index=_all(held.person_rows)),
        suppression=None if held.tombstoned else _one(held.suppression), cooldown=_one(held.cooldown),
        conversions=_all([item for item in held.conversions if item.get("status") != "erased"]),
        held_conversions=_all(held.held_conversions),
        relevance={"index_entry": _one(held.index_entry), "scores": _all(held.scores)},
        mail_limits=_all(held.mail_marks), other=_all(held.member_other), kept=kept)


def erasure_status(email_hash: str, item: dict | None):
    from attract.people.models import ErasureStatus

    if not item:
        return ErasureStatus(person=email_hash, status="none")
    return ErasureStatus(person=email_hash, status=item.get("status") or "none", reason=item.get("reason"),
                         requested_at=item.get("requested_at"), started_at=item.get("started_at"),
                         done_at=item.get("done_at"), steps=sorted(item.get("steps") or ()),
                         removed=plain(item.get("removed") or {}))
