"""DynamoDB access for ad spend: the launch's platform-campaign registry, daily spend, and each channel's last sync.

Registry:  PK=PLATFORM_CAMPAIGN#<channel>#<platform campaign id>, SK=PLATFORM_CAMPAIGN: campaign_id, name, source
Spend:     PK=AGG#<dimension> and PK=AGG#totals, SK=DAY#<yyyy-mm-dd>#SPEND#<channel>#<platform campaign id>:
           type `spend`, key (the report key: channel or campaign name; none under totals), currency, cost,
           clicks, impressions, campaign_id, synced_at. In the partitions and SK range the attribution report
           already Queries (attract.attribution.repository), so it reads spend with the joins, in the same Query.
Last sync: PK=SPEND_SYNC#<channel>, SK=SPEND_SYNC: last_attempt_at, last_status, error_codes, rows_stored,
           unknown_campaigns, last_success_at.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from botocore.exceptions import ClientError

from attract.attribution.logic import bucket_of
from attract.attribution.repository import SPEND_PREFIX, TOTALS, aggregate_partition, day_sort_key
from attract.aws import Repository, batch_get, from_item, to_item
from attract.campaigns.models import SpendRow
from attract.campaigns.spend import PlatformCampaign, SyncOutcome
from attract.errors import ConflictError

SPEND_MARK = "SPEND"
# ~250 bytes per campaign with a 100-character name: 4 items of 400 KB hold ~6,000 campaigns spending on one day.
SPEND_SHARDS = 4
SETS_PER_UPDATE = 50  # keeps an UpdateExpression far below DynamoDB's 4 KB


class PlatformCampaignConflictError(ConflictError):
    """A platform campaign id is already registered to another of our campaigns (409, the launch is `failed`)."""


def registry_key(channel: str, platform_campaign_id: str) -> dict:
    return {"PK": {"S": f"PLATFORM_CAMPAIGN#{channel}#{platform_campaign_id}"}, "SK": {"S": "PLATFORM_CAMPAIGN"}}


def spend_key(partition: str, day: date, shard: int) -> dict:
    """A day's spend item in an aggregate partition: inside the day's range, after its key and totals items."""
    return {"PK": {"S": partition}, "SK": {"S": day_sort_key(day, SPEND_MARK, shard)}}


def spend_attribute(channel: str, platform_campaign_id: str) -> str:
    return f"{SPEND_PREFIX}{channel}|{platform_campaign_id}"


def sync_key(channel: str) -> dict:
    return {"PK": {"S": f"SPEND_SYNC#{channel}"}, "SK": {"S": "SPEND_SYNC"}}


class SpendRepository(Repository):
    # -- the launch's side ----------------------------------------------------------------------

    def register_platform_campaign(self, channel: str, platform_campaign_id: str, campaign_id: str, name: str,
                                   source: str | None = None) -> None:
        """Record that a platform campaign is ours, so its spend is reported under `name`. Idempotent.

        Called by the launch as soon as the platform returns the campaign id (a resumed launch calls it
        again: same campaign, no error). Another campaign claiming the same platform id is refused.
        """
        item = to_item({"campaign_id": campaign_id, "name": name, "source": source, "channel": channel,
                        "platform_campaign_id": platform_campaign_id, "type": "platform_campaign"})
        try:
            self.dynamodb.put_item(TableName=self.table, Item={**registry_key(channel, platform_campaign_id), **item},
                                   ConditionExpression="attribute_not_exists(PK) OR campaign_id = :campaign",
                                   ExpressionAttributeValues={":campaign": {"S": campaign_id}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise PlatformCampaignConflictError(f"{channel} campaign {platform_campaign_id} belongs to another campaign") from None
            raise

    # -- the sync's side ------------------------------------------------------------------------

    def platform_campaigns(self, channel: str, platform_ids: Iterable[str]) -> dict[str, PlatformCampaign]:
        keys = [registry_key(channel, platform_id) for platform_id in sorted(set(platform_ids))]
        found: dict[str, PlatformCampaign] = {}
        for raw in batch_get(self.dynamodb, self.table, keys):
            item = from_item(raw)
            found[item["platform_campaign_id"]] = PlatformCampaign(
                channel=item["channel"], platform_campaign_id=item["platform_campaign_id"],
                campaign_id=item["campaign_id"], name=item["name"], source=item.get("source"))
        return found

    def put_days(self, rows: Sequence[tuple[SpendRow, PlatformCampaign]], synced_at: datetime) -> None:
        """Each (platform campaign, day) into the day's spend item of every partition the report reads.

        `SET s|<channel>|<id> = :the day's value`: a re-synced day replaces its value, never adds to it, and
        the two channels' syncs write distinct attributes of the same item without losing each other's.
        """
        per_item: dict[tuple[str, date, int], dict[str, dict]] = defaultdict(dict)
        for row, campaign in rows:
            value = {"currency": row.currency, "cost": row.cost, "clicks": row.clicks, "impressions": row.impressions,
                     "campaign_id": campaign.campaign_id, "synced_at": synced_at.isoformat()}
            attribute = spend_attribute(row.channel, row.platform_campaign_id)
            shard = bucket_of(attribute, SPEND_SHARDS)
            for dimension, key in campaign.report_keys.items():
                per_item[(aggregate_partition(dimension), row.day, shard)][attribute] = {**value, "key": key}
            per_item[(aggregate_partition(TOTALS), row.day, shard)][attribute] = value
        for (partition, day, shard), values in sorted(per_item.items()):
            entries = sorted(values.items())
            for start in range(0, len(entries), SETS_PER_UPDATE):
                chunk = entries[start:start + SETS_PER_UPDATE]
                names = {"#type": "type"} | {f"#a{index}": name for index, (name, _) in enumerate(chunk)}
                values_ = to_item({":type": "spend"} | {f":v{index}": value for index, (_, value) in enumerate(chunk)})
                update = "SET #type = :type, " + ", ".join(f"#a{index} = :v{index}" for index in range(len(chunk)))
                self.dynamodb.update_item(TableName=self.table, Key=spend_key(partition, day, shard), UpdateExpression=update,
                                          ExpressionAttributeNames=names, ExpressionAttributeValues=values_)

    def record_sync(self, outcome: SyncOutcome, at: datetime) -> None:
        names = {"#at": "last_attempt_at", "#status": "last_status", "#codes": "error_codes", "#rows": "rows_stored",
                 "#unknown": "unknown_campaigns", "#window": "window"}
        values = to_item({":at": at.isoformat(), ":status": "ok" if outcome.ok else "failed",
                          ":codes": outcome.error_codes, ":rows": outcome.rows_stored,
                          ":unknown": outcome.unknown_campaigns,
                          ":window": f"{outcome.start.isoformat()}..{outcome.end.isoformat()}"})
        update = "SET #at = :at, #status = :status, #codes = :codes, #rows = :rows, #unknown = :unknown, #window = :window"
        if outcome.ok:
            names["#ok"] = "last_success_at"
            update += ", #ok = :at"
        self.dynamodb.update_item(TableName=self.table, Key=sync_key(outcome.channel), UpdateExpression=update,
                                  ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    def last_sync(self, channel: str) -> dict | None:
        """The channel's last sync (for GET /campaigns/{id}): attempt and success times, status, error codes."""
        response = self.dynamodb.get_item(TableName=self.table, Key=sync_key(channel))
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        found = {name: item[name] for name in ("last_attempt_at", "last_status", "error_codes", "rows_stored",
                                               "unknown_campaigns", "last_success_at", "window") if name in item}
        return found | {name: int(found[name]) for name in ("rows_stored", "unknown_campaigns") if name in found}


def register_platform_campaign(table_name: str, channel: str, platform_campaign_id: str, campaign_id: str, name: str,
                               source: str | None = None, dynamodb=None) -> None:
    """For the launch (attract.campaigns.launch): see SpendRepository.register_platform_campaign."""
    SpendRepository(table_name, dynamodb).register_platform_campaign(channel, platform_campaign_id, campaign_id,
                                                                     name, source)
