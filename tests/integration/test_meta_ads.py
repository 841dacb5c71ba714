"""The Meta adapter through the real facebook-business SDK against the local Meta sandbox, at the wire.

Every assertion reads what the sandbox received (the SDK's own form encoding, decoded) or what it holds.
A guard refuses any connection that is not to 127.0.0.1, so an SDK call to graph.facebook.com (or its
crash reporter) fails the test loudly instead of reaching the internet.
"""

import hashlib
import json
import socket
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from attract.campaigns.models import CampaignDraft, Conversion, LaunchPlan, PlatformIds
from attract.campaigns.ports import PlatformError, RateLimited
from attract.errors import RulesBrokenError
from attract.providers.meta import NOT_VALIDATED, MetaGateway
from attract_local.sandboxes.meta import MetaSandbox
from tests.support import launched

# The SDK warns (UserWarning) when a parameter does not fit its own type table: here that is a failure.
pytestmark = pytest.mark.filterwarnings("error::UserWarning")

RAW_EMAIL = "Ada.Lovelace@Example.com"
EMAIL_SHA256 = hashlib.sha256(RAW_EMAIL.strip().lower().encode()).hexdigest()


@pytest.fixture(scope="module")
def sandbox():
    box = MetaSandbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Only loopback may be resolved; anything else is recorded and refused, and fails the test."""
    attempts: list[str] = []  # a test that expects an attempt empties it
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(str(host))
            raise OSError(f"test guard: no connections to {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield attempts
    assert not attempts, f"the SDK tried to reach {attempts}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


NOW = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)  # the launches' clock: before the drafts' start
# The drafts' dates, ahead of the sandbox's clock (the machine's): Meta refuses an end time already past.
START = datetime.now(timezone.utc).date() + timedelta(days=30)
END = START + timedelta(days=30)
BERLIN = {"latitude": 52.52, "longitude": 13.405, "radius": 20, "radius_unit": "mile", "country": "DE"}
VIENNA = {"latitude": 48.2082, "longitude": 16.3738, "radius": 30, "radius_unit": "kilometer", "country": "AT"}


@pytest.fixture
def gateway(sandbox, sleeps):
    return MetaGateway(sandbox.config(), sandbox.url, timeout_s=5, sleep=sleeps.append, clock=lambda: NOW)


def plan(name: str | None = None, *, radius: int = 20, unit: str = "mile", start: object = START,
         end: object = END, budget: tuple[str, str] = ("50.00", "EUR"), locations: list[dict] | None = None,
         **meta: str) -> LaunchPlan:
    campaign_id = uuid.uuid4().hex[:12]
    name = name or f"Data engineers {campaign_id}"
    draft = CampaignDraft.model_validate({
        "name": name, "channels": ["meta"], "daily_budget": {"amount": budget[0], "currency": budget[1]},
        "start_date": str(start), "end_date": None if end is None else str(end),
        "locations": locations or [{**BERLIN, "radius": radius, "radius_unit": unit}, VIENNA],
        "destination": "https://careers.example.com/data",
        "meta": {"primary_text": "Build our data platform", "headline": "Data engineers wanted",
                 "image_url": "https://images.example.com/team.png", "call_to_action": "APPLY_NOW", **meta},
    })
    return LaunchPlan(campaign_id=campaign_id, platform_name=f"{name} [attract:{campaign_id}]", draft=draft,
                      landing_url=draft.destination, url_params=(("tc_link", campaign_id[:8]),),
                      start_date=draft.start_date, end_date=draft.end_date)


def named(sandbox: MetaSandbox, kind: str, launch: LaunchPlan) -> list[dict]:
    return [o for o in sandbox.of_kind(kind) if o["name"].startswith(launch.platform_name)]


def posts(sandbox: MetaSandbox, launch: LaunchPlan) -> list[tuple[str, dict]]:
    """(path, params) of every POST this launch made, in order."""
    ids = {o["id"] for kind in ("campaign", "adset", "adcreative", "ad") for o in named(sandbox, kind, launch)}
    return [(path, params) for method, path, params in list(sandbox.received) if method == "POST" and (
        str(params.get("name", "")).startswith(launch.platform_name) or path.rsplit("/", 1)[-1] in ids)]


# ---- launch ------------------------------------------------------------------------------------------

def test_launch_sets_employment_rules_creates_paused_then_activates(sandbox, gateway):
    launch = plan()
    attempted = gateway.api.get_num_requests_attempted()
    received = len(sandbox.received)

    ids = launched(gateway, launch, PlatformIds())

    sent = posts(sandbox, launch)
    creates = {path.rsplit("/", 1)[-1]: params for path, params in sent if "name" in params}
    campaign, ad_set = creates["campaigns"], creates["adsets"]
    creative, ad = creates["adcreatives"], creates["ads"]
    assert campaign["special_ad_categories"] == ["EMPLOYMENT"]
    assert campaign["special_ad_category_country"] == ["AT", "DE"]
    assert campaign["name"] == launch.platform_name and campaign["objective"] == "OUTCOME_LEADS"
    assert {campaign["status"], ad_set["status"], ad["status"]} == {"PAUSED"}

    targeting = ad_set["targeting"]
    assert (targeting["age_min"], targeting["age_max"]) == (18, 65)
    assert "genders" not in targeting and "zips" not in targeting["geo_locations"]
    assert targeting["geo_locations"]["custom_locations"] == [
        {"latitude": 52.52, "longitude": 13.405, "radius": 20, "distance_unit": "mile"},
        {"latitude": 48.2082, "longitude": 16.3738, "radius": 30, "distance_unit": "kilometer"},
    ]
    assert ad_set["daily_budget"] == "5000"  # EUR 50.00 in cents, as Meta wants it
    assert ad_set["campaign_id"] == ids.campaign and ad_set["billing_event"] == "IMPRESSIONS"
    assert ad_set["promoted_object"] == {"pixel_id": sandbox.pixel_id, "custom_event_type": "LEAD"}
    assert (ad_set["start_time"], ad_set["end_time"]) == (f"{START}T00:00:00+00:00", f"{END}T23:59:59+00:00")
    # DE and AT are in the EU: who benefits and who pays, from the secret
    assert (ad_set["dsa_beneficiary"], ad_set["dsa_payor"]) == (sandbox.dsa_beneficiary, sandbox.dsa_payor)

    link = creative["object_story_spec"]["link_data"]
    # The ad lands on the careers page itself; Meta appends url_tags (tc_link and utm) to it
    assert link["link"] == launch.landing_url == "https://careers.example.com/data"
    assert link["call_to_action"]["type"] == "APPLY_NOW"
    assert (link["message"], link["name"]) == ("Build our data platform", "Data engineers wanted")
    assert creative["object_story_spec"]["page_id"] == sandbox.page_id
    assert creative["url_tags"] == launch.url_suffix and creative["url_tags"].startswith("tc_link=")
    assert ad["adset_id"] == ids.ad_group and ad["creative"] == {"creative_id": ids.creative}

    # Paused while being built; activated children first, the campaign last.
    activations = [(path.rsplit("/", 1)[-1], params) for path, params in sent if "name" not in params]
    assert activations == [(ids.ad, {"status": "ACTIVE"}), (ids.ad_group, {"status": "ACTIVE"}),
                           (ids.campaign, {"status": "ACTIVE"})]
    assert ids.status == "ENABLED"
    assert {o["status"] for kind in ("campaign", "adset", "ad") for o in named(sandbox, kind, launch)} == {"ACTIVE"}
    # Every request the SDK attempted is one the sandbox received: nothing went anywhere else.
    assert gateway.api.get_num_requests_attempted() - attempted == len(sandbox.received) - received


def test_a_launch_without_pixel_optimises_for_link_clicks(sandbox, sleeps):
    gateway = MetaGateway({**sandbox.config(), "pixel_id": ""}, sandbox.url, sleep=sleeps.append)
    launch = plan(end=None)
    launched(gateway, launch, PlatformIds())
    (ad_set,) = named(sandbox, "adset", launch)
    (campaign,) = named(sandbox, "campaign", launch)
    assert campaign["objective"] == "OUTCOME_TRAFFIC" and ad_set["optimization_goal"] == "LINK_CLICKS"
    assert "promoted_object" not in ad_set and "end_time" not in ad_set


def test_a_draft_that_already_started_starts_now(sandbox, gateway):
    # Given a plan whose start has passed (the launch sends it as "start now": start_date None)
    launch = plan(start=START - timedelta(days=60)).model_copy(update={"start_date": None})
    launched(gateway, launch, PlatformIds())
    (ad_set,) = named(sandbox, "adset", launch)
    assert "start_time" not in ad_set and ad_set["end_time"] == f"{END}T23:59:59+00:00"


@pytest.mark.parametrize("step", ["/campaigns", "/adsets", "/adcreatives", "/ads"])
def test_answer_lost_after_create_then_resume_creates_nothing_twice(sandbox, gateway, step):
    launch = plan()
    sandbox.fail_next(step, drop=True, after_apply=True, method="POST")  # Meta did it; we never heard back

    with pytest.raises(PlatformError) as failed:
        launched(gateway, launch, PlatformIds())
    assert failed.value.retryable and failed.value.codes == ["connection"]
    assert sandbox.access_token not in str(failed.value) and failed.value.__cause__ is None

    ids = launched(gateway, launch, PlatformIds())  # nothing was stored: the names find what exists

    for kind in ("campaign", "adset", "adcreative", "ad"):
        assert len(named(sandbox, kind, launch)) == 1, kind
    assert ids.campaign == named(sandbox, "campaign", launch)[0]["id"]
    assert ids.ad == named(sandbox, "ad", launch)[0]["id"] and ids.status == "ENABLED"


def test_server_error_after_create_then_resume_with_stored_ids(sandbox, gateway):
    launch = plan()
    sandbox.fail_next("/ads", 2, after_apply=True, method="POST")

    with pytest.raises(PlatformError) as failed:
        launched(gateway, launch, PlatformIds())
    assert failed.value.codes == ["2"] and failed.value.retryable and failed.value.request_id
    assert not isinstance(failed.value, RateLimited)
    stored = PlatformIds(campaign=named(sandbox, "campaign", launch)[0]["id"],
                         ad_group=named(sandbox, "adset", launch)[0]["id"])  # what the domain had saved

    received = len(sandbox.received)
    ids = launched(gateway, launch, stored)

    assert len(named(sandbox, "ad", launch)) == 1 and ids.ad == named(sandbox, "ad", launch)[0]["id"]
    later = [path for method, path, _ in sandbox.received[received:] if method == "GET"]
    assert not any(path.endswith(("/campaigns", "/adsets")) for path in later)  # stored ids are not looked up


def test_rate_limit_is_retried_with_backoff_then_succeeds(sandbox, gateway, sleeps):
    launch = plan()
    sandbox.fail_next("/adsets", 613, subcode=1487742, method="POST", times=2)

    ids = launched(gateway, launch, PlatformIds())

    assert len(sleeps) == 2 and ids.status == "ENABLED"
    assert len(named(sandbox, "adset", launch)) == 1
    assert len([p for p in sandbox.requests_to("POST", "/adsets") if p["name"].startswith(launch.platform_name)]) == 3


@pytest.mark.parametrize("code", [17, 80004])
def test_rate_limit_that_persists_surfaces_as_rate_limited(sandbox, sleeps, code):
    gateway = MetaGateway(sandbox.config(), sandbox.url, sleep=sleeps.append, attempts=3)
    sandbox.fail_next("/campaigns", code, method="POST", times=3)

    with pytest.raises(RateLimited) as limited:
        launched(gateway, plan(), PlatformIds())

    assert limited.value.codes == [str(code)] and limited.value.retryable and limited.value.request_id
    assert len(sleeps) == 2


def test_meta_refusal_keeps_codes_and_trace_id_and_nothing_else(sandbox, gateway, sleeps):
    launch = plan()
    sandbox.fail_next("/adsets", 100, subcode=1487079, method="POST")

    with pytest.raises(PlatformError) as refused:
        launched(gateway, launch, PlatformIds())

    error = refused.value
    assert error.codes == ["100", "100/1487079"] and not error.retryable and not sleeps
    assert error.as_json()["platform"] == "meta" and error.request_id
    assert error.__cause__ is None and error.__suppress_context__  # the SDK error holds the whole request
    assert named(sandbox, "adset", launch) == [] and len(named(sandbox, "campaign", launch)) == 1


# ---- dates ---------------------------------------------------------------------------------------------

def test_any_end_date_is_sent_as_the_end_of_that_day_even_the_last_one(sandbox, gateway):
    # Given the last date there is (the day after it does not exist: the adapter used to crash computing it)
    launch = plan(end=date.max)
    # When it is created
    gateway.create_paused(launch, PlatformIds())
    # Then the ad set ends at that day's last second
    (ad_set,) = named(sandbox, "adset", launch)
    assert ad_set["end_time"] == "9999-12-31T23:59:59+00:00"


@pytest.mark.parametrize(("start", "end"), [(None, START - timedelta(days=40)), (END, START)],
                         ids=["end_past", "start_after_end"])
def test_the_sandbox_refuses_an_end_time_past_or_before_the_start(sandbox, gateway, start, end):
    # Given what a launch can no longer send (the policy refuses such drafts): written past the draft's checks
    launch = plan().model_copy(update={"start_date": start, "end_date": end})
    # Then Meta's "Incorrect End Date", and no ad set
    with pytest.raises(PlatformError) as refused:
        gateway.create_paused(launch, PlatformIds())
    assert refused.value.codes == ["100", "100/1885407"] and named(sandbox, "adset", launch) == []


# ---- countries and the Digital Services Act -------------------------------------------------------------

BASEL = {"latitude": 47.5596, "longitude": 7.5886, "radius": 80, "radius_unit": "kilometer", "country": "CH"}
NEW_YORK = {"latitude": 40.7128, "longitude": -74.006, "radius": 25, "radius_unit": "mile", "country": "US"}


def test_special_ad_category_country_names_every_country_the_radius_reaches(sandbox, gateway):
    # Given a location in Basel (CH) whose 80 km reach Germany and France
    launch = plan(locations=[BASEL])
    gateway.create_paused(launch, PlatformIds())
    (campaign,) = named(sandbox, "campaign", launch)
    (ad_set,) = named(sandbox, "adset", launch)
    # Then the campaign declares the three, and the ad set names its beneficiary and payor (DE, FR: EU)
    assert campaign["special_ad_category_country"] == ["CH", "DE", "FR"]
    assert (ad_set["dsa_beneficiary"], ad_set["dsa_payor"]) == (sandbox.dsa_beneficiary, sandbox.dsa_payor)


def test_the_draft_names_its_own_beneficiary_and_payor(sandbox, gateway):
    launch = plan(dsa_beneficiary="Acme Logistics GmbH", dsa_payor="Acme Holding SE")
    gateway.create_paused(launch, PlatformIds())
    (ad_set,) = named(sandbox, "adset", launch)
    assert (ad_set["dsa_beneficiary"], ad_set["dsa_payor"]) == ("Acme Logistics GmbH", "Acme Holding SE")


def test_an_eu_launch_without_beneficiary_and_payor_is_refused_before_any_call(sandbox, sleeps):
    # Given a Meta secret without DSA names, and a draft without its own
    config = {key: value for key, value in sandbox.config().items() if not key.startswith("dsa_")}
    gateway = MetaGateway(config, sandbox.url, sleep=sleeps.append)
    received = len(sandbox.received)
    # When an EU draft is launched or dry-run
    for attempt in (lambda launch: gateway.create_paused(launch, PlatformIds()), gateway.dry_run):
        with pytest.raises(RulesBrokenError) as refused:
            attempt(plan())
        # Then a 422 names the rule and both fields, and Meta heard nothing
        assert {(e["field"], e["rule"]) for e in refused.value.errors} == {
            ("meta.dsa_beneficiary", "meta.dsa_beneficiary_payor_required"),
            ("meta.dsa_payor", "meta.dsa_beneficiary_payor_required")}
    assert len(sandbox.received) == received


def test_a_launch_outside_the_eu_needs_no_beneficiary(sandbox, sleeps):
    config = {key: value for key, value in sandbox.config().items() if not key.startswith("dsa_")}
    launch = plan(locations=[NEW_YORK], budget=("50.00", "EUR"))
    MetaGateway(config, sandbox.url, sleep=sleeps.append).create_paused(launch, PlatformIds())
    (ad_set,) = named(sandbox, "adset", launch)
    (campaign,) = named(sandbox, "campaign", launch)
    assert campaign["special_ad_category_country"] == ["US"] and "dsa_beneficiary" not in ad_set


def test_the_sandbox_refuses_an_eu_ad_set_without_beneficiary_and_payor(sandbox, gateway):
    """Meta requires both for ads reaching the EU; the sandbox too (sent through the SDK, past our adapter)."""
    from facebook_business.adobjects.adaccount import AdAccount
    from facebook_business.exceptions import FacebookRequestError

    launch = plan()
    ids = gateway.create_paused(launch, PlatformIds())
    (ad_set,) = named(sandbox, "adset", launch)
    params = {key: ad_set[key] for key in ("campaign_id", "daily_budget", "billing_event", "bid_strategy",
                                           "targeting", "optimization_goal", "status")}
    account = AdAccount(f"act_{sandbox.ad_account_id.removeprefix('act_')}", api=gateway.api)
    with pytest.raises(FacebookRequestError) as refused:
        account.create_ad_set(params={**params, "name": f"{launch.platform_name} · no dsa"})
    assert (refused.value.api_error_code(), refused.value.api_error_subcode()) == (100, 3858082)
    assert "dsa_beneficiary" in refused.value.api_error_message() and ids.ad_group


# ---- budgets in the account's currency -----------------------------------------------------------------

@pytest.fixture(scope="module")
def yen_sandbox():
    box = MetaSandbox(currency="JPY", min_daily_budget=150)
    box.start()
    yield box
    box.stop()


def test_a_yen_budget_is_sent_in_whole_yen_and_the_currency_is_read_once(yen_sandbox, sleeps):
    # Given a JPY ad account (Meta's offset 1: no minor unit)
    gateway = MetaGateway(yen_sandbox.config(), yen_sandbox.url, sleep=sleeps.append)
    first, second = plan(budget=("5000", "JPY")), plan(budget=("5000", "JPY"))
    # When two drafts of JPY 5,000 a day are launched
    gateway.create_paused(first, PlatformIds())
    gateway.create_paused(second, PlatformIds())
    # Then Meta got 5000, not 500000 (as the raw form field), and the account was asked its currency once
    assert [p["daily_budget"] for p in yen_sandbox.requests_to("POST", "/adsets")] == ["5000", "5000"]
    account = f"/act_{yen_sandbox.ad_account_id.removeprefix('act_')}"
    assert [p["fields"] for p in yen_sandbox.requests_to("GET", account)] == ["currency"]


def test_a_budget_in_another_currency_than_the_account_is_422_before_any_create(sandbox, gateway):
    launch = plan(budget=("50.00", "USD"))  # the sandbox's account spends EUR
    posts_before = len([r for r in sandbox.received if r[0] == "POST"])
    with pytest.raises(RulesBrokenError) as refused:
        gateway.create_paused(launch, PlatformIds())
    assert [(e["field"], e["rule"]) for e in refused.value.errors] == [
        ("daily_budget.currency", "meta.budget_currency_is_account_currency")]
    assert "EUR" in refused.value.errors[0]["message"]
    assert len([r for r in sandbox.received if r[0] == "POST"]) == posts_before


def test_the_sandbox_refuses_a_budget_below_the_account_minimum(sandbox, gateway):
    launch = plan(budget=("0.50", "EUR"))  # the account's minimum is EUR 1.00 (100 cents)
    with pytest.raises(PlatformError) as refused:
        gateway.create_paused(launch, PlatformIds())
    assert refused.value.codes == ["100", "100/1885272"] and "Too Low" in refused.value.message


def test_the_sandbox_refuses_a_radius_beyond_50_miles(sandbox, gateway):
    """The draft's shape allows 500; Meta (and so the sandbox) takes 50 miles / 80 km at most."""
    for radius, unit in ((51, "mile"), (81, "kilometer")):
        with pytest.raises(PlatformError) as refused:
            gateway.create_paused(plan(radius=radius, unit=unit), PlatformIds())
        assert refused.value.codes == ["100", "100/1487756"]
    # Each limit itself is fine, in the unit given (24 km is 14.9 miles, and Meta's own minimum)
    gateway.create_paused(plan(radius=80, unit="kilometer"), PlatformIds())
    gateway.create_paused(plan(radius=24, unit="kilometer"), PlatformIds())


