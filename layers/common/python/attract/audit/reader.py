"""Reading the audit trail (AuditTable): Query only, newest first, by actor, by object or by day.

A page ends after `limit` entries; its position is the last entry's sort key (`<at ISO ms>#<entry id>`), which
names the day partition too (`DAY#<first 10 characters>`), so a cursor needs nothing else.
"""

from datetime import date, timedelta

from attract.attribution.keys import day_sort_key  # the owner of `DAY#` (docs/data-model.md)
from attract.aws import Repository, from_item

INDEXES = {"actor": ("ByActor", "actor_key"), "object": ("ByObject", "object_key")}


def day_key(day: date) -> str:
    """The partition of a day's entries."""
    return day_sort_key(day)


def _partition_of(sort_key: str) -> str:
    """The day partition an entry's sort key (`<at ISO ms>#<id>`, UTC) falls in."""
    return day_key(date.fromisoformat(sort_key[:10]))


class AuditReader(Repository):
    """Queries of the trail; the readers' IAM grants Query on the table and its indexes, nothing else."""

    def by_index(self, by: str, value: str, low: str, high: str, limit: int,
                 after: str | None) -> tuple[list[dict], str | None]:
        """Entries of one actor (`by="actor"`, a sub) or object (`"object"`, `<type>#<id>`) with SK in [low, high],
        newest first, after the sort key `after`; and the last one's sort key when more may follow."""
        index, attribute = INDEXES[by]
        request: dict = {
            "TableName": self.table, "IndexName": index, "ScanIndexForward": False, "Limit": limit,
            "KeyConditionExpression": "#k = :k AND SK BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#k": attribute},
            "ExpressionAttributeValues": {":k": {"S": value}, ":low": {"S": low}, ":high": {"S": high}}}
        if after:
            request["ExclusiveStartKey"] = {"PK": {"S": _partition_of(after)}, "SK": {"S": after},
                                            attribute: {"S": value}}
        items: list[dict] = []
        while True:  # a page holds at most `limit` entries; a short DynamoDB page (1 MB) is followed
            response = self.dynamodb.query(**request)
            items.extend(from_item(item) for item in response.get("Items", []))
            more = response.get("LastEvaluatedKey")
            if len(items) >= limit:
                return items, (items[-1]["SK"] if more else None)
            if not more:
                return items, None
            request.update(ExclusiveStartKey=more, Limit=limit - len(items))

    def by_time(self, first: date, last: date, low: str, high: str, limit: int,
                after: str | None) -> tuple[list[dict], str | None]:
        """Entries with SK in [low, high] of the days `last` back to `first`, one Query per day partition, newest
        first, after the sort key `after`; and the last one's sort key when more may follow."""
        day = min(last, date.fromisoformat(after[:10])) if after else last
        start = {"PK": {"S": _partition_of(after)}, "SK": {"S": after}} if after else None
        items: list[dict] = []
        while day >= first:
            request: dict = {
                "TableName": self.table, "ScanIndexForward": False, "Limit": limit - len(items),
                "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
                "ExpressionAttributeValues": {":pk": {"S": day_key(day)}, ":low": {"S": low}, ":high": {"S": high}}}
            if start is not None and start["PK"]["S"] == day_key(day):
                request["ExclusiveStartKey"] = start
            response = self.dynamodb.query(**request)
            items.extend(from_item(item) for item in response.get("Items", []))
            if len(items) >= limit:
                more = bool(response.get("LastEvaluatedKey")) or day > first
                return items, (items[-1]["SK"] if more else None)
            if response.get("LastEvaluatedKey"):  # a short page (1 MB): the same day again, from there
                start = response["LastEvaluatedKey"]
                continue
            day -= timedelta(days=1)
        return items, None
