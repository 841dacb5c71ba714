"""Attribution dimensions shared by links, touches, joins and reports."""

from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from attract.tracking.records import VISITOR_ID_PATTERN


class Channel(str, Enum):
    EMAIL = "email"
    PAID_SEARCH = "paid_search"
    PAID_SOCIAL = "paid_social"
    ORGANIC_SOCIAL = "organic_social"
    ORGANIC_SEARCH = "organic_search"
    REFERRAL = "referral"
    CAREERS_SITE = "careers_site"
    EVENT = "event"


# Campaign keeps its case (it is a name marketers read); source and medium are folded to lower case
# so "LinkedIn" and "linkedin" never become two rows of a report.
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LowerLabel = Annotated[Label, AfterValidator(str.lower)]
OptionalLabel = Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

VisitorId = Annotated[str, Field(pattern=VISITOR_ID_PATTERN, description="Opaque visitor id (tc_vid)")]


class Dimensions(BaseModel):
    """Where a touch came from, in the words of a campaign plan."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    campaign: Label
    channel: Channel
    source: LowerLabel
    medium: LowerLabel
    content: OptionalLabel = None
    term: OptionalLabel = None