# ---- dry run -------------------------------------------------------------------------------------------

def _validate_only_posts(sandbox: MetaSandbox, since: int) -> list[str]:
    return [path.rsplit("/", 1)[-1] for method, path, params in sandbox.received[since:]
            if method == "POST" and params.get("execution_options") == ["validate_only"]]


def test_dry_run_validates_without_creating_and_says_what_meta_could_not_check(sandbox, gateway):
    launch = plan()
    objects, since = len(sandbox.objects), len(sandbox.received)
    # When a launch never made is dry-run
    warnings = gateway.dry_run(launch)
    # Then the campaign and the creative were sent validate-only, nothing exists, and the answer says that
    # the ad set and the ad (which Meta checks against parents that do not exist) were not
    assert _validate_only_posts(sandbox, since) == ["campaigns", "adcreatives"]
    assert len(sandbox.objects) == objects and warnings == [NOT_VALIDATED]


def test_dry_run_of_a_half_made_launch_validates_its_ad_set_and_ad_against_what_exists(sandbox, gateway):
    launch = plan()
    sandbox.fail_next("/ads", 2, method="POST")  # campaign, ad set and creative exist; the ad does not
    with pytest.raises(PlatformError):
        gateway.create_paused(launch, PlatformIds())
    objects, since = len(sandbox.objects), len(sandbox.received)
    assert gateway.dry_run(launch) == []
    assert _validate_only_posts(sandbox, since) == ["campaigns", "adcreatives", "adsets", "ads"]
    assert len(sandbox.objects) == objects and named(sandbox, "ad", launch) == []


