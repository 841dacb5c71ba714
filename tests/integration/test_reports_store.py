"""The extended reports against the moto server, every partition written by its real writer: joins (the member's
transaction), relevance (`relevance_actions`, as the scorer does), clicks (the redirect's repository), sends (the
invitation sender's once-only write), spend (the sync), runs. Expectations computed by hand."""

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from attract.attribution.logic import MAX_KEYS_PER_JOIN, credit_path
from attract.attribution.models import GroupBy, ReportModel
from attract.attribution.relevant import ANY, relevance_actions
from attract.attribution.report_store import ReportStore
from attract.attribution.reports import EmailPrice, build_funnels, build_report
from attract.aws import from_item, to_item
from attract.campaigns.models import SpendRow
from attract.campaigns.spend import sync_channel
from attract.campaigns.spend_repository import SpendRepository
from attract.invites.repository import InviteRepository, run_key
from attract.invites.run_repository import RunRepository
from attract.joins.models import Member, PendingJoin
from attract.joins.repository import MemberRepository, member_key
from attract.links.records import LinkTarget
from attract.tracking.models import Touch
from attract.tracking.repository import TouchRepository

DAY = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
P, Q = "prf_PPPPPPPPPPPPPPPP", "prf_QQQQQQQQQQQQQQQQ"
PRICE = EmailPrice(Decimal(100), "USD")  # 0.10 per message: readable cents


@pytest.fixture
def table(local_aws):
    name = f"rep-{uuid.uuid4().hex[:8]}"
    definition = local_aws.template["Resources"]["AttractTable"]["Properties"]
    local_aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=definition["KeySchema"],
                                              AttributeDefinitions=definition["AttributeDefinitions"])
    yield name
    local_aws.client("dynamodb").delete_table(TableName=name)


def touch(channel: str, campaign: str, source: str, medium: str, content: str | None = None, origin: str = "click",
          hours_before: int = 1) -> Touch:
    return Touch(touch_id=uuid.uuid4().hex, occurred_at=DAY - timedelta(hours=hours_before), origin=origin, channel=channel,
                 campaign=campaign, source=source, medium=medium, content=content)


INVITE = ("email", "Alumni", "invitation", "email")
SEARCH = ("paid_search", "Spring", "google", "cpc")


def join(members: MemberRepository, touches: list[Touch], claims: tuple[list[str], str | None] = ([], None)) -> str:
    digest = uuid.uuid4().hex * 2
    members.hold(PendingJoin(email_hash=digest, nonce="n", submitted_at=DAY, mailed_at=0,
                             expires_at=int(DAY.timestamp()) + 86400), mailed_before=0)
    member = Member(member_id=str(uuid.uuid4()), email=f"{digest[:8]}@example.com", email_hash=digest, name="N",
                    consent={"granted": True}, joined_at=DAY)
    members.confirm(member, credit_path(touches, DAY, 7), "n", claims[0], {}, invite=claims[1])
    return digest


def make_relevant(dynamodb, table: str, digest: str, *scopes: str) -> list[dict]:
    """What the scorer does: the join's `reported` keys, added under each scope in one transaction."""
    item = from_item(dynamodb.get_item(TableName=table, Key=member_key(digest, "ATTRIBUTION"))["Item"])
    actions = [action for scope in scopes
               for action in relevance_actions(table, scope, item["reported"], DAY.date(), digest, sign=1)]
    dynamodb.transact_write_items(TransactItems=actions)
    return actions


