"""The launch logic (attract.campaigns.launch) over in-memory adapters: nothing spends that the API cannot stop.

Every channel is created paused before any is activated; any failure leaves the campaign `failed` (never
stuck in `launching`); pause and end work from `failed`; dates are checked; a dry run creates nothing.
"""

from datetime import UTC, datetime, timedelta

import pytest

from attract.campaigns import launch as logic
from attract.campaigns.models import CampaignDraft
from attract.campaigns.ports import PlatformError
from attract.errors import ConflictError, InvalidRequestError, RulesBrokenError
from tests.unit.fakes import FakeAdsGateway, MemoryCampaigns, MemoryLinks
from tests.unit.test_campaign_policy import DRAFT, draft

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def world():
    calls: list = []
    gateways = {"google_search": FakeAdsGateway("google_search", calls), "meta": FakeAdsGateway("meta", calls)}
    return calls, gateways, MemoryCampaigns(), MemoryLinks()


def created(store, candidate: CampaignDraft | None = None, now: datetime = NOW):
    candidate = candidate or draft(start_date="2026-12-10", end_date="2026-12-31")
    return logic.create_campaign(candidate, "marketer-1", store, now)


def launch(world, campaign_id: str, now: datetime = NOW, **kwargs):
    _, gateways, store, links = world
    return logic.launch(campaign_id, store=store, links=links, gateways=gateways.__getitem__, now=now,
                        owner="marketer-1", **kwargs)


def failed_launch(world, step: str, error: PlatformError):
    """A created campaign whose launch failed because Meta refused `step` with `error`."""
    _, gateways, store, _ = world
    campaign = created(store)
    gateways["meta"].refuse[step] = error
    with pytest.raises(PlatformError):
        launch(world, campaign.id)
    return campaign


def change(world, campaign_id: str, action: str, now: datetime = NOW):
    _, gateways, store, _ = world
    return logic.change_status(campaign_id, action, store=store, gateways=gateways.__getitem__, now=now)


def test_every_channel_is_created_paused_before_any_is_activated(world):
    calls, gateways, store, links = world
    campaign = created(store)
    # When it is launched
    launched = launch(world, campaign.id)
    # Then both accounts checked the draft, both were created (paused), and only then activated
    assert calls == [("google_search", "preflight"), ("meta", "preflight"),
                     ("google_search", "create_paused"), ("meta", "create_paused"),
                     ("google_search", "activate"), ("meta", "activate")]
    assert launched.status == "active" and {ids.status for ids in launched.platform_ids.values()} == {"ENABLED"}
    # And each ad lands on the destination, with the channel's tracked link code and utm values appended
    plan = gateways["google_search"].plans[0]
    assert plan.landing_url == DRAFT["destination"]
    assert plan.url_suffix == (f"tc_link={launched.link_codes['google_search']}&utm_source=google&utm_medium=cpc"
                               "&utm_campaign=Data%20engineers%20Berlin")
    assert gateways["meta"].plans[0].url_params[1:3] == (("utm_source", "meta"), ("utm_medium", "paid_social"))
    assert links.get(launched.link_codes["meta"])[0].channel == "paid_social"


def test_a_refusal_half_way_leaves_nothing_spending_and_a_relaunch_finishes_it(world):
    calls, gateways, store, _ = world
    # Given Meta refuses the creation after Google's campaign was created (paused)
    campaign = failed_launch(world, "create_paused", PlatformError("meta", "Invalid parameter", ["100"]))
    # Then nothing was activated: Google's campaign exists, paused; the campaign is failed, with Meta's codes
    failed = store.get(campaign.id)
    assert ("google_search", "activate") not in calls and gateways["google_search"].statuses == {"google_search-c": "PAUSED"}
    assert failed.status == "failed" and failed.last_error["codes"] == ["100"] and failed.launch_started_at is None
    # When it is launched again, Google is not created twice; both are activated once Meta exists
    calls.clear()
    assert launch(world, campaign.id).status == "active"
    assert calls == [("meta", "preflight"), ("meta", "create_paused"), ("google_search", "activate"),
                     ("meta", "activate")]