def test_dry_run_refusal_is_a_platform_error_with_meta_codes(sandbox, gateway):
    # Given a half-made launch whose ad set Meta refused (a 10 km radius for EMPLOYMENT)
    launch = plan(radius=10, unit="kilometer")
    with pytest.raises(PlatformError):
        gateway.create_paused(launch, PlatformIds())
    # When it is dry-run, Meta refuses the ad set again, with its codes, and nothing is created
    objects = len(sandbox.objects)
    with pytest.raises(PlatformError) as refused:
        gateway.dry_run(launch)
    assert refused.value.codes == ["100", "100/1870194"] and len(sandbox.objects) == objects


def test_meta_employment_rules_are_enforced_by_the_sandbox_too(sandbox, gateway):
    """A 10 km radius passes the draft's shape; Meta (and so the sandbox) refuses it for EMPLOYMENT."""
    launch = plan(radius=10, unit="kilometer")
    with pytest.raises(PlatformError) as refused:
        launched(gateway, launch, PlatformIds())
    assert refused.value.codes == ["100", "100/1870194"]


def test_wrong_token_is_refused_and_not_echoed(sandbox, sleeps):
    gateway = MetaGateway({**sandbox.config(), "access_token": "not-the-token"}, sandbox.url, sleep=sleeps.append)
    received = len(sandbox.received)
    with pytest.raises(PlatformError) as refused:
        launched(gateway, plan(), PlatformIds())
    assert refused.value.codes == ["190"] and "not-the-token" not in str(refused.value)
    assert len(sandbox.received) == received  # refused before anything was recorded or done


