"""The Google Ads adapter through the real SDK (gRPC, TLS, OAuth refresh) against the local wire sandbox.

Assertions are on what the sandbox received and stored, decoded from the wire with the SDK's own types.
"""

import datetime as dt
import os
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from attract.campaigns.models import CampaignDraft, LaunchPlan, PlatformIds
from attract.campaigns.ports import PlatformError, RateLimited
from attract.providers.google_ads import API_VERSION, AUTO_TAGGING_OFF, GoogleAdsConfig, GoogleAdsGateway, build_client
from attract_local.sandboxes.google_ads import GoogleAdsSandbox
from tests.support import launched, serving_google_sandbox

TARGETING_CRITERIA = ("age_range", "gender", "parental_status", "income_range", "user_list", "location",
                      "user_interest")


@pytest.fixture(scope="module")
def sandbox():
    with serving_google_sandbox(GoogleAdsSandbox(customer_id="1234567890", currency="EUR")) as box:
        yield box


@pytest.fixture(autouse=True)
def _no_leftover_faults(sandbox):
    yield
    sandbox.clear_faults()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def gateway(sandbox, sleeps):
    return GoogleAdsGateway(sandbox.config(), sandbox.endpoint, sleep=sleeps.append, timeout_s=10)


START = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=7)  # ahead in every time zone
END = START + dt.timedelta(days=30)


def a_plan(currency: str = "EUR", name: str = "Data engineers Berlin", start: dt.date = START,
           landing_url: str | None = None, keywords: list[dict] | None = None) -> LaunchPlan:
    campaign_id = uuid.uuid4().hex[:12]
    draft = CampaignDraft.model_validate({
        "name": name, "channels": ["google_search"],
        "daily_budget": {"amount": "50.25", "currency": currency},
        "start_date": start.isoformat(), "end_date": END.isoformat(),
        "locations": [{"latitude": 52.52, "longitude": 13.405, "radius": 20, "radius_unit": "mile", "country": "DE"},
                      {"latitude": 48.137, "longitude": 11.575, "radius": 30, "radius_unit": "kilometer",
                       "country": "DE"}],
        "destination": "https://careers.example.com/data",
        "google": {"keywords": keywords or [{"text": "data engineer jobs", "match_type": "PHRASE"},
                                            {"text": "data engineer berlin", "match_type": "EXACT"}],
                   "headlines": ["Data engineers wanted", "Join our data team", "Berlin data jobs"],
                   "descriptions": ["Build pipelines that matter.", "Apply in two minutes."]},
    })
    return LaunchPlan(campaign_id=campaign_id, platform_name=f"{name} [attract:{campaign_id}]",
                      draft=draft, landing_url=landing_url or draft.destination,
                      url_params=(("tc_link", f"g{campaign_id[:8]}"),), start_date=draft.start_date,
                      end_date=draft.end_date)


@pytest.fixture(scope="module")
def redirector():
    """A local redirect service, like the old /r/ links: every path answers 302 to the careers page on another
    domain. The sandbox's review follows loopback redirects as Google's crawler follows any."""
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", "https://careers.example.com/data")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def mutates_since(sandbox, mark: int) -> list:
    return [request for method, request in sandbox.received[mark:] if method == "Mutate"]


def operations_of(request, field: str) -> list:
    return [getattr(op, field) for op in request.mutate_operations if type(op).pb(op).WhichOneof("operation") == field]


def stored_campaign(sandbox, platform_id: str):
    return sandbox.resources["campaigns"][f"customers/{sandbox.customer_id}/campaigns/{platform_id}"]


def campaigns_named(sandbox, name: str) -> list:
    return [c for c in sandbox.resources["campaigns"].values() if c.name == name]


def resource_counts(sandbox) -> dict[str, int]:
    return {collection: len(items) for collection, items in sandbox.resources.items()}


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone.utc)


