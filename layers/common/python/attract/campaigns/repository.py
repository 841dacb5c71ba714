"""DynamoDB access for ad campaigns: one item per campaign, `PK=CAMPAIGN#<id>`, `SK=CAMPAIGN`.

The item holds the draft (JSON text: DynamoDB numbers would not keep its floats), the status, each
channel's platform ids and tracked-link code, the last platform error and a `version`. Every write is
conditional: creation on `attribute_not_exists(PK)`, each later change on the version it read, so two
launches (or a launch and a pause) racing on one campaign cannot both win. Changes are UpdateItem
SETs of the fields this module owns: `last_sync`, written by the spend sync, is never overwritten.
"""

import json
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from attract.aws import Repository, from_item, to_item
from attract.campaigns.models import CampaignDraft
from attract.campaigns.records import Campaign
from attract.errors import AlreadyExistsError, ConflictError

SK_CAMPAIGN = "CAMPAIGN"
_serializer = TypeSerializer()
# What `save` writes: everything a launch, pause, resume or end changes.
_MUTABLE = ("status", "platform_ids", "link_codes", "last_error", "launch_started_at", "updated_at")


def campaign_key(campaign_id: str) -> dict:
    return {"PK": {"S": f"CAMPAIGN#{campaign_id}"}, "SK": {"S": SK_CAMPAIGN}}


def _stored(campaign: Campaign) -> dict[str, Any]:
    values = campaign.model_dump(mode="json", exclude={"draft"})
    values["draft"] = campaign.draft.model_dump_json()
    return values


class CampaignRepository(Repository):
    def create(self, campaign: Campaign) -> None:
        item = {"PK": f"CAMPAIGN#{campaign.id}", "SK": SK_CAMPAIGN, "type": "campaign", **_stored(campaign)}
        try:
            self.dynamodb.put_item(TableName=self.table, Item=to_item(item),
                                   ConditionExpression="attribute_not_exists(PK)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise AlreadyExistsError(f"campaign {campaign.id} exists") from error
            raise

    def get(self, campaign_id: str) -> Campaign | None:
        # Strongly consistent: a launch reads the version it is about to condition on.
        response = self.dynamodb.get_item(TableName=self.table, Key=campaign_key(campaign_id), ConsistentRead=True)
        if "Item" not in response:
            return None
        values = from_item(response["Item"])
        values["draft"] = CampaignDraft.model_validate(json.loads(values["draft"]))
        return Campaign.model_validate(values)

    def save(self, campaign: Campaign) -> Campaign:
        """Write the changed campaign if nobody else changed it since `campaign.version` (else ConflictError)."""
        values = _stored(campaign)
        names = {f"#{field}": field for field in _MUTABLE}
        sets = [f"#{field} = :{field}" for field in _MUTABLE if values[field] is not None]
        removes = [f"#{field}" for field in _MUTABLE if values[field] is None]
        attribute_values = {f":{field}": _serializer.serialize(values[field]) for field in _MUTABLE
                            if values[field] is not None}
        attribute_values |= {":expected": {"N": str(campaign.version)}, ":next": {"N": str(campaign.version + 1)}}
        expression = "SET " + ", ".join([*sets, "#version = :next"]) + (f" REMOVE {', '.join(removes)}" if removes else "")
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=campaign_key(campaign.id), UpdateExpression=expression,
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames=names | {"#version": "version"}, ExpressionAttributeValues=attribute_values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConflictError(f"campaign {campaign.id} changed meanwhile; read it again") from error
            raise
        return campaign.model_copy(update={"version": campaign.version + 1})
