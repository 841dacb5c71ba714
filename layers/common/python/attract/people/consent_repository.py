"""DynamoDB access for the consent index and the renewal job's cursor (keys: attract.people.consent).

Index entry: PK=CONSENT#<yyyy-mm of the consent's confirmation>, SK=<email hash>
             consent_at (ISO), renewal_sent_at (ISO, the mail's once-only mark), erasure_requested_at (ISO)
Cursor:      PK=CONSENTCURSOR, SK=CURSOR    month: the first month the job still reads (only moves forward)
Backfill:    PK=CONSENTCURSOR, SK=BACKFILL  after (the last member index key walked), done: the one-off walk of
             MEMBERIDX#all that indexes members confirmed before the consent index existed
Member:      PK=MEMBER#<email hash>, SK=MEMBER: read for its address and consent; a renewal updates `consent`.
Every access is a GetItem, a Query of one month or a conditional write on a known key: never a Scan.
"""

from __future__ import annotations

from datetime import datetime, timezone

from botocore.exceptions import ClientError

from attract.aws import Repository, from_item
from attract.people.consent import BACKFILL_KEY, CURSOR_KEY, PREFIX, index_key, index_put, month_of


def _member_key(email_hash: str) -> dict:
    from attract.joins.repository import member_key  # the owner of MEMBER# keys (docs/data-model.md)

    return member_key(email_hash, "MEMBER")


