"""Bounded aggregates against the moto server: a polluting attacker, the exact day cap, races, the row limit."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from attract.attribution.credit import AttributionModel
from attract.attribution.logic import Caps, attribution_report, credit_path
from attract.attribution.models import OTHER, GroupBy
from attract.attribution.registry import registry_puts
from attract.attribution.repository import AggregateRepository, item_bytes
from attract.aws import from_item
from attract.joins.models import Member, PendingJoin
from attract.joins.repository import MemberRepository
from attract.tracking.models import Touch
from tests.support import FakeLambdaContext, join_and_confirm_in_process, load_event, with_body

DAY = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
DIMENSIONS = ("channel", "campaign", "source")


@pytest.fixture
def table(local_aws):
    """A table of its own (the template's key schema), so counts and sizes are this test's alone."""
    name = f"agg-{uuid.uuid4().hex[:8]}"
    definition = local_aws.template["Resources"]["AttractTable"]["Properties"]
    local_aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                              AttributeDefinitions=definition["AttributeDefinitions"])
    yield name
    local_aws.client("dynamodb").delete_table(TableName=name)


def day_items(dynamodb, table: str, partition: str, day: str) -> list[dict]:
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="PK = :pk AND begins_with(SK, :day)",
        ExpressionAttributeValues={":pk": {"S": partition}, ":day": {"S": f"DAY#{day}"}})
    return [item for page in pages for item in page["Items"]]


def join(members: MemberRepository, touches: list[Touch], joined_at: datetime = DAY) -> None:
    """A confirmed join through the repository: its pending item held, then the confirmation's transaction."""
    digest = uuid.uuid4().hex * 2
    members.hold(PendingJoin(email_hash=digest, nonce="n", submitted_at=joined_at, mailed_at=0,
                             expires_at=int(joined_at.timestamp()) + 86400), mailed_before=0)
    member = Member(member_id=str(uuid.uuid4()), email=f"{digest[:8]}@example.com", email_hash=digest, name="N",
                    consent={"granted": True}, joined_at=joined_at)
    members.confirm(member, credit_path(touches, joined_at, 7), "n", [], {})


def click(campaign: str, source: str = "linkedin", channel: str = "paid_social", origin: str = "click") -> Touch:
    return Touch(touch_id=uuid.uuid4().hex, occurred_at=DAY - timedelta(hours=1), origin=origin, channel=channel,
                 campaign=campaign, source=source, medium="cpc")


def assert_exact(reader: AggregateRepository, dimension: str, joins: int, touches: int) -> None:
    """Under every model the rows sum to the totals exactly (Decimals, no rounding)."""
    for model in AttributionModel:
        per_key, total_joins, total_touches = reader.totals(model.value, DAY.date(), DAY.date(), dimension)
        assert (total_joins, total_touches) == (joins, touches)
        assert sum(credit for credit, _ in per_key.values()) == joins, model
        assert sum(count for _, count in per_key.values()) == touches


def test_polluting_public_joins_neither_break_joins_nor_grow_the_aggregates(function_env, local_aws):
    # Given an attacker sending joins, each with new 100-character campaign, source and referrer values
    joins = function_env("JoinsFunction")
    for index in range(40):  # ~1,100 filled the old item to 400 KB; bench/aggregates.py has the 10,000-value day
        junk = f"{index:05d}" + uuid.uuid4().hex * 3
        body = {"email": f"spam-{uuid.uuid4().hex}@example.com", "name": "S", "consent": True,
                "utm_campaign": ("c" + junk)[:100], "utm_source": ("s" + junk)[:100], "utm_medium": "banner",
                "referrer": f"https://{junk[:60]}.example/"}
        response = join_and_confirm_in_process(joins, local_aws.endpoint, body)
        # Then every join still succeeds (before: 500 once the day's item passed 400 KB)
        assert response["statusCode"] == 200, (index, response["body"])
    # And the report names none of their values: they are counted as (other)
    today = datetime.now(timezone.utc).date().isoformat()
    reports = function_env("ReportsFunction")
    for group_by in ("campaign", "source"):
        event = load_event("reports/attribution")
        event["queryStringParameters"] = query = {"from": today, "to": today, "group_by": group_by, "limit": "500"}
        event["rawQueryString"] = "&".join(f"{key}={value}" for key, value in query.items())
        rows = json.loads(reports.lambda_handler(event, FakeLambdaContext())["body"])["rows"]
        assert not [row["key"] for row in rows if row["key"][:2] in ("c0", "s0")]
    # And the day's aggregate items stay small
    dynamodb, table = local_aws.client("dynamodb"), local_aws.refs["AttractTable"]
    items = [item for dimension in DIMENSIONS for item in day_items(dynamodb, table, f"AGG#{dimension}", today)]
    assert max(item_bytes(item) for item in items) < 4_000
    assert not any(name.startswith(("k|c0", "k|s0")) for item in items for name in item)  # no attacker value is a key


def test_registered_values_are_all_kept_up_to_the_exact_cap_then_other(local_aws, table):
    # Given a day cap of 60 campaigns (10,000 deployed; bench/aggregates.py runs that one)
    dynamodb = local_aws.client("dynamodb")
    caps = Caps(day_keys=60, bucket_keys=40, buckets=4)
    aggregates = AggregateRepository(table, dynamodb, caps=caps)
    members = MemberRepository(table, dynamodb, aggregates=aggregates)
    # When 61 joins each come with a campaign never seen that day (marketer links: trusted names)
    for index in range(61):
        join(members, [click(f"campaign {index:03d} " + "x" * 86)])
    # Then the first 60 are stored by name and the 61st is counted in (other)
    per_key, _, _ = aggregates.totals("linear", DAY.date(), DAY.date(), "campaign")
    assert len(per_key) == 61 and per_key[OTHER] == (1, 1)
    assert sorted(set(per_key) - {OTHER}) == [f"campaign {index:03d} " + "x" * 86 for index in range(60)]
    counted = day_items(dynamodb, table, "AGG#keys", DAY.date().isoformat())
    assert from_item(counted[0])["n|campaign"] == 60
    # And no item holds more than its cap of keys; sizes are what the cap allows
    for item in day_items(dynamodb, table, "AGG#campaign", DAY.date().isoformat()):
        assert int(item.get("n_keys", {"N": "0"})["N"]) <= caps.bucket_keys
        assert item_bytes(item) < caps.bucket_keys * 200
    assert_exact(aggregates, "campaign", 61, 61)


def test_a_public_value_is_reported_by_name_once_a_link_registered_it(local_aws, table):
    dynamodb = local_aws.client("dynamodb")
    aggregates = AggregateRepository(table, dynamodb)
    members = MemberRepository(table, dynamodb, aggregates=aggregates)
    landing = click("Spring fair", source="fair-partner", channel="referral", origin="join")
    join(members, [landing])
    for put in registry_puts(table, "Spring fair", "fair-partner"):
        dynamodb.put_item(**put)
    join(members, [landing.model_copy(update={"touch_id": "j2"})])
    per_key, _, _ = aggregates.totals("first_touch", DAY.date(), DAY.date(), "campaign")
    assert per_key == {OTHER: (1, 1), "Spring fair": (1, 1)}
    assert aggregates.totals("first_touch", DAY.date(), DAY.date(), "source")[0] == {OTHER: (1, 1), "fair-partner": (1, 1)}


def test_a_link_registers_its_campaign_so_public_joins_quoting_it_are_named(function_env, local_aws):
    # Given a marketer's link for a campaign, and public joins quoting it or a campaign nobody registered
    campaign = f"Spring fair {uuid.uuid4().hex[:6]}"
    link = json.loads(load_event("links/create_link")["body"]) | {"campaign": campaign, "source": "fair-partner"}
    links = function_env("LinksFunction")
    assert links.lambda_handler(with_body(load_event("links/create_link"), link), FakeLambdaContext())["statusCode"] == 201
    joins = function_env("JoinsFunction")
    for quoted in (campaign, campaign + " (typo)"):
        body = {"email": f"fair-{uuid.uuid4().hex}@example.com", "name": "F", "consent": True,
                "utm_campaign": quoted, "utm_source": "fair-partner", "utm_medium": "qr"}
        assert join_and_confirm_in_process(joins, local_aws.endpoint, body)["statusCode"] == 200
    # Then the report names the registered campaign and counts the other one in (other)
    today = datetime.now(timezone.utc).date().isoformat()
    event = load_event("reports/attribution")
    event["queryStringParameters"] = {"from": today, "to": today, "group_by": "campaign", "limit": "500"}
    event["rawQueryString"] = f"from={today}&to={today}&group_by=campaign&limit=500"
    rows = {row["key"]: row for row in json.loads(
        function_env("ReportsFunction").lambda_handler(event, FakeLambdaContext())["body"])["rows"]}
    assert rows[campaign]["joins"] == 1 and campaign + " (typo)" not in rows and OTHER in rows


class RacingAggregates(AggregateRepository):
    """The real repository; before its first plan is written, another join admits the same new keys."""

    def __init__(self, *args, rival: MemberRepository, **kwargs):
        super().__init__(*args, **kwargs)
        self.rival, self.plans = rival, 0

    def plan_join(self, path, joined_at, member_key):
        planned = super().plan_join(path, joined_at, member_key)
        self.plans += 1
        if self.plans == 1:
            join(self.rival, [click("Racing", source="race")])
        return planned


def test_a_join_cancelled_by_a_racing_admission_is_replanned_and_counted_once(local_aws, table):
    dynamodb = local_aws.client("dynamodb")
    plain = MemberRepository(table, dynamodb)
    racing = RacingAggregates(table, dynamodb, rival=plain)
    # When our join plans to create "Racing" and a rival creates it first, our transaction is cancelled
    join(MemberRepository(table, dynamodb, aggregates=racing), [click("Racing", source="race")])
    # Then it read and planned again, and both joins count exactly once
    assert racing.plans == 2
    per_key, joins, touches = plain.aggregates.totals("last_touch", DAY.date(), DAY.date(), "campaign")
    assert per_key == {"Racing": (2, 2)} and (joins, touches) == (2, 2)
    assert from_item(day_items(dynamodb, table, "AGG#keys", DAY.date().isoformat())[0])["n|campaign"] == 1
    assert_exact(plain.aggregates, "source", 2, 2)


def test_report_rows_are_capped_with_the_rest_in_other_and_totals_exact(local_aws, table):
    dynamodb = local_aws.client("dynamodb")
    members = MemberRepository(table, dynamodb)
    for index in range(12):
        join(members, [click(f"C{index:02d}"), click(f"C{index:02d}", channel="email", source="crm")])
    report = attribution_report(AttributionModel.TIME_DECAY, GroupBy.CAMPAIGN, DAY.date(), DAY.date(),
                                members.aggregates, limit=5)
    assert len(report.rows) == 5 and report.folded_rows == 8
    assert [row.key for row in report.rows].count(OTHER) == 1
    assert (report.totals.joins, report.totals.touches) == (12, 24)
    assert sum(row.joins for row in report.rows) == pytest.approx(12, abs=1e-9)
    assert sum(row.touches for row in report.rows) == 24
    assert_exact(members.aggregates, "channel", 12, 24)


def test_a_transaction_conflict_is_retried_with_a_fresh_plan_and_counted_once(local_aws, table):
    # Given DynamoDB answering the first transaction with a TransactionConflict (another join on the same item)
    dynamodb = local_aws.client("dynamodb")
    members = MemberRepository(table, dynamodb)
    attempts = []

    def conflict_once(params, **_):
        attempts.append(len(params["TransactItems"]))
        if len(attempts) == 1:
            reasons = [{"Code": "None"}] * 2 + [{"Code": "TransactionConflict"}] * (len(params["TransactItems"]) - 2)
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": reasons}, "TransactWriteItems")

    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", conflict_once)
    try:
        join(members, [click("Conflicted")])
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", conflict_once)
    # Then the second attempt committed, once
    assert len(attempts) == 2
    assert members.aggregates.totals("linear", DAY.date(), DAY.date(), "campaign")[0] == {"Conflicted": (1, 1)}


def test_the_longest_path_fits_one_transaction(local_aws, table):
    # Given a 20-touch path (MAX_PATH) with 20 campaigns and 20 sources nobody saw today
    dynamodb = local_aws.client("dynamodb")
    members = MemberRepository(table, dynamodb)
    channels = ("paid_search", "paid_social", "email", "event", "organic_social")
    path = [click(f"Long {index}", source=f"src-{index}", channel=channels[index % 5]) for index in range(20)]
    actions = members.aggregates.join_actions(credit_path(path, DAY, 7), DAY, "cd" * 32)
    # Then its aggregate writes stay well under TransactWriteItems' 100 items, and commit
    assert len(actions) <= 2 + 45 + 1 < 100
    join(members, path)
    assert_exact(members.aggregates, "source", 1, 20)
