"""DynamoDB access for members, pending joins and their attribution.

Member:      PK=MEMBER#<email_hash>, SK=MEMBER       (the raw email, once confirmed)
Attribution: PK=MEMBER#<email_hash>, SK=ATTRIBUTION  (the credited path, no personal data)
Pending:     PK=MEMBER#<email_hash>, SK=PENDING      (a submitted join awaiting confirmation; TTL 7 days)
Click claim: PK=CLAIM#tc_click#<click id>, SK=CLAIM  (one tc_click credits at most one join)
A confirmation writes member, attribution, claims and aggregates and deletes the pending item in one
transaction (docs/decisions.md).
"""

import random
import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from attract.aws import Repository, from_item, to_item
from attract.joins.logic import ClickClaimedError, LinkUsedError
from attract.joins.models import CreditedTouch, Member, PendingJoin

if TYPE_CHECKING:  # the aggregates (and attribution) are the confirmation's: a submission never imports them
    from attract.attribution.repository import AggregateRepository

MAX_CONFLICT_RETRIES = 6
FIXED_ACTIONS = 3  # member Put, attribution Put, pending Delete; then the claims, then the aggregates


def member_key(email_hash: str, sort: str) -> dict:
    return {"PK": {"S": f"MEMBER#{email_hash}"}, "SK": {"S": sort}}


def claim_key(click: str) -> dict:
    return {"PK": {"S": f"CLAIM#tc_click#{click}"}, "SK": {"S": "CLAIM"}}


class MemberRepository(Repository):
    def __init__(self, table_name: str, dynamodb=None, aggregates: "AggregateRepository | None" = None,
                 aggregate_shards: int | None = None):
        super().__init__(table_name, dynamodb)
        self._aggregates = aggregates
        self._aggregate_shards = aggregate_shards

    @property
    def aggregates(self) -> "AggregateRepository":
        """Built on the first confirmation: POST /joins never loads the attribution modules (cold start)."""
        if self._aggregates is None:
            from attract.attribution.repository import AggregateRepository

            self._aggregates = (AggregateRepository(self.table, self._dynamodb) if self._aggregate_shards is None
                                else AggregateRepository(self.table, self._dynamodb, shards=self._aggregate_shards))
        return self._aggregates

    def is_member(self, email_hash: str) -> bool:
        response = self.dynamodb.get_item(TableName=self.table, Key=member_key(email_hash, "MEMBER"),
                                          ProjectionExpression="PK", ConsistentRead=True)
        return "Item" in response

    def hold(self, pending: PendingJoin, mailed_before: int) -> bool:
        """Write the pending join unless this address was mailed after `mailed_before`. False: rate-limited."""
        item = to_item({**pending.model_dump(mode="json"), "PK": f"MEMBER#{pending.email_hash}", "SK": "PENDING",
                        "type": "pending"})
        try:
            self.dynamodb.put_item(TableName=self.table, Item=item,
                                   ConditionExpression="attribute_not_exists(PK) OR mailed_at < :before",
                                   ExpressionAttributeValues={":before": {"N": str(mailed_before)}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, email_hash: str, nonce: str) -> None:
        """The mail did not go out: clear the rate limit of this pending join (if it is still this one)."""
        try:
            self.dynamodb.update_item(TableName=self.table, Key=member_key(email_hash, "PENDING"),
                                      UpdateExpression="SET mailed_at = :zero", ConditionExpression="nonce = :nonce",
                                      ExpressionAttributeValues={":zero": {"N": "0"}, ":nonce": {"S": nonce}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def pending(self, email_hash: str) -> PendingJoin | None:
        response = self.dynamodb.get_item(TableName=self.table, Key=member_key(email_hash, "PENDING"), ConsistentRead=True)
        if "Item" not in response:
            return None
        return PendingJoin.model_validate(from_item(response["Item"]))

    def find(self, email_hash: str) -> tuple[Member, list[CreditedTouch]] | None:
        """The member and its credited path, read consistently."""
        response = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression="PK = :pk", ConsistentRead=True,
            ExpressionAttributeValues={":pk": {"S": f"MEMBER#{email_hash}"}},
        )
        items = {item["SK"]["S"]: from_item(item) for item in response["Items"]}
        if "MEMBER" not in items:
            return None
        path = [CreditedTouch.model_validate(t) for t in (items.get("ATTRIBUTION") or {}).get("touches", [])]
        return Member.model_validate(items["MEMBER"]), path

    def confirm(self, member: Member, path: list[CreditedTouch], nonce: str, claims: list[str],
                untrusted_ids: dict) -> None:
        """All or nothing, with the join's aggregates. LinkUsedError: pending item gone or replaced, or
        already a member. ClickClaimedError: some claims were taken (nothing was written)."""
        pk = f"MEMBER#{member.email_hash}"
        own = [
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                     "Item": to_item({"PK": pk, "SK": "MEMBER", "type": "member", **member.model_dump(mode="json")})}},
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                     "Item": to_item({"PK": pk, "SK": "ATTRIBUTION", "type": "attribution", "member_id": member.member_id,
                                      "joined_at": member.joined_at.isoformat(), "untrusted_ids": untrusted_ids or None,
                                      "touches": [t.model_dump(mode="python") | {"occurred_at": t.occurred_at.isoformat()}
                                                  for t in path]})}},
            {"Delete": {"TableName": self.table, "Key": member_key(member.email_hash, "PENDING"),
                        "ConditionExpression": "nonce = :nonce", "ExpressionAttributeValues": {":nonce": {"S": nonce}}}},
            *[{"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                       "Item": {**claim_key(click), "type": {"S": "click_claim"}, "member_id": {"S": member.member_id}}}}
              for click in claims],
        ]
        for attempt in range(MAX_CONFLICT_RETRIES):
            # Planned again on every attempt: the aggregates' plan depends on what racing joins admitted.
            actions = own + self.aggregates.join_actions(path, member.joined_at, member.email_hash)
            try:
                self.dynamodb.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons[:FIXED_ACTIONS]:
                    raise LinkUsedError("already confirmed, replaced or already a member") from error
                taken = [claims[i] for i, code in enumerate(reasons[FIXED_ACTIONS:FIXED_ACTIONS + len(claims)])
                         if code == "ConditionalCheckFailed"]
                if taken:
                    raise ClickClaimedError(taken) from error
                # A failed condition after the join's own items is an aggregate key or cap that a racing
                # join changed; a conflict is another join on the same item at the same moment.
                retry = "TransactionConflict" in reasons or "ConditionalCheckFailed" in reasons[len(own):]
                if not retry or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                # Back off with jitter (two conflicting joins must not retry in step), then plan again.
                time.sleep(random.uniform(0.01, 0.02 * 2**attempt))
