"""Google Ads through the official `google-ads` SDK (gRPC). The only module that knows Google Ads.

Imported lazily by `attract.campaigns.gateways` (campaigns functions only): loading it loads the SDK.
One API version (`API_VERSION`) everywhere: the ads layer ships only that version, and the local
sandbox (`attract_local.sandboxes.google_ads`) speaks the same one.

- Launch: one atomic `GoogleAdsService.Mutate` with temporary resource names (budget, Search campaign,
  proximity criteria, ad group, keywords, responsive search ad), everything PAUSED; then a second
  mutate enables campaign, ad group and ad, and the ad's policy review is read back (a disapproval
  becomes a warning). Before creating, the campaign is looked up by its stored id or by its name
  (`LaunchPlan.platform_name` carries our campaign id), so a retry after a lost response enables what
  exists instead of creating a second campaign. A dry run sends the same operations with `validate_only`.
- The account is read first, in one query: its currency (a budget in another currency is refused), its
  time zone (campaign dates are in it: a start that is today or earlier there is left out, so the
  campaign starts at once instead of being refused as past) and whether auto-tagging is on.
- Landing: the ads' final URL is the employer's page itself (`LaunchPlan.landing_url`): an ad whose final
  URL redirects to another domain is disapproved (destination mismatch). The campaign's final URL suffix
  is `LaunchPlan.url_suffix` (tc_link and utm values); Google adds the click id (gclid) itself when the
  account's auto-tagging is on. When it is off there is no gclid to add (Google generates one only with
  auto-tagging), so the launch says so in `PlatformIds.warnings` instead of appending `gclid={gclid}`.
- Errors: `GoogleAdsException` becomes `PlatformError` with codes like `campaign_error:DUPLICATE_CAMPAIGN_NAME`
  and the request id; RESOURCE_EXHAUSTED becomes `RateLimited`, retried with `with_backoff`.
"""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions as core_exceptions
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import SecretStr

from attract.campaigns.models import GOOGLE_SEARCH, LaunchPlan, PlatformIds, SpendRow
from attract.campaigns.ports import PlatformError, PlatformStatus, RateLimited, with_backoff
from attract.providers.google_auth import GoogleOAuthConfig, oauth_credentials

API_VERSION = "v26"  # the one Google Ads API version we use (layer, adapter and sandbox)
PLATFORM = "google_ads"
DEFAULT_ENDPOINT = "googleads.googleapis.com:443"
FAILURE_METADATA_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
TRANSIENT_STATUS = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                              grpc.StatusCode.INTERNAL, grpc.StatusCode.ABORTED})

# Temporary ids of one launch mutate: negative, unique within the request.
BUDGET_TEMP_ID, CAMPAIGN_TEMP_ID, AD_GROUP_TEMP_ID = -1, -2, -3

AUTO_TAGGING_OFF = ("auto-tagging is off in Google Ads: turn it on (Admin > Account settings > Auto-tagging) "
                    "so joins from these ads carry a gclid")
# Ahead of every other zone: an account time zone Python does not know never lets a past start through.
FURTHEST_AHEAD = timezone(timedelta(hours=14))
# What a marketer can do about the policy topics our ads may meet (topic: Google's PolicyTopicEntry.topic).
REVIEW_HINTS = {"DESTINATION_MISMATCH": "the ad's final URL must open the employer's page on its own domain, "
                                        "without a redirect to another domain"}

# The SDK logs whole requests (hashed emails, click ids) at INFO on a failure; keep it to its summaries.
logging.getLogger("google.ads.googleads.client").setLevel(logging.WARNING)

T = TypeVar("T")


class GoogleAdsConfig(GoogleOAuthConfig):
    """The secret's JSON, plus the developer token only the Google Ads API takes."""

    # Sunset by Google on 2026-09-09: access belongs to the OAuth client's Cloud project, the header is ignored.
    developer_token: SecretStr | None = None


