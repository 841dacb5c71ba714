"""Ad campaigns (issue 8): the draft marketers send, and the plain records exchanged with the platforms.

The draft is validated for shape here; employment-ad rules (age, gender, postcodes, radius, audiences,
asset limits) are checked by `attract.campaigns.policy`, so each broken rule gets its own name instead
of a generic "extra field". Nothing in this module imports an ads SDK: the public functions may load it.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from attract.links.models import DestinationUrl

GOOGLE_SEARCH, META = "google_search", "meta"
ChannelName = Literal["google_search", "meta"]
CampaignStatus = Literal["draft", "launching", "active", "paused", "ended", "failed"]
CampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Headline = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AssetText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
# Who benefits from and who pays for an ad (EU Digital Services Act), as Meta's ad set takes them: free text,
# a person's or organisation's name. Meta documents no length; 255 bounds what we store and send.
DsaName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]

MILES_TO_KM = Decimal("1.609344")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Money(_Model):
    amount: Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=12, decimal_places=2)]
    currency: Currency

    @property
    def micros(self) -> int:
        """Google's unit: millionths of the currency."""
        return int(self.amount * 1_000_000)


class Location(_Model):
    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    radius: Annotated[Decimal, Field(gt=0, le=500, max_digits=6, decimal_places=2)]
    radius_unit: Literal["mile", "kilometer"] = "kilometer"
    country: Country

    @property
    def radius_km(self) -> Decimal:
        return self.radius * MILES_TO_KM if self.radius_unit == "mile" else self.radius

    @property
    def radius_miles(self) -> Decimal:
        return self.radius if self.radius_unit == "mile" else self.radius / MILES_TO_KM


class Targeting(_Model):
    """What marketers bring from the platforms' own tools. Accepted here so the policy can refuse each by name."""

    age_min: int | None = None
    age_max: int | None = None
    genders: list[Any] | None = None
    postal_codes: list[Any] | None = None
    custom_audiences: list[Any] | None = None
    lookalike_audiences: list[Any] | None = None
    saved_audiences: list[Any] | None = None
    excluded_interests: list[Any] | None = None
    parental_status: list[Any] | None = None
    marital_status: list[Any] | None = None


class Keyword(_Model):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    match_type: Literal["EXACT", "PHRASE", "BROAD"] = "PHRASE"


class GoogleAssets(_Model):
    """Keywords and a responsive search ad; the RSA asset limits are policy rules (attract.campaigns.policy)."""

    keywords: Annotated[list[Keyword], Field(min_length=1, max_length=200)]
    headlines: Annotated[list[Headline], Field(max_length=50)]
    descriptions: Annotated[list[AssetText], Field(max_length=50)]


class MetaCreative(_Model):
    primary_text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    headline: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    image_url: DestinationUrl
    call_to_action: Literal["LEARN_MORE", "APPLY_NOW", "SIGN_UP", "SUBSCRIBE", "CONTACT_US"] = "LEARN_MORE"
    # For ads reaching the EU: override the Meta secret's dsa_beneficiary / dsa_payor for this campaign
    # (an agency advertising for several employers). Without either, the secret's value is sent.
    dsa_beneficiary: DsaName | None = None
    dsa_payor: DsaName | None = None


class CampaignDraft(_Model):
    """POST /campaigns: the contract clients rely on (issue 8)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=2)]
    daily_budget: Money
    start_date: date
    end_date: date | None = None
    locations: Annotated[list[Location], Field(min_length=1, max_length=50)]
    destination: DestinationUrl
    targeting: Targeting = Field(default_factory=Targeting)
    google: GoogleAssets | None = None
    meta: MetaCreative | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "CampaignDraft":
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must not repeat")
        if GOOGLE_SEARCH in self.channels and self.google is None:
            raise ValueError("channel google_search needs `google` (keywords, headlines, descriptions)")
        if META in self.channels and self.meta is None:
            raise ValueError("channel meta needs `meta` (primary_text, headline, image_url, call_to_action)")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


# ---- what the launch hands each platform adapter, and what comes back -----------------------------------

class LaunchPlan(BaseModel):
    """One platform's share of a launch: the draft, where its ads land, and the dates to send.

    The ads land on the employer's own page (`landing_url`, the draft's destination): an ad whose final
    URL is on another domain than its landing page is disapproved by Google (destination mismatch). The
    platform appends `url_params` to it (Google `final_url_suffix`, Meta `url_tags`): the tracked link's
    code (`tc_link`) and the utm values, and the careers-site snippet records the landing as a click of
    that link, with the click id the platform adds (gclid with auto-tagging, fbclid).
    """

    model_config = ConfigDict(frozen=True)

    campaign_id: CampaignId  # ours: the platforms' external id / name suffix, for finding a half-made launch
    platform_name: str  # the name the platform object gets: "<draft name> [attract:<campaign_id>]"
    draft: CampaignDraft
    landing_url: str  # the draft's destination: the ad's final URL
    url_params: tuple[tuple[str, str], ...]  # what the platform appends to landing_url, in order
    start_date: date | None  # None: start now (a start date already past is sent as "now", never as a past date)
    end_date: date | None  # inclusive; None: runs until ended

    @property
    def url_suffix(self) -> str:
        """`url_params` as one query string (Google's final_url_suffix, Meta's url_tags): %20 for spaces."""
        return urlencode(self.url_params, quote_via=quote)


class PlatformIds(BaseModel):
    """What a platform created; stored on the campaign item. Missing ids = that step is still to do."""

    model_config = ConfigDict(extra="forbid")

    campaign: str | None = None
    budget: str | None = None
    ad_group: str | None = None  # Google ad group / Meta ad set
    creative: str | None = None  # Meta only
    ad: str | None = None
    status: Literal["PAUSED", "ENABLED", "REMOVED"] | None = None
    # What the platform or the adapter noted at launch without refusing (auto-tagging off, an ad under
    # review or disapproved): shown on GET /campaigns/{id}, in words a marketer can act on.
    warnings: list[str] = Field(default_factory=list)


class SpendRow(BaseModel):
    """One platform campaign's spend on one day (the account's time zone), in the account currency."""

    model_config = ConfigDict(frozen=True)

    channel: ChannelName
    platform_campaign_id: str
    day: date
    cost: Decimal
    currency: Currency
    clicks: int
    impressions: int


class Conversion(BaseModel):
    """A confirmed join to report back to a platform (only with the person's consent)."""

    model_config = ConfigDict(frozen=True)

    join_id: str  # Google order_id / Meta event_id: the platforms deduplicate on it
    joined_at: datetime
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    fbclid: str | None = None
    fbclid_at: datetime | None = None  # when the click happened, for Meta's fbc
    email_sha256: str | None = None  # SHA-256 hex of the trimmed lower-case email: Meta's format
    # SHA-256 hex of the email as Google's Data Manager API normalises it (Gmail dots and +tags removed)
    google_email_sha256: str | None = None
    google_click_at: datetime | None = None  # the latest Google ad touch: no upload before it is 6 hours old
    event_source_url: str | None = None
    client_user_agent: str | None = None  # Meta wants it with website events (Conversions API)


class ConversionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    join_id: str
    ok: bool
    retryable: bool = False
    error: str | None = None  # a platform error code, never personal data
    request_id: str | None = None  # the platform's id of the request that carried it (support, diagnostics)
    # The platform asks to come back later, not sooner than this (a conversion action created too recently):
    # the conversion is rescheduled, never retried at once nor dead-lettered.
    retry_after_s: int | None = None
