"""The invite campaign item: PK=INVITE_CAMPAIGN#<id>, SK=CAMPAIGN (docs/data-model.md, "Invite campaigns").

`spec` = the request as JSON, `name`, `link_code`, `created_at`, `created_by`, `latest_run_id`,
`watermark` (ISO UTC, set once a run's planning completed), `schedule` (map: expression, timezone, name).
"""

import json
from datetime import datetime
from typing import Any

from attract.aws import Repository, from_item, to_item
from attract.clock import iso, iso_micro
from attract.errors import AlreadyExistsError, NotFoundError
from attract.invites.campaigns import CampaignSchedule, InviteCampaign, InviteCampaignRequest, StoredSchedule
from attract.invites.repository import campaign_key


class CampaignRepository(Repository):
    def create(self, campaign: InviteCampaign) -> None:
        """Put the campaign unless its id is taken (AlreadyExistsError)."""
        spec = campaign.model_dump(mode="json", by_alias=True, include=set(InviteCampaignRequest.model_fields))
        if campaign.schedule is not None:
            spec["schedule"] = CampaignSchedule.model_validate(campaign.schedule.model_dump(exclude={"name"})).model_dump()
        # ensure_ascii=False: the text as bounded (UTF-8); \u escapes would store an emoji in 12 bytes, not 4.
        values: dict[str, Any] = {
            "type": "invite_campaign", "spec": json.dumps(spec, ensure_ascii=False), "name": campaign.name,
            "link_code": campaign.link_code, "created_at": iso(campaign.created_at), "created_by": campaign.created_by,
            "latest_run_id": campaign.latest_run_id,
            "watermark": iso_micro(campaign.watermark) if campaign.watermark else None,
            "schedule": campaign.schedule.model_dump() if campaign.schedule else None}
        try:
            self.dynamodb.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)",
                                   Item={**campaign_key(campaign.id), **to_item(values)})
        except self.dynamodb.exceptions.ConditionalCheckFailedException as error:
            raise AlreadyExistsError(f"invite campaign {campaign.id} exists") from error

    def get(self, campaign_id: str) -> InviteCampaign | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=campaign_key(campaign_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        values = from_item(item)
        spec = json.loads(values["spec"])
        spec.pop("schedule", None)  # the item's `schedule` is the one in force (PUT/DELETE change it)
        return InviteCampaign.model_validate({
            **spec, "id": campaign_id, "link_code": values["link_code"], "created_at": values["created_at"],
            "created_by": values.get("created_by", ""), "watermark": values.get("watermark"),
            "latest_run_id": values.get("latest_run_id"), "schedule": values.get("schedule")})

    def spec(self, campaign_id: str) -> str | None:
        """The stored request as JSON text, as `replace_spec` compares it; None when there is no campaign."""
        item = self.dynamodb.get_item(TableName=self.table, Key=campaign_key(campaign_id), ConsistentRead=True,
                                      ProjectionExpression="spec").get("Item")
        return item["spec"]["S"] if item and "spec" in item else None

    def replace_spec(self, campaign_id: str, old: str, new: dict) -> bool:
        """The request replaced, if it is still `old` (False: changed meanwhile, by another edit)."""
        try:
            self._update(campaign_id, "SET spec = :new", None,
                         {":new": {"S": json.dumps(new, ensure_ascii=False)}, ":old": {"S": old}},
                         condition="attribute_exists(PK) AND spec = :old")
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def set_schedule(self, campaign_id: str, schedule: StoredSchedule) -> None:
        self._update(campaign_id, "SET #s = :s", {"#s": "schedule"}, {":s": to_item({"s": schedule.model_dump()})["s"]})

    def clear_schedule(self, campaign_id: str) -> None:
        self._update(campaign_id, "REMOVE #s", {"#s": "schedule"}, None)

    def record_run(self, campaign_id: str, run_id: str) -> None:
        """The run the campaign's GET reports: the one started last. NotFoundError when there is no campaign."""
        try:
            self._update(campaign_id, "SET latest_run_id = :run", None, {":run": {"S": run_id}})
        except self.dynamodb.exceptions.ConditionalCheckFailedException as error:
            raise NotFoundError(f"no invite campaign {campaign_id}") from error

    def complete_planning(self, campaign_id: str, run_id: str, watermark: datetime | None) -> None:
        """After a run's planning: it becomes the latest run, and the watermark moves forward (never back).

        A campaign that is not there is left alone (nothing to record; a redelivery must not fail on it)."""
        try:
            self.record_run(campaign_id, run_id)
        except NotFoundError:
            return
        if watermark is None:
            return
        try:
            self._update(campaign_id, "SET watermark = :w", None, {":w": {"S": iso_micro(watermark)}},
                         condition="attribute_exists(PK) AND (attribute_not_exists(watermark) OR watermark < :w)")
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # a later watermark is already there (a redelivered or overtaken run)

    def _update(self, campaign_id: str, expression: str, names: dict | None, values: dict | None,
                condition: str = "attribute_exists(PK)") -> None:
        arguments: dict[str, Any] = {"TableName": self.table, "Key": campaign_key(campaign_id),
                                     "UpdateExpression": expression, "ConditionExpression": condition}
        if names:
            arguments["ExpressionAttributeNames"] = names
        if values:
            arguments["ExpressionAttributeValues"] = values
        self.dynamodb.update_item(**arguments)
