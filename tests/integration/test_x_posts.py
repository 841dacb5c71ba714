"""The X adapter through the real tweepy client against the local X sandbox, at the wire.

Assertions read what the sandbox received (tweepy's own JSON and query parameters) or what it holds. A guard
refuses any name resolution but loopback, so a request that escaped the rebased session (to api.twitter.com)
fails the test instead of reaching the internet.
"""

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from attract.posts.ports import PlatformError, PostContent, RateLimited
from attract.providers.x_posts import XPostsGateway, post_text
from attract_local.sandboxes.x import XSandbox, weighted_length

LINK = "https://attract.example/r/"


@pytest.fixture(scope="module")
def sandbox():
    box = XSandbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    attempts: list[str] = []
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(str(host))
            raise OSError(f"test guard: no connections to {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield
    assert not attempts, f"the client tried to reach {attempts}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(sandbox, sleeps):
    return XPostsGateway(sandbox.config(), sandbox.url, attempts=4, backoff_base_s=0.01, timeout_s=5,
                         sleep=sleeps.append)


def content(text: str = "Meet our data team at the Berlin meetup") -> PostContent:
    return PostContent(text=f"{text} {time.monotonic_ns()}", link=f"{LINK}{time.monotonic_ns():x}")


def since() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=1)


def test_publish_posts_once_with_the_link_wrapped_by_t_co(gateway, sandbox):
    post = content()
    published = gateway.publish(post)

    creates = sandbox.requests_to("POST", r"^/2/tweets$")
    assert creates[-1] == {"text": post_text(post)}  # tweepy's JSON body: the text and the link, nothing else
    stored = sandbox.tweets[published.post_id]
    assert post.link not in stored["text"] and "https://t.co/" in stored["text"]
    assert stored["entities"]["urls"][0]["expanded_url"] == post.link
    assert published.url == f"https://x.com/{sandbox.username}/status/{published.post_id}"


def test_the_sandbox_counts_as_x_does_and_refuses_a_post_too_long(gateway, sandbox):
    link = f"{LINK}{'x' * 200}"  # any URL counts 23
    assert weighted_length(f"{'a' * 256} {link}") == 280
    assert weighted_length("日本") == 4 and weighted_length("café") == 4  # CJK weigh 2; NFC
    fits = gateway.publish(PostContent(text="a" * 256, link=link))  # 256 + line break + 23 = 280
    assert fits.post_id in sandbox.tweets

    before = len(sandbox.tweets)
    with pytest.raises(PlatformError) as refused:
        gateway.publish(PostContent(text="b" * 257, link=link))
    assert refused.value.codes[:2] == ["403", "Forbidden"] and not refused.value.retryable
    assert refused.value.request_id == sandbox.request_ids[-1]
    with pytest.raises(PlatformError):
        gateway.publish(PostContent(text="語" * 129, link=link))  # 258 + 1 + 23 = 282 weighted
    assert len(sandbox.tweets) == before


def test_duplicate_content_is_refused_as_x_refuses_it(gateway, sandbox):
    post = content()
    gateway.publish(post)
    with pytest.raises(PlatformError) as refused:
        gateway.publish(post)
    assert "duplicate_content" in refused.value.codes and "403" in refused.value.codes
    assert not isinstance(refused.value, RateLimited)


def test_a_lost_answer_then_find_returns_the_post_made(gateway, sandbox):
    post, started = content(), since()
    sandbox.fail_next("create", "drop")
    with pytest.raises(PlatformError) as lost:
        gateway.publish(post)
    assert lost.value.retryable and lost.value.codes == ["connection"]

    found = gateway.find(post.link, started)
    made = [t for t in sandbox.live() if t["entities"]["urls"][0]["expanded_url"] == post.link]
    assert found is not None and [found.post_id] == [t["id"] for t in made]
    timeline = sandbox.requests_to("GET", r"^/2/users/\d+/tweets$")[-1]
    assert timeline["start_time"] == started.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(timeline["tweet.fields"].split(",")) >= {"entities"}
    assert gateway.find(f"{LINK}never-posted", started) is None


