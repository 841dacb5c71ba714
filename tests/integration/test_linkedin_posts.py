"""The LinkedIn organisation adapter through the real linkedin-api-client against the local LinkedIn sandbox.

Every assertion reads what the sandbox received (the client's own headers, Rest.li encoding and JSON) or what it
holds. A guard refuses any connection that is not to 127.0.0.1, so a request the client sends to
api.linkedin.com fails the test loudly instead of reaching the internet.
"""

import json
import logging
import socket
import urllib.request
from datetime import date, datetime, timedelta, timezone

import pytest

from attract.posts.ports import PlatformError, PostContent, RateLimited
from attract.providers.linkedin_posts import DEFAULT_VERSION, LinkedInPostsGateway, escape_little
from attract_local.sandboxes.linkedin import LinkedInSandbox, little_shown, version_live

TEXT = "Meet the team (Berlin) [hiring] {now} <3 @home a|b ~x_y *bold* #1 path\\to"


@pytest.fixture(scope="module")
def sandbox():
    box = LinkedInSandbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.clear_faults()
    sandbox.received.clear()
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
    yield attempts
    assert not attempts, f"the client tried to reach {attempts}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(sandbox, sleeps):
    return LinkedInPostsGateway(sandbox.config(), sandbox.url, attempts=3, backoff_base_s=0.5, sleep=sleeps.append)


def _link(n: str) -> str:
    return f"https://jobs.example.com/r/li{n}"


