"""Report contract of GET /reports/attribution (stable: later reports extend it, never break it)."""

from datetime import date
from enum import Enum

from pydantic import BaseModel, Field

from attract.attribution.credit import AttributionModel

DIMENSIONS = ("channel", "campaign", "source")


class GroupBy(str, Enum):
    CHANNEL = "channel"
    CAMPAIGN = "campaign"
    SOURCE = "source"


class ReportRow(BaseModel):
    key: str
    joins: float = Field(description="Credited joins: fractional under multi-touch models")
    touches: int = Field(description="Touches with this key on the paths of the joins counted")


class ReportTotals(BaseModel):
    joins: float
    touches: int


class AttributionReport(BaseModel):
    model: AttributionModel
    group_by: GroupBy
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    rows: list[ReportRow]
    totals: ReportTotals

    model_config = {"populate_by_name": True}