def policy_summary(gateway, ids: PlatformIds):
    [row] = gateway._search("SELECT ad_group_ad.policy_summary.approval_status, "
                            "ad_group_ad.policy_summary.policy_topic_entries FROM ad_group_ad WHERE ad_group_ad."
                            f"resource_name = 'customers/1234567890/adGroupAds/{ids.ad_group}~{ids.ad}'")
    return row.ad_group_ad.policy_summary


# ---- launch ----------------------------------------------------------------------------------------------

def test_launch_creates_everything_paused_in_one_atomic_mutate_then_enables(sandbox, gateway):
    plan, mark, tokens = a_plan(), len(sandbox.received), sandbox.token_requests

    ids = launched(gateway, plan, PlatformIds())

    create, enable = mutates_since(sandbox, mark)
    assert create.customer_id == "1234567890" and not create.partial_failure
    fields = [type(op).pb(op).WhichOneof("operation") for op in create.mutate_operations]
    assert fields == (["campaign_budget_operation", "campaign_operation"] + ["campaign_criterion_operation"] * 2
                      + ["ad_group_operation"] + ["ad_group_criterion_operation"] * 2 + ["ad_group_ad_operation"])
    budget = operations_of(create, "campaign_budget_operation")[0].create
    assert budget.amount_micros == 50_250_000 and budget.explicitly_shared is False
    assert budget.resource_name == "customers/1234567890/campaignBudgets/-1"
    campaign = operations_of(create, "campaign_operation")[0].create
    assert campaign.resource_name == "customers/1234567890/campaigns/-2"
    assert campaign.campaign_budget == budget.resource_name
    assert campaign.name == plan.platform_name and campaign.status.name == "PAUSED"
    assert campaign.advertising_channel_type.name == "SEARCH"
    assert type(campaign).pb(campaign).WhichOneof("campaign_bidding_strategy") == "target_spend"
    assert campaign.network_settings.target_google_search is True
    assert campaign.network_settings.target_content_network is False
    assert campaign.network_settings.target_search_network is False
    assert campaign.start_date_time == f"{START} 00:00:00" and campaign.end_date_time == f"{END} 23:59:59"
    assert campaign.final_url_suffix == plan.url_suffix
    assert campaign.contains_eu_political_advertising.name == "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"
    criteria = [op.create for op in operations_of(create, "campaign_criterion_operation")]
    assert [c.campaign for c in criteria] == [campaign.resource_name] * 2
    assert [(c.proximity.geo_point.latitude_in_micro_degrees, c.proximity.geo_point.longitude_in_micro_degrees,
             c.proximity.radius, c.proximity.radius_units.name) for c in criteria] == [
        (52_520_000, 13_405_000, 20.0, "MILES"), (48_137_000, 11_575_000, 30.0, "KILOMETERS")]
    # Employment ads: radius targeting only, no age, gender, parental status, income, audiences.
    for criterion in criteria:
        assert type(criterion).pb(criterion).WhichOneof("criterion") == "proximity"
        assert not any(field in criterion for field in TARGETING_CRITERIA)
    ad_group = operations_of(create, "ad_group_operation")[0].create
    assert ad_group.resource_name == "customers/1234567890/adGroups/-3"
    assert ad_group.campaign == campaign.resource_name and ad_group.status.name == "PAUSED"
    keywords = [op.create for op in operations_of(create, "ad_group_criterion_operation")]
    assert [(k.ad_group, k.keyword.text, k.keyword.match_type.name) for k in keywords] == [
        (ad_group.resource_name, "data engineer jobs", "PHRASE"),
        (ad_group.resource_name, "data engineer berlin", "EXACT")]
    ad = operations_of(create, "ad_group_ad_operation")[0].create
    assert ad.ad_group == ad_group.resource_name and ad.status.name == "PAUSED"
    assert list(ad.ad.final_urls) == [plan.landing_url]
    assert [a.text for a in ad.ad.responsive_search_ad.headlines] == plan.draft.google.headlines
    assert [a.text for a in ad.ad.responsive_search_ad.descriptions] == plan.draft.google.descriptions

    # Then one mutate enables campaign, ad group and ad, by their real resource names.
    updates = [(type(op).pb(op).WhichOneof("operation"), getattr(op, type(op).pb(op).WhichOneof("operation")))
               for op in enable.mutate_operations]
    assert [(field, op.update.resource_name, op.update.status.name, list(op.update_mask.paths))
            for field, op in updates] == [
        ("campaign_operation", f"customers/1234567890/campaigns/{ids.campaign}", "ENABLED", ["status"]),
        ("ad_group_operation", f"customers/1234567890/adGroups/{ids.ad_group}", "ENABLED", ["status"]),
        ("ad_group_ad_operation", f"customers/1234567890/adGroupAds/{ids.ad_group}~{ids.ad}", "ENABLED", ["status"])]
    stored = stored_campaign(sandbox, ids.campaign)
    assert stored.status.name == "ENABLED" and stored.name == plan.platform_name
    assert ids.status == "ENABLED"
    assert stored.campaign_budget == f"customers/1234567890/campaignBudgets/{ids.budget}"
    assert sandbox.resources["adGroupAds"][f"customers/1234567890/adGroupAds/{ids.ad_group}~{ids.ad}"].status.name \
        == "ENABLED"
    # The real OAuth refresh happened (once, then cached) and the SDK's headers reached the wire.
    landing, _gclid = sandbox.ad_click(ids.campaign)  # what a click on the ad opens: the careers page, tagged
    assert landing.startswith(f"{plan.landing_url}?{plan.url_suffix}")
    assert sandbox.token_requests == tokens + 1
    assert sandbox.headers[-1]["developer-token"] == "sandbox-developer-token"
    assert sandbox.headers[-1]["login-customer-id"] == "1234567890"


