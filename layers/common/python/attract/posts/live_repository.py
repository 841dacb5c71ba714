"""DynamoDB access for the metrics of published posts: which posts to count, and where their counts go.

Live post: PK=POSTS_LIVE#<channel>, SK=<published_at ISO>#<post id>: platform_post_id, name, post_id. Written
           when a channel publishes, deleted when it is deleted; the metrics sync Queries the last METRICS_DAYS
           (a key range, never a Scan).
Metrics:   the spend items of the aggregate partitions (attract.campaigns.spend_repository, docs/data-model.md
           "Spend"): attribute `s|<organic channel>|<platform post id>` = {key, cost 0, impressions, clicks,
           post_id, synced_at} on the day the post was published. No currency: organic reach costs nothing, so the
           report adds no spend, while the funnel reads impressions and clicks like an ad's.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from attract.attribution.logic import bucket_of
from attract.attribution.repository import TOTALS, aggregate_partition
from attract.aws import Repository, from_item, to_item
from attract.campaigns.spend_repository import SETS_PER_UPDATE, SPEND_SHARDS, spend_attribute, spend_key
from attract.dimensions import Channel
from attract.posts.channels import organic_channel
from attract.posts.ports import PostMetrics


@dataclass(frozen=True)
class LivePost:
    channel: str
    post_id: str
    platform_post_id: str
    name: str  # the post's name: the campaign of its tracked links
    published_at: datetime


def live_key(channel: str, published_at: datetime, post_id: str) -> dict:
    return {"PK": {"S": f"POSTS_LIVE#{channel}"}, "SK": {"S": f"{published_at.isoformat()}#{post_id}"}}


class LivePostRepository(Repository):
    def add(self, post: LivePost) -> None:
        item = to_item({"post_id": post.post_id, "platform_post_id": post.platform_post_id, "name": post.name,
                        "channel": post.channel, "published_at": post.published_at.isoformat(), "type": "live_post"})
        self.dynamodb.put_item(TableName=self.table, Item={**live_key(post.channel, post.published_at, post.post_id),
                                                           **item})

    def remove(self, channel: str, published_at: datetime, post_id: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=live_key(channel, published_at, post_id))

    def since(self, channel: str, start: datetime) -> list[LivePost]:
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="PK = :pk AND SK >= :start",
            ExpressionAttributeValues={":pk": {"S": f"POSTS_LIVE#{channel}"}, ":start": {"S": start.isoformat()}})
        return [LivePost(channel=item["channel"], post_id=item["post_id"], platform_post_id=item["platform_post_id"],
                         name=item["name"], published_at=datetime.fromisoformat(item["published_at"]))
                for page in pages for item in map(from_item, page["Items"])]

    def put_metrics(self, rows: Sequence[tuple[LivePost, PostMetrics]], synced_at: datetime) -> None:
        """Each post's lifetime counts on its publication day, under channel, campaign, source and totals: SET (a
        sync replaces the last one's numbers, never adds to them)."""
        per_item: dict[tuple[str, date, int], dict[str, dict]] = defaultdict(dict)
        for post, counts in rows:
            value = {"cost": 0, "impressions": counts.impressions or 0, "clicks": counts.clicks or 0,
                     "post_id": post.post_id, "synced_at": synced_at.isoformat()}
            attribute = spend_attribute(post.channel, post.platform_post_id)
            shard, day = bucket_of(attribute, SPEND_SHARDS), post.published_at.date()
            keys = {"channel": Channel.ORGANIC_SOCIAL.value, "campaign": post.name,
                    "source": organic_channel(post.channel).source}
            for dimension, key in keys.items():
                per_item[(aggregate_partition(dimension), day, shard)][attribute] = {**value, "key": key}
            per_item[(aggregate_partition(TOTALS), day, shard)][attribute] = value
        for (partition, day, shard), values in sorted(per_item.items()):
            every = sorted(values.items())
            for start in range(0, len(every), SETS_PER_UPDATE):
                entries = every[start:start + SETS_PER_UPDATE]
                names = {"#type": "type"} | {f"#a{index}": name for index, (name, _) in enumerate(entries)}
                expression_values = to_item({":type": "spend"}
                                            | {f":v{index}": value for index, (_, value) in enumerate(entries)})
                update = "SET #type = :type, " + ", ".join(f"#a{index} = :v{index}" for index in range(len(entries)))
                self.dynamodb.update_item(TableName=self.table, Key=spend_key(partition, day, shard),
                                          UpdateExpression=update, ExpressionAttributeNames=names,
                                          ExpressionAttributeValues=expression_values)
