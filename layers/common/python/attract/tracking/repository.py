"""DynamoDB access for touches.

Touch:        PK=VISITOR#<visitor_id> | EMAIL#<email_hash>, SK=TOUCH#<occurred_at>#<touch_id>
Click lookup: PK=CLICK#<kind>#<id>, SK=VISITOR#<visitor_id>  (tc_click and ad click ids -> visitor)
Click count:  PK=LINK#<code>, SK=CLICKS#<n>  (see attract.links.repository)
Ad landing:   PK=LANDING#<code>#<kind>#<id>, SK=LANDING  (one ad click recorded once per link)

The redirect imports this module on its cold start: it writes plain `ClickTouch` records, and only the
readers (joins) and the import (links function) load the pydantic `Touch`, when they are first called.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import TYPE_CHECKING

from attract.attribution.keys import DIMENSIONS, click_attribute, click_day_key, funnel_click_attribute
from attract.aws import Repository, batch_write, from_item, to_item
from attract.clock import iso
from attract.errors import AlreadyExistsError
from attract.links.records import LinkTarget
from attract.links.repository import click_counter_key
from attract.tracking.records import ClickTouch, email_subject, visitor_subject

if TYPE_CHECKING:
    from attract.tracking.models import Touch


def subject_key(touch: Touch | ClickTouch) -> str:
    return visitor_subject(touch.visitor_id) if touch.visitor_id else email_subject(str(touch.email_hash))


def touch_item(touch: Touch | ClickTouch, expires_at: int) -> dict:
    """The stored touch: the same item for a click's ClickTouch as for a Touch with the same values."""
    values = touch.stored() if isinstance(touch, ClickTouch) else touch.model_dump(mode="json", exclude_none=True)
    values.update(
        PK=subject_key(touch),
        SK=f"TOUCH#{iso(touch.occurred_at)}#{touch.touch_id}",
        type="touch",
        occurred_at=iso(touch.occurred_at),
        expires_at=expires_at,
    )
    return to_item(values)


def click_lookup_items(touch: Touch | ClickTouch, expires_at: int) -> list[dict]:
    """Items that find the visitor from a click id the join form carries (tc_click, gclid, fbclid, …)."""
    ids = {"tc_click": touch.touch_id, **touch.click_ids}
    return [
        to_item({"PK": click_lookup_partition(kind, value), "SK": visitor_subject(str(touch.visitor_id)),
                 "type": "click_lookup",
                 "visitor_id": touch.visitor_id, "expires_at": expires_at})
        for kind, value in ids.items()
    ]


def click_lookup_keys(visitor_id: str, touch_id: str, click_ids: dict[str, str]) -> list[dict]:
    """The keys `click_lookup_items` wrote for a visitor's click touch (an erasure deletes them with the touch)."""
    ids = {"tc_click": touch_id, **click_ids}
    return [{"PK": {"S": click_lookup_partition(kind, value)}, "SK": {"S": visitor_subject(visitor_id)}}
            for kind, value in ids.items()]


def landing_key(code: str, kind: str, click_id: str) -> dict:
    item = landing_item(code, kind, click_id, 0)
    return {"PK": item["PK"], "SK": item["SK"]}


def landing_item(code: str, kind: str, click_id: str, expires_at: int) -> dict:
    """The mark that this ad click (gclid, fbclid, …) landed through this link: written once, in the click's transaction.

    The click id is cut to 512 bytes before it gets here, so the key stays far below DynamoDB's 2,048.
    """
    return to_item({"PK": f"LANDING#{code}#{kind}#{click_id}", "SK": "LANDING", "type": "landing",
                    "expires_at": expires_at})