def test_an_adapter_crash_is_stored_as_failed_and_answered_like_a_platform_error(world):
    _, gateways, store, _ = world
    campaign = created(store)
    # Given the Meta adapter crashes (a bug or an SDK surprise), not a platform refusal
    gateways["meta"].refuse["create_paused"] = OverflowError("date value out of range")
    # Then the caller gets a PlatformError naming only the exception's type (its text may quote the request)
    with pytest.raises(PlatformError) as raised:
        launch(world, campaign.id)
    assert raised.value.codes == ["attract:adapter_error:OverflowError"]
    # And the campaign is failed, never stuck in launching
    assert store.get(campaign.id).status == "failed"


def test_a_campaign_that_failed_while_activating_can_be_paused_and_ended(world):
    _, gateways, store, _ = world
    # Given Google is live and Meta's activation fails
    campaign = failed_launch(world, "activate", PlatformError("meta", "Service unavailable", ["2"], retryable=True))
    assert store.get(campaign.id).status == "failed" and gateways["google_search"].statuses["google_search-c"] == "ENABLED"
    # When the marketer pauses it, every platform campaign is paused: the spending one is stopped
    paused = change(world, campaign.id, "pause")
    assert paused.status == "paused" and set(gateways["google_search"].statuses.values()) == {"PAUSED"}
    # And it can be ended
    assert change(world, campaign.id, "end").status == "ended"
    assert gateways["google_search"].statuses["google_search-c"] == "REMOVED"


def test_a_launch_that_died_can_be_paused_once_its_lease_expired_but_not_while_it_runs(world):
    _, _, store, _ = world
    campaign = created(store)
    # Given a launch died after marking the campaign `launching` (a crash, a timeout)
    stuck = store.save(campaign.model_copy(update={"status": "launching", "launch_started_at": NOW}))
    # Then a pause while its lease runs waits (409), and works once the lease has expired
    with pytest.raises(ConflictError):
        change(world, stuck.id, "pause", NOW + timedelta(seconds=30))
    assert change(world, stuck.id, "pause", NOW + logic.LAUNCH_LEASE + timedelta(seconds=1)).status == "paused"


def test_resume_needs_a_complete_launch(world):
    # Given a launch Meta refused half way, then paused
    campaign = failed_launch(world, "create_paused", PlatformError("meta", "refused", ["100"]))
    change(world, campaign.id, "pause")
    # Then resuming would enable half a launch: 409, and a launch finishes it instead
    with pytest.raises(ConflictError, match="never fully launched"):
        change(world, campaign.id, "resume")
    assert launch(world, campaign.id).status == "active"


def test_a_start_date_that_has_passed_is_sent_as_start_now(world):
    _, gateways, store, _ = world
    campaign = created(store, draft(start_date="2026-12-01", end_date="2026-12-31"))
    launch(world, campaign.id)
    assert gateways["google_search"].plans[0].start_date is None
    future = created(store, draft(name="Later", start_date="2026-12-05", end_date="2026-12-31"))
    launch(world, future.id)
    assert str(gateways["google_search"].plans[-1].start_date) == "2026-12-05"


@pytest.mark.parametrize(("dates", "rule", "field"), [
    ({"start_date": "2026-11-01", "end_date": "2026-12-03"}, "dates.end_in_past", "end_date"),
    ({"start_date": "2026-12-05", "end_date": "9999-12-31"}, "dates.beyond_horizon", "end_date"),
    ({"start_date": "9999-12-30", "end_date": None}, "dates.beyond_horizon", "start_date"),
])
def test_dates_no_platform_would_run_are_refused_at_creation(world, dates, rule, field):
    _, _, store, _ = world
    with pytest.raises(RulesBrokenError) as raised:
        created(store, draft(**dates))
    assert [(error["rule"], error["field"]) for error in raised.value.errors] == [(rule, field)]