def build_client(config: GoogleAdsConfig, endpoint: str = DEFAULT_ENDPOINT, credentials=None) -> GoogleAdsClient:
    """A proto-plus GoogleAdsClient on `endpoint` (host:port).

    The OAuth credentials refresh lazily on the first call, against `config.token_uri` (the SDK's own
    config loaders would refresh eagerly at construction). TLS trusts the system roots, or the file in
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: gRPC reads that variable once per process, at its first TLS channel.
    """
    if credentials is None:
        credentials = oauth_credentials(config)
    developer_token = config.developer_token.get_secret_value() if config.developer_token else None
    return GoogleAdsClient(credentials=credentials, developer_token=developer_token,
                           login_customer_id=config.login_customer_id, endpoint=endpoint, version=API_VERSION,
                           use_proto_plus=True)


@dataclass(frozen=True)
class AccountSettings:
    """What a launch needs to know of the ad account (customer)."""

    currency: str | None
    time_zone: tzinfo
    auto_tagging: bool

    def today(self, now: datetime) -> date:
        return now.astimezone(self.time_zone).date()


class GoogleAdsGateway:
    """`AdsGateway` for Google Search campaigns of one customer (ad account)."""

    channel = GOOGLE_SEARCH

    def __init__(self, config: dict, endpoint: str = DEFAULT_ENDPOINT, *, client: GoogleAdsClient | None = None,
                 timeout_s: float = 60.0, attempts: int = 5, backoff_base_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.config = GoogleAdsConfig.model_validate(config)
        self.customer_id: str = self.config.customer_id
        self.endpoint = endpoint
        self.timeout_s, self.attempts, self.backoff_base_s, self._sleep = timeout_s, attempts, backoff_base_s, sleep
        self._clock = clock
        self._client = client
        self._services: dict[str, Any] = {}

    # ---- plumbing ----------------------------------------------------------------------------------------

    @property
    def client(self) -> GoogleAdsClient:
        if self._client is None:
            self._client = build_client(self.config, self.endpoint)
        return self._client

    def _service(self, name: str):
        # Each get_service opens a gRPC channel: one per service and gateway.
        if name not in self._services:
            self._services[name] = self.client.get_service(name)
        return self._services[name]

    def _new(self, type_name: str, **fields):
        return type(self.client.get_type(type_name))(**fields)

    def _enum(self, name: str):
        return getattr(self.client.enums, name)

    def _path(self, collection: str, resource_id: str | int) -> str:
        return f"customers/{self.customer_id}/{collection}/{resource_id}"

    def _call(self, call: Callable[[], T]) -> T:
        """`call()` with platform errors mapped; rate limits retried with backoff (rejected calls: safe to repeat)."""
        return with_backoff(lambda: _mapped(call), attempts=self.attempts, base_s=self.backoff_base_s,
                            sleep=self._sleep)

    def _search(self, query: str) -> list:
        service = self._service("GoogleAdsService")
        return self._call(lambda: list(service.search(customer_id=self.customer_id, query=query,
                                                      timeout=self.timeout_s)))

    def _mutate(self, operations: list, *, validate_only: bool = False) -> list:
        service = self._service("GoogleAdsService")
        request = self._new("MutateGoogleAdsRequest", customer_id=self.customer_id, mutate_operations=operations,
                            validate_only=validate_only)
        response = self._call(lambda: service.mutate(request=request, timeout=self.timeout_s))
        return list(response.mutate_operation_responses)

    # ---- launch ------------------------------------------------------------------------------------------

    def preflight(self, plan: LaunchPlan) -> list[str]:
        """The account's currency and today (its time zone) against the draft; auto-tagging as a warning."""
        account = self._account()
        _check_currency(plan, account)
        _campaign_dates(plan, account.today(self._clock()))
        return _account_warnings(account)

    def create_paused(self, plan: LaunchPlan, done: PlatformIds) -> PlatformIds:
        account = self._account()
        found = self._find_launch(plan, done)
        if found is None:
            _check_currency(plan, account)
            found = self._create(plan, None, account)
        elif found.ad_group is None or found.ad is None:
            # Not left by our atomic create (someone removed parts): add what is missing under it.
            found = self._create(plan, found, account)
        return found.model_copy(update={"warnings": _merged(found.warnings, _account_warnings(account))})

    def activate(self, ids: PlatformIds) -> PlatformIds:
        self._mutate(self._status_operations(ids, "ENABLED", children=True))
        return ids.model_copy(update={"status": "ENABLED", "warnings": _merged(ids.warnings, self.review_warnings(ids))})

    def dry_run(self, plan: LaunchPlan) -> list[str]:
        """The launch's create mutate with `validate_only`: Google validates every operation, creates nothing."""
        account = self._account()
        _check_currency(plan, account)
        self._mutate(self._launch_operations(plan, None, account.today(self._clock())), validate_only=True)
        return _account_warnings(account)

    def review_warnings(self, ids: PlatformIds) -> list[str]:
        """The ad's policy review in a marketer's words: disapproved or limited, with the policy topics.

        Google reviews a new ad within about a business day: right after the launch it is usually still
        under review (no warning); reading it again later (GET, the spend sync) shows the outcome.
        """
        if not (ids.ad_group and ids.ad):
            return []
        rows = self._search("SELECT ad_group_ad.policy_summary.approval_status, "
                            "ad_group_ad.policy_summary.policy_topic_entries FROM ad_group_ad WHERE "
                            f"ad_group_ad.resource_name = '{self._path('adGroupAds', f'{ids.ad_group}~{ids.ad}')}'")
        return [warning for row in rows if (warning := _review_warning(row.ad_group_ad.policy_summary))]

    def _account(self) -> AccountSettings:
        """Currency, time zone and auto-tagging of the account, in one query."""
        rows = self._search("SELECT customer.currency_code, customer.time_zone, customer.auto_tagging_enabled "
                            "FROM customer")
        customer = rows[0].customer if rows else None
        if customer is None:
            return AccountSettings(currency=None, time_zone=FURTHEST_AHEAD, auto_tagging=True)
        return AccountSettings(currency=customer.currency_code or None, time_zone=_zone(customer.time_zone),
                               auto_tagging=customer.auto_tagging_enabled)

    def _find_launch(self, plan: LaunchPlan, done: PlatformIds) -> PlatformIds | None:
        """The campaign a previous attempt created: by its stored id, else by its name; with its children."""
        select = "SELECT campaign.id, campaign.status, campaign.campaign_budget FROM campaign WHERE "
        if done.campaign:
            rows = self._search(select + f"campaign.resource_name = '{self._path('campaigns', done.campaign)}'")
            if not rows or _status_name(rows[0].campaign.status) == "REMOVED":
                # Ours, ended or removed in Google's UI: a launch never brings up a second one silently.
                raise PlatformError(PLATFORM, "the Google campaign of this launch was removed",
                                    ["attract:CAMPAIGN_REMOVED"])
        else:
            rows = self._search(select + f"campaign.name = '{gaql_string(plan.platform_name)}' "
                                         "AND campaign.status != 'REMOVED'")
        if not rows:
            return None
        campaign = rows[0].campaign
        campaign_path = self._path("campaigns", campaign.id)
        ad_groups = self._search("SELECT ad_group.id FROM ad_group WHERE "
                                 f"campaign.resource_name = '{campaign_path}' AND ad_group.status != 'REMOVED'")
        ads = self._search("SELECT ad_group.id, ad_group_ad.ad.id FROM ad_group_ad WHERE "
                           f"campaign.resource_name = '{campaign_path}' AND ad_group_ad.status != 'REMOVED'")
        ad_group = str(ad_groups[0].ad_group.id) if ad_groups else None
        ad = next((str(row.ad_group_ad.ad.id) for row in ads if str(row.ad_group.id) == ad_group), None)
        return PlatformIds(campaign=str(campaign.id), budget=_last_segment(campaign.campaign_budget),
                           ad_group=ad_group, ad=ad, status=_status_name(campaign.status))

    def _create(self, plan: LaunchPlan, existing: PlatformIds | None, account: AccountSettings) -> PlatformIds:
        operations = self._launch_operations(plan, existing, account.today(self._clock()))
        responses = self._mutate(operations)
        ids = existing.model_dump() if existing else {}
        for response in responses:
            for field, key in (("campaign_budget_result", "budget"), ("campaign_result", "campaign"),
                               ("ad_group_result", "ad_group"), ("ad_group_ad_result", "ad")):
                if field in response:
                    # adGroupAds/{ad_group_id}~{ad_id}: we keep the ad id.
                    ids[key] = getattr(response, field).resource_name.rsplit("/", 1)[-1].split("~")[-1]
        ids["status"] = "PAUSED"
        return PlatformIds(**ids)

    def _launch_operations(self, plan: LaunchPlan, existing: PlatformIds | None, today: date) -> list:
        """The operations of one atomic mutate: all of a launch, or the children `existing` lacks.

        `today` is the account's date: campaign dates are in its time zone.
        """
        if plan.draft.google is None:
            raise PlatformError(PLATFORM, "the draft has no Google assets", ["attract:NO_GOOGLE_ASSETS"])
        operations = []
        if existing is None:
            campaign_path = self._path("campaigns", CAMPAIGN_TEMP_ID)
            operations += self._campaign_operations(plan, campaign_path, today)
        else:
            campaign_path = self._path("campaigns", existing.campaign or "")
        if existing is None or existing.ad_group is None:
            ad_group_path = self._path("adGroups", AD_GROUP_TEMP_ID)
            operations += self._ad_group_operations(plan, campaign_path, ad_group_path)
        else:
            ad_group_path = self._path("adGroups", existing.ad_group)
        operations.append(self._new("MutateOperation", ad_group_ad_operation={"create": self._ad(plan, ad_group_path)}))
        return operations

    def _campaign_operations(self, plan: LaunchPlan, campaign_path: str, today: date) -> list:
        """Budget, Search campaign (PAUSED) and one proximity criterion per location."""
        draft, enums = plan.draft, self.client.enums
        budget_path = self._path("campaignBudgets", BUDGET_TEMP_ID)
        # Not explicitly shared: the budget takes the campaign's name, so it needs none of its own.
        budget = self._new("CampaignBudget", resource_name=budget_path, amount_micros=draft.daily_budget.micros,
                           delivery_method=enums.BudgetDeliveryMethodEnum.STANDARD, explicitly_shared=False)
        campaign = self._new(
            "Campaign", resource_name=campaign_path, name=plan.platform_name,
            status=enums.CampaignStatusEnum.PAUSED,
            advertising_channel_type=enums.AdvertisingChannelTypeEnum.SEARCH,
            campaign_budget=budget_path,
            target_spend=self._new("TargetSpend"),  # Maximize clicks: no bids to manage
            network_settings={"target_google_search": True, "target_search_network": False,
                              "target_content_network": False, "target_partner_search_network": False},
            geo_target_type_setting={"positive_geo_target_type": enums.PositiveGeoTargetTypeEnum.PRESENCE},
            final_url_suffix=plan.url_suffix,
            # Required on every new campaign since 2025 (FieldError.REQUIRED without it).
            contains_eu_political_advertising=(
                enums.EuPoliticalAdvertisingStatusEnum.DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING),
            **_campaign_dates(plan, today))
        operations = [self._new("MutateOperation", campaign_budget_operation={"create": budget}),
                      self._new("MutateOperation", campaign_operation={"create": campaign})]
        for location in draft.locations:
            # Radius targeting only: no age, gender, parental or marital status, no postcodes
            # (employment ads; attract.campaigns.policy refuses them before this point).
            units = (enums.ProximityRadiusUnitsEnum.MILES if location.radius_unit == "mile"
                     else enums.ProximityRadiusUnitsEnum.KILOMETERS)
            criterion = self._new("CampaignCriterion", campaign=campaign_path, proximity={
                "geo_point": {"latitude_in_micro_degrees": round(location.latitude * 1_000_000),
                              "longitude_in_micro_degrees": round(location.longitude * 1_000_000)},
                "radius": float(location.radius), "radius_units": units})
            operations.append(self._new("MutateOperation", campaign_criterion_operation={"create": criterion}))
        return operations

    def _ad_group_operations(self, plan: LaunchPlan, campaign_path: str, ad_group_path: str) -> list:
        """The ad group (PAUSED) and its keywords."""
        enums = self.client.enums
        ad_group = self._new("AdGroup", resource_name=ad_group_path, name=plan.platform_name, campaign=campaign_path,
                             status=enums.AdGroupStatusEnum.PAUSED, type_=enums.AdGroupTypeEnum.SEARCH_STANDARD)
        operations = [self._new("MutateOperation", ad_group_operation={"create": ad_group})]
        for keyword in plan.draft.google.keywords if plan.draft.google else []:
            criterion = self._new("AdGroupCriterion", ad_group=ad_group_path,
                                  status=enums.AdGroupCriterionStatusEnum.ENABLED,
                                  keyword={"text": keyword.text,
                                           "match_type": getattr(enums.KeywordMatchTypeEnum, keyword.match_type)})
            operations.append(self._new("MutateOperation", ad_group_criterion_operation={"create": criterion}))
        return operations

    def _ad(self, plan: LaunchPlan, ad_group_path: str):
        """The responsive search ad (PAUSED), landing on the employer's own page."""
        assets = plan.draft.google
        headlines, descriptions = (assets.headlines, assets.descriptions) if assets else ([], [])
        return self._new("AdGroupAd", ad_group=ad_group_path, status=self.client.enums.AdGroupAdStatusEnum.PAUSED,
                         ad={"final_urls": [plan.landing_url],
                             "responsive_search_ad": {"headlines": [{"text": text} for text in headlines],
                                                      "descriptions": [{"text": text} for text in descriptions]}})

    # ---- status ------------------------------------------------------------------------------------------

    def set_status(self, ids: PlatformIds, status: PlatformStatus) -> PlatformIds:
        if not ids.campaign:
            raise PlatformError(PLATFORM, "no Google campaign to change", ["attract:NOT_LAUNCHED"])
        # Read first: a repeated request (a retry after a lost response) changes nothing and succeeds.
        rows = self._search("SELECT campaign.status FROM campaign WHERE "
                            f"campaign.resource_name = '{self._path('campaigns', ids.campaign)}'")
        current = _status_name(rows[0].campaign.status) if rows else "REMOVED"
        if current != status and current != "REMOVED":
            self._mutate(self._status_operations(ids, status, children=False))
        elif current == "REMOVED" and status != "REMOVED":
            raise PlatformError(PLATFORM, "the Google campaign was removed", ["attract:CAMPAIGN_REMOVED"])
        return ids.model_copy(update={"status": status})

    def _status_operations(self, ids: PlatformIds, status: str, *, children: bool) -> list:
        """Operations setting the campaign's status (and, on launch, its ad group's and ad's)."""
        campaign_path = self._path("campaigns", ids.campaign or "")
        if status == "REMOVED":  # the API removes with a remove operation, not a status update
            return [self._new("MutateOperation", campaign_operation={"remove": campaign_path})]
        mask = FieldMask(paths=["status"])
        operations = [self._new("MutateOperation", campaign_operation={"update": self._new(
            "Campaign", resource_name=campaign_path, status=getattr(self._enum("CampaignStatusEnum"), status)),
            "update_mask": mask})]
        if children and ids.ad_group:
            operations.append(self._new("MutateOperation", ad_group_operation={"update": self._new(
                "AdGroup", resource_name=self._path("adGroups", ids.ad_group),
                status=getattr(self._enum("AdGroupStatusEnum"), status)), "update_mask": mask}))
            if ids.ad:
                operations.append(self._new("MutateOperation", ad_group_ad_operation={"update": self._new(
                    "AdGroupAd", resource_name=self._path("adGroupAds", f"{ids.ad_group}~{ids.ad}"),
                    status=getattr(self._enum("AdGroupAdStatusEnum"), status)), "update_mask": mask}))
        return operations

    # ---- spend -------------------------------------------------------------------------------------------

    def spend(self, start: date, end: date) -> list[SpendRow]:
        query = ("SELECT segments.date, campaign.id, metrics.cost_micros, metrics.clicks, metrics.impressions, "
                 "customer.currency_code FROM campaign "
                 f"WHERE segments.date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'")
        service = self._service("GoogleAdsService")

        def stream() -> list:
            # Errors surface while iterating: the whole read is the retried unit.
            batches = service.search_stream(customer_id=self.customer_id, query=query, timeout=self.timeout_s)
            return [row for batch in batches for row in batch.results]

        return [SpendRow(channel="google_search", platform_campaign_id=str(row.campaign.id),
                         day=date.fromisoformat(row.segments.date),
                         cost=Decimal(row.metrics.cost_micros) / Decimal(1_000_000),
                         currency=row.customer.currency_code, clicks=row.metrics.clicks,
                         impressions=row.metrics.impressions)
                for row in self._call(stream)]


# ---- launch helpers ------------------------------------------------------------------------------------------

def _check_currency(plan: LaunchPlan, account: AccountSettings) -> None:
    # Budget micros are in the account's currency: a EUR budget on a JPY account would be 1/150 of it.
    if account.currency and account.currency != plan.draft.daily_budget.currency:
        raise PlatformError(PLATFORM, f"the ad account bills in {account.currency}, the budget is in "
                                      f"{plan.draft.daily_budget.currency}", ["attract:CURRENCY_MISMATCH"])


def _campaign_dates(plan: LaunchPlan, today: date) -> dict[str, str]:
    """start_date_time / end_date_time, in the account's time zone (`today` is its date).

    Google refuses a date in the past (CANNOT_SET_DATE_TO_PAST) for the whole atomic create, and 00:00:00
    of today is already past: a start that is today or earlier there is left out, and the campaign starts
    at once. A draft's start "tomorrow" in UTC is already today in Tokyo.
    """
    if plan.end_date is not None and plan.end_date < today:
        raise PlatformError(PLATFORM, f"the end date {plan.end_date} has passed in the ad account's time zone",
                            ["attract:END_DATE_PASSED"])
    dates = {}
    if plan.start_date is not None and plan.start_date > today:
        dates["start_date_time"] = f"{plan.start_date.isoformat()} 00:00:00"
    if plan.end_date is not None:
        dates["end_date_time"] = f"{plan.end_date.isoformat()} 23:59:59"
    return dates


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name) if name else FURTHEST_AHEAD
    except (ZoneInfoNotFoundError, ValueError):
        return FURTHEST_AHEAD


