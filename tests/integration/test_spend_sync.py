"""Spend sync against the moto server: daily items replaced (never added), the report reading spend and joins
in the Queries it always made, the hourly handler, and (once merged) the real adapters against their sandboxes."""

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from attract.attribution.credit import AttributionModel
from attract.attribution.logic import attribution_report, credit_path
from attract.attribution.models import GroupBy
from attract.attribution.repository import AggregateRepository
from attract.aws import from_item
from attract.campaigns.models import CampaignDraft, LaunchPlan, PlatformIds, SpendRow
from attract.campaigns.ports import RateLimited
from attract.campaigns.spend import sync_channel
from attract.campaigns.spend_repository import (
    PlatformCampaignConflictError,
    SpendRepository,
    register_platform_campaign,
)
from attract.joins.models import Member, PendingJoin
from attract.joins.repository import MemberRepository
from attract.tracking.models import Touch
from attract_local.triggers import template_schedules
from tests.support import FakeLambdaContext, launched, load_event

DAY = date(2026, 10, 14)  # a day of its own in the shared table too
NOW = datetime(2026, 10, 15, 8, tzinfo=timezone.utc)
NAME = "Data engineers Berlin"


@pytest.fixture
def table(local_aws):
    """A table of its own (the template's key schema), so every item and Query here is this test's."""
    name = f"spend-{uuid.uuid4().hex[:8]}"
    definition = local_aws.template["Resources"]["AttractTable"]["Properties"]
    local_aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                              AttributeDefinitions=definition["AttributeDefinitions"])
    yield name
    local_aws.client("dynamodb").delete_table(TableName=name)


class CountingClient:
    """A real boto3 client whose Query calls are counted (botocore's own event hook)."""

    def __init__(self, local_aws):
        self.client = local_aws.client("dynamodb")
        self.queries = 0
        self.client.meta.events.register("before-call.dynamodb.Query", self._count)

    def _count(self, **_):
        self.queries += 1


class Platform:
    """An in-test AdsGateway: the account's daily rows as the platform reports them now."""

    def __init__(self, channel: str, rows: list[SpendRow]):
        self.channel, self.rows = channel, rows

    def spend(self, start, end):
        return [row for row in self.rows if start <= row.day <= end]


def row(channel: str, pid: str, cost: str, currency: str, day: date = DAY) -> SpendRow:
    return SpendRow(channel=channel, platform_campaign_id=pid, day=day, cost=Decimal(cost), currency=currency,
                    clicks=10, impressions=1000)


def join(members: MemberRepository, channel: str, joined_at: datetime) -> None:
    """A confirmed join whose path is one click on the campaign's tracked link of `channel`."""
    digest = uuid.uuid4().hex * 2
    touch = Touch(touch_id=uuid.uuid4().hex, occurred_at=joined_at - timedelta(hours=1), origin="click", channel=channel,
                  campaign=NAME, source="google" if channel == "paid_search" else "facebook", medium="cpc")
    members.hold(PendingJoin(email_hash=digest, nonce="n", submitted_at=joined_at, mailed_at=0,
                             expires_at=int(joined_at.timestamp()) + 86400), mailed_before=0)
    member = Member(member_id=str(uuid.uuid4()), email=f"{digest[:8]}@example.com", email_hash=digest, name="N",
                    consent={"granted": True}, joined_at=joined_at)
    members.confirm(member, credit_path([touch], joined_at, 7), "n", [], {})


def spend_items(dynamodb, table: str, partition: str) -> list[dict]:
    """The day's spend items of a partition as their per-platform-campaign values (channel and id from the name)."""
    items = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk AND begins_with(SK, :day)",
                           ExpressionAttributeValues={":pk": {"S": partition}, ":day": {"S": f"DAY#{DAY}#SPEND#"}})["Items"]
    assert len(items) <= 4 and all(item["SK"]["S"][-1] in "0123" for item in items)  # at most 4 shards a day
    return [{**value, "channel": name.split("|")[1], "platform_campaign_id": name.split("|")[2]}
            for item in items for name, value in from_item(item).items() if name.startswith("s|")]