@pytest.fixture
def seeded(local_aws, table):
    dynamodb = local_aws.client("dynamodb")
    members = MemberRepository(table, dynamodb)
    # J1: one invitation; J2: one search ad; J3: the search ad (first), then the invitation (last)
    j1 = join(members, [touch(*INVITE, origin="invite")])
    j2 = join(members, [touch(*SEARCH, content="ad-a")])
    j3 = join(members, [touch(*SEARCH, content="ad-b", hours_before=5), touch(*INVITE, origin="invite")])
    make_relevant(dynamodb, table, j1, P, ANY)
    make_relevant(dynamodb, table, j2, P, ANY)
    make_relevant(dynamodb, table, j3, Q, ANY)
    # Human clicks: 4 through the invitation's link, 10 landings from the search ad
    clicks = TouchRepository(table, dynamodb)
    for count, (channel, campaign, source, medium) in ((4, INVITE), (10, SEARCH)):
        link = LinkTarget(code=f"L{campaign}", destination="https://careers.example.com/", campaign=campaign,
                          channel=channel, source=source, medium=medium)
        for _ in range(count):
            clicks.count_day_click(link, DAY)
    # The sender: 3 invitations sent by campaign cmp-1 ("Alumni"); the first one's mark repeated (a retry)
    invites = InviteRepository(table, dynamodb)
    for index in range(3):
        recipient = f"{index:064x}"
        assert invites.claim("cmp-1", recipient, "r-1", DAY) == "claimed"
        invites.mark_sent("cmp-1", recipient, f"m-{index}", DAY, campaign_name="Alumni")
    invites.mark_sent("cmp-1", f"{0:064x}", "m-0", DAY, campaign_name="Alumni")
    # Its runs: 5 planned in the range, 7 in October (outside)
    for run_id, started, planned in (("r-1", DAY, 5), ("r-0", datetime(2026, 10, 1, tzinfo=timezone.utc), 7)):
        dynamodb.put_item(TableName=table, Item={**run_key("cmp-1", run_id), **to_item(
            {"type": "invite_run", "started_at": started.isoformat(), "planned": planned})})
    # The spend sync: EUR 30 on the search campaign, 1,000 impressions and 10 clicks
    spend = SpendRepository(table, dynamodb)
    spend.register_platform_campaign("google_search", "111", "c1", "Spring", source="google")

    class Platform:
        channel = "google_search"

        def spend(self, start, end):
            return [SpendRow(channel="google_search", platform_campaign_id="111", day=DAY.date(), cost=Decimal(30),
                             currency="EUR", clicks=10, impressions=1000)]

    sync_channel(Platform(), spend, DAY.date(), DAY.date(), DAY)
    return ReportStore(table, dynamodb)


def rows(report) -> dict:
    return {row["key"]: row for row in report.model_dump(mode="json")["rows"]}


def test_report_by_campaign_for_any_profile(seeded):
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.CAMPAIGN, DAY.date(), DAY.date(), seeded, email_price=PRICE)
    by_key = rows(report)
    # Alumni: J1 + J3 (its last touch) = 2 joins, both relevant; 4 clicks; 3 sent x 0.10 = 0.30 USD
    assert by_key["Alumni"] == {"key": "Alumni", "joins": 2.0, "touches": 2, "relevant_joins": 2.0, "clicks": 4,
                                "join_rate": 0.5, "relevance_rate": 1.0, "spend": [
                                    {"currency": "USD", "amount": "0.30", "cost_per_join": "0.15",
                                     "cost_per_relevant_join": "0.15"}]}
    # Spring: J2 = 1 join (J3's search touch has no last-touch credit), relevant; 10 clicks; EUR 30
    assert by_key["Spring"] == {"key": "Spring", "joins": 1.0, "touches": 2, "relevant_joins": 1.0, "clicks": 10,
                                "join_rate": 0.1, "relevance_rate": 1.0, "spend": [
                                    {"currency": "EUR", "amount": "30.00", "cost_per_join": "30.00",
                                     "cost_per_relevant_join": "30.00"}]}
    assert report.model_dump(mode="json")["totals"] == {
        "joins": 3.0, "touches": 4, "relevant_joins": 3.0, "clicks": 14, "join_rate": 0.214286, "relevance_rate": 1.0,
        "spend": [{"currency": "EUR", "amount": "30.00", "cost_per_join": "10.00", "cost_per_relevant_join": "10.00"},
                  {"currency": "USD", "amount": "0.30", "cost_per_join": "0.10", "cost_per_relevant_join": "0.10"}]}