def test_a_lost_response_then_a_retry_creates_nothing_twice(sandbox, gateway):
    plan, mark = a_plan(name="O'Reilly \\ data engineers"), len(sandbox.received)  # GAQL quoting on the lookup
    sandbox.lose_next_response("Mutate")

    with pytest.raises(PlatformError) as lost:
        launched(gateway, plan, PlatformIds())
    assert lost.value.retryable and lost.value.codes == ["grpc:UNAVAILABLE"]
    [half_made] = campaigns_named(sandbox, plan.platform_name)  # Google applied it; we never heard back
    assert half_made.status.name == "PAUSED"

    ids = launched(gateway, plan, PlatformIds())  # nothing was stored: found by its name

    create, enable = mutates_since(sandbox, mark)
    assert operations_of(create, "campaign_operation")[0].create.name == plan.platform_name
    assert all(type(op).pb(op).WhichOneof("operation") in ("campaign_operation", "ad_group_operation",
                                                            "ad_group_ad_operation") for op in enable.mutate_operations)
    assert not any("create" in getattr(op, type(op).pb(op).WhichOneof("operation")) for op in enable.mutate_operations)
    [campaign] = campaigns_named(sandbox, plan.platform_name)
    assert campaign.status.name == "ENABLED" and ids.campaign == str(campaign.id) and ids.status == "ENABLED"
    assert len([g for g in sandbox.resources["adGroups"].values() if g.campaign == campaign.resource_name]) == 1
    assert ids.ad_group and ids.ad and ids.budget


def test_a_failed_enable_is_resumed_from_the_stored_ids(sandbox, gateway):
    plan, mark = a_plan(), len(sandbox.received)
    sandbox.fail_next("Mutate", "campaign_error", "INVALID_STATUS_CHANGE", after=1)

    with pytest.raises(PlatformError) as failed:
        launched(gateway, plan, PlatformIds())
    assert failed.value.codes == ["campaign_error:INVALID_STATUS_CHANGE"]
    [campaign] = campaigns_named(sandbox, plan.platform_name)
    assert campaign.status.name == "PAUSED"

    # The orchestrator stored what it knew; renamed in Google's UI meanwhile, the id still finds it.
    sandbox.resources["campaigns"][campaign.resource_name].name = "renamed by a marketer"
    ids = launched(gateway, plan, PlatformIds(campaign=str(campaign.id)))

    searches = [request.query for method, request in sandbox.received[mark:] if method == "Search"]
    assert any(f"campaign.resource_name = '{campaign.resource_name}'" in query for query in searches)
    assert len(mutates_since(sandbox, mark)) == 3  # create, the failed enable, the enable
    assert stored_campaign(sandbox, ids.campaign).status.name == "ENABLED"
    assert not campaigns_named(sandbox, plan.platform_name)