def test_a_resynced_day_is_replaced_and_the_report_joins_spend_in_the_same_two_queries(local_aws, table):
    # Given our campaign launched on both platforms, 2 joins from its search ads and 1 from its social ads
    counting = CountingClient(local_aws)
    spend = SpendRepository(table, counting.client)
    spend.register_platform_campaign("google_search", "111", "c1", NAME, source="google")
    spend.register_platform_campaign("meta", "m-9", "c1", NAME)
    members = MemberRepository(table, counting.client)
    joined_at = datetime.combine(DAY, datetime.min.time(), timezone.utc) + timedelta(hours=12)
    for channel in ("paid_search", "paid_search", "paid_social"):
        join(members, channel, joined_at)
    reader = AggregateRepository(table, counting.client)

    def report(group_by: GroupBy):
        before = counting.queries
        result = attribution_report(AttributionModel.LAST_TOUCH, group_by, DAY, DAY, reader).model_dump(mode="json")
        return result, counting.queries - before

    _, queries_without_spend = report(GroupBy.CAMPAIGN)
    # When the hourly sync runs three times: twice with the same figures, then with the day's final ones
    google = Platform("google_search", [row("google_search", "111", "30.00", "EUR"), row("google_search", "555", "9", "EUR")])
    meta = Platform("meta", [row("meta", "m-9", "12.00", "USD")])
    for _ in range(2):
        for platform in (google, meta):
            sync_channel(platform, spend, DAY, DAY, NOW)
    google.rows[0] = row("google_search", "111", "45.00", "EUR")
    outcome = sync_channel(google, spend, DAY, DAY, NOW)
    assert (outcome.rows_stored, outcome.unknown_campaigns) == (1, 1)  # 555 was not launched by us
    # Then each partition holds one item per (platform campaign, day), with the last figures: replaced, not added
    dynamodb = local_aws.client("dynamodb")
    for partition in ("AGG#channel", "AGG#campaign", "AGG#totals"):
        items = sorted(spend_items(dynamodb, table, partition), key=lambda item: item["channel"])
        assert [(i["channel"], i["cost"], i["currency"]) for i in items] == [
            ("google_search", Decimal("45.00"), "EUR"), ("meta", Decimal("12.00"), "USD")], partition
    assert [i["key"] for i in spend_items(dynamodb, table, "AGG#source")] == ["google"]
    assert not any(i["platform_campaign_id"] == "555" for i in spend_items(dynamodb, table, "AGG#totals"))
    # And the report by campaign: spend per currency, cost per credited join, in as many Queries as before
    by_campaign, queries = report(GroupBy.CAMPAIGN)
    assert queries == queries_without_spend == 2
    [campaign_row] = by_campaign["rows"]
    assert (campaign_row["key"], campaign_row["joins"]) == (NAME, 3)
    assert campaign_row["spend"] == [{"currency": "EUR", "amount": "45.00", "cost_per_join": "15.00", "cost_per_relevant_join": None},
                                     {"currency": "USD", "amount": "12.00", "cost_per_join": "4.00", "cost_per_relevant_join": None}]
    assert by_campaign["totals"]["spend"] == campaign_row["spend"]
    # And by channel: each platform's spend under its channel
    by_channel, queries = report(GroupBy.CHANNEL)
    assert queries == 2
    rows = {r["key"]: r for r in by_channel["rows"]}
    assert rows["paid_search"]["spend"] == [{"currency": "EUR", "amount": "45.00", "cost_per_join": "22.50", "cost_per_relevant_join": None}]
    assert rows["paid_social"]["spend"] == [{"currency": "USD", "amount": "12.00", "cost_per_join": "12.00", "cost_per_relevant_join": None}]
    # And the joins are what they were without spend
    assert by_channel["totals"]["joins"] == 3 and by_channel["totals"]["touches"] == 3


def test_registering_is_idempotent_and_a_platform_id_belongs_to_one_campaign(local_aws, table):
    register_platform_campaign(table, "google_search", "777", "c1", NAME, dynamodb=local_aws.client("dynamodb"))
    register_platform_campaign(table, "google_search", "777", "c1", NAME, dynamodb=local_aws.client("dynamodb"))
    with pytest.raises(PlatformCampaignConflictError):
        register_platform_campaign(table, "google_search", "777", "c2", "Other", dynamodb=local_aws.client("dynamodb"))
    found = SpendRepository(table, local_aws.client("dynamodb")).platform_campaigns("google_search", ["777", "778"])
    assert list(found) == ["777"] and (found["777"].campaign_id, found["777"].name) == ("c1", NAME)
    assert SpendRepository(table, local_aws.client("dynamodb")).platform_campaigns("meta", ["777"]) == {}


def test_many_campaigns_share_a_few_items_a_day_written_in_chunks_and_read_back(local_aws, table):
    # Given 120 launched campaigns (more than one UpdateItem's 50 values) spending on two days
    spend = SpendRepository(table, local_aws.client("dynamodb"))
    for index in range(120):
        spend.register_platform_campaign("google_search", f"p{index}", f"c{index}", f"campaign {index}")
    rows = [row("google_search", f"p{index}", f"{index}.5", "EUR", DAY - timedelta(days=day))
            for index in range(120) for day in range(2)]
    outcome = sync_channel(Platform("google_search", rows), spend, DAY - timedelta(days=1), DAY, NOW)
    assert outcome.rows_stored == 240
    # Then each partition holds at most 4 spend items a day, and the report reads every campaign's spend back
    assert len(spend_items(local_aws.client("dynamodb"), table, "AGG#campaign")) == 120
    counting = CountingClient(local_aws)
    data = AggregateRepository(table, counting.client).read_report("linear", DAY - timedelta(days=1), DAY, "campaign")
    assert data.spend["campaign 7"] == {"EUR": Decimal("15.0")} and len(data.spend) == 120
    assert data.total_spend == {"EUR": sum(Decimal(f"{index}.5") * 2 for index in range(120))}
    assert counting.queries == 2