class TouchRepository(Repository):
    def record_click(self, touch: ClickTouch, expires_at: int, ad_click: tuple[str, str] | None = None) -> None:
        """One transaction: the touch and its click-id lookups, all or nothing.

        Every item is the visitor's own (new touch id, their click ids), so clicks of different people
        never conflict; the link's counter, which all clicks share, is `count_click`, outside.
        With `ad_click` (kind, id) the landing mark joins the transaction on `attribute_not_exists`: a
        repeat of that ad click writes nothing and raises AlreadyExistsError.
        """
        actions = [
            {"Put": {"TableName": self.table, "Item": touch_item(touch, expires_at),
                     "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
        actions += [{"Put": {"TableName": self.table, "Item": item}} for item in click_lookup_items(touch, expires_at)]
        if ad_click is not None:
            actions.append({"Put": {"TableName": self.table, "Item": landing_item(touch.link_code, *ad_click, expires_at),
                                    "ConditionExpression": "attribute_not_exists(PK)"}})
        try:
            self.dynamodb.transact_write_items(TransactItems=actions)
        except self.dynamodb.exceptions.TransactionCanceledException as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            # A conflict there means another request is writing the same ad click right now: a repeat too.
            if ad_click is not None and len(reasons) == len(actions) and reasons[-1] in (
                    "ConditionalCheckFailed", "TransactionConflict"):
                raise AlreadyExistsError("landing") from error
            raise

    def count_click(self, code: str) -> None:
        """Add one to a random counter shard of the link: a plain UpdateItem, which never conflicts."""
        self.dynamodb.update_item(TableName=self.table, Key=click_counter_key(code), UpdateExpression="ADD clicks :one",
                                  ExpressionAttributeValues={":one": {"N": "1"}})

    def count_day_click(self, link: LinkTarget, at: datetime) -> None:
        """One human click of the day under each of the link's report keys (and its channel + campaign for the
        funnels): one UpdateItem on the link's shard of the day (attract.attribution.keys.click_day_key).

        Bounded like the aggregates: the keys are the link's, which marketers registered; nothing the public
        sends (utm_* in the URL, click ids) becomes a key.
        """
        attributes = [click_attribute(dimension, getattr(link, dimension) or "(not set)") for dimension in DIMENSIONS]
        attributes.append(funnel_click_attribute(link.channel, link.campaign))
        self.dynamodb.update_item(
            TableName=self.table, Key=click_day_key(at.date(), link.code),
            UpdateExpression="ADD " + ", ".join(f"#c{index} :one" for index in range(len(attributes))),
            ExpressionAttributeNames={f"#c{index}": name for index, name in enumerate(attributes)},
            ExpressionAttributeValues={":one": {"N": "1"}})

    def put_many(self, touches: list[Touch], expires_at: dict[str, int]) -> None:
        """Batch-write imported touches. Their keys are deterministic, so a repeated import rewrites the same items."""
        unique = {touch_item(t, expires_at[t.touch_id])["SK"]["S"] + subject_key(t): t for t in touches}
        requests = [{"PutRequest": {"Item": touch_item(t, expires_at[t.touch_id])}} for t in unique.values()]
        batch_write(self.dynamodb, self.table, requests)

    def touches_of(self, subject: str, since: datetime | None = None) -> list[Touch]:
        """Touches of one subject (`VISITOR#…` or `EMAIL#…`), oldest first, optionally from `since` on."""
        from attract.tracking.models import Touch  # the joins validate what they read; the redirect never reads

        start = f"TOUCH#{iso(since)}" if since else "TOUCH#"
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :start AND :end",
            ExpressionAttributeValues={":pk": {"S": subject}, ":start": {"S": start}, ":end": {"S": "TOUCH#\uffff"}},
        )
        return [Touch.model_validate(from_item(item)) for page in pages for item in page["Items"]]

    def touch_items_of(self, subject: str) -> list[dict]:
        """Every stored touch of one subject, as stored (keys included): what an export shows and an erasure deletes."""
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table, KeyConditionExpression="PK = :pk AND begins_with(SK, :touch)", ConsistentRead=True,
            ExpressionAttributeValues={":pk": {"S": subject}, ":touch": {"S": "TOUCH#"}})
        return [from_item(item) for page in pages for item in page["Items"]]

    def visitors_by_click(self, kind: str, value: str, limit: int = 10) -> list[str]:
        """Visitors a click id was seen with (usually one)."""
        response = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": click_lookup_partition(kind, value)}}, Limit=limit,
        )
        return [str(from_item(item)["visitor_id"]) for item in response["Items"]]

    def invite_touch(self, token: str) -> Touch | None:
        """The touch an email invitation stands for, stored by the invitation sender under the token's hash."""
        response = self.dynamodb.get_item(TableName=self.table, Key=invite_key(token))
        if "Item" not in response:
            return None
        # DynamoDB's TTL deletes late (up to days): an expired invitation credits nothing meanwhile.
        expires = response["Item"].get("expires_at")
        if expires is not None and int(expires["N"]) <= time.time():
            return None
        from attract.tracking.models import Touch

        return Touch.model_validate({**from_item(response["Item"]), "origin": "invite"})


    def invited_facts(self, token: str) -> tuple[list[str], str | None]:
        """The skills and location the employer's record gave the invitation (the sender stored them with it)."""
        response = self.dynamodb.get_item(TableName=self.table, Key=invite_key(token),
                                          ProjectionExpression="skills, #l", ExpressionAttributeNames={"#l": "location"})
        item = from_item(response.get("Item") or {})
        location = item.get("location")
        return [str(skill) for skill in item.get("skills") or []], (str(location) if location else None)


def invite_token_key(token: str) -> str:
    """Invite tokens are bearer secrets: only their hash is a key."""
    return hashlib.sha256(token.encode()).hexdigest()


def invite_key(token: str) -> dict:
    """The invitation's touch (`INVITE#sha256(token)`): written by the invitation sender, read by the join."""
    return invite_key_of(invite_token_key(token))


def invite_key_of(token_hash: str) -> dict:
    """The same key from the token's hash (what the sender keeps on the person's row, attract.people.keys)."""
    return {"PK": {"S": f"INVITE#{token_hash}"}, "SK": {"S": "INVITE"}}


def click_lookup_partition(kind: str, click_id: str) -> str:
    return f"CLICK#{kind}#{click_id}"