def test_relevant_joins_per_profile(seeded):
    for profile, alumni, spring in ((P, 1.0, 1.0), (Q, 1.0, 0.0)):
        report = build_report(ReportModel.LAST_TOUCH, GroupBy.CAMPAIGN, DAY.date(), DAY.date(), seeded, profile=profile,
                              email_price=PRICE)
        assert (rows(report)["Alumni"]["relevant_joins"], rows(report)["Spring"]["relevant_joins"]) == (alumni, spring)
        assert report.totals.relevant_joins == 2.0 if profile == P else 1.0
    # Q's Spring row: joins but no relevant one: no cost per relevant join
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.CAMPAIGN, DAY.date(), DAY.date(), seeded, profile=Q)
    assert rows(report)["Spring"]["spend"][0]["cost_per_relevant_join"] is None
    # Under first touch J3 goes to Spring: for Q, Spring has 1 relevant join of 2
    first = build_report(ReportModel.FIRST_TOUCH, GroupBy.CAMPAIGN, DAY.date(), DAY.date(), seeded, profile=Q)
    assert (rows(first)["Spring"]["joins"], rows(first)["Spring"]["relevant_joins"]) == (2.0, 1.0)


@pytest.mark.parametrize(("group_by", "expected"), [
    # content: the invitations have none; the two search joins ad-a, ad-b (last touch: ad-a only); both links
    # have no content, so their 14 clicks are (not set)'s
    (GroupBy.CONTENT, {"(not set)": (2.0, 2.0, 14), "ad-a": (1.0, 1.0, 0), "ad-b": (0.0, 0.0, 0)}),
    (GroupBy.MEDIUM, {"email": (2.0, 2.0, 4), "cpc": (1.0, 1.0, 10)}),
    (GroupBy.CHANNEL, {"email": (2.0, 2.0, 4), "paid_search": (1.0, 1.0, 10)}),
    (GroupBy.DAY, {"2026-11-20": (3.0, 3.0, 14)}),
    (GroupBy.MONTH, {"2026-11": (3.0, 3.0, 14)}),
])
def test_every_group_by(seeded, group_by, expected):
    report = build_report(ReportModel.LAST_TOUCH, group_by, DAY.date(), DAY.date(), seeded, email_price=PRICE)
    got = {key: (row["joins"], row["relevant_joins"], row["clicks"]) for key, row in rows(report).items()}
    assert got == expected
    if group_by in (GroupBy.CHANNEL, GroupBy.MEDIUM, GroupBy.DAY):  # where the invitations' cost shows
        assert any(entry["currency"] == "USD" and entry["amount"] == "0.30"
                   for row in rows(report).values() for entry in row["spend"])


def test_model_all_reads_once(seeded):
    report = build_report(ReportModel.ALL, GroupBy.CAMPAIGN, DAY.date(), DAY.date(), seeded)
    joins = {model.value: {row.key: row.joins for row in rows_} for model, rows_ in report.by_model.items()}
    assert joins["first_touch"] == {"Alumni": 1.0, "Spring": 2.0} and joins["last_touch"] == {"Alumni": 2.0, "Spring": 1.0}
    assert joins["linear"] == {"Alumni": 1.5, "Spring": 1.5}


def test_funnels(seeded, local_aws, table):
    runs = RunRepository(table, local_aws.client("dynamodb"))
    report = build_funnels(DAY.date(), DAY.date(), seeded, runs).model_dump(mode="json", by_alias=True)
    assert report["campaigns"] == [
        {"kind": "email", "channel": "email", "campaign": "Alumni", "steps": [
            {"name": "invited", "count": 5}, {"name": "sent", "count": 3}, {"name": "clicked", "count": 4},
            {"name": "joined", "count": 2.0}, {"name": "relevant", "count": 2.0}]},
        {"kind": "ads", "channel": "paid_search", "campaign": "Spring", "steps": [
            {"name": "impressions", "count": 1000}, {"name": "clicks", "count": 10},
            {"name": "joins", "count": 1.0}, {"name": "relevant", "count": 1.0}]}]
    profile_q = build_funnels(DAY.date(), DAY.date(), seeded, runs, profile=Q)
    assert [step.count for step in profile_q.campaigns[0].steps][-1] == 1.0