def test_the_guard_catches_a_call_to_the_real_graph(sandbox, no_internet, sleeps):
    gateway = MetaGateway(sandbox.config(), "https://graph.facebook.com", sleep=sleeps.append)
    try:
        with pytest.raises(PlatformError) as failed:
            gateway.spend(date(2026, 11, 1), date(2026, 11, 1))
        assert failed.value.codes == ["connection"] and sandbox.access_token not in str(failed.value)
        assert no_internet == ["graph.facebook.com"]
        no_internet.clear()
    finally:
        MetaGateway(sandbox.config(), sandbox.url)  # back to the sandbox for the tests that follow


def test_no_credentials_in_what_the_sandbox_recorded(sandbox, gateway):
    launched(gateway, plan(), PlatformIds())
    recorded = json.dumps(sandbox.received)
    assert sandbox.access_token not in recorded and sandbox.app_secret not in recorded


# ---- status ------------------------------------------------------------------------------------------

def test_set_status_maps_to_meta_statuses(sandbox, gateway):
    launch = plan()
    ids = launched(gateway, launch, PlatformIds())

    seen = []
    for status in ("PAUSED", "ENABLED", "REMOVED"):
        ids = gateway.set_status(ids, status)
        seen.append(sandbox.objects[ids.campaign]["status"])
        assert ids.status == status

    assert seen == ["PAUSED", "ACTIVE", "DELETED"]
    with pytest.raises(PlatformError):
        gateway.set_status(PlatformIds(), "PAUSED")


