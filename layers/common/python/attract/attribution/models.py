"""Report contract of GET /reports/attribution (stable: later reports extend it, never break it)."""

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from attract.attribution.credit import AttributionModel
from attract.attribution.keys import DIMENSIONS  # noqa: F401  (re-exported: the dimensions of a report)

# Where values nobody registered, values over a day's cap and rows over a report's limit are counted (as in GA4).
OTHER = "(other)"
DEFAULT_ROW_LIMIT = 50
# Keys are at most 100 characters, so 500 rows stay far below Lambda's 6 MB response limit.
MAX_ROW_LIMIT = 500


class GroupBy(str, Enum):
    CHANNEL = "channel"
    CAMPAIGN = "campaign"
    SOURCE = "source"


# Money as a plain decimal string ("12.50"): exact, and never in exponent form.
Amount = Annotated[Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str)]


class Spend(BaseModel):
    """Ad spend in one currency (never converted: accounts in two currencies give two entries)."""

    currency: str = Field(description="ISO 4217 code of the ad account")
    amount: Amount = Field(description="Spend over the days of the report, to the cent")
    cost_per_join: Amount | None = Field(description="amount / credited joins of the row (or all joins, in totals); "
                                                     "null when there are none")


class ReportRow(BaseModel):
    key: str
    joins: float = Field(description="Credited joins: fractional under multi-touch models")
    touches: int = Field(description="Touches with this key on the paths of the joins counted")
    spend: list[Spend] = Field(default_factory=list, description=(
        "Ad spend synced from Google Ads and Meta for campaigns Attract launched, per currency: "
        "in rows grouped by channel or campaign (and by source when the launch recorded one)"))


class ReportTotals(BaseModel):
    joins: float
    touches: int
    spend: list[Spend] = Field(default_factory=list, description="All synced spend of the range, per currency")


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
