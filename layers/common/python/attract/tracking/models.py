"""Touch models: what a click or an import records, and the ingest contract."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from attract.bounds import Utf8Bytes
from attract.dimensions import Dimensions, VisitorId
from attract.tracking.records import CLICK_ID_PARAMS, MAX_CLICK_ID_BYTES, MAX_UTM_BYTES  # the click's, pydantic-free

MAX_INGEST_AGE = timedelta(days=90)
CLOCK_SKEW = timedelta(minutes=5)
MAX_BATCH = 100

ClickIdValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CLICK_ID_BYTES),
                         Utf8Bytes(MAX_CLICK_ID_BYTES)]
UtmValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_UTM_BYTES),
                     Utf8Bytes(MAX_UTM_BYTES)]


class Touch(Dimensions):
    """A stored touch. Exactly one of visitor_id / email_hash says whose it is; never a raw email.

    `channel` is a plain string here: a join without touches is attributed to `direct`, which no
    link or import may use.
    """

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    channel: str  # type: ignore[assignment]

    touch_id: str
    occurred_at: datetime
    origin: Literal["click", "import", "invite", "join"]
    visitor_id: str | None = None
    email_hash: str | None = None
    link_code: str | None = None
    click_ids: dict[str, str] = Field(default_factory=dict)
    utm: dict[str, str] = Field(default_factory=dict)
    referrer: str | None = None
    external_id: str | None = None


class TouchIn(Dimensions):
    """One touch reported by a marketer: a badge scan, an import from a previous system, …"""

    visitor_id: VisitorId | None = None
    email: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=320)] = None
    occurred_at: AwareDatetime = Field(description="When it happened, with a UTC offset; not in the future, at most 90 days back")
    click_ids: dict[Literal[CLICK_ID_PARAMS], ClickIdValue] = Field(default_factory=dict)  # type: ignore[valid-type]
    external_id: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        None, description="The touch's id in the system it came from; makes re-imports idempotent"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Imported here so the public click path never pays for the validator's import.
        from attract.identity import normalise_email

        return normalise_email(value)

    @field_validator("occurred_at")
    @classmethod
    def _recent_enough(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = (info.context or {}).get("now")
        if now is None:
            return value
        if value > now + CLOCK_SKEW:
            raise ValueError("occurred_at must not be in the future")
        if value < now - MAX_INGEST_AGE:
            raise ValueError("occurred_at must be at most 90 days back")
        return value

    @model_validator(mode="after")
    def _one_subject(self) -> "TouchIn":
        if (self.visitor_id is None) == (self.email is None):
            raise ValueError("give exactly one of visitor_id or email")
        return self


class TouchBatch(BaseModel):
    """Envelope of an ingest request: items are validated one by one so one bad row rejects only itself.

    A single touch object is accepted too and treated as a batch of one.
    """

    model_config = ConfigDict(extra="forbid")

    touches: Annotated[list[dict], Field(min_length=1, max_length=MAX_BATCH)]

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: object) -> object:
        if isinstance(data, dict) and "touches" not in data:
            return {"touches": [data]}
        return data


class FieldError(BaseModel):
    field: str
    location: str
    rule: str
    message: str


class IngestItemResult(BaseModel):
    index: int
    status: Literal["recorded", "rejected"]
    touch_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class IngestResult(BaseModel):
    recorded: int
    rejected: int
    results: list[IngestItemResult]
