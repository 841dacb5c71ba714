"""Join request/response and stored-item models."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    field_validator,
)

from attract.dimensions import VisitorId
from attract.tracking.models import ClickIdValue  # bounded in UTF-8 bytes, like the redirect's
from attract.tracking.records import INVITE_TOKEN_PATTERN

ClickKind = Literal["tc_click", "gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# utm_* become stored touch labels (100 characters, attract.dimensions.Label): a valid request must store.
UtmText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MAX_CLICK_IDS = 20
# Exact Decimals in DynamoDB, plain numbers in JSON.
Credit = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class JoinRequest(BaseModel):
    """What a careers-site form (with the t.js snippet) sends to POST /joins."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=320)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    consent: Literal[True] = Field(description="Must be true: the person agrees to join the talent community")
    consent_text_version: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        None, description="Accepted for compatibility and ignored: the server records the version it shows (CONSENT_TEXT_VERSION)")
    ads_consent: StrictBool = Field(False, description=(
        "The person agrees that the ad platform that brought them (Google Ads, Meta) is told about the join, "
        "with a hash of the email: the platforms' conversion measurement. Optional; without it nothing is sent"))
    skills: Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]],
                      Field(max_length=50)] = Field(default_factory=list)
    location: Text | None = None
    visitor_id: VisitorId | None = None
    click_ids: dict[ClickKind, Annotated[list[ClickIdValue], BeforeValidator(_as_list), Field(max_length=MAX_CLICK_IDS)]] = Field(
        default_factory=dict, description="Click ids the snippet kept: tc_click values and ad click ids")
    invite_token: Annotated[str | None, Field(pattern=INVITE_TOKEN_PATTERN)] = None  # tc_inv, kept by the snippet
    utm_source: UtmText | None = None
    utm_medium: UtmText | None = None
    utm_campaign: UtmText | None = None
    utm_content: UtmText | None = None
    utm_term: UtmText | None = None
    gclid: ClickIdValue | None = None
    fbclid: ClickIdValue | None = None
    referrer: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=2048)] = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        from attract.identity import normalise_email

        return normalise_email(value)

    @field_validator("consent", mode="before")
    @classmethod
    def _consent_is_explicit(cls, value: object) -> object:
        # "true", 1 or "on" are not consent: only a JSON true is.
        if value is not True:
            raise ValueError("consent must be true")
        return value

    def all_click_ids(self) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {kind: list(values) for kind, values in self.click_ids.items()}
        for kind in ("gclid", "fbclid"):
            value = getattr(self, kind)
            if value and value not in merged.get(kind, []):
                merged.setdefault(kind, []).append(value)
        return merged

    def utm(self) -> dict[str, str]:
        return {key: value for key in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
                if (value := getattr(self, key))}


class CreditedTouch(BaseModel):
    """One touch of a join's path with its credit under each model. No personal data."""

    touch_id: str
    occurred_at: datetime
    origin: str
    channel: str
    campaign: str
    source: str
    medium: str
    content: str = "(not set)"  # utm_content; paths stored before it was kept have none
    credits: dict[str, Credit]


class JoinAccepted(BaseModel):
    """The only answer POST /joins gives: the same for a new, a pending and an existing member's email."""

    status: Literal["pending"] = Field("pending", description="A confirmation email is on its way (or a note to a member)")


class PendingJoin(BaseModel):
    """A submitted join awaiting its email confirmation (PK=MEMBER#<hash>, SK=PENDING, TTL 7 days).

    Holds what the confirmation needs: the profile, the touches captured at submission and the click
    claims to take. For a member's repeat submission it holds no profile: it only rate-limits the note.
    """

    email_hash: str
    nonce: str
    submitted_at: datetime
    mailed_at: int  # epoch seconds: the one-email-per-hour condition compares numbers
    expires_at: int  # epoch seconds: the table's TTL attribute; the token carries the same expiry
    member: bool = False
    email: str | None = None
    name: str | None = None
    skills: list[str] = Field(default_factory=list)
    location: str | None = None
    consent_text_version: str | None = None
    consent_channel: str | None = None  # how consent is given (attract.people.consent.CHANNELS); None before it was kept
    ads_consent: bool = False  # may the ad platform that brought them be told (hashed)? JoinRequest.ads_consent
    visitor_id: str | None = None  # trusted (signed) only
    touches: list[dict] = Field(default_factory=list)  # captured at submission (Touch dumps)
    landing: dict | None = None  # the join's own touch, credited when nothing else is
    claims: dict[str, str] = Field(default_factory=dict)  # signed tc_click -> the visitor it stands for
    invite: str | None = None  # the invitation's touch id (tc_inv resolved): claimed at confirmation, once
    mailbox: str | None = None  # keyed hash of the mailbox (attract.joins.limits): its hourly mark is this one's
    sent_at: int | None = None  # epoch seconds: the deferred mail went out (the mailer's once-only mark)
    untrusted_ids: dict = Field(default_factory=dict)  # ids that did not verify: recorded, never credited
    browser: dict[str, str] = Field(default_factory=dict)  # ads consent only: feedback.browser_context, for Meta


class Member(BaseModel):
    """The member item: the only place the raw email lives."""

    member_id: str
    email: str
    email_hash: str
    name: str
    skills: list[str] = Field(default_factory=list)
    location: str | None = None
    consent: dict
    joined_at: datetime
    visitor_id: str | None = None