def test_a_google_ads_exception_becomes_a_platform_error_with_codes_and_request_id(sandbox, gateway):
    plan, mark = a_plan(), len(sandbox.received)
    sandbox.fail_next("Mutate", "campaign_budget_error", "DUPLICATE_NAME")

    with pytest.raises(PlatformError) as refused:
        launched(gateway, plan, PlatformIds())

    assert type(refused.value) is PlatformError and not refused.value.retryable
    assert refused.value.codes == ["campaign_budget_error:DUPLICATE_NAME"]
    assert refused.value.request_id == sandbox.failure_request_ids[-1]
    assert refused.value.as_json()["platform"] == "google_ads"
    assert len(mutates_since(sandbox, mark)) == 1 and not campaigns_named(sandbox, plan.platform_name)


def test_a_budget_in_another_currency_than_the_account_never_reaches_mutate(sandbox, gateway):
    plan, mark = a_plan(currency="USD"), len(sandbox.received)

    with pytest.raises(PlatformError) as refused:
        launched(gateway, plan, PlatformIds())

    assert refused.value.codes == ["attract:CURRENCY_MISMATCH"]
    assert mutates_since(sandbox, mark) == []


def test_pause_resume_and_remove_are_idempotent(sandbox, gateway):
    ids = launched(gateway, a_plan(), PlatformIds())
    mark = len(sandbox.received)

    paused = gateway.set_status(ids, "PAUSED")
    gateway.set_status(paused, "PAUSED")  # a redelivered request: read, nothing to change
    assert stored_campaign(sandbox, ids.campaign).status.name == "PAUSED" and paused.status == "PAUSED"
    gateway.set_status(paused, "ENABLED")
    assert stored_campaign(sandbox, ids.campaign).status.name == "ENABLED"
    removed = gateway.set_status(ids, "REMOVED")
    gateway.set_status(ids, "REMOVED")

    mutates = mutates_since(sandbox, mark)
    assert len(mutates) == 3
    assert mutates[-1].mutate_operations[0].campaign_operation.remove == f"customers/1234567890/campaigns/{ids.campaign}"
    assert removed.status == "REMOVED" and stored_campaign(sandbox, ids.campaign).status.name == "REMOVED"
    with pytest.raises(PlatformError) as gone:
        gateway.set_status(ids, "ENABLED")
    assert gone.value.codes == ["attract:CAMPAIGN_REMOVED"]
    with pytest.raises(PlatformError) as relaunch:
        launched(gateway, a_plan(), ids)
    assert relaunch.value.codes == ["attract:CAMPAIGN_REMOVED"] and len(mutates_since(sandbox, mark)) == 3


# ---- spend -----------------------------------------------------------------------------------------------

def test_spend_reads_daily_rows_through_search_stream(sandbox, gateway):
    ids = launched(gateway, a_plan(), PlatformIds())
    days = [dt.date(2026, 1, 10), dt.date(2026, 1, 11), dt.date(2026, 1, 12)]
    sandbox.set_spend(ids.campaign, days[0], 12_345_678, 31, 700)
    sandbox.set_spend(ids.campaign, days[1], 990_000, 2, 41)
    sandbox.set_spend(ids.campaign, days[2], 5_000_000, 9, 100)  # outside the range asked for
    mark = len(sandbox.received)

    rows = gateway.spend(days[0], days[1])

    [(method, request)] = sandbox.received[mark:]
    assert method == "SearchStream" and request.customer_id == "1234567890"
    for field in ("segments.date", "campaign.id", "metrics.cost_micros", "metrics.clicks", "metrics.impressions"):
        assert field in request.query
    assert "segments.date BETWEEN '2026-01-10' AND '2026-01-11'" in request.query
    assert [(r.channel, r.platform_campaign_id, r.day, r.cost, r.currency, r.clicks, r.impressions) for r in rows] == [
        ("google_search", ids.campaign, days[0], Decimal("12.345678"), "EUR", 31, 700),
        ("google_search", ids.campaign, days[1], Decimal("0.99"), "EUR", 2, 41)]