# ---- spend -------------------------------------------------------------------------------------------

def test_spend_rows_per_campaign_and_day(sandbox, gateway):
    launch = plan()
    ids = launched(gateway, launch, PlatformIds())
    sandbox.record_spend(ids.campaign, date(2026, 11, 2), "12.34", clicks=7, impressions=900)
    sandbox.record_spend(ids.campaign, date(2026, 11, 3), "0.99", clicks=1, impressions=80)
    sandbox.record_spend(ids.campaign, date(2026, 11, 9), "5.00", clicks=1, impressions=80)  # outside the range

    rows = [row for row in gateway.spend(date(2026, 11, 1), date(2026, 11, 3)) if row.platform_campaign_id == ids.campaign]

    assert [(r.day, r.cost, r.currency, r.clicks, r.impressions, r.channel) for r in rows] == [
        (date(2026, 11, 2), Decimal("12.34"), "EUR", 7, 900, "meta"),
        (date(2026, 11, 3), Decimal("0.99"), "EUR", 1, 80, "meta"),
    ]
    query = sandbox.requests_to("GET", "/insights")[-1]
    assert query["level"] == "campaign" and query["time_increment"] == "1"
    assert query["time_range"] == {"since": "2026-11-01", "until": "2026-11-03"}
    assert set(query["fields"].split(",")) >= {"spend", "clicks", "impressions", "campaign_id", "account_currency"}


