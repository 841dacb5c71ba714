"""Erase one person (issue 15): the tombstone first, then their data everywhere, each step idempotent.

Order matters twice. The tombstone (`SUPPRESS#<hash>`, reason `erased`) is written before anything is deleted, so
from the first step on the planner and the sender skip the person. And the items that lead to others are deleted
last (the person's invitation rows after their invitations, each touch's click lookups before the touch, the member
item at the very end), while the leads themselves are saved on the erasure's status item before the first delete:
a crash anywhere leaves a redelivery that finds and finishes the rest. Erasing twice is erasing once.

Kept, and why (docs/privacy.md, "Erasure"): the tombstone (a keyed hash, so a later import never invites them
again); the erasure's status item (the hash, the reason, counts); each conversion record of the join turned into
an `erased` mark (the join's random id and the platform: a queued or held conversion is then never uploaded); the
anonymous aggregates (`AGG#…`), so every report keeps its totals; the audit trail's entries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from attract.people.inventory import Holdings

STEPS = ("tombstone", "conversions", "invitations", "touches", "relevance", "member")


class Records(Protocol):
    def gather(self, email_hash: str) -> Holdings: ...


class ErasureStore(Protocol):
    def begin(self, email_hash: str, reason: str, now: datetime, leads: dict[str, set[str]]) -> None: ...
    def step_done(self, email_hash: str, step: str) -> None: ...
    def finish(self, email_hash: str, counts: dict[str, int], now: datetime) -> None: ...
    def tombstone(self, email_hash: str, now: datetime) -> None: ...
    def mark_conversions_erased(self, join_id: str, channels: list[str], now: datetime) -> None: ...
    def delete(self, keys: list[dict]) -> int: ...


def key_of(item: dict) -> dict:
    return {"PK": {"S": str(item["PK"])}, "SK": {"S": str(item["SK"])}}


def touch_keys(touch: dict) -> list[dict]:
    """A touch's own key after the keys of its click lookups and ad landing (built by their owner)."""
    from attract.tracking.records import CLICK_ID_PARAMS
    from attract.tracking.repository import click_lookup_keys, landing_key

    keys: list[dict] = []
    click_ids = {str(kind): str(value) for kind, value in (touch.get("click_ids") or {}).items()}
    if touch.get("visitor_id") and touch.get("origin") == "click":
        keys += click_lookup_keys(str(touch["visitor_id"]), str(touch["touch_id"]), click_ids)
        ad_click = next((kind for kind in CLICK_ID_PARAMS if kind in click_ids), None)
        if ad_click and touch.get("link_code"):
            keys.append(landing_key(str(touch["link_code"]), ad_click, click_ids[ad_click]))
    return [*keys, key_of(touch)]


def erase_person(email_hash: str, reason: str, now: datetime, records: Records, store: ErasureStore,
                 forget_relevance: Callable[[str], object], channels: list[str]) -> dict[str, int]:
    """Run every step for `email_hash`; the counts of items removed per kind (what `person.erased` records)."""
    held = records.gather(email_hash)
    store.begin(email_hash, reason, now, held.leads.as_sets())
    counts: dict[str, int] = {}

    store.tombstone(email_hash, now)
    store.step_done(email_hash, "tombstone")

    for join_id in sorted(held.leads.member_ids):
        store.mark_conversions_erased(join_id, channels, now)
    counts["conversions"] = len([item for item in held.conversions if item.get("status") != "erased"])
    counts["held_conversions"] = store.delete([key_of(item) for item in held.held_conversions])
    store.step_done(email_hash, "conversions")

    counts["invitations"] = store.delete([key_of(item) for item in held.invitations])
    counts["invitation_claims"] = store.delete([key_of(item) for item in held.sends])
    counts["claims"] = store.delete([key_of(item) for item in held.claims])
    counts["cooldown"] = store.delete([key_of(held.cooldown)] if held.cooldown else [])
    counts["person_rows"] = store.delete([key_of(item) for item in held.person_rows])  # the leads go last
    store.step_done(email_hash, "invitations")

    counts["touches"] = len(held.touches)
    for touch in held.touches:
        store.delete(touch_keys(touch))
    store.step_done(email_hash, "touches")

    # Before the member items: it reads the member's index entry and scores to un-count the relevance aggregates.
    forget_relevance(email_hash)
    counts["scores"] = len(held.scores)
    store.step_done(email_hash, "relevance")

    counts["mail_marks"] = store.delete([key_of(item) for item in held.mail_marks])
    last = [held.pending, held.attribution, *held.member_other, *held.scores]
    counts["member_items"] = store.delete([key_of(item) for item in last if item])
    counts["member"] = store.delete([key_of(held.member)] if held.member else [])
    store.step_done(email_hash, "member")

    store.finish(email_hash, counts, now)
    return counts
