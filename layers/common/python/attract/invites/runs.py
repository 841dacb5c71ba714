"""Runs of an invite campaign (STUB for inv-api's tests: inv-plan owns this module; its version wins on merge).

Item: PK=INVITE_RUN#<campaign_id>, SK=RUN#<run_id>; status planning|sending|done|failed, trigger, started_at,
counters rows, planned, sent, failed, skipped_<reason> (docs/data-model.md).
"""

from datetime import datetime

from pydantic import BaseModel, Field

from attract.aws import Repository, from_item, to_item
from attract.clock import iso
from attract.invites.repository import run_key


class RunCounts(BaseModel):
    rows: int = 0
    planned: int = 0
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)


class RunStatus(BaseModel):
    run_id: str
    status: str
    trigger: str | None = None
    started_at: str | None = None
    counts: RunCounts


class RunRepository(Repository):
    def start(self, campaign_id: str, run_id: str, trigger: str, now: datetime) -> bool:
        """Create the run as `planning`; False when it exists already."""
        try:
            self.dynamodb.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)", Item={
                **run_key(campaign_id, run_id),
                **to_item({"type": "invite_run", "status": "planning", "trigger": trigger, "started_at": iso(now)})})
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, campaign_id: str, run_id: str) -> dict | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=run_key(campaign_id, run_id),
                                      ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    @staticmethod
    def to_response(item: dict) -> RunStatus:
        skipped = {name.removeprefix("skipped_"): int(value) for name, value in item.items()
                   if name.startswith("skipped_")}
        return RunStatus(run_id=str(item["SK"]).removeprefix("RUN#"), status=item.get("status", "planning"),
                         trigger=item.get("trigger"), started_at=item.get("started_at"),
                         counts=RunCounts(rows=int(item.get("rows", 0)), planned=int(item.get("planned", 0)),
                                          sent=int(item.get("sent", 0)), failed=int(item.get("failed", 0)),
                                          skipped=skipped))