def test_publish_is_one_create_with_linkedins_headers_and_body(gateway, sandbox):
    post = gateway.publish(PostContent(text="Join our community", link=_link("a1")))

    assert post.post_id.startswith("urn:li:share:") and post.url == f"https://www.linkedin.com/feed/update/{post.post_id}/"
    creates = sandbox.requests_to("POST", "/rest/posts")
    assert len(creates) == 1
    headers, body = creates[0]
    assert headers["LinkedIn-Version"] == DEFAULT_VERSION and headers["X-RestLi-Protocol-Version"] == "2.0.0"
    assert body == {
        "author": sandbox.organization_urn, "commentary": "Join our community", "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "content": {"article": {"source": _link("a1"), "title": "Join our community"}},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    assert sandbox.posts[post.post_id]["content"]["article"]["source"] == _link("a1")


def test_the_commentary_is_escaped_so_linkedin_shows_the_text_as_written(gateway, sandbox):
    post = gateway.publish(PostContent(text=TEXT, link=_link("e1")))

    (_, body), = sandbox.requests_to("POST", "/rest/posts")
    assert body["commentary"] == escape_little(TEXT) != TEXT
    assert sandbox.posts[post.post_id]["commentary"] == TEXT  # nothing cut, nothing read as markup


def test_the_sandbox_cuts_an_unescaped_commentary_as_linkedin_does():
    assert little_shown("Meet the team (Berlin) today") == "Meet the team "
    assert little_shown("We are #hiring today") == "We are #hiring today"
    assert little_shown(escape_little("a (b) c")) == "a (b) c"


def test_a_commentary_too_long_once_escaped_is_refused_before_any_call(gateway, sandbox):
    with pytest.raises(PlatformError) as refused:
        gateway.publish(PostContent(text="(" * 1501, link=_link("long")))
    assert refused.value.codes == ["linkedin.too_long"]
    assert sandbox.received == []


def test_the_sandbox_refuses_a_commentary_over_3000_characters(gateway, sandbox):
    entity = {"author": sandbox.organization_urn, "commentary": "x" * 3001, "visibility": "PUBLIC",
              "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED"}
    with pytest.raises(PlatformError) as refused:
        gateway._call(lambda: gateway.client.create(resource_path="/posts", entity=entity,
                                                    access_token=sandbox.access_token, version_string=DEFAULT_VERSION))
    assert refused.value.codes == ["http_422", "UNPROCESSABLE_ENTITY"]
    assert refused.value.request_id == sandbox.request_ids[-1]
    assert not any(post["commentary"] == "x" * 3001 for post in sandbox.posts.values())


def test_another_organisation_as_author_is_403(sandbox):
    other = LinkedInPostsGateway({**sandbox.config(), "organization_urn": "urn:li:organization:42"}, sandbox.url)
    with pytest.raises(PlatformError) as refused:
        other.publish(PostContent(text="hello", link=_link("o1")))
    assert refused.value.codes[:2] == ["http_403", "ACCESS_DENIED"] and not refused.value.retryable


def test_after_a_lost_answer_find_sees_the_post_and_nothing_is_posted_twice(gateway, sandbox):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    sandbox.fail_next("create", drop=True)
    with pytest.raises(PlatformError) as lost:
        gateway.publish(PostContent(text="Team story", link=_link("lost1")))
    assert lost.value.retryable and lost.value.codes == ["connection"]

    found = gateway.find(_link("lost1"), since)
    assert found is not None and sandbox.posts[found.post_id]["content"]["article"]["source"] == _link("lost1")
    assert gateway.find(_link("never-posted"), since) is None
    assert len(sandbox.requests_to("POST", "/rest/posts")) == 1
    (headers, query), *_ = sandbox.requests_to("GET", "/rest/posts")
    assert query["q"] == "author" and query["sortBy"] == "LAST_MODIFIED"
    assert query["author"] == "urn%3Ali%3Aorganization%3A5000000001"  # Rest.li 2.0: the URN encoded
    assert headers["LinkedIn-Version"] == DEFAULT_VERSION


def test_find_ignores_posts_older_than_since(gateway, sandbox):
    gateway.publish(PostContent(text="old one", link=_link("old1")))
    assert gateway.find(_link("old1"), datetime.now(timezone.utc) + timedelta(minutes=1)) is None


def test_delete_twice_is_fine_and_an_unknown_post_is_fine_too(gateway, sandbox):
    post = gateway.publish(PostContent(text="to delete", link=_link("d1")))
    gateway.delete(post.post_id)
    gateway.delete(post.post_id)
    gateway.delete("urn:li:share:1")  # never existed: 404, which delete accepts
    assert post.post_id not in sandbox.posts
    deletes = [path for method, path, _, _ in sandbox.received if method == "DELETE"]
    assert deletes[0] == "/rest/posts/" + post.post_id.replace(":", "%3A") and len(deletes) == 3


def test_metrics_read_impressions_and_clicks_of_shares_and_ugc_posts(gateway, sandbox):
    first = gateway.publish(PostContent(text="one", link=_link("m1")))
    second = gateway.publish(PostContent(text="two", link=_link("m2")))
    sandbox.set_statistics(first.post_id, impressions=1200, clicks=37)
    sandbox.set_statistics("urn:li:ugcPost:77", impressions=5, clicks=1)

    metrics = gateway.metrics([first.post_id, second.post_id, "urn:li:ugcPost:77"])

    assert (metrics[first.post_id].impressions, metrics[first.post_id].clicks) == (1200, 37)
    assert (metrics[second.post_id].impressions, metrics[second.post_id].clicks) == (0, 0)
    assert (metrics["urn:li:ugcPost:77"].impressions, metrics["urn:li:ugcPost:77"].clicks) == (5, 1)
    (_, query), = sandbox.requests_to("GET", "/rest/organizationalEntityShareStatistics")
    assert query["q"] == "organizationalEntity" and query["shares"].startswith("List(urn%3Ali%3Ashare%3A")
    assert query["ugcPosts"] == "List(urn%3Ali%3AugcPost%3A77)"


def test_a_rate_limit_is_waited_out_with_retry_after_then_posts_once(gateway, sandbox, sleeps):
    sandbox.fail_next("create", 429, retry_after=7)
    sandbox.fail_next("create", 429)

    post = gateway.publish(PostContent(text="throttled", link=_link("r1")))

    assert post.post_id in sandbox.posts and len(sandbox.requests_to("POST", "/rest/posts")) == 3
    assert sleeps[0] == 7 and 0 <= sleeps[1] <= 1.0  # LinkedIn's Retry-After, then our backoff (base 0.5, 2nd try)
    assert sum(p["content"]["article"]["source"] == _link("r1") for p in sandbox.posts.values()) == 1


def test_rate_limits_to_the_end_are_rate_limited_with_linkedins_codes(gateway, sandbox, sleeps):
    sandbox.fail_next("create", 429, times=3)
    with pytest.raises(RateLimited) as limited:
        gateway.publish(PostContent(text="throttled", link=_link("r2")))
    assert limited.value.codes == ["http_429", "TOO_MANY_REQUESTS", "service_101"]
    assert limited.value.request_id == sandbox.request_ids[-1] and len(sleeps) == 2


def test_a_server_error_is_a_retryable_platform_error_not_retried_blindly(gateway, sandbox):
    sandbox.fail_next("create", 503)
    with pytest.raises(PlatformError) as failed:
        gateway.publish(PostContent(text="x", link=_link("s1")))
    assert failed.value.retryable and "http_503" in failed.value.codes
    assert len(sandbox.requests_to("POST", "/rest/posts")) == 1  # the publisher decides (find, then retry)


@pytest.mark.parametrize("version, status, code", [("202301", 426, "NONEXISTENT_VERSION"),
                                                   ("202512", 426, "NONEXISTENT_VERSION")])
def test_a_sunset_or_unreleased_version_is_refused(sandbox, version, status, code):
    gateway = LinkedInPostsGateway({**sandbox.config(), "version": version}, sandbox.url)
    with pytest.raises(PlatformError) as refused:
        gateway.publish(PostContent(text="x", link=_link("v" + version)))
    assert refused.value.codes[:2] == [f"http_{status}", code]
    assert sandbox.requests_to("POST", "/rest/posts")[0][0]["LinkedIn-Version"] == version


def test_a_request_without_a_version_is_refused(sandbox):
    request = urllib.request.Request(sandbox.url + "/rest/posts?q=author&author=x", headers={
        "Authorization": f"Bearer {sandbox.access_token}", "X-Restli-Protocol-Version": "2.0.0"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400 and json.loads(refused.value.read())["code"] == "VERSION_MISSING"


def test_versions_live_for_a_year():
    today = date(2026, 12, 4)
    assert version_live(DEFAULT_VERSION, today) and version_live("202601", today)
    assert not version_live("202511", today) and not version_live("202701", today)
    assert version_live("202512.01", date(2026, 1, 2)) is False  # no December 2025 release
    assert not version_live("202312", date(2024, 12, 15)) and version_live("202312", date(2024, 12, 14))


def test_a_wrong_token_is_401_and_never_logged(sandbox, caplog):
    gateway = LinkedInPostsGateway({**sandbox.config(), "access_token": "wrong-secret-token"}, sandbox.url)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PlatformError) as refused:
        gateway.publish(PostContent(text="private words", link=_link("t1")))
    assert refused.value.codes[:2] == ["http_401", "INVALID_ACCESS_TOKEN"]
    rendered = caplog.text + str(refused.value) + json.dumps(refused.value.as_json())
    assert "wrong-secret-token" not in rendered and "private words" not in rendered
    assert refused.value.__cause__ is None  # never chained to the client's request (its headers hold the token)


def test_no_token_or_commentary_in_logs_on_success_either(gateway, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    gateway.publish(PostContent(text="secret plans", link=_link("t2")))
    assert sandbox.access_token not in caplog.text and "secret plans" not in caplog.text


def test_an_image_is_uploaded_through_the_images_api_and_is_the_articles_thumbnail(gateway, sandbox):
    post = gateway.publish(PostContent(text="office", link=_link("i1"), image_url=sandbox.url + "/_sandbox/image.png"))

    (headers, body), = sandbox.requests_to("POST", "/rest/images")
    assert body == {"initializeUploadRequest": {"owner": sandbox.organization_urn}}
    assert headers["X-RestLi-Method"] == "ACTION" and headers["LinkedIn-Version"] == DEFAULT_VERSION
    (upload_headers, _), = [(h, b) for m, p, h, b in sandbox.received if m == "PUT"]
    assert upload_headers["Content-Type"] == "image/png"
    thumbnail = sandbox.posts[post.post_id]["content"]["article"]["thumbnail"]
    assert thumbnail.startswith("urn:li:image:") and sandbox.images[thumbnail][:4] == b"\x89PNG"


def test_reads_and_deletes_are_tried_again_after_a_server_error_creates_are_not(gateway, sandbox, sleeps):
    post = gateway.publish(PostContent(text="flaky", link=_link("f1")))
    sandbox.fail_next("finder", 500)
    sandbox.fail_next("statistics", 503)
    sandbox.fail_next("delete", 502)
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    assert gateway.find(_link("f1"), since) == post
    assert gateway.metrics([post.post_id])[post.post_id].impressions == 0
    gateway.delete(post.post_id)
    assert post.post_id not in sandbox.posts and len(sleeps) == 3


@pytest.mark.parametrize("image_url", ["http://169.254.169.254/latest/image.png", "https://169.254.169.254/image.png",
                                       "https://[::ffff:10.0.0.1]/a.png"])
def test_an_image_url_that_is_not_https_or_not_public_is_refused_before_any_call(gateway, sandbox, image_url):
    with pytest.raises(PlatformError) as refused:
        gateway.publish(PostContent(text="x", link=_link("i2"), image_url=image_url))
    assert refused.value.codes == ["image_url"] and sandbox.received == []


def test_the_http_control_endpoint_injects_faults_for_the_local_stack(gateway, sandbox):
    control = urllib.request.Request(sandbox.url + "/_sandbox/faults", method="POST",
                                     data=json.dumps({"kind": "create", "drop": True}).encode())
    assert json.loads(urllib.request.urlopen(control, timeout=5).read()) == {"ok": True}
    with pytest.raises(PlatformError):
        gateway.publish(PostContent(text="lost", link=_link("c1")))
    assert any(p["content"]["article"]["source"] == _link("c1") for p in sandbox.posts.values())