def test_spend_of_a_running_campaign_is_simulated_from_its_budget(sandbox, gateway):
    ids = launched(gateway, plan(), PlatformIds())
    today = sandbox.today()
    (row,) = [r for r in gateway.spend(today, today) if r.platform_campaign_id == ids.campaign]
    assert row.cost == Decimal("45.00") and row.day == today  # 90% of EUR 50.00


def test_spend_rate_limited_then_served(sandbox, gateway, sleeps):
    sandbox.fail_next("/insights", 80000)
    assert gateway.spend(date(2020, 1, 1), date(2020, 1, 2)) == []
    assert len(sleeps) == 1


# ---- conversions -------------------------------------------------------------------------------------

def conversion(**changes) -> Conversion:
    now = datetime.now(timezone.utc)
    values = {"join_id": uuid.uuid4().hex, "joined_at": now, "fbclid": "IwAR0abc_DEF-123", "fbclid_at": now - timedelta(hours=2),
              "email_sha256": EMAIL_SHA256, "event_source_url": "https://careers.example.com/data",
              "client_user_agent": "Mozilla/5.0"}
    return Conversion(**{**values, **changes})


def test_conversions_go_to_the_conversions_api_as_hashed_leads(sandbox, gateway):
    join = conversion()

    (result,) = gateway.upload_conversions([join])

    assert result.ok and result.join_id == join.join_id
    (event,) = [e for e in sandbox.events if e.get("event_id") == join.join_id]
    assert event["event_name"] == "Lead" and event["action_source"] == "website"
    assert event["event_time"] == int(join.joined_at.timestamp())
    assert event["user_data"]["em"] == [EMAIL_SHA256]
    clicked_ms = int(join.fbclid_at.timestamp() * 1000)
    assert event["user_data"]["fbc"] == f"fb.1.{clicked_ms}.IwAR0abc_DEF-123"
    assert event["user_data"]["client_user_agent"] == "Mozilla/5.0"
    assert event["event_source_url"] == "https://careers.example.com/data"
    assert sandbox.requests_to("POST", f"/{sandbox.pixel_id}/events")


