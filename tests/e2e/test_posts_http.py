"""Organic posts through the local stack: the API, the publisher on PostsQueue with the real adapters against the
platforms' wire sandboxes (attract_local.sandboxes), the one-time schedule fired by the local stack, the tracked
link's click and join, and the metrics sync feeding the report.

The tests that publish need the three adapters (attract.providers.facebook_page, linkedin_posts, x_posts) and their
sandboxes registered in attract_local.ad_sandboxes: until they are merged they skip, saying so.
"""

import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support import join_and_confirm

pytestmark = pytest.mark.local_only("publishes to the local wire sandboxes")

CHANNELS = ["facebook_page", "linkedin_org", "x"]


def _post(api, marketer, **changes) -> requests.Response:
    body = {"name": f"Community call {uuid.uuid4().hex[:6]}", "text": "Meet our data team. Join the talent community:",
            "destination": "https://careers.example.com/community", "channels": CHANNELS, **changes}
    return requests.post(f"{api}/posts", json=body, headers=marketer, timeout=30)


def _until(api, marketer, post_id: str, statuses: set[str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        post = requests.get(f"{api}/posts/{post_id}", headers=marketer, timeout=30).json()
        if {channel["status"] for channel in post["channels"].values()} <= statuses or time.monotonic() > deadline:
            return post
        time.sleep(0.5)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_limits_are_refused_before_anything_is_stored_or_sent(api, marketer):
    response = _post(api, marketer, text="a" * 257)  # 257 + 1 + 23 = 281 on X
    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("text", "x.too_long")]
    assert _post(api, marketer, text="a" * 256).status_code == 201  # exactly 280


def test_posts_are_for_marketers_only(api, recruiter):
    assert _post(api, recruiter).status_code == 403


def test_a_post_reaches_all_three_platforms_and_its_link_joins_show_as_organic_social(api, aws_endpoint, marketer,
                                                                                     recruiter, browser):
    created = _post(api, marketer)
    assert created.status_code == 201, created.text
    post = _until(api, marketer, created.json()["id"], {"published", "failed"})
    assert {c: s["status"] for c, s in post["channels"].items()} == dict.fromkeys(CHANNELS, "published"), post
    assert all(s["platform_post_id"] and s["url"].startswith("http") for s in post["channels"].values())
    # A reader clicks the X post's tracked link and joins
    location = browser.get(post["channels"]["x"]["link"]["url"], allow_redirects=False).headers["Location"]
    visitor = parse_qs(urlsplit(location).query)["tc_vid"][0]
    email = f"reader-{uuid.uuid4().hex[:8]}@example.com"
    assert join_and_confirm(api, aws_endpoint, {"email": email, "name": "Reader", "consent": True,
                                                "visitor_id": visitor}).status_code == 200
    # The metrics sync reads the posts' counts
    synced = requests.post(f"{api}/_local/fire/PostsMetricsFunction.Hourly", timeout=120).json()
    assert synced, synced
    report = requests.get(f"{api}/reports/attribution", headers=recruiter, timeout=30,
                          params={"from": _today(), "to": _today(), "model": "last_touch", "group_by": "channel"}).json()
    organic = {row["key"]: row for row in report["rows"]}["organic_social"]
    assert organic["joins"] >= 1 and not organic.get("spend")
    funnels = requests.get(f"{api}/reports/funnels", headers=recruiter, timeout=30,
                           params={"from": _today(), "to": _today()}).json()
    mine = [f for f in funnels["campaigns"] if f["channel"] == "organic_social" and f["campaign"] == post["name"]]
    assert mine and [step["name"] for step in mine[0]["steps"]] == ["impressions", "clicks", "joins", "relevant"]
    assert mine[0]["steps"][2]["count"] >= 1


def test_delete_reaches_every_platform(api, marketer):
    post_id = _post(api, marketer).json()["id"]
    assert {s["status"] for s in _until(api, marketer, post_id, {"published", "failed"})["channels"].values()} == {"published"}
    response = requests.delete(f"{api}/posts/{post_id}", headers=marketer, timeout=30)
    assert response.status_code == 202
    post = _until(api, marketer, post_id, {"deleted"})
    assert {s["status"] for s in post["channels"].values()} == {"deleted"}
    assert requests.delete(f"{api}/posts/{post_id}", headers=marketer, timeout=30).status_code == 202


def test_a_scheduled_post_is_published_by_the_local_stack(api, marketer):
    publish_at = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    created = _post(api, marketer, publish_at=publish_at.isoformat(), channels=["x"]).json()
    assert created["channels"]["x"]["status"] == "scheduled"
    # The local stack fires Scheduler schedules at their time; `make fire` fires this one now, as of its time
    fired = requests.post(f"{api}/_local/fire/post-{created['id']}", params={"at": publish_at.isoformat()}, timeout=60)
    assert fired.status_code == 200, fired.text
    post = _until(api, marketer, created["id"], {"published", "failed"})
    assert post["channels"]["x"]["status"] == "published"


def test_the_local_stack_renews_the_x_token_before_its_two_hours_are_up(api, marketer):
    # Given the X secret the local stack filled from its sandbox: a token good for two hours
    fire = f"{api}/_local/fire/XTokenRefreshFunction.HalfHourly"
    # When the schedule fires now, nothing is due; fired as of 90 minutes ahead, the token is renewed, once
    assert requests.post(fire, timeout=60).json()["result"]["status"] == "fresh"
    ahead = (datetime.now(UTC) + timedelta(minutes=90)).isoformat()
    assert requests.post(fire, params={"at": ahead}, timeout=60).json()["result"]["status"] == "refreshed"
    assert requests.post(fire, params={"at": ahead}, timeout=60).json()["result"]["status"] == "fresh"
    # And posting to X goes on with the renewed secret
    created = _post(api, marketer)
    post = _until(api, marketer, created.json()["id"], {"published", "failed"})
    assert post["channels"]["x"]["status"] == "published", post
