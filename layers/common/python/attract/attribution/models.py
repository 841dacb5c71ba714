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
    MEDIUM = "medium"
    CONTENT = "content"
    DAY = "day"
    WEEK = "week"  # ISO weeks, from Monday: "2026-W48"
    MONTH = "month"

    @property
    def is_time(self) -> bool:
        return self in (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH)


class ReportModel(str, Enum):
    """A model's name, or `all`: the five side by side (`by_model`)."""

    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    TIME_DECAY = "time_decay"
    POSITION_BASED = "position_based"
    ALL = "all"


# A target profile's id (attract.relevance: "prf_" + 16 url-safe characters).
PROFILE_ID_PATTERN = r"^prf_[A-Za-z0-9_-]{16}$"
ANY_PROFILE = "any"


# Money as a plain decimal string ("12.50"): exact, and never in exponent form.
Amount = Annotated[Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str)]


class FunnelStep(BaseModel):
    name: str
    count: int | float = Field(description="People at this step (credited joins under the model asked: fractional)")


class Funnel(BaseModel):
    kind: str = Field(description="email or ads")
    channel: str
    campaign: str
    steps: list[FunnelStep]


class FunnelReport(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    profile: str
    campaigns: list[Funnel]

    model_config = {"populate_by_name": True}


class Spend(BaseModel):
    """Ad spend in one currency (never converted: accounts in two currencies give two entries)."""

    currency: str = Field(description="ISO 4217 code of the ad account")
    amount: Amount = Field(description="Spend over the days of the report, to the cent")
    cost_per_join: Amount | None = Field(description="amount / credited joins of the row (or all joins, in totals); "
                                                     "null when there are none")
    cost_per_relevant_join: Amount | None = Field(default=None, description=(
        "amount / credited relevant joins of the row (same model; all relevant joins in totals); null when none"))


class Rates(BaseModel):
    relevant_joins: float = Field(default=0.0, description=(
        "Credited joins (same model) of members relevant to the profile asked, or to any profile"))
    clicks: int = Field(default=0, description="Human clicks through tracked links and ad landings (bots not counted)")
    join_rate: float | None = Field(default=None, description="joins / clicks; null without clicks")
    relevance_rate: float | None = Field(default=None, description="relevant_joins / joins; null without joins")


class ReportRow(Rates):
    key: str = Field(description="The dimension's value, or the period (2026-11-03, 2026-W45, 2026-11) by time")
    joins: float = Field(description="Credited joins: fractional under multi-touch models")
    touches: int = Field(description="Touches with this key on the paths of the joins counted")
    spend: list[Spend] = Field(default_factory=list, description=(
        "Ad spend synced from Google Ads and Meta for campaigns Attract launched, and the email cost of the "
        "invitations sent (messages x EmailPricePer1000), per currency: never summed across currencies"))


class ReportTotals(Rates):
    joins: float
    touches: int
    spend: list[Spend] = Field(default_factory=list, description="All spend of the range, per currency")


class AttributionReport(BaseModel):
    model: ReportModel
    group_by: GroupBy
    profile: str = Field(default=ANY_PROFILE, description="The profile relevant_joins counts for: an id, or `any`")
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    rows: list[ReportRow] = Field(description="At most `limit` rows, most credited first; the remainder in one (other) row")
    totals: ReportTotals = Field(description="All joins and touches of the range, whatever the row limit")
    limit: int = Field(DEFAULT_ROW_LIMIT, description="The row limit applied")
    folded_rows: int = Field(0, description="Keys summed into the (other) row because of the limit")
    by_model: dict[AttributionModel, list[ReportRow]] | None = Field(default=None, description=(
        "With model=all: each model's rows, the same keys in the same order (rows is then empty)"))

    model_config = {"populate_by_name": True}