def test_a_rate_limit_is_retried_with_backoff_then_succeeds(sandbox, gateway, sleeps):
    sandbox.rate_limit_next("SearchStream", times=2)
    mark = len(sandbox.received)

    gateway.spend(dt.date(2025, 1, 1), dt.date(2025, 1, 2))

    assert [method for method, _ in sandbox.received[mark:]] == ["SearchStream"] * 3
    assert len(sleeps) == 2


def test_a_lasting_rate_limit_surfaces_as_rate_limited(sandbox, sleeps):
    gateway = GoogleAdsGateway(sandbox.config(), sandbox.endpoint, sleep=sleeps.append, attempts=3)
    sandbox.rate_limit_next("SearchStream", times=3)

    with pytest.raises(RateLimited) as limited:
        gateway.spend(dt.date(2025, 1, 1), dt.date(2025, 1, 2))

    assert limited.value.codes == ["quota_error:RESOURCE_EXHAUSTED"] and limited.value.retryable
    assert limited.value.request_id == sandbox.failure_request_ids[-1]
    assert len(sleeps) == 2


# Conversions no longer go through the Google Ads API (UploadClickConversions takes no new adopters): the
# Data Manager adapter and its sandbox are tested in tests/integration/test_google_datamanager.py.


def test_the_google_ads_sandbox_serves_no_click_conversion_upload(sandbox):
    import grpc

    channel = grpc.secure_channel(sandbox.endpoint, grpc.ssl_channel_credentials(Path(sandbox.cert_path).read_bytes()))
    call = channel.unary_unary(f"/google.ads.googleads.{API_VERSION}.services.ConversionUploadService/UploadClickConversions")
    with pytest.raises(grpc.RpcError) as refused:
        call(b"", metadata=(("authorization", f"Bearer {sandbox.access_token}"),), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    channel.close()


# ---- wiring ----------------------------------------------------------------------------------------------

def test_an_injected_client_with_a_ready_token_skips_the_refresh(sandbox):
    from google.oauth2.credentials import Credentials

    config = GoogleAdsConfig.model_validate(sandbox.config())
    tokens = sandbox.token_requests
    client = build_client(config, sandbox.endpoint, Credentials(token=sandbox.access_token))
    gateway = GoogleAdsGateway(sandbox.config(), sandbox.endpoint, client=client)

    assert gateway.spend(dt.date(2025, 2, 1), dt.date(2025, 2, 1)) == []
    assert sandbox.token_requests == tokens and client.version == API_VERSION


def test_secrets_never_show_in_the_config_repr_and_customer_ids_lose_their_dashes(sandbox):
    config = GoogleAdsConfig.model_validate(sandbox.config(customer_id="123-456-7890", login_customer_id=""))
    assert "sandbox-secret" not in repr(config) and "sandbox-refresh-token" not in repr(config)
    assert "sandbox-developer-token" not in str(config.model_dump())
    assert config.customer_id == "1234567890" and config.login_customer_id is None
    assert os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] == sandbox.cert_path


def test_the_sandbox_refuses_gaql_it_does_not_understand_rather_than_ignoring_a_filter(sandbox, gateway):
    service = gateway._service("GoogleAdsService")
    with pytest.raises(Exception, match="beyond the local sandbox"):
        list(service.search(customer_id="1234567890",
                            query="SELECT campaign.id FROM campaign WHERE campaign.name LIKE '%x%'"))


