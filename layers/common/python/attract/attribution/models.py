"""Report contract of GET /reports/attribution (stable: later reports extend it, never break it)."""

from datetime import date
from enum import Enum

from pydantic import BaseModel, Field

from attract.attribution.credit import AttributionModel

DIMENSIONS = ("channel", "campaign", "source")
# Where values nobody registered, values over a day's cap and rows over a report's limit are counted (as in GA4).
OTHER = "(other)"
DEFAULT_ROW_LIMIT = 50
# Keys are at most 100 characters, so 500 rows stay far below Lambda's 6 MB response limit.
MAX_ROW_LIMIT = 500


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
    rows: list[ReportRow] = Field(description="At most `limit` rows, most credited first; the remainder in one (other) row")
    totals: ReportTotals = Field(description="All joins and touches of the range, whatever the row limit")
    limit: int = Field(DEFAULT_ROW_LIMIT, description="The row limit applied")
    folded_rows: int = Field(0, description="Keys summed into the (other) row because of the limit")

    model_config = {"populate_by_name": True}
