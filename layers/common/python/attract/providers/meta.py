"""Meta (Facebook/Instagram) ads through the official `facebook_business` SDK: the only module that knows the Graph API.

Imported only by the campaigns functions (lazily, through `attract.campaigns.gateways`): the SDK is large
and the public functions must not load it. Every Meta rule for employment ads that this adapter can set,
it always sets (special ad category EMPLOYMENT with its countries, age 18-65, no genders, radius
targeting); `attract.campaigns.policy` refuses drafts that ask for anything else before we get here.

Before its first create (and before a dry run's first validation), the adapter checks what only it can
know: the account's currency (read once per gateway) against the draft's budget, and who benefits and
pays (the secret's DSA values, or the draft's) when the ads reach the EU. A broken rule is the same 422
as the policy's (RulesBrokenError), and nothing reached Meta but that one read.

Launch is resumable: before creating anything it looks the object up by its name (ours, derived from
the plan's `platform_name`, which carries our campaign id), so a retry after a timeout that Meta did
apply never makes a second campaign, ad set, creative or ad.

Nothing here logs. Errors carry Meta's codes and trace id, never the request (the SDK puts the access
token in the URL and the hashed email in the body) and never the SDK exception as a cause.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.adspixel import AdsPixel
from facebook_business.adobjects.campaign import Campaign
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookError, FacebookRequestError
from facebook_business.session import FacebookSession
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from attract.campaigns import policy
from attract.campaigns.currencies import meta_units
from attract.campaigns.models import (
    META,
    Conversion,
    ConversionResult,
    DsaName,
    LaunchPlan,
    PlatformIds,
    SpendRow,
)
from attract.campaigns.ports import PlatformError, PlatformStatus, RateLimited, with_backoff

T = TypeVar("T")

# Meta's throttling codes: 4 app, 17 user, 32 page, 613 calls within a time window, 800xx business use case
# (80000 insights, 80003 custom audiences, 80004 ads management, 80005 lead ads, 80014 catalog batch).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80000, 80003, 80004, 80005, 80014})
TRANSIENT_CODES = frozenset({1, 2})  # "unknown error", "service temporarily unavailable"
STATUS_TO_META = {"ENABLED": "ACTIVE", "PAUSED": "PAUSED", "REMOVED": "DELETED"}
AGE_MIN, AGE_MAX = 18, 65  # Meta's only age range for special ad category EMPLOYMENT
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_TRACE_HEADERS = ("x-fb-trace-id", "x-fb-request-id")


def account_id(value: str) -> str:
    """"act_123" or "123" -> "act_123" (the SDK wants the prefix)."""
    digits = value.strip().removeprefix("act_")
    if not digits.isdigit():
        raise ValueError("ad_account_id must be digits, optionally prefixed with act_")
    return f"act_{digits}"


def child_name(platform_name: str, kind: str) -> str:
    """The ad set / creative / ad name: the campaign's name (which carries our id) plus its kind."""
    return f"{platform_name} · {kind}"


def fbc(fbclid: str, clicked_at: datetime) -> str:
    """Meta's click cookie format, built server-side: fb.<subdomain index>.<creation ms>.<fbclid>."""
    return f"fb.1.{int(clicked_at.timestamp() * 1000)}.{fbclid}"


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _day_start(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=timezone.utc).isoformat()


def _day_end(day: date) -> str:
    """The day's last second: an inclusive end date, for any date (the day after 9999-12-31 does not exist)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc).isoformat()


def platform_error(error: FacebookRequestError) -> PlatformError:
    """A Graph API refusal as our error: codes "<code>" and "<code>/<subcode>", Meta's message and trace id."""
    code, subcode = error.api_error_code(), error.api_error_subcode()
    codes = [str(code)] if code is not None else [f"http_{error.http_status()}"]
    if code is not None and subcode is not None:
        codes.append(f"{code}/{subcode}")
    headers = error.http_headers() or {}
    body = error.body() if isinstance(error.body(), dict) else {}
    request_id = next((headers[name] for name in _TRACE_HEADERS if headers.get(name)), None) \
        or (body.get("error") or {}).get("fbtrace_id")
    message = f"Meta: {error.api_error_message() or 'request failed'}"
    if code in RATE_LIMIT_CODES:
        return RateLimited(META, message, codes, request_id)
    transient = code in TRANSIENT_CODES or bool(error.api_transient_error()) or (error.http_status() or 0) >= 500
    return PlatformError(META, message, codes, request_id, retryable=transient)