def _failed_condition(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        return any(r.get("Code") == "ConditionalCheckFailed" for r in error.response.get("CancellationReasons", []))
    return False


class ConsentRepository(Repository):
    def cursor(self) -> str | None:
        response = self.dynamodb.get_item(TableName=self.table, Key=CURSOR_KEY, ConsistentRead=True)
        return str(response["Item"]["month"]["S"]) if "Item" in response else None

    def advance_cursor(self, month: str) -> None:
        """Never backwards: two overlapping runs (a retry) may both advance it."""
        try:
            self.dynamodb.put_item(TableName=self.table, Item={**CURSOR_KEY, "type": {"S": "consent_cursor"},
                                                               "month": {"S": month}},
                                   ConditionExpression="attribute_not_exists(PK) OR #month < :month",
                                   ExpressionAttributeNames={"#month": "month"},
                                   ExpressionAttributeValues={":month": {"S": month}})
        except ClientError as error:
            if not _failed_condition(error):
                raise

    def backfill_state(self) -> tuple[bool, str | None]:
        """(done, the member index key the walk continues after)."""
        item = self.dynamodb.get_item(TableName=self.table, Key=BACKFILL_KEY, ConsistentRead=True).get("Item")
        state = from_item(item) if item else {}
        return bool(state.get("done")), state.get("after")

    def save_backfill(self, after: str | None, done: bool) -> None:
        self.dynamodb.put_item(TableName=self.table, Item={**BACKFILL_KEY, "type": {"S": "consent_backfill"},
                                                           "done": {"BOOL": done},
                                                           **({"after": {"S": after}} if after else {})})

    def member_index_page(self, after: str | None, limit: int = 100) -> tuple[list[tuple[str, datetime]], str | None]:
        """A page of the member index (attract.relevance.keys): (email hash, joined_at) and the key to go on after."""
        from attract.relevance.keys import INDEX_PARTITION
        from attract.relevance.keys import index_key as member_index_key

        request = {"TableName": self.table, "KeyConditionExpression": "PK = :pk", "Limit": limit,
                   "ProjectionExpression": "SK, joined_at",
                   "ExpressionAttributeValues": {":pk": {"S": INDEX_PARTITION}}}
        if after:
            request["ExclusiveStartKey"] = member_index_key(after)
        response = self.dynamodb.query(**request)
        page = [(item["SK"]["S"], datetime.fromisoformat(item["joined_at"]["S"])) for item in response["Items"]
                if "joined_at" in item]
        last = response.get("LastEvaluatedKey")
        return page, (last["SK"]["S"] if last else None)

    def index_if_absent(self, email_hash: str, consent_at: datetime) -> bool:
        """The entry a confirmation would have written, unless it exists (the confirmation's own, or a walk's)."""
        try:
            self.dynamodb.put_item(**index_put(self.table, email_hash, consent_at)["Put"],
                                   ConditionExpression="attribute_not_exists(PK)")
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def entries(self, month: str) -> list[dict]:
        """Every index entry of one month (plain dicts with `email_hash`), page by page."""
        found: list[dict] = []
        request = {"TableName": self.table, "KeyConditionExpression": "PK = :pk", "ConsistentRead": True,
                   "ExpressionAttributeValues": {":pk": {"S": f"{PREFIX}{month}"}}}
        while True:
            response = self.dynamodb.query(**request)
            found += [from_item(item) | {"email_hash": item["SK"]["S"]} for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def member(self, email_hash: str) -> dict | None:
        """The member's address and consent, or None when there is no member (erased, left, never confirmed)."""
        response = self.dynamodb.get_item(TableName=self.table, Key=_member_key(email_hash), ConsistentRead=True,
                                          ProjectionExpression="email, consent, joined_at")
        return from_item(response["Item"]) if "Item" in response else None

    def _mark(self, month: str, email_hash: str, attribute: str, at: datetime) -> bool:
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=index_key(month, email_hash), UpdateExpression="SET #mark = :at",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#mark)",
                ExpressionAttributeNames={"#mark": attribute}, ExpressionAttributeValues={":at": {"S": _iso(at)}})
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def claim_mail(self, month: str, email_hash: str, at: datetime) -> bool:
        """The renewal mail is about to go out, once: False when it went (or is going) already."""
        return self._mark(month, email_hash, "renewal_sent_at", at)

    def unclaim_mail(self, month: str, email_hash: str, at: datetime) -> None:
        """SES refused the mail before accepting it: the next run may try again."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=index_key(month, email_hash), UpdateExpression="REMOVE renewal_sent_at",
                ConditionExpression="renewal_sent_at = :at", ExpressionAttributeValues={":at": {"S": _iso(at)}})
        except ClientError as error:
            if not _failed_condition(error):
                raise

    def mark_erasure_requested(self, month: str, email_hash: str, at: datetime) -> bool:
        return self._mark(month, email_hash, "erasure_requested_at", at)

    def remove(self, month: str, email_hash: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=index_key(month, email_hash))

    def renew(self, email_hash: str, month: str, now: datetime, text_version: str) -> bool:
        """The member's consent given again now (channel `renewal`) and its index entry moved to this month, in
        one transaction. False when there is nothing to renew: no member, no mailed entry of `month` (renewed
        already, or removed), or its erasure was requested."""
        at = _iso(now)
        update_member = {"Update": {
            "TableName": self.table, "Key": _member_key(email_hash), "ConditionExpression": "attribute_exists(PK)",
            "UpdateExpression": "SET consent.granted = :true, consent.text_version = :version, consent.#at = :at, "
                                "consent.confirmed_at = :at, consent.channel = :channel",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {":true": {"BOOL": True}, ":version": {"S": text_version}, ":at": {"S": at},
                                          ":channel": {"S": "renewal"}}}}
        # Mailed (a link exists only once its mail was claimed), not renewed since (a renewal clears the mark or
        # moves the entry), its erasure not requested.
        still_due = "attribute_exists(renewal_sent_at) AND attribute_not_exists(erasure_requested_at)"
        if month_of(now) == month:  # renewed within the month it was given: the same entry, its marks cleared
            entry = [{"Update": {"TableName": self.table, "Key": index_key(month, email_hash),
                                 "ConditionExpression": still_due,
                                 "UpdateExpression": "SET consent_at = :at REMOVE renewal_sent_at",
                                 "ExpressionAttributeValues": {":at": {"S": at}}}}]
        else:
            entry = [{"Delete": {"TableName": self.table, "Key": index_key(month, email_hash),
                                 "ConditionExpression": still_due}},
                     index_put(self.table, email_hash, now)]
        try:
            self.dynamodb.transact_write_items(TransactItems=[update_member, *entry])
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()
