"""Registered names: campaigns and sources marketers gave a link (PK=DIM#<dimension>, SK=<value>).

A public join's own campaign or source is reported by name only when registered here (docs/decisions.md,
"Bounded aggregates"). Import-light on purpose: the public redirect imports the links repository.
"""


def registry_key(dimension: str, value: str) -> dict:
    return {"PK": {"S": f"DIM#{dimension}"}, "SK": {"S": value}}


def registered_dimension(partition: str) -> str | None:
    """The dimension of a registered name's partition (`DIM#<dimension>`); None for another item's."""
    return partition.removeprefix("DIM#") if partition.startswith("DIM#") else None


def registry_puts(table: str, campaign: str, source: str) -> list[dict]:
    """PutItem requests registering a link's campaign and source (idempotent: the same item every time)."""
    return [{"TableName": table, "Item": {**registry_key(dimension, value), "type": {"S": "dimension"}}}
            for dimension, value in (("campaign", campaign), ("source", source))]
