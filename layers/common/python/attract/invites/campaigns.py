"""Invite campaigns (STUB for inv-plan's tests: inv-api owns this module; its version wins on merge).

Item: PK=INVITE_CAMPAIGN#<campaign_id>, SK=CAMPAIGN; `spec` = the InviteCampaignRequest as JSON, name,
link_code, created_at, created_by, latest_run_id, watermark (ISO UTC), schedule.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from attract.aws import Repository, from_item, to_item
from attract.invites.models import CampaignId, InviteSender
from attract.invites.sources import ColumnMapping, SourceSpec


class InviteCampaignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    destination: str
    source: SourceSpec
    mapping: ColumnMapping
    subject: str
    text: str
    html: str | None = None
    sender: InviteSender
    schedule: dict | None = None


class InviteCampaign(InviteCampaignRequest):
    id: CampaignId
    link_code: str
    created_at: str | None = None
    watermark: str | None = None
    latest_run_id: str | None = None


def campaign_key(campaign_id: str) -> dict:
    return {"PK": {"S": f"INVITE_CAMPAIGN#{campaign_id}"}, "SK": {"S": "CAMPAIGN"}}


class CampaignRepository(Repository):
    def create(self, campaign_id: str, request: InviteCampaignRequest, link_code: str, now: datetime,
               created_by: str = "test") -> InviteCampaign:
        self.dynamodb.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)", Item={
            **campaign_key(campaign_id), **to_item({
                "type": "invite_campaign", "spec": request.model_dump_json(by_alias=True), "name": request.name,
                "link_code": link_code, "created_at": now.isoformat(), "created_by": created_by})})
        found = self.get(campaign_id)
        assert found is not None
        return found

    def get(self, campaign_id: str) -> InviteCampaign | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=campaign_key(campaign_id),
                                      ConsistentRead=True).get("Item")
        if item is None:
            return None
        values = from_item(item)
        spec = InviteCampaignRequest.model_validate_json(values["spec"])
        return InviteCampaign(**spec.model_dump(by_alias=True), id=campaign_id, link_code=values["link_code"],
                              created_at=values.get("created_at"), watermark=values.get("watermark"),
                              latest_run_id=values.get("latest_run_id"))

    def complete_planning(self, campaign_id: str, run_id: str, watermark: str | None) -> None:
        """Record the run whose planning completed; the watermark only moves forward."""
        names, values = {"#w": "watermark"}, {":run": {"S": run_id}}
        expression = "SET latest_run_id = :run"
        if watermark is not None:
            values[":w"] = {"S": watermark}
            expression += ", #w = if_not_exists(#w, :w)"
        self.dynamodb.update_item(TableName=self.table, Key=campaign_key(campaign_id), UpdateExpression=expression,
                                  ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        if watermark is not None:  # then move it forward only
            try:
                self.dynamodb.update_item(TableName=self.table, Key=campaign_key(campaign_id),
                                          UpdateExpression="SET #w = :w", ConditionExpression="#w < :w",
                                          ExpressionAttributeNames=names, ExpressionAttributeValues={":w": values[":w"]})
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                pass