def test_a_raw_email_never_leaves(sandbox, gateway):
    """A value that is not a SHA-256 (a raw email by mistake) is dropped, not sent (the SDK would hash it)."""
    join = conversion(email_sha256=RAW_EMAIL)
    (result,) = gateway.upload_conversions([join])
    assert result.ok
    (event,) = [e for e in sandbox.events if e.get("event_id") == join.join_id]
    assert "em" not in event["user_data"] and event["user_data"]["fbc"]
    recorded = json.dumps(sandbox.received).lower()
    assert RAW_EMAIL.lower() not in recorded and "ada.lovelace" not in recorded
    assert all(len(h) == 64 for e in sandbox.events for h in e["user_data"].get("em", []))


def test_conversion_results_per_item(sandbox, gateway, sleeps):
    fine, too_old, nothing_to_match = (
        conversion(), conversion(joined_at=datetime.now(timezone.utc) - timedelta(days=8)),
        conversion(fbclid=None, email_sha256=None))
    sandbox.fail_next(f"/{sandbox.pixel_id}/events", 17, method="POST")  # throttled once, then served

    results = gateway.upload_conversions([fine, too_old, nothing_to_match])

    assert [r.join_id for r in results] == [fine.join_id, too_old.join_id, nothing_to_match.join_id]
    assert results[0].ok and len(sleeps) == 1
    assert (results[1].ok, results[1].retryable, results[1].error) == (False, False, "100,100/2804003")
    assert (results[2].ok, results[2].error) == (False, "no_user_data")
    ids = {e.get("event_id") for e in sandbox.events}
    assert fine.join_id in ids and too_old.join_id not in ids and nothing_to_match.join_id not in ids


