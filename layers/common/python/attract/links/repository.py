"""DynamoDB access for tracked links: one item per link, `PK=LINK#<code>`, `SK=LINK`."""

from botocore.exceptions import ClientError

from attract.attribution.registry import registry_puts
from attract.aws import Repository, from_item, to_item
from attract.errors import AlreadyExistsError
from attract.links.models import Link

SK_LINK = "LINK"


def link_key(code: str) -> dict:
    return {"PK": {"S": f"LINK#{code}"}, "SK": {"S": SK_LINK}}


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

    def get(self, code: str) -> tuple[Link, int] | None:
        """The link and its click counter, or None."""
        response = self.dynamodb.get_item(TableName=self.table, Key=link_key(code))
        if "Item" not in response:
            return None
        values = from_item(response["Item"])
        return Link.model_validate(values), int(values.get("clicks", 0))