def test_the_hourly_handler_records_each_channels_failure_and_keeps_going(function_env, local_aws, monkeypatch):
    # Given platforms that cannot be reached (nothing listens on port 9)
    monkeypatch.setenv("GOOGLE_ADS_ENDPOINT", "127.0.0.1:9")
    monkeypatch.setenv("META_GRAPH_URL", "http://127.0.0.1:9")
    module = function_env("SpendSyncFunction")
    # When the schedule fires
    result = module.lambda_handler(load_event("campaigns/spend_schedule"), FakeLambdaContext())
    # Then both channels were tried, each failure recorded on its own with a code, and the run itself succeeded
    assert set(result["channels"]) == {"google_search", "meta"}
    assert all(not outcome["ok"] and outcome["error_codes"] for outcome in result["channels"].values())
    for channel in ("google_search", "meta"):
        last = SpendRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb")).last_sync(channel)
        assert last["last_status"] == "failed" and last["error_codes"] == result["channels"][channel]["error_codes"]
        assert last["rows_stored"] == 0 and "last_success_at" not in last



def test_the_handler_publishes_the_day_spend_per_currency_for_the_alarm(function_env, capfd, monkeypatch):
    # Given a sync whose channels stored spend in two currencies
    from attract.campaigns.spend import SyncOutcome

    module = function_env("SpendSyncFunction")
    google = SyncOutcome("google_search", DAY, DAY, rows_stored=2, spend={(DAY, "EUR"): Decimal("120.40")})
    meta = SyncOutcome("meta", DAY, DAY, rows_stored=2, spend={(DAY, "EUR"): Decimal("30"), (DAY, "USD"): Decimal("9.5")})
    monkeypatch.setattr(module, "sync_all", lambda gateways, store, now: [google, meta])
    capfd.readouterr()
    # When the schedule fires
    module.lambda_handler(load_event("campaigns/spend_schedule"), FakeLambdaContext())
    # Then one AdSpendDay per currency, in the template's namespace with the service and currency dimensions the
    # alarm names (template.yaml, DailyAdSpendAlarm)
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"AdSpendDay"' in line]
    assert {line["currency"]: line["AdSpendDay"] for line in lines} == {"EUR": [150.4], "USD": [9.5]}
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Attract" and sorted(directive["Dimensions"][0]) == ["currency", "service"]
        assert line["service"] == "attract"

def test_the_last_sync_keeps_the_last_success_through_a_failure(local_aws, table):
    spend = SpendRepository(table, local_aws.client("dynamodb"))
    spend.register_platform_campaign("meta", "m-1", "c1", NAME)
    sync_channel(Platform("meta", [row("meta", "m-1", "3", "USD")]), spend, DAY, DAY, NOW)
    later = NOW + timedelta(hours=1)
    sync_channel(Failing("meta"), spend, DAY, DAY, later)
    last = spend.last_sync("meta")
    assert (last["last_status"], last["error_codes"], last["last_attempt_at"]) == ("failed", ["80004"], later.isoformat())
    assert last["last_success_at"] == NOW.isoformat() and last["window"] == f"{DAY}..{DAY}"
    # And the stored day is untouched by the failed run
    assert [i["cost"] for i in spend_items(local_aws.client("dynamodb"), table, "AGG#totals")] == [Decimal("3")]


class Failing:
    def __init__(self, channel: str):
        self.channel = channel

    def spend(self, start, end):
        raise RateLimited("meta", "ad account has too many API calls", ["80004"], "trace-1")


def test_the_template_schedules_the_sync_hourly(local_aws):
    [entry] = [e for e in template_schedules(local_aws, NOW) if e.function == "SpendSyncFunction"]
    assert entry.next_at - NOW <= timedelta(hours=1)
    event = local_aws.template["Resources"]["SpendSyncFunction"]["Properties"]["Events"]["Hourly"]
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 hour)")


# ---- the real adapters against their local sandboxes