def test_find_pages_through_the_timeline(gateway, sandbox):
    started = since()
    first = content("first of many")
    gateway.publish(first)
    for _ in range(120):  # more than one page of 100, newest first: the first post is on page two
        gateway.publish(content("filler"))
    found = gateway.find(first.link, started)
    assert found is not None and sandbox.tweets[found.post_id]["_text"] == post_text(first)
    pages = [r for r in sandbox.requests_to("GET", r"^/2/users/\d+/tweets$") if r.get("pagination_token")]
    assert pages


def test_delete_twice_is_fine(gateway, sandbox):
    published = gateway.publish(content())
    gateway.delete(published.post_id)
    assert sandbox.tweets[published.post_id]["_deleted"]
    gateway.delete(published.post_id)  # X answers 404 now: already what we want
    assert len(sandbox.requests_to("DELETE", rf"^/2/tweets/{published.post_id}$")) == 2


def test_metrics_impressions_and_link_clicks(gateway, sandbox):
    recent, old, gone = (gateway.publish(content()) for _ in range(3))
    sandbox.set_metrics(recent.post_id, impressions=1200, clicks=37)
    sandbox.set_metrics(old.post_id, impressions=900, clicks=12)
    sandbox.age(old.post_id, 31)  # non-public metrics: 30 days only
    gateway.delete(gone.post_id)

    figures = gateway.metrics([recent.post_id, old.post_id, gone.post_id])
    assert (figures[recent.post_id].impressions, figures[recent.post_id].clicks) == (1200, 37)
    assert (figures[old.post_id].impressions, figures[old.post_id].clicks) == (900, None)
    assert gone.post_id not in figures
    lookup = sandbox.requests_to("GET", r"^/2/tweets$")[-1]
    assert lookup["ids"].split(",") == [recent.post_id, old.post_id, gone.post_id]
    assert set(lookup["tweet.fields"].split(",")) == {"public_metrics", "non_public_metrics"}


def test_a_rate_limit_is_waited_out_until_its_reset_then_posts(gateway, sandbox, sleeps):
    sandbox.fail_next("create", "429", times=2, reset_in_s=3)
    published = gateway.publish(content())
    assert published.post_id in sandbox.tweets
    assert len(sleeps) == 2 and all(2 <= s <= 5 for s in sleeps)  # the reset (3 s ahead, whole seconds) + 1


def test_a_rate_limit_that_persists_is_raised_as_rate_limited(gateway, sandbox, sleeps):
    before = len(sandbox.tweets)
    sandbox.fail_next("create", "429", times=10, reset_in_s=0)
    with pytest.raises(RateLimited) as limited:
        gateway.publish(content())
    assert limited.value.retryable and limited.value.codes[0] == "429"
    assert len(sleeps) == 3 and len(sandbox.tweets) == before  # 4 attempts, nothing posted


def test_a_reset_too_far_ahead_is_not_slept_through(gateway, sandbox, sleeps):
    sandbox.fail_next("timeline", "429", times=1, reset_in_s=900)  # X's 15-minute window
    with pytest.raises(RateLimited):
        gateway.find(f"{LINK}x", since())
    assert sleeps == []


def test_a_server_error_is_a_retryable_platform_error_and_not_retried(gateway, sandbox, sleeps):
    sandbox.fail_next("create", "503")
    with pytest.raises(PlatformError) as failed:
        gateway.publish(content())
    assert failed.value.retryable and failed.value.codes[0] == "503" and sleeps == []


def test_a_wrong_token_is_refused(sandbox):
    stranger = XPostsGateway({**sandbox.config(), "access_token": "not-the-token"}, sandbox.url, attempts=1)
    with pytest.raises(PlatformError) as refused:
        stranger.publish(content())
    assert refused.value.codes[:2] == ["401", "Unauthorized"]