def test_an_end_date_that_passed_before_the_launch_is_refused_before_any_platform_call(world):
    calls, _, store, _ = world
    campaign = created(store)
    with pytest.raises(RulesBrokenError):
        launch(world, campaign.id, NOW + timedelta(days=40))
    assert calls == [] and store.get(campaign.id).status == "draft"


def test_a_dry_run_asks_every_platform_and_creates_nothing(world):
    calls, gateways, store, links = world
    campaign = created(store)
    gateways["meta"].refuse["dry_run"] = PlatformError("meta", "Invalid parameter", ["100", "100/1885183"], "trace-1")
    report = logic.dry_run(campaign.id, store=store, gateways=gateways.__getitem__, now=NOW)
    assert calls == [("google_search", "dry_run"), ("meta", "dry_run")]
    assert report.ok is False and report.channels["google_search"].ok is True
    assert report.channels["meta"].model_dump() == {"ok": False, "warnings": [], "message": "Invalid parameter",
                                                    "codes": ["100", "100/1885183"], "request_id": "trace-1",
                                                    "retryable": False}
    # Nothing was stored: no tracked link, the draft unchanged
    assert links.items == {} and store.get(campaign.id) == campaign


def test_an_ad_destination_outside_destination_hosts_is_refused(world):
    _, _, store, _ = world
    campaign = created(store)
    with pytest.raises(InvalidRequestError) as raised:
        launch(world, campaign.id, allowed_hosts=("jobs.example.org",))
    assert (raised.value.field, raised.value.rule) == ("destination", "destination_host_not_allowed")
    assert launch(world, campaign.id, allowed_hosts=("careers.example.com",)).status == "active"


def test_a_dry_run_after_the_launch_checks_nothing_twice(world):
    calls, _, store, _ = world
    campaign = created(store)
    launch(world, campaign.id)
    calls.clear()
    # A platform would refuse a second campaign of the same name: channels already created are not sent again
    report = logic.dry_run(campaign.id, store=store, gateways=world[1].__getitem__, now=NOW)
    assert calls == [] and report.ok is True
    assert report.channels["meta"].warnings == ["already created on this platform: nothing to check"]


def test_a_draft_one_account_refuses_creates_nothing_anywhere(world):
    calls, gateways, store, _ = world
    campaign = created(store)
    # Given Meta's account refuses the draft (its currency, or the secret has no DSA names): a rule only it can check
    gateways["meta"].refuse["preflight"] = RulesBrokenError("Meta refuses this launch", [
        {"field": "daily_budget.currency", "location": "body", "rule": "meta.budget_currency_is_account_currency",
         "message": "the ad account bills in USD"}])
    # When the campaign is launched, then it is a 422 before anything is created on any platform
    with pytest.raises(RulesBrokenError):
        launch(world, campaign.id)
    assert calls == [("google_search", "preflight"), ("meta", "preflight")]
    # And the campaign is still a draft: fix the draft or the account, and launch again
    refused = store.get(campaign.id)
    assert refused.status == "draft" and refused.link_codes == {}
    assert refused.last_error["codes"] == ["meta.budget_currency_is_account_currency"]


def test_a_draft_shows_no_spend_sync_and_a_launched_campaign_shows_its_channels(world):
    # Given each channel's last spend sync (of the account: other campaigns' spend)
    _, _, store, _ = world
    sync = {channel: {"last_status": "ok", "last_success_at": "2026-12-04T08:00:00+00:00"}
            for channel in ("google_search", "meta")}
    campaign = created(store)
    # Then a draft, on no platform yet, has had nothing synced
    shown = logic.campaign_response(campaign, "https://go.example", sync)
    assert shown.last_sync is None and shown.sync == {}
    # And once launched, each channel it runs on shows the sync
    launched = logic.campaign_response(launch(world, campaign.id), "https://go.example", sync)
    assert set(launched.sync) == {"google_search", "meta"}
    assert launched.last_sync == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