def test_a_report_reads_six_partitions_whatever_it_holds(seeded, local_aws):
    queries: list[str] = []
    seeded.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: queries.append(params["ExpressionAttributeValues"][":pk"]["S"]))
    build_report(ReportModel.ALL, GroupBy.SOURCE, DAY.date(), DAY.date() + timedelta(days=89), seeded)
    assert sorted(queries) == sorted(["AGG#source", "AGG#totals", "AGG#rel#any#source", "AGG#rel#any#totals",
                                      "AGG#clicks", "AGG#email"])
    queries.clear()
    build_report(ReportModel.LINEAR, GroupBy.WEEK, DAY.date(), DAY.date(), seeded, profile=P)
    assert sorted(queries) == sorted(["AGG#totals", f"AGG#rel#{P}#totals", "AGG#clicks", "AGG#email"])


def test_the_worst_join_stays_far_below_100_actions_and_its_relevance_below_20(local_aws, table):
    dynamodb = local_aws.client("dynamodb")
    members = MemberRepository(table, dynamodb)
    sizes: list[int] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                  lambda params, **_: sizes.append(len(params["TransactItems"])))
    # Given the longest path a join keeps (20 touches), every campaign, source, medium and content distinct,
    # all 8 channels, with 5 click claims and an invitation's claim
    channels = ["email", "paid_search", "paid_social", "organic_social", "organic_search", "referral", "careers_site", "event"]
    path = [touch(channels[i % 8], f"campaign {i}", f"source-{i}", f"medium-{i}", f"content-{i}", hours_before=i + 1)
            for i in range(20)]
    digest = join(members, path, ([f"click-{i}" for i in range(5)], "inv-x"))
    # Then its transaction: 3 own items + 6 claims + totals + day counts + one Update per item of its 18 keys at most
    # + the member index entry (attract.relevance)
    assert sizes and sizes[-1] <= 3 + 6 + 1 + 1 + MAX_KEYS_PER_JOIN + 1 <= 100
    reported = from_item(dynamodb.get_item(TableName=table, Key=member_key(digest, "ATTRIBUTION"))["Item"])["reported"]
    assert sum(len(keys) for keys in reported.values()) == MAX_KEYS_PER_JOIN
    # And its relevance under one scope is at most 19 actions (the scorer adds it with its score write)
    assert len(make_relevant(dynamodb, table, digest, P)) <= MAX_KEYS_PER_JOIN + 1
    # And every key it was counted under is a report row, their credits summing to the one join
    store = ReportStore(table, dynamodb)
    for group_by in (GroupBy.CHANNEL, GroupBy.CAMPAIGN, GroupBy.SOURCE, GroupBy.MEDIUM, GroupBy.CONTENT):
        report = build_report(ReportModel.LINEAR, group_by, DAY.date(), DAY.date(), store, profile=P)
        assert sum(row.joins for row in report.rows) == pytest.approx(1.0)
        assert sum(row.relevant_joins for row in report.rows) == pytest.approx(1.0)
        assert sum(row.touches for row in report.rows) == 20


def test_a_repeated_send_mark_counts_once(local_aws, table):
    dynamodb = local_aws.client("dynamodb")
    invites = InviteRepository(table, dynamodb)
    assert invites.claim("cmp-9", "f" * 64, "r-1", DAY) == "claimed"
    for _ in range(3):
        invites.mark_sent("cmp-9", "f" * 64, "m-1", DAY, campaign_name="Once")
    inputs = ReportStore(table, dynamodb).read(DAY.date(), DAY.date(), "campaign", ANY)
    assert (inputs.sent, inputs.campaign_ids) == ({"Once": 1}, {"cmp-9": "Once"})
    assert invites.claim_status("cmp-9", "f" * 64) == "SENT"


def test_the_email_cost_covers_the_days_asked_only(seeded):
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.CHANNEL, date(2026, 11, 21), date(2026, 11, 30), seeded)
    assert report.rows == [] and report.totals.spend == [] and report.totals.clicks == 0
