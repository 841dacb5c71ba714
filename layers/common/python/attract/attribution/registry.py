"""Registered names: campaigns and sources marketers gave a link (PK=DIM#<dimension>, SK=<value>).

A public join's own campaign or source is reported by name only when registered here (docs/decisions.md,
"Bounded aggregates"). Import-light on purpose: the public redirect imports the links repository.
"""


def registry_key(dimension: str, value: str) -> dict:
    return {"PK": {"S": f"DIM#{dimension}"}, "SK": {"S": value}}


def registry_puts(table: str, campaign: str, source: str) -> list[dict]:
    """PutItem requests registering a link's campaign and source (idempotent: the same item every time)."""
    return [{"TableName": table, "Item": {**registry_key(dimension, value), "type": {"S": "dimension"}}}
            for dimension, value in (("campaign", campaign), ("source", source))]
