"""DynamoDB access for members, pending joins and their attribution.

Member:      PK=MEMBER#<email_hash>, SK=MEMBER       (the raw email, once confirmed)
Attribution: PK=MEMBER#<email_hash>, SK=ATTRIBUTION  (the credited path, no personal data)
Pending:     PK=MEMBER#<email_hash>, SK=PENDING      (a submitted join awaiting confirmation; TTL 7 days)
Click claim: PK=CLAIM#tc_click#<click id>, SK=CLAIM  (one tc_click credits at most one join)
Invitation claim: PK=CLAIM#tc_inv#<invitation touch id>, SK=CLAIM  (one invitation credits at most one join)
Mail limits (attract.joins.limits), each with TTL:
  per mailbox: PK=MAILLIMIT#mailbox#<mailbox hash>, SK=MAILBOX     (mailed_at, nonce: one mail an hour)
  per source:  PK=MAILLIMIT#source#<network hash>, SK=HOUR#<hour>  (n: mails this clock hour)
  account:     PK=MAILLIMIT#account,               SK=HOUR#<hour>  (n: mails this clock hour, all joins)
A submission holds the pending join, the mailbox mark and the source's count in one transaction, so a
refused limit writes nothing. A confirmation writes member, attribution, claims, aggregates and the consent's index entry
(attract.people.consent), deletes the pending item in one transaction; the mailbox mark of that submission is then released (docs/decisions.md).
"""

import random
import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from attract.aws import Repository, from_item, to_item
from attract.joins.limits import Requester
from attract.joins.logic import ClickClaimedError, Held, LinkUsedError
from attract.joins.models import CreditedTouch, Member, PendingJoin

if TYPE_CHECKING:  # the aggregates (and attribution) are the confirmation's: a submission never imports them
    from attract.attribution.repository import AggregateRepository

MAX_CONFLICT_RETRIES = 6
FIXED_ACTIONS = 3  # member Put, attribution Put, pending Delete; then the claims, then the aggregates


def member_key(email_hash: str, sort: str) -> dict:
    return {"PK": {"S": f"MEMBER#{email_hash}"}, "SK": {"S": sort}}


def claim_key(click: str) -> dict:
    return {"PK": {"S": f"CLAIM#tc_click#{click}"}, "SK": {"S": "CLAIM"}}


def mailbox_mark_key(mailbox: str) -> dict:
    return {"PK": {"S": f"MAILLIMIT#mailbox#{mailbox}"}, "SK": {"S": "MAILBOX"}}


def source_count_key(source: str, window: str) -> dict:
    return {"PK": {"S": f"MAILLIMIT#source#{source}"}, "SK": {"S": f"HOUR#{window}"}}


def account_count_key(window: str) -> dict:
    return {"PK": {"S": "MAILLIMIT#account"}, "SK": {"S": f"HOUR#{window}"}}


