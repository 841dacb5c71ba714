"""DynamoDB items of invitation sending (docs/data-model.md, "Invitations").

Claim:        PK=INVITE_SEND#<campaign_id>#<email_hash>, SK=SEND  status SENDING|SENT, message_id
Cooldown:     PK=COOLDOWN#<email_hash>, SK=COOLDOWN               invited_at, campaign_id (TTL expires_at)
Suppression:  PK=SUPPRESS#<email_hash>, SK=SUPPRESS               reason unsubscribe|bounce|complaint
Invite touch: PK=INVITE#sha256(token), SK=INVITE                  the touch a join credits (TTL expires_at)
Run counts:   PK=INVITE_RUN#<campaign_id>, SK=RUN#<run_id>        sent, reconcile, skipped_*, bounced, complained,
                                                                  first_outcome_at, last_outcome_at (progress)
Outcome mark: PK=INVITE_SEND#<campaign_id>#<email_hash>, SK=RUN#<run_id>  the job's outcome, counted once
              (skipped_suppressed, skipped_cooldown, reconcile: the outcomes no claim counts once) (TTL expires_at)

This module builds every invitation key (INVITE_CAMPAIGN#, INVITE_RUN#, INVITE_SEND#, COOLDOWN#, SUPPRESS#);
the invite touch's key is the touches' (attract.tracking.repository.invite_key), the member's the joins'.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from attract.attribution.keys import campaign_id_attribute, email_day_key, sent_attribute
from attract.aws import Repository, to_item
from attract.clock import iso
from attract.invites.models import Cooldown, CooldownHold, InvitationJob
from attract.invites.runs import FIRST_OUTCOME_AT, LAST_OUTCOME_AT
from attract.invites.tokens import recipient_key
from attract.people.keys import invited_item
from attract.retry import with_backoff
from attract.tracking.repository import invite_key, invite_token_key

if TYPE_CHECKING:  # the public unsubscribe function uses this repository: it must not load the MIME builder
    from attract.invites.sending import Claim

SENDING, SENT = "SENDING", "SENT"
# An outcome mark outlives any delivery of its job: SQS keeps a message 14 days at most.
OUTCOME_MARK_DAYS = 14


def campaign_key(campaign_id: str) -> dict:
    """The invite campaign (attract.invites.campaigns), whose `active_run_id` the runs take and release."""
    return {"PK": {"S": f"INVITE_CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}}


def claim_key(campaign_id: str, email_hash: str) -> dict:
    return {"PK": {"S": f"INVITE_SEND#{campaign_id}#{email_hash}"}, "SK": {"S": "SEND"}}


def suppression_key(email_hash: str) -> dict:
    return {"PK": {"S": f"SUPPRESS#{email_hash}"}, "SK": {"S": "SUPPRESS"}}


def cooldown_key(email_hash: str) -> dict:
    return {"PK": {"S": f"COOLDOWN#{email_hash}"}, "SK": {"S": "COOLDOWN"}}


def outcome_mark_key(campaign_id: str, email_hash: str, run_id: str) -> dict:
    """A job's (run, person) outcome mark, next to the person's claim (SK `SEND`) of the campaign."""
    return {"PK": {"S": f"INVITE_SEND#{campaign_id}#{email_hash}"}, "SK": {"S": f"RUN#{run_id}"}}


def run_key(campaign_id: str, run_id: str) -> dict:
    return {"PK": {"S": f"INVITE_RUN#{campaign_id}"}, "SK": {"S": f"RUN#{run_id}"}}


def invite_touch_id(campaign_id: str, email_hash: str) -> str:
    """The invitation's touch id: one per (campaign, person), what the join's invitation claim is keyed by."""
    return f"inv-{campaign_id}-{recipient_key(email_hash)[:16]}"


def run_id_of(sort_key: str) -> str:
    """The run id of a run item's SK (`RUN#<run_id>`)."""
    return sort_key.removeprefix("RUN#")


