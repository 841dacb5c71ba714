"""DynamoDB access for members and their attribution.

Member:      PK=MEMBER#<email_hash>, SK=MEMBER       (the only item with the raw email)
Attribution: PK=MEMBER#<email_hash>, SK=ATTRIBUTION  (the credited path, no personal data)
A join writes both and its aggregate updates in one transaction (docs/decisions.md).
"""

import random
import time

from botocore.exceptions import ClientError

from attract.attribution.repository import AggregateRepository
from attract.aws import Repository, from_item, to_item
from attract.errors import AlreadyExistsError
from attract.joins.models import CreditedTouch, Member

MAX_CONFLICT_RETRIES = 6


class MemberRepository(Repository):
    def __init__(self, table_name: str, dynamodb=None, aggregates: AggregateRepository | None = None):
        super().__init__(table_name, dynamodb)
        self.aggregates = aggregates or AggregateRepository(table_name, dynamodb)

    def find(self, email_hash: str) -> tuple[Member, list[CreditedTouch]] | None:
        """The member and its credited path, read consistently (a concurrent join may have just written them)."""
        response = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression="PK = :pk", ConsistentRead=True,
            ExpressionAttributeValues={":pk": {"S": f"MEMBER#{email_hash}"}},
        )
        items = {item["SK"]["S"]: from_item(item) for item in response["Items"]}
        if "MEMBER" not in items:
            return None
        path = [CreditedTouch.model_validate(t) for t in (items.get("ATTRIBUTION") or {}).get("touches", [])]
        return Member.model_validate(items["MEMBER"]), path

    def create(self, member: Member, path: list[CreditedTouch]) -> None:
        """Member + attribution + aggregates, all or nothing. AlreadyExistsError if the email has joined."""
        pk = f"MEMBER#{member.email_hash}"
        own = [
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                     "Item": to_item({"PK": pk, "SK": "MEMBER", "type": "member", **member.model_dump(mode="json")})}},
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                     "Item": to_item({"PK": pk, "SK": "ATTRIBUTION", "type": "attribution", "member_id": member.member_id,
                                      "joined_at": member.joined_at.isoformat(),
                                      "touches": [t.model_dump(mode="python") | {"occurred_at": t.occurred_at.isoformat()}
                                                  for t in path]})}},
        ]
        for attempt in range(MAX_CONFLICT_RETRIES):
            # Recomputed on every attempt: the aggregates' plan depends on what racing joins admitted.
            actions = own + self.aggregates.join_actions(path, member.joined_at, member.email_hash)
            try:
                self.dynamodb.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise AlreadyExistsError("this email has already joined") from error
                # The member Puts come first: a failed condition after them is an aggregate key or cap that
                # a racing join changed; a conflict is another join on the same item at the same moment.
                retry = "TransactionConflict" in reasons or "ConditionalCheckFailed" in reasons[len(own):]
                if not retry or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                # Back off with jitter (two conflicting joins must not retry in step), then read and plan again.
                time.sleep(random.uniform(0.01, 0.02 * 2**attempt))