def _account_warnings(account: AccountSettings) -> list[str]:
    return [] if account.auto_tagging else [AUTO_TAGGING_OFF]


def _review_warning(summary) -> str | None:
    """One warning for a disapproved or limited ad; None while approved or under review."""
    status = getattr(summary.approval_status, "name", "")
    topics = [entry.topic for entry in summary.policy_topic_entries]
    hints = "; ".join(REVIEW_HINTS[topic] for topic in topics if topic in REVIEW_HINTS)
    named = f" ({', '.join(topics)})" if topics else ""
    if status == "DISAPPROVED":
        return f"Google disapproved the ad{named}: it will not show until fixed" + (f": {hints}" if hints else "")
    if status in ("APPROVED_LIMITED", "AREA_OF_INTEREST_ONLY"):
        return f"Google limits where the ad may show{named}" + (f": {hints}" if hints else "")
    return None


def _merged(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Both lists in order, each warning once (a resumed launch must not repeat them)."""
    return list(dict.fromkeys([*first, *second]))


# ---- errors --------------------------------------------------------------------------------------------------

def _mapped(call: Callable[[], T]) -> T:
    try:
        return call()
    except GoogleAdsException as error:
        raise ads_exception_error(error) from None
    except core_exceptions.GoogleAPICallError as error:
        # The GAPIC layer wraps what the SDK's interceptor leaves as gRPC errors: RESOURCE_EXHAUSTED and
        # INTERNAL (with or without a GoogleAdsFailure), transport failures, timeouts.
        rpc_error = error.response if isinstance(error.response, grpc.RpcError) else None
        raise rpc_error_to_platform(error.grpc_status_code, rpc_error, str(error.message)) from None
    except grpc.RpcError as error:
        raise rpc_error_to_platform(_code_of(error), error, str(error)) from None


def ads_exception_error(error: GoogleAdsException) -> PlatformError:
    codes = [error_code_name(item) for item in error.failure.errors]
    message = "; ".join(item.message for item in error.failure.errors) or "Google Ads refused the request"
    status = _code_of(error.error)
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED or any(code.startswith("quota_error:") for code in codes):
        return RateLimited(PLATFORM, message, codes, error.request_id)
    retryable = status in TRANSIENT_STATUS or any(code.startswith("internal_error:") for code in codes)
    return PlatformError(PLATFORM, message, codes, error.request_id, retryable=retryable)


def rpc_error_to_platform(status: grpc.StatusCode | None, rpc_error: grpc.RpcError | None,
                          message: str) -> PlatformError:
    metadata = _trailing_metadata(rpc_error)
    failure = decode_failure(next((value for key, value in metadata if key == FAILURE_METADATA_KEY), None))
    codes = [error_code_name(item) for item in failure.errors] if failure is not None else []
    codes = codes or [f"grpc:{status.name if status else 'UNKNOWN'}"]
    request_id = next((str(value) for key, value in metadata if key == "request-id"), None)
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return RateLimited(PLATFORM, message, codes, request_id)
    return PlatformError(PLATFORM, message, codes, request_id, retryable=status in TRANSIENT_STATUS)


def error_code_name(error) -> str:
    """`campaign_budget_error:DUPLICATE_NAME` from a GoogleAdsError: the set field of its error_code oneof."""
    code_pb = type(error.error_code).pb(error.error_code)
    field = code_pb.WhichOneof("error_code")
    if field is None:
        return "unknown"
    value = getattr(code_pb, field)
    name = code_pb.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number[value].name
    return f"{field}:{name}"


def decode_failure(blob: bytes | None):
    if not blob:
        return None
    from importlib import import_module

    errors = import_module(f"google.ads.googleads.{API_VERSION}.errors.types.errors")
    try:
        return errors.GoogleAdsFailure.deserialize(blob)
    except Exception:  # noqa: BLE001 - an undecodable detail is reported as a bare status
        return None


def _trailing_metadata(rpc_error) -> Iterable[tuple[str, Any]]:
    try:
        return tuple(rpc_error.trailing_metadata() or ()) if rpc_error is not None else ()
    except Exception:  # noqa: BLE001 - a failed call without metadata
        return ()


def _code_of(rpc_error) -> grpc.StatusCode | None:
    try:
        return rpc_error.code()
    except Exception:  # noqa: BLE001
        return None


# ---- small helpers -------------------------------------------------------------------------------------------

def gaql_string(value: str) -> str:
    """A value inside a single-quoted GAQL string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _last_segment(resource_name: str) -> str | None:
    return resource_name.rsplit("/", 1)[-1] if resource_name else None


def _status_name(status) -> PlatformStatus | None:
    name = getattr(status, "name", None)
    return name if name in ("ENABLED", "PAUSED", "REMOVED") else None  # type: ignore[return-value]
