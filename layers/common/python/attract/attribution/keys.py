"""Keys of the aggregate partitions (`AGG#…`, sorted by `DAY#…`): this module builds every one of them.

Import-light on purpose (no pydantic, no boto3): the public redirect counts a human click per day and key
through `click_day_key`, and the invitation sender counts its messages through `email_day_key`.

Key items:    AGG#<dimension>                   DAY#<day>#<bucket 00-63>   (attract.attribution.repository)
Totals:       AGG#totals                        DAY#<day>#<shard>
Day counts:   AGG#keys                          DAY#<day>
Spend:        AGG#<dimension>, AGG#totals       DAY#<day>#SPEND#<shard>    (attract.campaigns.spend_repository)
Relevance:    AGG#rel#<scope>#<dimension>       DAY#<day>#<bucket>         (attract.attribution.relevant)
Clicks:       AGG#clicks                        DAY#<day>#<shard 0-7>      `c|<dimension>|<key>`, `f|<channel>|<campaign>`
Email sends:  AGG#email                         DAY#<day>#<shard 0-7>      `m|<campaign>` sent, `i|<campaign id>` = name
"""

import hashlib
from datetime import date

CLICKS = "clicks"  # the partition of human clicks per day and key (AGG#clicks)
EMAIL = "email"  # the partition of invitation messages sent per day and campaign (AGG#email)
COUNTER_SHARDS = 8  # clicks and sends of one day spread over this many items: no hot item, a bounded read
CLICK_PREFIX = "c|"
FUNNEL_CLICK_PREFIX = "f|"
SENT_PREFIX = "m|"
CAMPAIGN_ID_PREFIX = "i|"
# The five dimensions every join and click is counted under (a report's `group_by` of keys).
DIMENSIONS = ("channel", "campaign", "source", "medium", "content")


def aggregate_partition(dimension: str) -> str:
    """`AGG#<dimension>` (a dimension, `totals`, `keys`, `clicks`, `email`, `rel#<scope>#<dimension>`)."""
    return f"AGG#{dimension}"


def dimension_of(partition: str) -> str | None:
    """The dimension of an aggregate partition; None for another item's."""
    return partition.removeprefix("AGG#") if partition.startswith("AGG#") else None


def day_sort_key(day: date, *parts: object) -> str:
    """`DAY#<yyyy-mm-dd>[#part…]`: the sort keys of the aggregate partitions, all in their day's range."""
    return f"DAY#{day.isoformat()}" + "".join(f"#{part}" for part in parts)


def day_of(sort_key: str) -> date:
    """The day of a `DAY#<yyyy-mm-dd>…` sort key."""
    return date.fromisoformat(sort_key[4:14])


def bucket_of(key: str, buckets: int) -> int:
    """Stable across processes and deployments (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % buckets


def click_day_key(day: date, link_code: str) -> dict:
    """The item counting a link's human clicks of a day (the link's shard: one link's keys live in one item)."""
    return {"PK": {"S": aggregate_partition(CLICKS)},
            "SK": {"S": day_sort_key(day, bucket_of(link_code, COUNTER_SHARDS))}}


def click_attribute(dimension: str, key: str) -> str:
    return f"{CLICK_PREFIX}{dimension}|{key}"


def funnel_click_attribute(channel: str, campaign: str) -> str:
    """Clicks of one (channel, campaign) pair: a funnel's `clicked` step."""
    return f"{FUNNEL_CLICK_PREFIX}{channel}|{campaign}"


def email_day_key(day: date, shard_of: str) -> dict:
    """The item counting invitations sent on `day` (shard: a stable hash of the recipient's key)."""
    return {"PK": {"S": aggregate_partition(EMAIL)},
            "SK": {"S": day_sort_key(day, bucket_of(shard_of, COUNTER_SHARDS))}}


def sent_attribute(campaign: str) -> str:
    return f"{SENT_PREFIX}{campaign}"


def campaign_id_attribute(campaign_id: str) -> str:
    return f"{CAMPAIGN_ID_PREFIX}{campaign_id}"