Credential = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class MetaConfig(BaseModel):
    """The Meta secret's JSON (META_SECRET_ID). Refused as a whole (credentials_invalid) when a value is missing."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)

    app_id: Credential
    app_secret: Credential
    access_token: Credential
    ad_account_id: Credential
    page_id: Credential
    pixel_id: str | None = None  # a dataset for OUTCOME_LEADS and the Conversions API; without: OUTCOME_TRAFFIC
    test_event_code: str | None = None  # Events Manager's test tool
    # Who benefits from and who pays for the ads (EU Digital Services Act): sent on every ad set reaching the
    # EU/EEA, unless the draft names its own (meta.dsa_beneficiary / meta.dsa_payor).
    dsa_beneficiary: DsaName | None = None
    dsa_payor: DsaName | None = None

    @field_validator("ad_account_id")
    @classmethod
    def _act(cls, value: str) -> str:
        return account_id(value)

    @field_validator("pixel_id", "test_event_code", "dsa_beneficiary", "dsa_payor", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value is None or str(value).strip() == "" else value


@dataclass(frozen=True)
class _Creates:
    """A launch's four Graph creates, each without the ids of its parents (added as they exist)."""

    campaign: dict[str, Any]
    ad_set: dict[str, Any]
    creative: dict[str, Any]
    ad: dict[str, Any]


VALIDATE_ONLY = {"execution_options": ["validate_only"]}
# What a dry run tells the marketer when Meta could not check a child (its parents do not exist yet).
NOT_VALIDATED = ("Meta checks an ad set against its campaign, and an ad against its ad set and creative; a dry run "
                 "creates neither, so the ad set and the ad were checked against Attract's rules only")
AD_NOT_VALIDATED = ("Meta checks an ad against its ad set and creative; this launch has not made both yet, so the ad "
                    "was checked against Attract's rules only")


