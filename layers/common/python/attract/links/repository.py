"""DynamoDB access for tracked links, all in the link's partition `PK=LINK#<code>`.

Link:          SK=LINK           the link itself (immutable)
Click counter: SK=CLICKS#<n>     n in 0..CLICK_SHARDS-1, `clicks` added by the redirect outside its transaction

The redirect imports this module on its cold start and reads a plain `LinkTarget` (`target`); the
pydantic `Link`, the marketer API's contract, is loaded by `get` only.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from attract.attribution.registry import registry_puts
from attract.aws import Repository, from_item, to_item
from attract.errors import AlreadyExistsError
from attract.links.records import LinkTarget

if TYPE_CHECKING:
    from attract.links.models import Link

SK_LINK = "LINK"
# Counter shards: concurrent clicks on one popular link add to different items, so they never queue on
# one item, and DynamoDB can split the partition by sort key under heat. Reading sums them in one Query.
CLICK_SHARDS = 8


def link_key(code: str) -> dict:
    return {"PK": {"S": f"LINK#{code}"}, "SK": {"S": SK_LINK}}


def click_counter_key(code: str, shard: int | None = None) -> dict:
    """Key of one of the link's counter shards (a random one unless given)."""
    shard = secrets.randbelow(CLICK_SHARDS) if shard is None else shard
    return {"PK": {"S": f"LINK#{code}"}, "SK": {"S": f"CLICKS#{shard}"}}


class LinkRepository(Repository):
    def create(self, link: Link) -> None:
        """Put the link unless its code is taken (AlreadyExistsError)."""
        item = {"PK": f"LINK#{link.code}", "SK": SK_LINK, "type": "link", **link.model_dump(mode="json"), "clicks": 0}
        # Register the campaign and source first: public joins quoting them are then reported by name.
        for put in registry_puts(self.table, link.campaign, link.source):
            self.dynamodb.put_item(**put)
        try:
            self.dynamodb.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise AlreadyExistsError(f"link code {link.code} is taken") from error
            raise

    def delete(self, code: str) -> None:
        """Remove a link nobody published yet (the invite campaign it was made for could not be stored).

        Its campaign and source stay registered: other links may share them."""
        self.dynamodb.delete_item(TableName=self.table, Key=link_key(code))

    def get(self, code: str) -> tuple[Link, int] | None:
        """The link and its clicks (the counter shards summed), or None: one Query over the link's partition."""
        from attract.links.models import Link

        response = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"LINK#{code}"}},
        )
        link, clicks = None, 0
        for item in response["Items"]:
            values = from_item(item)
            clicks += int(values.get("clicks", 0))  # the link item's own `clicks`: counts from before sharding
            if values["SK"] == SK_LINK:
                link = Link.model_validate(values)
        return (link, clicks) if link is not None else None

    def target(self, code: str) -> LinkTarget | None:
        """What a click needs of the link, or None: one GetItem of the link item, the counter shards left unread."""
        response = self.dynamodb.get_item(TableName=self.table, Key=link_key(code))
        return LinkTarget.from_values(from_item(response["Item"])) if "Item" in response else None