class InviteRepository(Repository):
    def is_suppressed(self, email_hash: str) -> bool:
        response = self.dynamodb.get_item(TableName=self.table, Key=suppression_key(email_hash),
                                          ProjectionExpression="PK", ConsistentRead=True)
        return "Item" in response

    def suppress(self, email_hash: str, reason: str, now: datetime, campaign_id: str | None = None) -> bool:
        """Add to the suppression list; True the first time (a repeated unsubscribe or event counts once)."""
        try:
            self.dynamodb.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)", Item={
                **suppression_key(email_hash), **to_item({"type": "suppression", "reason": reason, "at": iso(now),
                                                          "campaign_id": campaign_id})})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim(self, campaign_id: str, email_hash: str, run_id: str, now: datetime) -> Claim:
        try:
            self.dynamodb.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)", Item={
                **claim_key(campaign_id, email_hash),
                **to_item({"type": "invite_send", "status": SENDING, "run_id": run_id, "claimed_at": iso(now)})})
            return "claimed"
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        found = self.dynamodb.get_item(TableName=self.table, Key=claim_key(campaign_id, email_hash),
                                       ConsistentRead=True).get("Item")
        if found is None:  # released between the two calls: someone else is on it, let SQS retry later
            raise RuntimeError("claim released concurrently")
        return "sent" if found["status"]["S"] == SENT else "sending"

    def release(self, campaign_id: str, email_hash: str) -> None:
        # Only a SENDING claim is released: a SENT one is never deleted by a late failure.
        try:
            self.dynamodb.delete_item(TableName=self.table, Key=claim_key(campaign_id, email_hash),
                                      ConditionExpression="#s = :sending", ExpressionAttributeNames={"#s": "status"},
                                      ExpressionAttributeValues={":sending": {"S": SENDING}})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    def mark_sent(self, campaign_id: str, email_hash: str, message_id: str, now: datetime,
                  campaign_name: str | None = None) -> None:
        """SENDING -> SENT, once: with `campaign_name`, in one transaction with the day's count of messages sent for
        the campaign (a report's email cost, attract.attribution.keys.email_day_key). A repeat (the claim already
        SENT) writes and counts nothing."""
        values: dict[str, dict] = {":sent": {"S": SENT}, ":id": {"S": message_id}, ":at": {"S": iso(now)}}
        claim: dict = {"TableName": self.table, "Key": claim_key(campaign_id, email_hash),
                       "UpdateExpression": "SET #s = :sent, message_id = :id, sent_at = :at",
                       "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": values}
        if campaign_name is None:
            self.dynamodb.update_item(**claim)
            return
        claim["ConditionExpression"] = "#s = :sending"
        values[":sending"] = {"S": SENDING}
        count = {"TableName": self.table, "Key": email_day_key(now.date(), email_hash),
                 "UpdateExpression": "ADD #m :one SET #i = :name",
                 "ExpressionAttributeNames": {"#m": sent_attribute(campaign_name), "#i": campaign_id_attribute(campaign_id)},
                 "ExpressionAttributeValues": {":one": {"N": "1"}, ":name": {"S": campaign_name}}}

        def write() -> None:
            try:
                self.dynamodb.transact_write_items(TransactItems=[{"Update": claim}, {"Update": count}])
            except self.dynamodb.exceptions.TransactionCanceledException as error:
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return  # already SENT: counted then
                raise

        # Sends of one day share the counter items (8 shards): two at the same moment may conflict; retried.
        with_backoff(write, retry_on=self.dynamodb.exceptions.TransactionCanceledException, attempts=5,
                     base_s=0.02, cap_s=0.5)

    def claim_status(self, campaign_id: str, email_hash: str) -> str | None:
        found = self.dynamodb.get_item(TableName=self.table, Key=claim_key(campaign_id, email_hash),
                                       ConsistentRead=True).get("Item")
        return found["status"]["S"] if found else None

    def hold_cooldown(self, email_hash: str, campaign_id: str, now: datetime, days: int) -> CooldownHold | None:
        """Take the person's cooldown for this campaign (None while another campaign holds it), keeping what it
        replaced so that a send SES refuses can put it back."""
        at = int(now.timestamp())
        try:
            response = self.dynamodb.update_item(
                TableName=self.table, Key=cooldown_key(email_hash),
                UpdateExpression="SET invited_at = :now, campaign_id = :campaign, expires_at = :expires, #t = :type",
                ConditionExpression="attribute_not_exists(PK) OR invited_at < :cutoff OR campaign_id = :campaign",
                ExpressionAttributeNames={"#t": "type"},
                ExpressionAttributeValues={":now": {"N": str(at)}, ":campaign": {"S": campaign_id},
                                           ":expires": {"N": str(at + days * 86400)},
                                           ":cutoff": {"N": str(at - days * 86400)}, ":type": {"S": "cooldown"}},
                ReturnValues="ALL_OLD")
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        old = response.get("Attributes")
        if not old:
            return CooldownHold(previous=None)
        return CooldownHold(previous=Cooldown(
            invited_at=int(old["invited_at"]["N"]), campaign_id=old["campaign_id"]["S"],
            expires_at=int(old["expires_at"]["N"]) if "expires_at" in old else None))

    def release_cooldown(self, email_hash: str, campaign_id: str, now: datetime, previous: Cooldown | None) -> None:
        """The cooldown as it was before `hold_cooldown` at `now`, unless someone took it since (then it is theirs)."""
        still_ours = {"ConditionExpression": "campaign_id = :campaign AND invited_at = :now",
                      "ExpressionAttributeValues": {":campaign": {"S": campaign_id},
                                                    ":now": {"N": str(int(now.timestamp()))}}}
        try:
            if previous is None:
                self.dynamodb.delete_item(TableName=self.table, Key=cooldown_key(email_hash), **still_ours)
            else:
                self.dynamodb.put_item(TableName=self.table, Item={**cooldown_key(email_hash), **to_item({
                    "type": "cooldown", "invited_at": previous.invited_at, "campaign_id": previous.campaign_id,
                    "expires_at": previous.expires_at})}, **still_ours)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass

    def put_invite_touch(self, token: str, job: InvitationJob, email_hash: str, now: datetime, expires_at: int) -> None:
        # First the person's row naming this invitation (attract.people.keys): an erasure finds the invitation by it.
        self.dynamodb.put_item(TableName=self.table, Item=invited_item(email_hash, job.campaign_id,
                                                                      invite_token_key(token), iso(now)))
        self.dynamodb.put_item(TableName=self.table, Item={
            **invite_key(token),
            **to_item({"type": "invite", "touch_id": invite_touch_id(job.campaign_id, email_hash),
                       "occurred_at": iso(now), "origin": "invite", "campaign": job.campaign_name,
                       "channel": "email", "source": "invitation", "medium": "email", "link_code": job.link_code,
                       "email_hash": email_hash, "expires_at": expires_at,
                       # The employer's record of the person: a join through this invitation that leaves skills or
                       # location out of its form takes them from here (issue 14: invitation data counts for scoring).
                       "skills": invited_skills(job.recipient.skills) or None,
                       "location": job.recipient.location or None})})

    def count(self, campaign_id: str, run_id: str, name: str, value: int = 1, at: datetime | None = None) -> None:
        """ADD `value` to the run's counter `name`. With `at` (a job's outcome that advances the run's progress),
        the same update stamps the run's first and last outcome, which the progress rate is measured from."""
        self.dynamodb.update_item(**self._count_update(campaign_id, run_id, name, value, at))

    def count_once(self, campaign_id: str, run_id: str, email_hash: str, name: str, at: datetime) -> bool:
        """Count a job's outcome (stamped, as `count` with `at`) once however often its message is delivered: the
        ADD goes in one transaction with the put of the job's outcome mark, on condition that there is none.
        False when the job's outcome was counted already (nothing written)."""
        mark = to_item({"type": "invite_outcome", "outcome": name, "at": iso(at),
                        "expires_at": int(at.timestamp()) + OUTCOME_MARK_DAYS * 86400})
        try:
            self.dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                         "Item": {**outcome_mark_key(campaign_id, email_hash, run_id), **mark}}},
                {"Update": self._count_update(campaign_id, run_id, name, 1, at)}])
        except self.dynamodb.exceptions.TransactionCanceledException as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def _count_update(self, campaign_id: str, run_id: str, name: str, value: int, at: datetime | None) -> dict:
        expression, values = "ADD #n :v", {":v": {"N": str(value)}}
        if at is not None:
            expression += (f" SET {FIRST_OUTCOME_AT} = if_not_exists({FIRST_OUTCOME_AT}, :at), "
                           f"{LAST_OUTCOME_AT} = :at")
            values[":at"] = {"S": iso(at)}
        return {"TableName": self.table, "Key": run_key(campaign_id, run_id), "UpdateExpression": expression,
                "ExpressionAttributeNames": {"#n": name}, "ExpressionAttributeValues": values}


def invited_skills(text: str) -> list[str]:
    """The record's skills ("Python, SQL; Spark") as the join form's list: ≤ 50 terms of ≤ 60 characters."""
    terms = [term.strip()[:60] for term in re.split(r"[,;\n]", text) if term.strip()]
    return list(dict.fromkeys(terms))[:50]
