import uuid
from urllib.parse import parse_qs, urlsplit

import requests

BOT_AGENTS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Twitterbot/1.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)",
]


def _create(api, marketer, **overrides) -> dict:
    body = {"destination": "https://careers.example.com/jobs?team=platform&lang=en", "campaign": f"E2E {uuid.uuid4().hex[:6]}",
            "channel": "paid_search", "source": "google", "medium": "cpc", **overrides}
    response = requests.post(api + "/links", json=body, headers=marketer)
    assert response.status_code == 201, response.text
    return response.json()


def _clicks(api, marketer, code) -> int:
    return requests.get(f"{api}/links/{code}", headers=marketer).json()["clicks"]


def test_link_validation_names_the_field(api, marketer):
    response = requests.post(api + "/links", headers=marketer, json={
        "destination": "javascript:alert(document.cookie)", "campaign": "x", "channel": "radio", "source": "s",
        "medium": "m"})
    assert response.status_code == 422
    rules = {e["field"]: e["rule"] for e in response.json()["errors"]}
    assert set(rules) == {"destination", "channel"} and rules["channel"] == "enum"


def test_tracked_url_redirects_keeping_the_destination_query(api, marketer, browser):
    link = _create(api, marketer)
    assert link["url"] == f"{api}/r/{link['code']}"
    response = browser.get(link["url"] + "?gclid=EAIaIQ-test&utm_term=rust", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Cache-Control"] == "no-store"
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert (location.scheme, location.netloc, location.path) == ("https", "careers.example.com", "/jobs")
    assert query["team"] == ["platform"] and query["lang"] == ["en"]
    assert query["gclid"] == ["EAIaIQ-test"] and query["utm_term"] == ["rust"]
    assert len(query["tc_vid"][0]) >= 16 and len(query["tc_click"][0]) >= 16
    assert _clicks(api, marketer, link["code"]) == 1


def test_same_visitor_across_touches_via_cookie(api, marketer, browser):
    first, second = _create(api, marketer), _create(api, marketer, channel="email", source="crm", medium="email")
    response = browser.get(first["url"], allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    visitor = parse_qs(urlsplit(response.headers["Location"]).query)["tc_vid"][0]
    assert cookie.startswith(f"tc_vid={visitor};")
    # The cookie is Secure, so a client on plain-http localhost must send it itself, as a browser would over https.
    again = browser.get(second["url"], allow_redirects=False, headers={"Cookie": f"tc_vid={visitor}"})
    assert parse_qs(urlsplit(again.headers["Location"]).query)["tc_vid"] == [visitor]


def test_a_visitor_id_in_the_query_is_never_adopted(api, marketer, browser):
    link = _create(api, marketer)
    # Given someone's genuine visitor id (the redirect issued and signed it)
    first = requests.get(link["url"], headers={"User-Agent": browser.headers["User-Agent"]}, allow_redirects=False)
    someone = parse_qs(urlsplit(first.headers["Location"]).query)["tc_vid"][0]
    # When a clean browser follows a link written with that id (issue 13: visitor fixation)
    response = browser.get(f"{link['url']}?tc_vid={someone}", allow_redirects=False)
    # Then it gets an id of its own, in the URL and the cookie: its join will never be credited with that path
    issued = parse_qs(urlsplit(response.headers["Location"]).query)["tc_vid"][0]
    assert issued != someone and response.headers["Set-Cookie"].startswith(f"tc_vid={issued};")
    # And its own cookie is what keeps its clicks together
    again = browser.get(f"{link['url']}?tc_vid={someone}", allow_redirects=False, headers={"Cookie": f"tc_vid={issued}"})
    assert parse_qs(urlsplit(again.headers["Location"]).query)["tc_vid"] == [issued]


def test_new_visitors_get_different_ids(api, marketer):
    link = _create(api, marketer)
    ids = set()
    for _ in range(3):
        session = requests.Session()
        session.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        location = session.get(link["url"], allow_redirects=False).headers["Location"]
        ids.add(parse_qs(urlsplit(location).query)["tc_vid"][0])
    assert len(ids) == 3
    assert _clicks(api, marketer, link["code"]) == 3


def test_bots_are_redirected_but_not_recorded(api, marketer):
    link = _create(api, marketer)
    for agent in BOT_AGENTS:
        response = requests.get(link["url"], headers={"User-Agent": agent}, allow_redirects=False)
        assert response.status_code == 302 and "Set-Cookie" not in response.headers
        assert "tc_vid" not in response.headers["Location"]
    assert _clicks(api, marketer, link["code"]) == 0


def test_unknown_code_is_a_plain_404_page(api, browser):
    for code in ("Nope1234", "x", "a" * 40, "%00"):
        response = browser.get(f"{api}/r/{code}", allow_redirects=False)
        assert response.status_code == 404, code
        assert response.headers["Content-Type"].startswith("text/html")


def test_head_is_answered_like_get_without_a_touch(api, marketer, browser):
    link = _create(api, marketer)
    response = browser.head(link["url"] + "?gclid=EAIaIQ-head", allow_redirects=False)
    assert response.status_code == 302 and "Set-Cookie" not in response.headers
    assert urlsplit(response.headers["Location"]).netloc == "careers.example.com"
    assert _clicks(api, marketer, link["code"]) == 0


def test_hostile_click_ids_still_redirect_and_count(api, marketer, browser):
    link = _create(api, marketer)
    response = browser.get(link["url"], params={"gclid": "😀" * 512, "utm_source": "é" * 300}, allow_redirects=False)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["gclid"] == ["😀" * 128]
    assert _clicks(api, marketer, link["code"]) == 1


def test_idn_destination_is_redirected_encoded(api, marketer, browser):
    link = _create(api, marketer, destination="https://bücher.example/jobs/東京?team=東京")
    location = browser.get(link["url"], allow_redirects=False).headers["Location"]
    assert location.isascii() and location.startswith(
        "https://xn--bcher-kva.example/jobs/%E6%9D%B1%E4%BA%AC?team=%E6%9D%B1%E4%BA%AC&")
