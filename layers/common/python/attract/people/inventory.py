"""Everything Attract holds about one person, found by key from the keyed hash of their address (never a Scan).

The export shows it and the eraser deletes it: one inventory for both, so "the export is empty after an erasure"
tests the eraser against the same list of places (docs/privacy.md, "Export" and "Erasure").

Found from the hash alone: the member partition (`MEMBER#<hash>`: member, attribution, pending join, scores), the
email's touches (`EMAIL#<hash>`), suppression, cooldown, the member index entry, the person's invitation rows
(`PERSON#<hash>`, attract.people.keys) and the erasure's status. Those give the leads to the rest: the visitor ids
(touches, click lookups, ad landings), the member id (click and invitation claims, conversion records, held
conversions), the invite campaigns (the `INVITE_SEND#` claims and outcome marks) and the invitation tokens' hashes
(`INVITE#` items). An erasure saves the leads on its status item first, so a crash after the member item is gone
still finds what it pointed to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from attract.aws import Repository, batch_get, from_item
from attract.campaigns.channels import AD_CHANNELS
from attract.campaigns.conversions_repository import conversion_key, due_hour, held_key
from attract.invites.repository import claim_key as send_claim_key
from attract.invites.repository import cooldown_key, invite_touch_id, suppression_key
from attract.joins.repository import claim_key, invite_claim_key, mailbox_mark_key, member_key
from attract.people.keys import erasure_key, person_partition
from attract.relevance.keys import index_key, score_key
from attract.tracking.records import email_subject, visitor_subject
from attract.tracking.repository import TouchRepository, invite_key_of

# A held conversion is due at its click + the platform's delay, and held only when that is after the join: its due
# hour lies between the join's hour and the join + the longest delay (+1 hour for the hour's rounding).
HELD_WINDOW = max(entry.conversions.min_delay for entry in AD_CHANNELS.values()) + timedelta(hours=1)


@dataclass
class Leads:
    """What points from the person to items not keyed by their hash (saved on the erasure's status item)."""

    member_ids: set[str] = field(default_factory=set)
    visitor_ids: set[str] = field(default_factory=set)
    campaign_ids: set[str] = field(default_factory=set)
    invite_keys: set[str] = field(default_factory=set)  # sha256 of the invitation tokens (the INVITE# items)
    click_ids: set[str] = field(default_factory=set)  # tc_click values: the touch ids of their clicks
    invite_touch_ids: set[str] = field(default_factory=set)
    mailboxes: set[str] = field(default_factory=set)
    joined_at: set[str] = field(default_factory=set)

    NAMES = ("member_ids", "visitor_ids", "campaign_ids", "invite_keys", "click_ids", "invite_touch_ids",
             "mailboxes", "joined_at")

    def add(self, other: Leads) -> None:
        for name in self.NAMES:
            getattr(self, name).update(getattr(other, name))

    def as_sets(self) -> dict[str, set[str]]:
        return {name: set(getattr(self, name)) for name in self.NAMES}

    @classmethod
    def from_stored(cls, stored: dict) -> Leads:
        return cls(**{name: {str(value) for value in stored.get(name) or ()} for name in cls.NAMES})


@dataclass
class Holdings:
    """The person's items as stored (keys included), grouped by what they are."""

    email_hash: str
    member: dict | None = None
    attribution: dict | None = None
    pending: dict | None = None
    scores: list[dict] = field(default_factory=list)
    member_other: list[dict] = field(default_factory=list)  # any other item of the member partition
    index_entry: dict | None = None
    touches: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    invitations: list[dict] = field(default_factory=list)  # INVITE# items (the invitation's touch)
    sends: list[dict] = field(default_factory=list)  # INVITE_SEND# claims and outcome marks
    person_rows: list[dict] = field(default_factory=list)
    cooldown: dict | None = None
    suppression: dict | None = None
    conversions: list[dict] = field(default_factory=list)
    held_conversions: list[dict] = field(default_factory=list)
    mail_marks: list[dict] = field(default_factory=list)
    erasure: dict | None = None
    leads: Leads = field(default_factory=Leads)

    @property
    def tombstoned(self) -> bool:
        return self.suppression is not None and self.suppression.get("reason") == "erased"

    def personal_items(self) -> list[dict]:
        """Every item that holds personal data or is tied to the person; not the tombstone, the erasure's status
        or a conversion record marked erased (attract.people.erasure: what is kept and why)."""
        singles = [self.member, self.attribution, self.pending, self.index_entry, self.cooldown]
        if self.suppression and not self.tombstoned:
            singles.append(self.suppression)
        conversions = [item for item in self.conversions if item.get("status") != "erased"]
        return [item for item in singles if item] + [
            *self.scores, *self.member_other, *self.touches, *self.claims, *self.invitations, *self.sends,
            *self.person_rows, *conversions, *self.held_conversions, *self.mail_marks]


class PersonRecords(Repository):
    """The reads of an export and an erasure: GetItem, Query and BatchGetItem on known keys."""

    def _get(self, key: dict) -> dict | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def _partition(self, partition: str) -> list[dict]:
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(TableName=self.table, KeyConditionExpression="PK = :pk", ConsistentRead=True,
                                   ExpressionAttributeValues={":pk": {"S": partition}})
        return [from_item(item) for page in pages for item in page["Items"]]

    def _batch(self, keys: list[dict]) -> list[dict]:
        unique = list({(key["PK"]["S"], key["SK"]["S"]): key for key in keys}.values())
        if not unique:
            return []
        return [from_item(item) for item in batch_get(self.dynamodb, self.table, unique, ConsistentRead=True)]

    def gather(self, email_hash: str) -> Holdings:
        held = Holdings(email_hash=email_hash)
        held.erasure = self._get(erasure_key(email_hash))
        leads = Leads.from_stored(held.erasure or {})
        score_prefix = score_key(email_hash, "")["SK"]["S"]
        for item in self._partition(member_key(email_hash, "MEMBER")["PK"]["S"]):
            sort = item["SK"]
            if sort == "MEMBER":
                held.member = item
            elif sort == "ATTRIBUTION":
                held.attribution = item
            elif sort == "PENDING":
                held.pending = item
            elif sort.startswith(score_prefix):
                held.scores.append(item)
            else:
                held.member_other.append(item)
        held.index_entry = self._get(index_key(email_hash))
        held.suppression = self._get(suppression_key(email_hash))
        held.cooldown = self._get(cooldown_key(email_hash))
        held.person_rows = self._partition(person_partition(email_hash))
        leads.add(_leads_of(held))
        touches = TouchRepository(self.table, self.dynamodb)
        # The join credited clicks of several visitors (browsers) perhaps, while the member item names one: each
        # credited click's lookup names its visitor.
        for click in sorted(leads.click_ids):
            leads.visitor_ids.update(touches.visitors_by_click("tc_click", click))
        held.touches = touches.touch_items_of(email_subject(email_hash))
        for visitor in sorted(leads.visitor_ids):
            visited = touches.touch_items_of(visitor_subject(visitor))
            held.touches += visited
            leads.click_ids.update(str(item["touch_id"]) for item in visited if item.get("origin") == "click")
        claims = self._batch([claim_key(click) for click in leads.click_ids]
                             + [invite_claim_key(touch) for touch in leads.invite_touch_ids])
        held.claims = [item for item in claims if str(item.get("member_id")) in leads.member_ids]
        for campaign in sorted(leads.campaign_ids):
            held.sends += self._partition(send_claim_key(campaign, email_hash)["PK"]["S"])
        invitations = self._batch([invite_key_of(key) for key in leads.invite_keys])
        held.invitations = [item for item in invitations if item.get("email_hash") == email_hash]
        for member_id in sorted(leads.member_ids):
            held.conversions += self._partition(conversion_key(member_id, "-")["PK"]["S"])
            held.held_conversions += self._held(member_id, leads.joined_at)
        held.mail_marks = self._batch([mailbox_mark_key(mailbox) for mailbox in leads.mailboxes])
        held.leads = leads
        return held

    def _held(self, member_id: str, joined: set[str]) -> list[dict]:
        """Held conversions of this join: a Query per due hour of its window, kept by the join id in the key."""
        found = []
        for moment in sorted(joined):
            hour = due_hour(datetime.fromisoformat(moment).astimezone(timezone.utc))
            channel = next(iter(AD_CHANNELS))
            while hour <= due_hour(datetime.fromisoformat(moment)) + HELD_WINDOW:
                partition = held_key(channel, member_id, hour)["PK"]["S"]
                found += [item for item in self._partition(partition) if f"#{member_id}#" in str(item["SK"])]
                hour += timedelta(hours=1)
        return found


def _leads_of(held: Holdings) -> Leads:
    leads = Leads()
    for item in (held.member, held.attribution, held.index_entry):
        if item and item.get("member_id"):
            leads.member_ids.add(str(item["member_id"]))
    if held.member:
        if held.member.get("visitor_id"):
            leads.visitor_ids.add(str(held.member["visitor_id"]))
        if held.member.get("joined_at"):
            leads.joined_at.add(str(held.member["joined_at"]))
    for touch in (held.attribution or {}).get("touches") or []:
        touch_id = str(touch.get("touch_id") or "")
        if touch.get("origin") == "invite" and touch_id.startswith("inv-"):
            leads.invite_touch_ids.add(touch_id)
            leads.campaign_ids.add(_campaign_of_invite_touch(touch_id))
        elif touch_id:
            leads.click_ids.add(touch_id)
    if held.pending:
        pending = held.pending
        if pending.get("visitor_id"):
            leads.visitor_ids.add(str(pending["visitor_id"]))
        for click, visitor in (pending.get("claims") or {}).items():
            leads.click_ids.add(str(click))
            leads.visitor_ids.add(str(visitor))
        if pending.get("invite"):
            leads.invite_touch_ids.add(str(pending["invite"]))
            leads.campaign_ids.add(_campaign_of_invite_touch(str(pending["invite"])))
        if pending.get("mailbox"):
            leads.mailboxes.add(str(pending["mailbox"]))
    for item in (held.cooldown, held.suppression):
        if item and item.get("campaign_id"):
            leads.campaign_ids.add(str(item["campaign_id"]))
    for row in held.person_rows:
        leads.campaign_ids.add(str(row["campaign_id"]))
        if row.get("invite_key"):
            leads.invite_keys.add(str(row["invite_key"]))
    leads.campaign_ids.discard("")
    # The invitation claim is keyed by the invitation's touch id, derived from the campaign and the person: found
    # even when the click on the invitation's link, not the invitation, stands in the attribution.
    leads.invite_touch_ids.update(invite_touch_id(campaign, held.email_hash) for campaign in leads.campaign_ids)
    return leads


def _campaign_of_invite_touch(touch_id: str) -> str:
    """`inv-<campaign id>-<16 hex of the recipient>` (attract.invites.repository.put_invite_touch) -> the campaign."""
    return touch_id[len("inv-"):-17] if len(touch_id) > len("inv-") + 17 else ""
