"""Pre-aggregated attribution: one item per model, day and shard.

PK=AGG#<model>, SK=DAY#<yyyy-mm-dd>#<shard>; attributes `joins`, `touches`, and per dimension key
`j|<dim>|<key>` (credited joins) and `t|<dim>|<key>` (touches). A join ADDs into its day's item of
every model; a report Queries one model's days and sums them: its cost grows with the days asked
for, never with the number of joins.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from attract.aws import Repository, from_item

SEPARATOR = "|"


def aggregate_key(model: str, day: date, shard: int) -> dict:
    return {"PK": {"S": f"AGG#{model}"}, "SK": {"S": f"DAY#{day.isoformat()}#{shard}"}}


def aggregate_update(table: str, model: str, day: date, shard: int,
                     contributions: dict[tuple[str, str], tuple[Decimal, int]], touches: int) -> dict:
    """A TransactWriteItems Update that ADDs one join's contributions for one model."""
    names, values, adds = {}, {":one": {"N": "1"}, ":touches": {"N": str(touches)}}, ["joins :one", "touches :touches"]
    for index, ((dimension, key), (credit, count)) in enumerate(sorted(contributions.items())):
        names[f"#j{index}"] = SEPARATOR.join(("j", dimension, key))
        names[f"#t{index}"] = SEPARATOR.join(("t", dimension, key))
        values[f":j{index}"] = {"N": str(credit)}
        values[f":t{index}"] = {"N": str(count)}
        adds += [f"#j{index} :j{index}", f"#t{index} :t{index}"]
    update = {"TableName": table, "Key": aggregate_key(model, day, shard),
              "UpdateExpression": "ADD " + ", ".join(adds), "ExpressionAttributeValues": values}
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


class AggregateRepository(Repository):
    def totals(self, model: str, start: date, end: date, dimension: str) -> tuple[dict[str, tuple[Decimal, int]], Decimal, int]:
        """Per key (credited joins, touches) and the overall totals, summed over the days in [start, end]."""
        rows: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
        joins, touches = Decimal(0), 0
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :start AND :end",
            ExpressionAttributeValues={":pk": {"S": f"AGG#{model}"}, ":start": {"S": f"DAY#{start.isoformat()}"},
                                       ":end": {"S": f"DAY#{end.isoformat()}#\uffff"}},
        )
        prefix_j, prefix_t = f"j{SEPARATOR}{dimension}{SEPARATOR}", f"t{SEPARATOR}{dimension}{SEPARATOR}"
        for page in pages:
            for raw in page["Items"]:
                item = from_item(raw)
                joins += Decimal(item.get("joins", 0))
                touches += int(item.get("touches", 0))
                for name, value in item.items():
                    if name.startswith(prefix_j):
                        rows[name[len(prefix_j):]][0] += Decimal(value)
                    elif name.startswith(prefix_t):
                        rows[name[len(prefix_t):]][1] += int(value)
        return {key: (value[0], value[1]) for key, value in rows.items()}, joins, touches