def test_a_relaunch_adds_only_the_children_someone_removed(sandbox, gateway):
    plan = a_plan()
    ids = launched(gateway, plan, PlatformIds())
    ad_path = f"customers/1234567890/adGroupAds/{ids.ad_group}~{ids.ad}"
    sandbox.resources["adGroupAds"][ad_path].status = "REMOVED"  # removed by hand in Google's UI
    mark = len(sandbox.received)

    again = launched(gateway, plan, ids)

    create, enable = mutates_since(sandbox, mark)
    assert [type(op).pb(op).WhichOneof("operation") for op in create.mutate_operations] == ["ad_group_ad_operation"]
    assert create.mutate_operations[0].ad_group_ad_operation.create.ad_group == \
        f"customers/1234567890/adGroups/{ids.ad_group}"
    assert (again.campaign, again.budget, again.ad_group) == (ids.campaign, ids.budget, ids.ad_group)
    assert again.ad != ids.ad and len(enable.mutate_operations) == 3
    assert len(campaigns_named(sandbox, plan.platform_name)) == 1


def test_one_refused_operation_creates_nothing_at_all(sandbox, gateway):
    # The RSA limits are policy rules checked before any call (attract.campaigns.policy); here the fake's own
    # check stands in for Google's, to show the launch mutate is all or nothing.
    plan = a_plan()
    draft = plan.draft.model_copy(update={"google": plan.draft.google.model_copy(update={"headlines": ["Only one"]})})
    plan = plan.model_copy(update={"draft": draft})
    before = {collection: len(items) for collection, items in sandbox.resources.items()}

    with pytest.raises(PlatformError) as refused:
        launched(gateway, plan, PlatformIds())

    assert refused.value.codes == ["collection_size_error:TOO_FEW"]
    assert {collection: len(items) for collection, items in sandbox.resources.items()} == before


# ---- the account: currency, time zone and auto-tagging ----------------------------------------------------

def test_the_account_is_read_once_and_auto_tagging_off_is_a_warning_not_a_gclid_suffix(sandbox, gateway, monkeypatch):
    # Given an account whose auto-tagging is off
    monkeypatch.setattr(sandbox, "auto_tagging_enabled", False)
    plan, mark = a_plan(), len(sandbox.received)
    # When the campaign is launched
    ids = launched(gateway, plan, PlatformIds())
    # Then currency, time zone and auto-tagging came from one query, the marketer is told to turn it on,
    # and the suffix is ours alone: without auto-tagging Google has no gclid to put in a {gclid} parameter
    customer_queries = [r.query for m, r in sandbox.received[mark:] if m == "Search" and "FROM customer" in r.query]
    assert len(customer_queries) == 1
    assert all(field in customer_queries[0] for field in (
        "customer.currency_code", "customer.time_zone", "customer.auto_tagging_enabled"))
    assert ids.warnings == [AUTO_TAGGING_OFF] and "gclid" in AUTO_TAGGING_OFF and "turn it on" in AUTO_TAGGING_OFF
    assert stored_campaign(sandbox, ids.campaign).final_url_suffix == plan.url_suffix
    landing, gclid = sandbox.ad_click(ids.campaign)
    assert gclid is None and "gclid" not in landing
    # And with auto-tagging on (Google's default) nothing is said, and Google appends the gclid itself
    monkeypatch.setattr(sandbox, "auto_tagging_enabled", True)
    tagged = launched(gateway, a_plan(), PlatformIds())
    landing, gclid = sandbox.ad_click(tagged.campaign)
    assert tagged.warnings == [] and gclid and landing.endswith(f"&gclid={gclid}")


