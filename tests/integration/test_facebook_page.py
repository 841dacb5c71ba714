"""The Facebook Page adapter through the real facebook-business SDK against the local Meta sandbox, at the wire.

Assertions read what the sandbox received (the SDK's own encoding, decoded) or holds. A guard refuses any
connection that is not to loopback, so an SDK call to graph.facebook.com fails the test instead of leaving.
"""

import json
import logging
import socket
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from attract.posts.ports import PlatformError, PostContent, PostMetrics, RateLimited
from attract.providers.facebook_page import FacebookPageGateway
from attract_local.ad_sandboxes import AdSandboxes
from attract_local.sandboxes.meta import MetaSandbox

pytestmark = pytest.mark.filterwarnings("error::UserWarning")  # the SDK's type warnings are failures here


@pytest.fixture(scope="module")
def sandbox():
    box = MetaSandbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def no_internet(monkeypatch, sandbox):
    attempts: list[str] = []
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(str(host))
            raise OSError(f"test guard: no connections to {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    sandbox.clear_faults()
    yield
    assert not attempts, f"the SDK tried to reach {attempts}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(sandbox, sleeps):
    return FacebookPageGateway(sandbox.page_config(), sandbox.url, attempts=3, backoff_base_s=0.5,
                               sleep=sleeps.append, jitter=lambda: 1.0)


def content(text: str = "Our team goes to the meetup", image_url: str | None = None) -> PostContent:
    return PostContent(text=text, link=f"https://attract.example/r/{uuid.uuid4().hex[:10]}", image_url=image_url)


def test_publish_feed_post_sends_message_and_link_with_the_page_token(sandbox, gateway):
    post = content()
    published = gateway.publish(post)

    stored = next(p for p in sandbox.page_posts() if p["id"] == published.post_id)
    assert published.post_id.startswith(f"{sandbox.page_id}_")
    assert published.url == stored["permalink_url"]
    assert stored["_kind"] == "feed" and stored["link"] == post.link
    assert stored["message"] == f"{post.text}\n\n{post.link}"  # the marker is in the message
    assert len(sandbox.requests_to("POST", f"/{sandbox.page_id}/feed")) >= 1


def test_publish_photo_post_uses_the_photos_edge_and_the_story_id(sandbox, gateway):
    before = len(sandbox.requests_to("POST", f"/{sandbox.page_id}/photos"))
    post = content(image_url="https://cdn.example/team.jpg")
    published = gateway.publish(post)

    sent = sandbox.requests_to("POST", f"/{sandbox.page_id}/photos")
    assert len(sent) == before + 1
    assert sent[-1]["url"] == "https://cdn.example/team.jpg" and post.link in sent[-1]["message"]
    stored = next(p for p in sandbox.page_posts() if p["id"] == published.post_id)
    assert stored["_kind"] == "photo"
    assert published.url == f"https://www.facebook.com/{sandbox.page_id}/posts/{published.post_id.split('_')[1]}"


def test_a_lost_answer_then_find_finds_the_post_without_posting_again(sandbox, gateway):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    post = content()
    sandbox.fail_next(f"/{sandbox.page_id}/feed", method="POST", after_apply=True, drop=True)
    creates = len(sandbox.requests_to("POST", f"/{sandbox.page_id}/feed"))

    with pytest.raises(PlatformError) as lost:
        gateway.publish(post)
    assert lost.value.retryable and lost.value.codes == ["connection"]

    found = gateway.find(post.link, since)
    assert found is not None
    assert [p["id"] for p in sandbox.page_posts() if post.link in (p["message"] or "")] == [found.post_id]
    assert found.url.endswith(found.post_id.split("_")[1])
    assert len(sandbox.requests_to("POST", f"/{sandbox.page_id}/feed")) == creates + 1  # one create, no second
    assert sandbox.requests_to("GET", f"/{sandbox.page_id}/posts")[-1]["since"] == str(int(since.timestamp()))


def test_find_pages_through_the_posts_and_honours_since(sandbox):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    gateway = FacebookPageGateway(sandbox.page_config(), sandbox.url, page_size=2)
    target = content("the first")
    gateway.publish(target)
    for _ in range(4):
        gateway.publish(content("later"))
    reads = len(sandbox.requests_to("GET", f"/{sandbox.page_id}/posts"))

    found = gateway.find(target.link, since)  # newest first: the target is on the third page of two

    assert found is not None and target.link in next(p["message"] for p in sandbox.page_posts()
                                                     if p["id"] == found.post_id)
    pages = sandbox.requests_to("GET", f"/{sandbox.page_id}/posts")[reads:]
    assert len(pages) == 3 and "after" not in pages[0] and all("after" in page for page in pages[1:])
    assert gateway.find("https://attract.example/r/not-there", since) is None
    assert gateway.find(target.link, datetime.now(timezone.utc) + timedelta(minutes=5)) is None


def test_delete_twice_is_ok(sandbox, gateway):
    published = gateway.publish(content())
    gateway.delete(published.post_id)
    assert published.post_id not in {p["id"] for p in sandbox.page_posts()}
    gateway.delete(published.post_id)  # already gone: code 100 subcode 33, not an error
    assert len(sandbox.requests_to("DELETE", f"/{published.post_id}")) == 2


def test_metrics_read_post_media_view_and_post_clicks(sandbox, gateway):
    first, second = gateway.publish(content()), gateway.publish(content())
    sandbox.set_post_insights(first.post_id, impressions=1200, clicks=37)

    figures = gateway.metrics([first.post_id, second.post_id])

    assert figures == {first.post_id: PostMetrics(impressions=1200, clicks=37),
                       second.post_id: PostMetrics(impressions=0, clicks=0)}
    asked = sandbox.requests_to("GET", f"/{first.post_id}/insights")[-1]["metric"]
    assert asked == ["post_media_view", "post_clicks"]  # not post_impressions, refused since 2025-11-15


def test_the_sandbox_refuses_deprecated_post_impressions(sandbox):
    post_id = FacebookPageGateway(sandbox.page_config(), sandbox.url).publish(content()).post_id
    url = f"{sandbox.url}/v26.0/{post_id}/insights?metric=post_impressions&access_token={sandbox.page_access_token}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url)
    assert json.loads(refused.value.read())["error"]["code"] == 100


def test_rate_limit_is_retried_with_metas_wait_then_succeeds(sandbox, gateway, sleeps):
    sandbox.fail_next(f"/{sandbox.page_id}/feed", 32, method="POST", times=2)

    published = gateway.publish(content())

    assert published.post_id in {p["id"] for p in sandbox.page_posts()}
    # estimated_time_to_regain_access (1 minute) is longer than the backoff, capped at max_wait_s (30 s)
    assert sleeps == [30.0, 30.0]


def test_rate_limit_exhausted_raises_rate_limited_with_the_trace_id(sandbox, gateway, sleeps):
    sandbox.regain_access_minutes = 0
    try:
        sandbox.fail_next(f"/{sandbox.page_id}/feed", 32, method="POST", times=3)
        with pytest.raises(RateLimited) as limited:
            gateway.publish(content())
    finally:
        sandbox.regain_access_minutes = 1
    assert limited.value.codes == ["32"] and limited.value.platform == "facebook_page"
    assert limited.value.request_id == sandbox.error_trace_ids[-1]
    assert sleeps == [0.5, 1.0]  # full jitter at its bound (jitter 1.0): base, doubling


def test_a_5xx_is_a_retryable_platform_error_not_retried_here(sandbox, gateway, sleeps):
    sandbox.fail_next(f"/{sandbox.page_id}/feed", 2, method="POST")
    with pytest.raises(PlatformError) as failed:
        gateway.publish(content())
    assert failed.value.retryable and failed.value.codes == ["2"] and not isinstance(failed.value, RateLimited)
    assert sleeps == []


def test_a_bad_token_is_a_platform_error_190_and_no_token_is_logged(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    config = {"page_id": sandbox.page_id, "page_access_token": "expired-page-token-XYZ"}
    with pytest.raises(PlatformError) as refused:
        FacebookPageGateway(config, sandbox.url).publish(content("secret words of the marketer"))
    assert refused.value.codes == ["190"] and not refused.value.retryable
    assert refused.value.request_id == sandbox.error_trace_ids[-1]

    good = FacebookPageGateway(sandbox.page_config(), sandbox.url)
    good.publish(content("more secret words"))
    logged = caplog.text + str(refused.value) + json.dumps(refused.value.as_json())
    for secret in ("expired-page-token-XYZ", sandbox.page_access_token, "secret words", "more secret words"):
        assert secret not in logged
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_the_ads_token_cannot_post_on_the_page(sandbox):
    config = {"page_id": sandbox.page_id, "page_access_token": sandbox.access_token}
    with pytest.raises(PlatformError) as refused:
        FacebookPageGateway(config, sandbox.url).publish(content())
    assert refused.value.codes == ["200"]


def test_message_rules_are_the_pages(sandbox):
    gateway = FacebookPageGateway(sandbox.page_config(), sandbox.url)
    with pytest.raises(PlatformError) as too_long:
        gateway.publish(PostContent(text="x" * 63206, link="https://attract.example/r/abc"))
    assert too_long.value.codes == ["100"]
    url = f"{sandbox.url}/v26.0/{sandbox.page_id}/feed"
    request = urllib.request.Request(url, data=f"access_token={sandbox.page_access_token}".encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as empty:
        urllib.request.urlopen(request)
    assert json.loads(empty.value.read())["error"]["message"] == "(#100) Missing message or attachment"


def test_http_controls_drive_faults_and_insights(sandbox):
    gateway = FacebookPageGateway(sandbox.page_config(), sandbox.url, attempts=1)
    post_id = gateway.publish(content()).post_id

    def control(path: str, body: dict) -> dict:
        request = urllib.request.Request(f"{sandbox.url}{path}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    control("/_sandbox/insights", {"post_id": post_id, "impressions": 5, "clicks": 2})
    assert gateway.metrics([post_id]) == {post_id: PostMetrics(impressions=5, clicks=2)}
    control("/_sandbox/faults", {"path_suffix": "/feed", "code": 32, "method": "POST"})
    with pytest.raises(RateLimited):
        gateway.publish(content())
    with urllib.request.urlopen(f"{sandbox.url}/_sandbox/posts") as answer:
        assert post_id in {p["id"] for p in json.loads(answer.read())["posts"]}


def test_fill_secrets_gives_the_page_secret_the_sandbox_page_and_token(sandbox):
    written: dict[str, str] = {}

    class _Secrets:
        def put_secret_value(self, SecretId, SecretString):
            written[SecretId] = SecretString

    class _Aws:
        def __init__(self):
            self.refs = {"MetaSecret": "arn:meta", "FacebookPageSecret": "arn:page"}

        def client(self, name):
            return _Secrets()

    AdSandboxes(started={"meta": sandbox}).fill_secrets(_Aws())
    assert json.loads(written["arn:page"]) == {"page_id": sandbox.page_id,
                                               "page_access_token": sandbox.page_access_token}
    assert json.loads(written["arn:meta"])["access_token"] == sandbox.access_token


def test_metrics_meta_refuses_are_none_not_a_failure(sandbox, gateway):
    post_id = gateway.publish(content()).post_id
    sandbox.fail_next(f"/{post_id}/insights", 100, method="GET")  # "(#100) ... valid insights metric"
    assert gateway.metrics([post_id]) == {post_id: PostMetrics(impressions=None, clicks=None)}
    sandbox.fail_next(f"/{post_id}/insights", 190, method="GET")
    with pytest.raises(PlatformError) as refused:
        gateway.metrics([post_id])
    assert refused.value.codes == ["190"]