class MetaGateway:
    """AdsGateway for channel "meta". `config` is the Meta secret's JSON (MetaConfig: app id/secret, token, ad
    account, page, pixel, DSA names); `graph_url` the Graph API base URL (META_GRAPH_URL; a sandbox in tests)."""

    channel = META

    def __init__(self, config: dict, graph_url: str, *, timeout_s: float = 10,
                 sleep: Callable[[float], None] | None = None, attempts: int = 5, backoff_base_s: float = 0.5,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        import time as time_module

        if not graph_url.startswith(("https://", "http://")):
            raise ValueError("graph_url must be an http(s) URL")
        self.config = MetaConfig.model_validate(config)
        self.account, self.pixel_id, self.page_id = self.config.ad_account_id, self.config.pixel_id, self.config.page_id
        # Process-wide on purpose: the Conversions API and the SDK's crash reporter build their own
        # sessions from the class attribute, and neither may ever reach another host than ours.
        FacebookSession.GRAPH = graph_url.rstrip("/")
        self.api = FacebookAdsApi.init(
            app_id=self.config.app_id, app_secret=self.config.app_secret,
            access_token=self.config.access_token, crash_log=False, timeout=timeout_s,
        )
        # This gateway's own requests keep its URL even if another gateway later moves the class attribute.
        self.api._session.GRAPH = FacebookSession.GRAPH  # type: ignore[attr-defined]
        self.test_event_code = self.config.test_event_code
        self._currency: str | None = None  # the ad account's, read once
        self._sleep = sleep or time_module.sleep
        self._clock = clock
        self._attempts, self._backoff_base_s = attempts, backoff_base_s

    # ---- plumbing --------------------------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        """One SDK call: rate limits retried with backoff, everything else as a PlatformError."""
        return with_backoff(lambda: self._once(call), attempts=self._attempts, base_s=self._backoff_base_s,
                            sleep=self._sleep)

    @staticmethod
    def _once(call: Callable[[], T]) -> T:
        import requests

        try:
            return call()
        except FacebookRequestError as error:
            raise platform_error(error) from None  # the SDK error holds the request: never chain it
        except requests.Timeout:
            # Meta may have applied the call: the caller's retry finds the object by name.
            raise PlatformError(META, "Meta: request timed out", ["timeout"], retryable=True) from None
        except requests.RequestException as error:
            # Its text holds the URL, and with it the access token: only the type is kept.
            raise PlatformError(META, f"Meta: connection failed ({type(error).__name__})", ["connection"],
                                retryable=True) from None
        except FacebookError as error:
            raise PlatformError(META, f"Meta SDK refused the call ({type(error).__name__})", ["sdk"]) from None

    def _ad_account(self) -> AdAccount:
        return AdAccount(self.account, api=self.api)

    def _find(self, edge: Callable[..., Any], name: str) -> str | None:
        """The id of the account's object with exactly this name (edges: get_campaigns, get_ad_sets, ...)."""
        def lookup() -> str | None:
            found = edge(fields=["id", "name"], params={
                "filtering": [{"field": "name", "operator": "EQUAL", "value": name}], "limit": 50})
            return next((str(item["id"]) for item in found if item.get("name") == name), None)
        return self._call(lookup)

    def _find_or_create(self, edge: Callable[..., Any], create: Callable[..., Any], params: dict) -> str:
        existing = self._find(edge, params["name"])
        if existing is not None:
            return existing
        return str(self._call(lambda: create(params=params))["id"])

    def _update_status(self, object_id: str, kind: type, status: str) -> None:
        self._call(lambda: kind(object_id, api=self.api).api_update(params={"status": status}))

    # ---- AdsGateway -----------------------------------------------------------------------------------

    def preflight(self, plan: LaunchPlan) -> list[str]:
        """The secret's DSA names and the account's currency against the draft (the checks of `_creates`)."""
        self._creates(plan)
        return []

    def create_paused(self, plan: LaunchPlan, done: PlatformIds) -> PlatformIds:
        creates, account, ids = self._creates(plan), self._ad_account(), done.model_copy()
        if ids.campaign is None:
            ids = ids.model_copy(update={"campaign": self._find_or_create(
                account.get_campaigns, account.create_campaign, creates.campaign)})
        if ids.ad_group is None:
            ids = ids.model_copy(update={"ad_group": self._find_or_create(
                account.get_ad_sets, account.create_ad_set, {**creates.ad_set, "campaign_id": ids.campaign})})
        if ids.creative is None:
            ids = ids.model_copy(update={"creative": self._find_or_create(
                account.get_ad_creatives, account.create_ad_creative, creates.creative)})
        if ids.ad is None:
            ad = {**creates.ad, "adset_id": ids.ad_group, "creative": {"creative_id": ids.creative}}
            ids = ids.model_copy(update={"ad": self._find_or_create(account.get_ads, account.create_ad, ad)})
        return ids.model_copy(update={"status": "PAUSED"})

    def activate(self, ids: PlatformIds) -> PlatformIds:
        # Children first, the campaign last: delivery starts only once everything under it is active.
        if not (ids.ad and ids.ad_group and ids.campaign):
            raise PlatformError(META, "the Meta launch is incomplete", ["not_launched"])
        self._update_status(ids.ad, Ad, Ad.Status.active)
        self._update_status(ids.ad_group, AdSet, AdSet.Status.active)
        self._update_status(ids.campaign, Campaign, Campaign.Status.active)
        return ids.model_copy(update={"status": "ENABLED"})

    def dry_run(self, plan: LaunchPlan) -> list[str]:
        """Every create of the launch with execution_options=["validate_only"]: Meta validates, creates nothing.

        Meta validates an ad set against its campaign and an ad against its ad set and creative, by id. A dry
        run creates no campaign, so those two are validated only against what a half-made launch of this
        campaign already has on Meta (found by name); otherwise the answer says they were not.
        """
        creates, account = self._creates(plan), self._ad_account()
        self._validate(account.create_campaign, creates.campaign)
        self._validate(account.create_ad_creative, creates.creative)
        campaign_id = self._find(account.get_campaigns, creates.campaign["name"])
        if campaign_id is None:
            return [NOT_VALIDATED]
        self._validate(account.create_ad_set, {**creates.ad_set, "campaign_id": campaign_id})
        ad_set_id = self._find(account.get_ad_sets, creates.ad_set["name"])
        creative_id = self._find(account.get_ad_creatives, creates.creative["name"])
        if ad_set_id is None or creative_id is None:
            return [AD_NOT_VALIDATED]
        self._validate(account.create_ad, {**creates.ad, "adset_id": ad_set_id,
                                           "creative": {"creative_id": creative_id}})
        return []

    def _validate(self, create: Callable[..., Any], params: dict) -> None:
        self._call(lambda: create(params={**params, **VALIDATE_ONLY}))

    # ---- what a launch sends, after the checks only the adapter can make --------------------------------

    def _creates(self, plan: LaunchPlan) -> _Creates:
        """The four creates; RulesBrokenError (422) first if the secret or the account refuses the draft."""
        draft, creative = plan.draft, plan.draft.meta
        if creative is None:
            raise PlatformError(META, "the draft has no `meta` creative", ["draft_without_meta"])
        dsa = {"dsa_beneficiary": creative.dsa_beneficiary or self.config.dsa_beneficiary,
               "dsa_payor": creative.dsa_payor or self.config.dsa_payor}
        policy.refuse(policy.meta_dsa_violations(draft, dsa["dsa_beneficiary"], dsa["dsa_payor"]),
                      "Meta refuses this launch")
        currency = self._account_currency()
        policy.refuse(policy.meta_account_currency_violations(draft, currency), "Meta refuses this launch")
        countries = policy.meta_campaign_countries(draft)
        campaign = {
            "name": plan.platform_name,
            "objective": Campaign.Objective.outcome_leads if self.pixel_id else Campaign.Objective.outcome_traffic,
            "status": Campaign.Status.paused,
            "special_ad_categories": [Campaign.SpecialAdCategories.employment],
            "special_ad_category_country": countries,
            "is_adset_budget_sharing_enabled": False,  # the budget is the ad set's
            "buying_type": "AUCTION",
        }
        return _Creates(campaign=campaign, ad_set=self._ad_set(plan, currency, countries, dsa),
                        creative=self._creative(plan),
                        ad={"name": child_name(plan.platform_name, "ad"), "status": Ad.Status.paused})

    def _ad_set(self, plan: LaunchPlan, currency: str, countries: list[str], dsa: dict[str, str | None]) -> dict:
        ad_set: dict[str, Any] = {
            "name": child_name(plan.platform_name, "ad set"),
            "status": AdSet.Status.paused,
            # In the account currency's unit (cents; whole units for JPY, KRW, ...): the policy refused more precision
            "daily_budget": meta_units(plan.draft.daily_budget.amount, currency),
            "billing_event": AdSet.BillingEvent.impressions,
            "bid_strategy": AdSet.BidStrategy.lowest_cost_without_cap,
            "targeting": self._targeting(plan),
        }
        if policy.META_DSA_COUNTRIES.intersection(countries):
            ad_set.update(dsa)
        if plan.start_date is not None:  # otherwise Meta starts it now
            ad_set["start_time"] = _day_start(plan.start_date)
        if plan.end_date is not None:  # inclusive: delivery stops at the end of that day
            ad_set["end_time"] = _day_end(plan.end_date)
        if self.pixel_id:
            ad_set["optimization_goal"] = AdSet.OptimizationGoal.offsite_conversions
            ad_set["promoted_object"] = {"pixel_id": self.pixel_id, "custom_event_type": "LEAD"}
        else:
            ad_set["optimization_goal"] = AdSet.OptimizationGoal.link_clicks
        return ad_set

    def _creative(self, plan: LaunchPlan) -> dict:
        creative = plan.draft.meta
        assert creative is not None  # _creates refused a draft without one
        return {
            "name": child_name(plan.platform_name, "creative"),
            "object_story_spec": {"page_id": self.page_id, "link_data": {
                "link": plan.landing_url, "message": creative.primary_text, "name": creative.headline,
                "picture": creative.image_url,
                "call_to_action": {"type": creative.call_to_action, "value": {"link": plan.landing_url}},
            }},
            "url_tags": plan.url_suffix,  # tc_link and utm: the careers-site snippet records the landing
        }

    def _account_currency(self) -> str:
        """The ad account's currency (GET act_<id>?fields=currency), read once: an account never changes it."""
        if self._currency is None:
            account = self._call(lambda: self._ad_account().api_get(fields=[AdAccount.Field.currency]))
            self._currency = str(account[AdAccount.Field.currency]).upper()
        return self._currency

    @staticmethod
    def _targeting(plan: LaunchPlan) -> dict:
        """Radius targeting only; the employment category's fixed age range and no genders, postcodes or audiences."""
        return {
            "geo_locations": {
                "custom_locations": [
                    {"latitude": location.latitude, "longitude": location.longitude,
                     "radius": _number(location.radius), "distance_unit": location.radius_unit}
                    for location in plan.draft.locations
                ],
                "location_types": ["home", "recent"],
            },
            "age_min": AGE_MIN,
            "age_max": AGE_MAX,
            "targeting_automation": {"advantage_audience": 0},  # no audience expansion beyond the above
        }

    def set_status(self, ids: PlatformIds, status: PlatformStatus) -> PlatformIds:
        """The campaign's status decides delivery; its ad set and ad stay ACTIVE underneath it."""
        if ids.campaign is None:
            raise PlatformError(META, "no Meta campaign to change", ["not_launched"])
        self._update_status(ids.campaign, Campaign, STATUS_TO_META[status])
        return ids.model_copy(update={"status": status})

    def spend(self, start: date, end: date) -> list[SpendRow]:
        def rows() -> list[dict]:
            insights = self._ad_account().get_insights(
                fields=["campaign_id", "spend", "clicks", "impressions", "account_currency"],
                params={"level": "campaign", "time_increment": 1,
                        "time_range": {"since": start.isoformat(), "until": end.isoformat()}},
            )
            return [dict(row) for row in insights]

        result = []
        for row in self._call(rows):
            try:
                cost = Decimal(str(row.get("spend") or "0"))
            except InvalidOperation:
                raise PlatformError(META, "Meta returned a spend that is not a number", ["bad_spend"]) from None
            result.append(SpendRow(
                channel="meta", platform_campaign_id=str(row["campaign_id"]), day=date.fromisoformat(row["date_start"]),
                cost=cost, currency=str(row["account_currency"]).upper(),
                clicks=int(row.get("clicks") or 0), impressions=int(row.get("impressions") or 0),
            ))
        return result

    def upload_conversions(self, conversions: Sequence[Conversion]) -> list[ConversionResult]:
        """One Conversions API request per join: Meta takes or refuses a request's events all together."""
        return [self._upload(conversion) for conversion in conversions]

    def _upload(self, conversion: Conversion) -> ConversionResult:
        if self.pixel_id is None:
            return ConversionResult(join_id=conversion.join_id, ok=False, error="no_pixel_configured")
        user = UserData()
        email = (conversion.email_sha256 or "").strip().lower()
        if email and _SHA256_HEX.fullmatch(email):
            user.emails = [email]  # already SHA-256: the SDK passes 64-hex values on unhashed
        if conversion.fbclid:
            user.fbc = fbc(conversion.fbclid, conversion.fbclid_at or conversion.joined_at)
        if conversion.client_user_agent:
            user.client_user_agent = conversion.client_user_agent
        if not user.emails and not user.fbc:
            return ConversionResult(join_id=conversion.join_id, ok=False, error="no_user_data")
        if not conversion.client_user_agent or not conversion.event_source_url:
            # Meta requires both with website events (the join form): refused for good here, not by Meta
            return ConversionResult(join_id=conversion.join_id, ok=False, error="no_browser_context")
        event = Event(
            event_name="Lead", event_time=int(conversion.joined_at.timestamp()), event_id=conversion.join_id,
            action_source=ActionSource.WEBSITE, user_data=user, event_source_url=conversion.event_source_url,
        )
        request = EventRequest(pixel_id=self.pixel_id, events=[event], test_event_code=self.test_event_code)
        # EventRequest.execute() would send through the SDK's process-wide default api: ours is explicit.
        pixel = AdsPixel(self.pixel_id, api=self.api)
        try:
            self._call(lambda: pixel.create_event(fields=[], params=request.get_params()))
        except PlatformError as error:
            return ConversionResult(join_id=conversion.join_id, ok=False, retryable=error.retryable,
                                    error=",".join(error.codes) or "unknown")
        return ConversionResult(join_id=conversion.join_id, ok=True)