def test_a_start_already_begun_in_the_accounts_time_zone_is_left_out(sandbox, monkeypatch, sleeps):
    # Given a Tokyo account at 20:00 UTC the day before the draft's start: 05:00 of the start day in Tokyo,
    # so "START 00:00:00" there is already past
    now = at(START - dt.timedelta(days=1), 20)
    monkeypatch.setattr(sandbox, "time_zone", "Asia/Tokyo")
    monkeypatch.setattr(sandbox, "clock", lambda: now)
    gateway = GoogleAdsGateway(sandbox.config(), sandbox.endpoint, sleep=sleeps.append, clock=lambda: now)
    plan, mark = a_plan(), len(sandbox.received)
    # When it is launched
    ids = launched(gateway, plan, PlatformIds())
    # Then the campaign starts at once (no start date) and keeps its end; Google refuses a past start
    [create, _] = mutates_since(sandbox, mark)
    campaign = operations_of(create, "campaign_operation")[0].create
    assert "start_date_time" not in campaign and campaign.end_date_time == f"{END} 23:59:59"
    assert stored_campaign(sandbox, ids.campaign).status.name == "ENABLED"


def test_an_end_date_already_past_in_the_accounts_time_zone_is_refused_before_any_mutate(sandbox, monkeypatch,
                                                                                            sleeps):
    # Given a draft ending today in UTC, on a Tokyo account where that day is over
    today = START - dt.timedelta(days=1)
    now = at(today, 20)
    monkeypatch.setattr(sandbox, "time_zone", "Asia/Tokyo")
    gateway = GoogleAdsGateway(sandbox.config(), sandbox.endpoint, sleep=sleeps.append, clock=lambda: now)
    plan = a_plan(start=today - dt.timedelta(days=3))
    plan = plan.model_copy(update={"start_date": None, "end_date": today})
    mark = len(sandbox.received)

    with pytest.raises(PlatformError) as refused:
        gateway.create_paused(plan, PlatformIds())

    assert refused.value.codes == ["attract:END_DATE_PASSED"] and mutates_since(sandbox, mark) == []


@pytest.mark.parametrize(("field", "value", "code"), [
    ("contains_eu_political_advertising", 0, "field_error:REQUIRED"),
    ("start_date_time", "yesterday", "campaign_error:CANNOT_SET_DATE_TO_PAST"),
    ("end_date_time", "yesterday", "campaign_error:CANNOT_SET_DATE_TO_PAST"),
    ("end_date_time", "2037-12-31 23:59:59", "date_range_error:AFTER_MAXIMUM_ALLOWABLE_DATE"),
    ("start_date_time", "01.12.2026", "date_error:INVALID_STRING_DATE_TIME_SECONDS"),
])
def test_the_sandbox_refuses_a_campaign_create_as_google_documents(sandbox, gateway, field, value, code):
    # Given the adapter's own launch operations, with one campaign field as Google refuses it
    # (the EU political advertising declaration left out, a date in the past or after 2037-12-30)
    plan = a_plan()
    operations = gateway._launch_operations(plan, None, dt.date.today())
    campaign = operations[1].campaign_operation.create
    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=2)
    setattr(campaign, field, f"{yesterday} 00:00:00" if value == "yesterday" else value)
    before = resource_counts(sandbox)
    # When they are sent
    with pytest.raises(PlatformError) as refused:
        gateway._mutate(operations)
    # Then the whole atomic create is refused with Google's code, and nothing exists
    assert refused.value.codes == [code]
    assert resource_counts(sandbox) == before


def test_a_keyword_of_more_than_10_words_fails_the_whole_create(sandbox, gateway):
    # The policy refuses it before any call (google.keyword_max_10_words); the sandbox refuses it as Google does.
    plan = a_plan(keywords=[{"text": "senior data engineer jobs in berlin with python spark and airflow"}])
    before = resource_counts(sandbox)

    with pytest.raises(PlatformError) as refused:
        launched(gateway, plan, PlatformIds())

    assert refused.value.codes == ["criterion_error:KEYWORD_HAS_TOO_MANY_WORDS"]
    assert resource_counts(sandbox) == before


# ---- dry run ---------------------------------------------------------------------------------------------