def test_no_token_and_no_text_in_the_logs(gateway, sandbox, caplog):
    caplog.set_level(logging.DEBUG)  # tweepy logs the headers and the body at DEBUG
    post = content("a private draft")
    sandbox.fail_next("create", "429", times=1, reset_in_s=0)
    gateway.publish(post)
    gateway.find(post.link, since())
    with pytest.raises(PlatformError):
        XPostsGateway({**sandbox.config(), "access_token": "wrong-token-123"}, sandbox.url, attempts=1).publish(post)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert caplog.records  # urllib3 and friends did log: the filter is selective
    assert sandbox.access_token not in logged and "wrong-token-123" not in logged
    assert post.text not in logged


def test_the_http_controls_drive_faults_and_metrics(gateway, sandbox):
    def control(method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(sandbox.url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    control("POST", "/_sandbox/faults", {"kind": "create", "fault": "503", "times": 1})
    with pytest.raises(PlatformError):
        gateway.publish(content())
    published = gateway.publish(content())
    control("POST", "/_sandbox/metrics", {"id": published.post_id, "impressions": 5, "clicks": 2})
    assert gateway.metrics([published.post_id])[published.post_id].clicks == 2
    assert published.post_id in [t["id"] for t in control("GET", "/_sandbox/tweets")["data"]]
    control("POST", "/_sandbox/faults", {"kind": "create", "fault": "503", "times": 5})
    control("DELETE", "/_sandbox/faults")
    gateway.publish(content())


def test_a_secret_without_a_numeric_user_id_is_refused(sandbox):
    with pytest.raises(ValueError):
        XPostsGateway({**sandbox.config(), "user_id": "@attract"}, sandbox.url)


def test_an_image_is_uploaded_then_named_by_the_post(gateway, sandbox):
    post = PostContent(text=f"Our new office {time.monotonic_ns()}", link=f"{LINK}img{time.monotonic_ns():x}",
                       image_url=f"{sandbox.url}/_sandbox/images/office.png")
    published = gateway.publish(post)

    upload = sandbox.requests_to("POST", r"^/2/media/upload$")[-1]
    assert (upload["media_category"], upload["media_type"]) == ("tweet_image", "image/png")
    media_id = sandbox.tweets[published.post_id]["_media"]
    assert len(media_id) == 1 and sandbox.media[media_id[0]]["size"] > 0
    assert sandbox.requests_to("POST", r"^/2/tweets$")[-1]["media"] == {"media_ids": media_id}


def test_an_image_url_that_is_no_image_is_refused_before_any_post(gateway, sandbox):
    before = len(sandbox.requests_to("POST", r"^/2/"))
    post = PostContent(text="not an image", link=f"{LINK}noimg", image_url=f"{sandbox.url}/_sandbox/tweets")
    with pytest.raises(PlatformError) as refused:
        gateway.publish(post)
    assert refused.value.codes == ["image_type"]
    assert len(sandbox.requests_to("POST", r"^/2/")) == before



@pytest.mark.parametrize("image_url", ["https://169.254.169.254/latest/meta-data/image.png", "https://10.0.0.8/a.png",
                                       "http://images.example.com/a.png"])
def test_an_image_url_attract_alone_could_reach_is_refused_before_any_request(gateway, sandbox, image_url):
    before = len(sandbox.requests_to("POST", r"^/2/"))
    with pytest.raises(PlatformError) as refused:
        gateway.publish(PostContent(text="internal", link=f"{LINK}ssrf", image_url=image_url))
    assert refused.value.codes == ["image_url"] and len(sandbox.requests_to("POST", r"^/2/")) == before

def test_the_sandbox_refuses_a_media_id_it_never_issued(sandbox):
    request = urllib.request.Request(f"{sandbox.url}/2/tweets", method="POST",
                                     data=json.dumps({"text": "made up media", "media": {"media_ids": ["1"]}}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {sandbox.access_token}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    problem = json.loads(refused.value.read())
    assert refused.value.code == 400 and problem["title"] == "Invalid Request"
    assert problem["errors"][0]["parameters"] == {"media.media_ids": []}
