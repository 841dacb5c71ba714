"""DynamoDB items of conversion feedback; this module owns their key formats.

- Upload record: PK=CONVERSION#<join_id>, SK=<channel>: status `uploaded` | `failed`, retryable, code (a
  platform error code, never personal data), request_id, attempts, first_at, last_at. An uploaded record
  is never downgraded by a later failure.
- Held conversion: PK=CONVERSION_DUE#<due hour, yyyy-mm-ddThh UTC>, SK=<due_at ISO µs>#<join_id>#<channel>:
  channel, message (the queue message for that channel: hashes and click ids, never an address), due_at,
  attempts; TTL `expires_at` = due + HELD_DAYS. One partition per due hour, so the sweep Queries the hours
  up to now (never a Scan) and each Query reads only what is due.
- Sweep cursor: PK=CONVERSION_DUE#cursor, SK=CURSOR: `through`, the first due hour a sweep still reads. It
  stays one hour behind the sweep's own: a conversion held just before an hour turned is still found.
"""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

from attract.aws import Repository, to_item
from attract.campaigns.conversions import ConversionMessage, PendingConversion
from attract.campaigns.models import ConversionResult
from attract.clock import iso_micro

DUE_PREFIX = "CONVERSION_DUE#"
CURSOR_KEY = {"PK": {"S": f"{DUE_PREFIX}cursor"}, "SK": {"S": "CURSOR"}}
HELD_DAYS = 30  # a conversion still held a month after it was due has outlived the platforms' windows
FIRST_SWEEP_LOOKBACK = timedelta(days=2)  # no cursor yet (a new stack): held items are younger than this


def conversion_key(join_id: str, channel: str) -> dict:
    return {"PK": {"S": f"CONVERSION#{join_id}"}, "SK": {"S": channel}}


def due_hour(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def held_key(channel: str, join_id: str, due_at: datetime) -> dict:
    return {"PK": {"S": _partition(due_hour(due_at))}, "SK": {"S": f"{iso_micro(due_at)}#{join_id}#{channel}"}}


def _partition(hour: datetime) -> str:
    return f"{DUE_PREFIX}{hour:%Y-%m-%dT%H}"


class ConversionRepository(Repository):
    def settled(self, join_id: str, channel: str) -> bool:
        response = self.dynamodb.get_item(TableName=self.table, Key=conversion_key(join_id, channel), ConsistentRead=True,
                                          ProjectionExpression="#s, retryable",
                                          ExpressionAttributeNames={"#s": "status"})
        item = response.get("Item")
        if item is None:
            return False
        return item["status"]["S"] == "uploaded" or not item.get("retryable", {}).get("BOOL", True)

    def record(self, channel: str, result: ConversionResult, at: datetime) -> None:
        values = to_item({":status": "uploaded" if result.ok else "failed", ":retryable": result.retryable,
                          ":code": result.error or "-", ":request": result.request_id or "-", ":at": at.isoformat(),
                          ":one": 1, ":uploaded": "uploaded"})
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=conversion_key(result.join_id, channel),
                UpdateExpression="SET #s = :status, retryable = :retryable, code = :code, request_id = :request, "
                                 "last_at = :at, first_at = if_not_exists(first_at, :at), #t = :type ADD attempts :one",
                ConditionExpression="attribute_not_exists(#s) OR #s <> :uploaded",
                ExpressionAttributeNames={"#s": "status", "#t": "type"},
                ExpressionAttributeValues={**values, ":type": {"S": "conversion"}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


class PendingConversionRepository(Repository):
    """`attract.campaigns.conversions.PendingConversions` on the table: Query per due hour, Put, Delete."""

    def hold(self, channel: str, message: ConversionMessage, due_at: datetime, attempts: int = 0) -> None:
        # The same (join, channel, due) is the same item: a redelivered message rewrites it unchanged.
        item = {**held_key(channel, message.join_id, due_at), **to_item({
            "type": "held_conversion", "channel": channel, "message": message.model_dump_json(exclude_none=True),
            "due_at": iso_micro(due_at), "attempts": attempts,
            "expires_at": int((due_at + timedelta(days=HELD_DAYS)).timestamp())})}
        self.dynamodb.put_item(TableName=self.table, Item=item)

    def due(self, now: datetime) -> Iterator[PendingConversion]:
        upto = f"{iso_micro(now)}#\uffff"
        hour, last = self._start(now), due_hour(now)
        while hour <= last:
            yield from self._query(_partition(hour), upto)
            hour += timedelta(hours=1)

    def release(self, pending: PendingConversion) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=pending.key)

    def swept(self, now: datetime) -> None:
        through = _partition(due_hour(now) - timedelta(hours=1)).removeprefix(DUE_PREFIX)
        try:
            self.dynamodb.update_item(TableName=self.table, Key=CURSOR_KEY, UpdateExpression="SET through = :through",
                                      ConditionExpression="attribute_not_exists(through) OR through < :through",
                                      ExpressionAttributeValues={":through": {"S": through}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":  # a later sweep got further
                raise

    def _start(self, now: datetime) -> datetime:
        item = self.dynamodb.get_item(TableName=self.table, Key=CURSOR_KEY, ConsistentRead=True).get("Item")
        oldest = due_hour(now - timedelta(days=HELD_DAYS))
        if item is None:
            return due_hour(now - FIRST_SWEEP_LOOKBACK)
        return max(oldest, datetime.strptime(item["through"]["S"], "%Y-%m-%dT%H").replace(tzinfo=timezone.utc))

    def _query(self, partition: str, upto: str) -> Iterator[PendingConversion]:
        request = {"TableName": self.table, "KeyConditionExpression": "PK = :pk AND SK <= :upto", "ConsistentRead": True,
                   "ExpressionAttributeValues": {":pk": {"S": partition}, ":upto": {"S": upto}}}
        while True:
            page = self.dynamodb.query(**request)
            for item in page.get("Items", []):
                yield PendingConversion(
                    channel=item["channel"]["S"], message=ConversionMessage.model_validate(json.loads(item["message"]["S"])),
                    due_at=datetime.fromisoformat(item["due_at"]["S"]), attempts=int(item["attempts"]["N"]),
                    key={"PK": item["PK"], "SK": item["SK"]})
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