def invite_claim_key(invite_touch_id: str) -> dict:
    """The invitation's touch id (`inv-<campaign>-<recipient>`, written by the sender) names one invitation and token."""
    return {"PK": {"S": f"CLAIM#tc_inv#{invite_touch_id}"}, "SK": {"S": "CLAIM"}}


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

    def hold(self, pending: PendingJoin, mailed_before: int, requester: Requester | None = None, window: str = "",
             source_limit: int = 0, window_expires_at: int = 0) -> Held:
        """Hold the join and count its mail, all or nothing: the pending join (this address not mailed after
        `mailed_before`), the mailbox mark (nor its mailbox) and one of the source's `source_limit` mails of
        `window`. "rate_limited" (address or mailbox), "source_limited", or "busy" when racing submissions of
        the same source kept conflicting: nothing written in those cases. Without a `requester` (tools and
        tests seeding a pending join) only the pending join is written, on its own condition.
        """
        stamp = {":before": {"N": str(mailed_before)}}
        put = {"TableName": self.table, "Item": to_item({
            **pending.model_dump(mode="json"), "PK": f"MEMBER#{pending.email_hash}", "SK": "PENDING", "type": "pending"}),
            "ConditionExpression": "attribute_not_exists(PK) OR mailed_at < :before", "ExpressionAttributeValues": stamp}
        if requester is None:
            try:
                self.dynamodb.put_item(**put)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return "rate_limited"
                raise
            return "held"
        actions = [{"Put": put},
                   *self._mail_limits(pending, mailed_before, requester, window, source_limit, window_expires_at)]
        for attempt in range(MAX_CONFLICT_RETRIES):
            try:
                self.dynamodb.transact_write_items(TransactItems=actions)
                return "held"
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons[:2]:
                    return "rate_limited"
                if reasons[2:3] == ["ConditionalCheckFailed"]:
                    return "source_limited"
                if "TransactionConflict" not in reasons:
                    raise
                # Racing submissions (one source's, one mailbox's): back off with jitter, then try again.
                time.sleep(random.uniform(0.01, 0.02 * 2**attempt))
        return "busy"

    def _mail_limits(self, pending: PendingJoin, mailed_before: int, requester: Requester, window: str,
                     source_limit: int, window_expires_at: int) -> list[dict]:
        """The mailbox mark (conditional as the pending join) and the source's count (conditional on its limit)."""
        stamp = {":before": {"N": str(mailed_before)}}
        return [
            {"Put": {"TableName": self.table, "Item": {
                **mailbox_mark_key(requester.mailbox), "type": {"S": "mail_limit"},
                "mailed_at": {"N": str(pending.mailed_at)}, "nonce": {"S": pending.nonce},
                # Needed for one interval after the mail (mailed_at - mailed_before); the condition is what counts.
                "expires_at": {"N": str(2 * pending.mailed_at - mailed_before)}},
                "ConditionExpression": "attribute_not_exists(PK) OR mailed_at < :before",
                "ExpressionAttributeValues": stamp}},
            {"Update": {"TableName": self.table, "Key": source_count_key(requester.source, window),
                        "UpdateExpression": "ADD n :one SET #type = :type, expires_at = :expires",
                        "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                        "ExpressionAttributeNames": {"#type": "type"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":limit": {"N": str(source_limit)},
                                                      ":type": {"S": "mail_limit"},
                                                      ":expires": {"N": str(window_expires_at)}}}},
        ]

    def take_mail_slot(self, window: str, cap: int, window_expires_at: int) -> bool:
        """One of the account's `cap` confirmation mails of `window`. A plain UpdateItem, outside any
        transaction: every join writes this item, and transactions on it would conflict."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=account_count_key(window),
                UpdateExpression="ADD n :one SET #type = :type, expires_at = :expires",
                ConditionExpression="attribute_not_exists(n) OR n < :cap", ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":cap": {"N": str(cap)}, ":type": {"S": "mail_limit"},
                                           ":expires": {"N": str(window_expires_at)}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, email_hash: str, nonce: str, mailbox: str | None = None) -> None:
        """The submission's mail did not go out (or its join was just confirmed): clear the hourly limits of its
        pending join and its mailbox mark, if they are still this submission's (its nonce). The source's and
        the account's counts keep the attempt."""
        self._unstamp(member_key(email_hash, "PENDING"), nonce)
        if mailbox:
            self.release_mailbox(mailbox, nonce)

    def release_mailbox(self, mailbox: str, nonce: str) -> None:
        """Clear the mailbox's hourly mark if this submission (its nonce) wrote it: after a confirmation, a
        member's note may follow at once, as it could before marks were per mailbox."""
        self._unstamp(mailbox_mark_key(mailbox), nonce)

    def _unstamp(self, key: dict, nonce: str) -> None:
        try:
            self.dynamodb.update_item(TableName=self.table, Key=key, UpdateExpression="SET mailed_at = :zero",
                                      ConditionExpression="nonce = :nonce",
                                      ExpressionAttributeValues={":zero": {"N": "0"}, ":nonce": {"S": nonce}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def claim_send(self, email_hash: str, nonce: str, sent_at: int) -> bool:
        """A deferred mail is about to be sent: once per submission (a redelivered message finds it taken)."""
        try:
            self.dynamodb.update_item(TableName=self.table, Key=member_key(email_hash, "PENDING"),
                                      UpdateExpression="SET sent_at = :at",
                                      ConditionExpression="nonce = :nonce AND attribute_not_exists(sent_at)",
                                      ExpressionAttributeValues={":at": {"N": str(sent_at)}, ":nonce": {"S": nonce}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def unclaim_send(self, email_hash: str, nonce: str) -> None:
        """SES refused the deferred mail: let the message's next delivery try again."""
        try:
            self.dynamodb.update_item(TableName=self.table, Key=member_key(email_hash, "PENDING"),
                                      UpdateExpression="REMOVE sent_at", ConditionExpression="nonce = :nonce",
                                      ExpressionAttributeValues={":nonce": {"S": nonce}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def member_email(self, email_hash: str) -> str | None:
        """The address of a member (a member's repeat submission holds none: its note is sent to this)."""
        response = self.dynamodb.get_item(TableName=self.table, Key=member_key(email_hash, "MEMBER"),
                                          ProjectionExpression="email", ConsistentRead=True)
        return str(from_item(response["Item"])["email"]) if "Item" in response else None

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
                untrusted_ids: dict, invite: str | None = None) -> None:
        """All or nothing, with the join's aggregates. LinkUsedError: pending item gone or replaced, or
        already a member. ClickClaimedError: some claims (clicks, the invitation) were taken (nothing was written)."""
        from attract.people.consent import index_put as consent_index_put
        from attract.relevance.keys import index_put  # the confirmation's only (it imports this module)

        pk = f"MEMBER#{member.email_hash}"
        attribution = {"PK": pk, "SK": "ATTRIBUTION", "type": "attribution", "member_id": member.member_id,
                       "joined_at": member.joined_at.isoformat(), "untrusted_ids": untrusted_ids or None,
                       "touches": [t.model_dump(mode="python") | {"occurred_at": t.occurred_at.isoformat()} for t in path]}
        own = [
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                     "Item": to_item({"PK": pk, "SK": "MEMBER", "type": "member", **member.model_dump(mode="json")})}},
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)", "Item": to_item(attribution)}},
            {"Delete": {"TableName": self.table, "Key": member_key(member.email_hash, "PENDING"),
                        "ConditionExpression": "nonce = :nonce", "ExpressionAttributeValues": {":nonce": {"S": nonce}}}},
            *[{"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                       "Item": {**claim_key(click), "type": {"S": "click_claim"}, "member_id": {"S": member.member_id}}}}
              for click in claims],
            *[{"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                       "Item": {**invite_claim_key(invite), "type": {"S": "invite_claim"},
                                "member_id": {"S": member.member_id}}}}
              for invite in ([invite] if invite else [])],
        ]
        for attempt in range(MAX_CONFLICT_RETRIES):
            # Planned again on every attempt: the aggregates' plan depends on what racing joins admitted.
            planned = self.aggregates.plan_join(path, member.joined_at, member.email_hash)
            # The keys this join is counted under, kept for the relevance aggregates (attract.attribution.relevant).
            own[1] = {"Put": {**own[1]["Put"], "Item": to_item(attribution | {"reported": planned.reported})}}
            # The member index entry the profile scorer walks (attract.relevance.keys: plain dicts, no taxonomy).
            # And the consent's index entry (CONSENT#<month of the confirmation>): the renewal job Queries it.
            # One more Put: own (<= 9) + aggregates (<= 18 keys + totals + day counts) + 2 stay far below 100.
            actions = own + planned.actions + [index_put(self.table, member.email_hash, member.joined_at.isoformat(),
                                                         member.skills, member.location, planned.reported),
                                               consent_index_put(self.table, member.email_hash, member.joined_at)]
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
                invite_taken = bool(invite) and reasons[FIXED_ACTIONS + len(claims):][:1] == ["ConditionalCheckFailed"]
                if taken or invite_taken:
                    raise ClickClaimedError(taken, invite=invite_taken) from error
                # A failed condition after the join's own items is an aggregate key or cap that a racing
                # join changed; a conflict is another join on the same item at the same moment.
                retry = "TransactionConflict" in reasons or "ConditionalCheckFailed" in reasons[len(own):]
                if not retry or attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
                # Back off with jitter (two conflicting joins must not retry in step), then plan again.
                time.sleep(random.uniform(0.01, 0.02 * 2**attempt))
