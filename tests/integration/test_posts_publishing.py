"""The publisher's at-most-once logic against the moto server: claims with conditional writes, a lost answer then a
retry posting once, rate limits not blocking other channels, delete reaching every platform, metrics into the report.

The platforms here are InMemoryOrganicGateway, a fake at the port (tests/fake_organic_gateway.py): these tests are
about our claims, not the adapters; tests/e2e/test_posts_http.py runs the real adapters against their sandboxes.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest

from attract.attribution.report_store import ReportStore
from attract.links.repository import LinkRepository
from attract.posts.live_repository import LivePostRepository
from attract.posts.logic import CreatePostCommand, create_post, delete_post, get_post, post_response
from attract.posts.metrics import sync_metrics
from attract.posts.models import CreatePostRequest
from attract.posts.ports import PostMetrics
from attract.posts.publishing import LEASE_SECONDS, RetryLaterError, delete_channel, fan_out, publish_channel
from attract.posts.repository import PostRepository
from tests.fake_organic_gateway import InMemoryOrganicGateway

BASE = "https://attract.example.com"
START = datetime(2026, 11, 3, 9, tzinfo=UTC)


@pytest.fixture
def table(local_aws):
    name = f"posts-{uuid.uuid4().hex[:8]}"
    definition = local_aws.template["Resources"]["AttractTable"]["Properties"]
    local_aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                              KeySchema=definition["KeySchema"],
                                              AttributeDefinitions=definition["AttributeDefinitions"])
    yield name
    local_aws.client("dynamodb").delete_table(TableName=name)


class Clock:
    def __init__(self):
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Queue:
    def __init__(self):
        self.sent: list[dict] = []

    def send(self, body: dict) -> None:
        self.sent.append(body)


class Schedules:
    def __init__(self):
        self.put_calls: list[tuple] = []
        self.deleted: list[str] = []

    def put(self, name, expression, timezone, payload):
        self.put_calls.append((name, expression, timezone, payload))

    def delete(self, name):
        self.deleted.append(name)


class World:
    def __init__(self, local_aws, table):
        dynamodb = local_aws.client("dynamodb")
        self.posts, self.links = PostRepository(table, dynamodb), LinkRepository(table, dynamodb)
        self.live = LivePostRepository(table, dynamodb)
        self.queue, self.schedules, self.clock, self.audits = Queue(), Schedules(), Clock(), []
        self.platforms = {name: InMemoryOrganicGateway(name) for name in ("facebook_page", "linkedin_org", "x")}
        self.ids = count(1)

    def create(self, channels=("facebook_page", "linkedin_org", "x"), **extra) -> str:
        request = CreatePostRequest(name="Meet the data team", text="Our data team is hiring, join the community",
                                    destination="https://careers.example.com/community", channels=list(channels), **extra)
        post = create_post(CreatePostCommand(owner="marketer-1", request=request), posts=self.posts, links=self.links,
                           queue=self.queue, schedules=self.schedules, now=self.clock(), base_url=BASE,
                           id_factory=lambda: uuid.uuid4().hex)
        return post.id

    def audit(self, action, post_id, details):
        self.audits.append((action, post_id, details))

    def publish(self, post_id: str, channel: str):
        return publish_channel(post_id, channel, posts=self.posts, live=self.live,
                               gateway=lambda: self.platforms[channel], now=self.clock, audit=self.audit)

    def delete(self, post_id: str, channel: str):
        return delete_channel(post_id, channel, posts=self.posts, live=self.live,
                              gateway=lambda: self.platforms[channel], now=self.clock, audit=self.audit)


@pytest.fixture
def world(local_aws, table):
    return World(local_aws, table)


def test_create_makes_one_tracked_link_per_channel_and_queues_one_message_per_channel(world):
    post_id = world.create()
    post, states = get_post(post_id, world.posts)
    assert {state.status for state in states.values()} == {"scheduled"}
    # Each channel's link: organic_social, the registry's source, medium social, campaign = the post's name
    sources = {}
    for channel, code in post.link_codes.items():
        link, _ = world.links.get(code)
        assert (link.channel, link.medium, link.campaign) == ("organic_social", "social", "Meet the data team")
        sources[channel] = link.source
        assert post.link_urls[channel] == f"{BASE}/r/{code}"
    assert sources == {"facebook_page": "facebook", "linkedin_org": "linkedin", "x": "x"}
    assert len(set(post.link_codes.values())) == 3
    assert sorted(m["channel"] for m in world.queue.sent) == ["facebook_page", "linkedin_org", "x"]
    assert world.schedules.put_calls == []


def test_a_lost_answer_then_a_retry_posts_once(world):
    # Given X creates the post but the answer is lost
    post_id = world.create(channels=["x"])
    world.platforms["x"].faults = ["lose_answer"]
    with pytest.raises(RetryLaterError):
        world.publish(post_id, "x")
    _, states = get_post(post_id, world.posts)
    assert states["x"].status == "publishing" and states["x"].last_error.codes == ["ConnectionError"]
    # When the message is delivered again
    world.clock.advance(5)
    state = world.publish(post_id, "x")
    # Then the publisher found the post by its tracked link and did not post again
    x = world.platforms["x"]
    assert (x.publish_calls, x.find_calls, len(x.posts)) == (1, 1, 1)
    assert state.status == "published" and state.platform_post_id == "x-1" and state.url == "https://x.example/x-1"
    assert [a[0] for a in world.audits] == ["post.publish"] and world.audits[0][2]["found_after_lost_answer"]
    # And a third delivery changes nothing
    assert world.publish(post_id, "x").status == "published"
    assert (x.publish_calls, x.find_calls) == (1, 1)


def test_a_connection_failing_before_the_post_was_created_posts_once_after_looking(world):
    post_id = world.create(channels=["linkedin_org"])
    world.platforms["linkedin_org"].faults = ["fail_before"]
    with pytest.raises(RetryLaterError):
        world.publish(post_id, "linkedin_org")
    state = world.publish(post_id, "linkedin_org")
    linkedin = world.platforms["linkedin_org"]
    assert (linkedin.publish_calls, linkedin.find_calls, len(linkedin.posts)) == (2, 1, 1)
    assert state.status == "published" and state.attempts == 2


def test_a_worker_holding_the_claim_keeps_another_from_posting(world):
    # Given a worker claimed the channel and is still within its lease (it crashed mid-call, or is slow)
    post_id = world.create(channels=["facebook_page"])
    _, states = get_post(post_id, world.posts)
    world.posts.transition(post_id, states["facebook_page"], world.clock(), status="publishing", claim_id="other",
                           claimed_at=world.clock(), lease_until=world.clock() + timedelta(seconds=LEASE_SECONDS))
    # When the message is delivered to another worker: it waits
    with pytest.raises(RetryLaterError):
        world.publish(post_id, "facebook_page")
    assert world.platforms["facebook_page"].publish_calls == 0
    # And once the lease ended, the next delivery looks first, finds nothing, and posts
    world.clock.advance(LEASE_SECONDS + 1)
    assert world.publish(post_id, "facebook_page").status == "published"
    assert (world.platforms["facebook_page"].find_calls, world.platforms["facebook_page"].publish_calls) == (1, 1)


def test_a_rate_limited_channel_does_not_block_the_others(world):
    post_id = world.create()
    world.platforms["x"].faults = ["rate_limit"]
    for channel in ("facebook_page", "x", "linkedin_org"):
        try:
            world.publish(post_id, channel)
        except RetryLaterError as error:
            assert channel == "x" and error.delay_s > 0
    _, states = get_post(post_id, world.posts)
    assert {c: s.status for c, s in states.items()} == {"facebook_page": "published", "linkedin_org": "published",
                                                        "x": "scheduled"}
    assert states["x"].last_error.codes == ["429"]
    # The rate-limited claim was released: the retry posts without looking (nothing was created)
    assert world.publish(post_id, "x").status == "published"
    assert (world.platforms["x"].publish_calls, world.platforms["x"].find_calls, len(world.platforms["x"].posts)) == (2, 0, 1)


def test_a_refusal_is_final_and_named(world):
    post_id = world.create(channels=["x", "facebook_page"])
    world.platforms["x"].faults = ["refuse"]
    assert world.publish(post_id, "x").status == "failed"
    assert world.publish(post_id, "facebook_page").status == "published"
    response = post_response(*get_post(post_id, world.posts))
    assert response.channels["x"].last_error.platform == "x" and response.channels["x"].last_error.codes == ["187"]
    assert world.publish(post_id, "x").status == "failed"  # a redelivery does not try again
    assert world.platforms["x"].publish_calls == 1


def test_delete_reaches_every_platform_it_was_published_on_and_cancels_the_rest(world):
    post_id = world.create()
    world.publish(post_id, "facebook_page")
    world.publish(post_id, "x")  # linkedin_org not yet published
    world.queue.sent.clear()
    _, states = delete_post(post_id, posts=world.posts, queue=world.queue, schedules=world.schedules, now=world.clock())
    assert states["linkedin_org"].status == "deleted"  # cancelled, never posted
    assert sorted(m["channel"] for m in world.queue.sent) == ["facebook_page", "x"]
    for message in world.queue.sent:
        assert world.delete(post_id, message["channel"]).status == "deleted"
        assert world.delete(post_id, message["channel"]).status == "deleted"  # a redelivery: nothing more
    assert world.platforms["facebook_page"].deleted == ["facebook_page-1"] and world.platforms["x"].deleted == ["x-1"]
    # The late publish message of the cancelled channel posts nothing
    assert world.publish(post_id, "linkedin_org").status == "deleted"
    assert world.platforms["linkedin_org"].publish_calls == 0
    assert world.live.since("x", START - timedelta(days=1)) == []
    # A second DELETE is harmless
    world.queue.sent.clear()
    delete_post(post_id, posts=world.posts, queue=world.queue, schedules=world.schedules, now=world.clock())
    assert world.queue.sent == []


def test_publish_at_creates_a_one_time_schedule_that_fans_out_and_delete_removes_it(world):
    post_id = world.create(publish_at=datetime(2026, 11, 4, 10, 30, 15, 500000, tzinfo=UTC))
    assert world.queue.sent == []
    (name, expression, zone, payload), = world.schedules.put_calls
    assert (name, expression, zone) == (f"post-{post_id}", "at(2026-11-04T10:30:16)", "UTC")
    from attract.posts.models import PostMessage
    sent = []
    assert fan_out(PostMessage.model_validate_json(payload), world.posts, sent.append) == 3
    assert {m["channel"] for m in sent} == {"facebook_page", "linkedin_org", "x"}
    delete_post(post_id, posts=world.posts, queue=world.queue, schedules=world.schedules, now=world.clock())
    assert world.schedules.deleted == [f"post-{post_id}"]
    assert fan_out(PostMessage.model_validate_json(payload), world.posts, sent.append) == 0


def test_metrics_flow_into_the_report_as_organic_social_at_zero_spend(world, local_aws, table):
    post_id = world.create(channels=["facebook_page", "x"])
    world.publish(post_id, "facebook_page")
    world.publish(post_id, "x")
    world.platforms["facebook_page"].counts["facebook_page-1"] = PostMetrics(impressions=1200, clicks=40)
    world.platforms["x"].counts["x-1"] = PostMetrics(impressions=800, clicks=None)  # clicks not offered
    for _ in range(2):  # a second sync replaces, never adds
        outcomes = sync_metrics({c: (lambda c=c: world.platforms[c]) for c in world.platforms}, world.live,
                                world.clock() + timedelta(hours=1))
    assert {o.channel: o.stored for o in outcomes} == {"facebook_page": 1, "linkedin_org": 0, "x": 1}
    store = ReportStore(table, local_aws.client("dynamodb"))
    day = date(2026, 11, 3)
    inputs = store.read(day, day, "campaign", "any")
    assert inputs.ads[("organic_social", "Meet the data team")] == [2000, 40]
    assert "Meet the data team" not in inputs.spend  # zero spend: no currency, no amount
    assert not store.read(day, day, "channel", "any").spend
