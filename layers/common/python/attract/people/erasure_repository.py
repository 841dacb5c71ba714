"""The eraser's writes (issue 15): the erasure's status item, the tombstone, the deletes, the erased conversion marks.

Every write is idempotent: a SET of the same values, an ADD to a set, a DeleteItem of what may be gone already.
"""

from __future__ import annotations

from datetime import datetime

from attract.audit.trail import Actor
from attract.aws import Repository, batch_write, from_item, to_item
from attract.clock import iso
from attract.people.keys import erasure_key


class ErasureRepository(Repository):
    def status(self, email_hash: str) -> dict | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=erasure_key(email_hash), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def requested(self, email_hash: str, reason: str, actor: Actor, now: datetime) -> dict:
        """Record the request (status `queued`, unless an eraser is on it now) and return the status item."""
        response = self.dynamodb.update_item(
            TableName=self.table, Key=erasure_key(email_hash), ReturnValues="ALL_NEW",
            UpdateExpression="SET #t = :type, #s = if_not_exists(#s, :queued), reason = :reason, requested_at = :at, "
                             "requested_by = :by ADD requests :one",
            ExpressionAttributeNames={"#t": "type", "#s": "status"},
            ExpressionAttributeValues=to_item({":type": "erasure", ":queued": "queued", ":reason": reason,
                                               ":at": iso(now), ":by": {"sub": actor.sub, "username": actor.username},
                                               ":one": 1}))
        if response["Attributes"]["status"]["S"] == "done":  # erased before: asked again, it runs again
            response = self.dynamodb.update_item(
                TableName=self.table, Key=erasure_key(email_hash), ReturnValues="ALL_NEW",
                UpdateExpression="SET #s = :queued", ConditionExpression="#s = :done",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":queued": {"S": "queued"}, ":done": {"S": "done"}})
        return from_item(response["Attributes"])

    def begin(self, email_hash: str, reason: str, now: datetime, leads: dict[str, set[str]]) -> None:
        """Status `running`, and the leads to the person's other items saved before anything is deleted."""
        names = {"#t": "type", "#s": "status"}
        values = to_item({":type": "erasure", ":running": "running", ":reason": reason, ":at": iso(now), ":one": 1})
        adds = ["runs :one"]
        for index, (name, found) in enumerate(sorted(leads.items())):
            if found:
                names[f"#l{index}"] = name
                values[f":l{index}"] = {"SS": sorted(found)}
                adds.append(f"#l{index} :l{index}")
        self.dynamodb.update_item(
            TableName=self.table, Key=erasure_key(email_hash),
            UpdateExpression="SET #t = :type, #s = :running, reason = if_not_exists(reason, :reason), started_at = :at "
                             "ADD " + ", ".join(adds),
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    def step_done(self, email_hash: str, step: str) -> None:
        self.dynamodb.update_item(TableName=self.table, Key=erasure_key(email_hash), UpdateExpression="ADD steps :s",
                                  ExpressionAttributeValues={":s": {"SS": [step]}})

    def finish(self, email_hash: str, counts: dict[str, int], now: datetime) -> None:
        self.dynamodb.update_item(
            TableName=self.table, Key=erasure_key(email_hash),
            UpdateExpression="SET #s = :done, done_at = :at, removed = :counts",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item({":done": "done", ":at": iso(now), ":counts": counts}))

    def tombstone(self, email_hash: str, now: datetime) -> None:
        """`SUPPRESS#<hash>` with reason `erased`: the planner and the sender skip the person from now on (an
        earlier unsubscribe or bounce becomes this; the campaign it named goes: it tied the hash to a campaign)."""
        from attract.invites.repository import suppression_key

        self.dynamodb.update_item(
            TableName=self.table, Key=suppression_key(email_hash),
            UpdateExpression="SET #t = :type, reason = :erased, #at = if_not_exists(#at, :now), "
                             "erased_at = if_not_exists(erased_at, :now) REMOVE campaign_id",
            ExpressionAttributeNames={"#t": "type", "#at": "at"},
            ExpressionAttributeValues=to_item({":type": "suppression", ":erased": "erased", ":now": iso(now)}))

    def mark_conversions_erased(self, join_id: str, channels: list[str], now: datetime) -> None:
        """Each platform's conversion record of the join becomes `erased` (not retryable): the uploader and the sweep
        then treat the join as settled, so a message still queued or a held conversion is never uploaded."""
        from attract.campaigns.conversions_repository import conversion_key

        for channel in channels:
            self.dynamodb.put_item(TableName=self.table, Item={**conversion_key(join_id, channel), **to_item({
                "type": "conversion", "status": "erased", "retryable": False, "erased_at": iso(now)})})

    def delete(self, keys: list[dict]) -> int:
        """Delete these items (absent ones too: a delete is idempotent); the number of keys asked."""
        unique = list({(key["PK"]["S"], key["SK"]["S"]): key for key in keys}.values())
        batch_write(self.dynamodb, self.table, [{"DeleteRequest": {"Key": key}} for key in unique])
        return len(unique)