def test_a_dry_run_sends_the_whole_create_validate_only_and_creates_nothing(sandbox, gateway):
    plan, mark = a_plan(), len(sandbox.received)
    before = resource_counts(sandbox)
    # When a draft is dry-run
    warnings = gateway.dry_run(plan)
    # Then Google got the launch's create with validate_only, nothing was created, and all is well
    [checked] = mutates_since(sandbox, mark)
    assert checked.validate_only is True and warnings == []
    assert resource_counts(sandbox) == before and campaigns_named(sandbox, plan.platform_name) == []
    # And Google's answer to a validate-only mutate is empty ("mutates only return errors, not results")
    service = gateway._service("GoogleAdsService")
    answer = service.mutate(request={"customer_id": "1234567890", "validate_only": True,
                                     "mutate_operations": list(checked.mutate_operations)})
    assert list(answer.mutate_operation_responses) == [] and resource_counts(sandbox) == before
    # And it is exactly the create a launch sends
    mark = len(sandbox.received)
    launched(gateway, plan, PlatformIds())
    create, _ = mutates_since(sandbox, mark)
    assert create.validate_only is False and list(create.mutate_operations) == list(checked.mutate_operations)


def test_a_dry_run_reports_refusals_with_googles_codes_and_warnings(sandbox, gateway, monkeypatch):
    before = resource_counts(sandbox)
    # A refusal of any operation is the platform's error
    with pytest.raises(PlatformError) as refused:
        gateway.dry_run(a_plan(keywords=[{"text": " ".join(["data"] * 11)}]))
    assert refused.value.codes == ["criterion_error:KEYWORD_HAS_TOO_MANY_WORDS"]
    # Our own account checks come first, and reach no mutate
    mark = len(sandbox.received)
    with pytest.raises(PlatformError) as currency:
        gateway.dry_run(a_plan(currency="USD"))
    assert currency.value.codes == ["attract:CURRENCY_MISMATCH"] and mutates_since(sandbox, mark) == []
    # What Google accepts but the marketer should fix is a warning
    monkeypatch.setattr(sandbox, "auto_tagging_enabled", False)
    assert gateway.dry_run(a_plan()) == [AUTO_TAGGING_OFF]
    assert resource_counts(sandbox) == before


# ---- ad review -------------------------------------------------------------------------------------------

def test_an_ad_landing_through_a_redirect_to_another_domain_is_disapproved_and_said_so(sandbox, gateway, redirector):
    # Given an ad whose final URL is a tracked redirect on another host (the old /r/ link), and one of ours
    # whose final URL is the careers page itself
    redirected = launched(gateway, a_plan(landing_url=f"{redirector}/r/gAbc123"), PlatformIds())
    ours = launched(gateway, a_plan(), PlatformIds())
    # Then Google's review disapproves the redirected ad for destination mismatch, visible through GAQL
    summary = policy_summary(gateway, redirected)
    assert summary.approval_status.name == "DISAPPROVED"
    assert [(e.topic, e.type_.name) for e in summary.policy_topic_entries] == [("DESTINATION_MISMATCH", "PROHIBITED")]
    assert [u.name for u in summary.policy_topic_entries[0].evidences[0].destination_mismatch.url_types] == [
        "FINAL_URL"]
    # And the launch tells the marketer, in words they can act on
    [warning] = redirected.warnings
    assert "disapproved" in warning and "DESTINATION_MISMATCH" in warning and "redirect" in warning
    # While ours is approved, with nothing to say
    assert policy_summary(gateway, ours).approval_status.name == "APPROVED" and ours.warnings == []
    assert gateway.review_warnings(redirected) == [warning]


def test_a_secret_without_a_developer_token_works(sandbox, sleeps):
    # Google sunset developer tokens on 2026-09-09: the header is optional and ignored.
    gateway = GoogleAdsGateway(sandbox.config(developer_token=None), sandbox.endpoint, sleep=sleeps.append)
    mark = len(sandbox.headers)

    assert gateway.spend(dt.date(2025, 3, 1), dt.date(2025, 3, 1)) == []
    assert "developer-token" not in sandbox.headers[mark]