def test_conversions_rate_limited_throughout_are_retryable(sandbox, sleeps):
    gateway = MetaGateway(sandbox.config(), sandbox.url, sleep=sleeps.append, attempts=2)
    sandbox.fail_next(f"/{sandbox.pixel_id}/events", 613, method="POST", times=2)
    (result,) = gateway.upload_conversions([conversion()])
    assert (result.ok, result.retryable, result.error) == (False, True, "613")


def test_test_event_code_is_passed_on_when_configured(sandbox, sleeps):
    gateway = MetaGateway({**sandbox.config(), "test_event_code": "TEST4242"}, sandbox.url, sleep=sleeps.append)
    join = conversion()
    assert gateway.upload_conversions([join])[0].ok
    (sent,) = [p for p in sandbox.requests_to("POST", "/events") if join.join_id in json.dumps(p)]
    assert sent["test_event_code"] == "TEST4242"


def test_timeout_after_meta_applied_then_resume(sandbox, sleeps):
    gateway = MetaGateway(sandbox.config(), sandbox.url, timeout_s=0.3, sleep=sleeps.append)
    launch = plan()
    sandbox.fail_next("/adcreatives", stall_s=1.0, method="POST")

    with pytest.raises(PlatformError) as failed:
        launched(gateway, launch, PlatformIds())
    assert failed.value.codes == ["timeout"] and failed.value.retryable and failed.value.__cause__ is None

    launched(gateway, launch, PlatformIds())
    assert [len(named(sandbox, kind, launch)) for kind in ("campaign", "adset", "adcreative", "ad")] == [1, 1, 1, 1]


def test_a_website_lead_without_the_form_s_browser_is_refused_here_and_by_meta(sandbox, gateway):
    """Meta requires client_user_agent and event_source_url with website events: the adapter sends none without."""
    no_agent, no_page = conversion(client_user_agent=None), conversion(event_source_url=None)
    sent_before = len(sandbox.requests_to("POST", f"/{sandbox.pixel_id}/events"))
    assert [(r.ok, r.retryable, r.error) for r in gateway.upload_conversions([no_agent, no_page])] == [
        (False, False, "no_browser_context")] * 2
    assert len(sandbox.requests_to("POST", f"/{sandbox.pixel_id}/events")) == sent_before
    # And the sandbox, like Meta, refuses such an event when it is sent anyway (through the SDK's own request)
    from facebook_business.adobjects.adspixel import AdsPixel
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.event_request import EventRequest
    from facebook_business.adobjects.serverside.user_data import UserData
    from facebook_business.exceptions import FacebookRequestError

    event = Event(event_name="Lead", event_time=int(datetime.now(timezone.utc).timestamp()), event_id="no-agent",
                  action_source=ActionSource.WEBSITE, user_data=UserData(emails=[EMAIL_SHA256]),
                  event_source_url="https://careers.example.com/join")
    request = EventRequest(pixel_id=sandbox.pixel_id, events=[event])
    with pytest.raises(FacebookRequestError) as refused:
        AdsPixel(sandbox.pixel_id, api=gateway.api).create_event(fields=[], params=request.get_params())
    assert refused.value.api_error_code() == 100 and "client_user_agent" in refused.value.api_error_message()
    assert "no-agent" not in {e.get("event_id") for e in sandbox.events}