DRAFT = CampaignDraft.model_validate({
    "name": NAME, "channels": ["google_search", "meta"], "daily_budget": {"amount": "50.00", "currency": "EUR"},
    "start_date": "2026-12-01", "end_date": "2026-12-31",
    "locations": [{"latitude": 52.52, "longitude": 13.405, "radius": 20, "radius_unit": "mile", "country": "DE"}],
    "destination": "https://careers.example.com/data",
    "google": {"keywords": [{"text": "data engineer jobs", "match_type": "PHRASE"}],
               "headlines": ["Data engineer jobs", "Join our data team", "Work in Berlin"],
               "descriptions": ["Build pipelines that matter.", "Hiring data engineers in Berlin."]},
    "meta": {"primary_text": "We are hiring data engineers", "headline": "Data engineers Berlin",
             "image_url": "https://careers.example.com/img.png", "call_to_action": "LEARN_MORE"}})


def _synced_twice(gateway, channel: str, local_aws, table) -> tuple[list[dict], list[dict]]:
    plan = LaunchPlan(campaign_id=f"c{uuid.uuid4().hex[:8]}", platform_name=f"{NAME} [attract:x]", draft=DRAFT,
                      landing_url=DRAFT.destination, url_params=(("tc_link", "abc"),),
                      start_date=None, end_date=None)
    ids = launched(gateway, plan, PlatformIds())
    spend = SpendRepository(table, local_aws.client("dynamodb"))
    spend.register_platform_campaign(channel, str(ids.campaign), plan.campaign_id, NAME)
    today = datetime.now(timezone.utc)
    snapshots = []
    for _ in range(2):
        outcome = sync_channel(gateway, spend, today.date() - timedelta(days=1), today.date(), today)
        assert outcome.ok, outcome.error_codes
        items = local_aws.client("dynamodb").query(
            TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "AGG#totals"}})
        snapshots.append(sorted(({k: v for k, v in from_item(i).items() if k != "synced_at"} for i in items["Items"]),
                                key=lambda i: i["SK"]))
    return snapshots[0], snapshots[1]


def test_google_ads_spend_through_searchstream_is_idempotent_per_day(local_aws, table, monkeypatch):
    from attract.providers import google_ads as adapter
    from attract_local.sandboxes import google_ads as sandboxes

    sandbox = sandboxes.GoogleAdsSandbox()
    endpoint = sandbox.start()
    try:
        monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(sandbox.cert_path))
        first, second = _synced_twice(adapter.GoogleAdsGateway(sandbox.config(), endpoint), "google_search", local_aws, table)
        assert first == second
        queries = [str(getattr(request, "query", "")) for method, request in sandbox.received if "SearchStream" in str(method)]
        assert queries and all(f in queries[-1] for f in ("segments.date", "campaign.id", "metrics.cost_micros"))
    finally:
        sandbox.stop()


def test_meta_insights_spend_is_idempotent_per_day(local_aws, table):
    from attract.providers import meta as adapter
    from attract_local.sandboxes import meta as sandboxes

    sandbox = sandboxes.MetaSandbox()
    url = sandbox.start()
    try:
        first, second = _synced_twice(adapter.MetaGateway(sandbox.config(), url), "meta", local_aws, table)
        assert first == second
        assert any("insights" in json.dumps(entry, default=str) for entry in sandbox.received)
    finally:
        sandbox.stop()


def test_the_hourly_handler_syncs_both_platforms_through_the_real_adapters(function_env, local_aws, sandboxes):
    google, meta, endpoint, url = sandboxes
    from attract.providers.google_ads import GoogleAdsGateway
    from attract.providers.meta import MetaGateway

    # Given a campaign launched on both platforms and registered for its spend
    table = local_aws.refs["AttractTable"]
    spend = SpendRepository(table, local_aws.client("dynamodb"))
    plan = LaunchPlan(campaign_id=f"c{uuid.uuid4().hex[:8]}", platform_name=f"{NAME} [attract:h]", draft=DRAFT,
                      landing_url=DRAFT.destination, url_params=(("tc_link", "abc"),),
                      start_date=None, end_date=None)
    for channel, gateway in (("google_search", GoogleAdsGateway(google.config(), endpoint)), ("meta", MetaGateway(meta.config(), url))):
        ids = launched(gateway, plan, PlatformIds())
        spend.register_platform_campaign(channel, str(ids.campaign), plan.campaign_id, NAME)
    module = function_env("SpendSyncFunction")
    # When the schedule fires twice
    first = module.lambda_handler(load_event("campaigns/spend_schedule"), FakeLambdaContext())
    second = module.lambda_handler(load_event("campaigns/spend_schedule"), FakeLambdaContext())
    # Then both channels synced, the same rows each time, and each records its success
    assert all(outcome["ok"] for outcome in first["channels"].values()), first
    assert first["channels"] == second["channels"]
    for channel in ("google_search", "meta"):
        assert spend.last_sync(channel)["last_status"] == "ok"
