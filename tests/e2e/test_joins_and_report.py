"""Joins and the attribution report through the local gateway, as the careers site and a recruiter use them."""

import threading
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import confirm_link, join_and_confirm, sent_mail, stored_attribution

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")


def _email() -> str:
    return f"cand-{uuid.uuid4().hex[:10]}@example.com"


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def _report(api, headers, model, group_by="channel") -> dict:
    response = requests.get(f"{api}/reports/attribution", headers=headers,
                            params={"from": _today(), "to": _today(), "model": model, "group_by": group_by})
    assert response.status_code == 200, response.text
    return response.json()


def _rows(report: dict) -> dict[str, tuple[float, int]]:
    return {row["key"]: (row["joins"], row["touches"]) for row in report["rows"]}


def _link(api, marketer, **dims) -> str:
    body = {"destination": "https://careers.example.com/", "campaign": f"C-{uuid.uuid4().hex[:6]}", "channel": "paid_social",
            "source": "linkedin", "medium": "cpc", **dims}
    return requests.post(f"{api}/links", json=body, headers=marketer).json()["url"]


def _click(browser, url: str, visitor: str | None = None) -> str:
    headers = {"Cookie": f"tc_vid={visitor}"} if visitor else {}
    location = browser.get(url, allow_redirects=False, headers=headers).headers["Location"]
    return parse_qs(urlsplit(location).query)["tc_vid"][0]


def _attribution(stack, email: str) -> list[dict]:
    return stored_attribution(stack[0], email)


def test_join_counts_only_once_confirmed_and_a_repeat_counts_nothing(api, aws_endpoint, recruiter):
    before = _report(api, recruiter, "linear")["totals"]["joins"]
    email = _email()
    submitted = requests.post(f"{api}/joins", json={"email": email, "name": "Ada", "consent": True})
    assert (submitted.status_code, submitted.json()) == (202, {"status": "pending"})
    link = confirm_link(aws_endpoint, email)
    # A mail scanner (or the person) opens the link: a page with a button, nothing counted
    page = requests.get(link)
    assert page.status_code == 200 and "<form method=post>" in page.text and "text/html" in page.headers["Content-Type"]
    assert _report(api, recruiter, "linear")["totals"]["joins"] == pytest.approx(before)
    # The button (a form POST) confirms and counts once
    joined = requests.post(link, data={}, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert joined.status_code == 200 and "You're in" in joined.text
    assert _report(api, recruiter, "linear")["totals"]["joins"] == pytest.approx(before + 1)
    # The same link again: the expired/used page, nothing counted
    again = requests.post(link)
    assert again.status_code == 410 and "expired or was already used" in again.text
    # Joining again (any case) answers the same 202 and mails a note, not a link; nothing counted
    repeat = requests.post(f"{api}/joins", json={"email": email.upper(), "name": "Ada", "consent": True})
    assert (repeat.status_code, repeat.content) == (submitted.status_code, submitted.content)
    note = sent_mail(aws_endpoint, email)[-1]
    assert "already" in note["subject"] and "/joins/confirm/" not in note["body"]
    assert _report(api, recruiter, "linear")["totals"]["joins"] == pytest.approx(before + 1)


def _comparable(response: requests.Response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("date", "x-request-id", "content-length")}
    return response.status_code, response.content, sorted(headers.items())


def test_responses_for_new_pending_and_member_emails_are_byte_identical(api, aws_endpoint):
    # Finding 2: a join answered with the member's id and path; now nothing tells who is a member.
    pending, member = _email(), _email()
    requests.post(f"{api}/joins", json={"email": pending, "name": "P", "consent": True})
    join_and_confirm(api, aws_endpoint, {"email": member, "name": "M", "consent": True})
    answers = [requests.post(f"{api}/joins", json={"email": email, "name": "X", "consent": True})
               for email in (_email(), pending, member)]
    assert answers[0].json() == {"status": "pending"}
    assert _comparable(answers[0]) == _comparable(answers[1]) == _comparable(answers[2])
    assert "member_id" not in answers[2].text and "touches" not in answers[2].text


def test_fifty_racing_joins_of_one_email_send_one_mail_and_count_once(api, aws_endpoint, recruiter):
    before = _report(api, recruiter, "first_touch")["totals"]["joins"]
    email, barrier, results = _email(), threading.Barrier(50), []

    def join():
        barrier.wait()
        results.append(requests.post(f"{api}/joins", json={"email": email, "name": "Twin", "consent": True}, timeout=120))

    threads = [threading.Thread(target=join) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [202] * 50
    assert len(sent_mail(aws_endpoint, email)) == 1
    # Then the link pressed from several tabs at once: one confirmation, the others the used page
    link, barrier, confirms = confirm_link(aws_endpoint, email), threading.Barrier(5), []

    def confirm():
        barrier.wait()
        confirms.append(requests.post(link, timeout=120).status_code)

    threads = [threading.Thread(target=confirm) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(confirms) == [200, 410, 410, 410, 410]
    assert _report(api, recruiter, "first_touch")["totals"]["joins"] == pytest.approx(before + 1)


def test_fifty_racing_joins_of_one_mailbox_send_one_mail(api, aws_endpoint):
    # Issue 13: victim+1@ … victim+50@ from one client at once each got a confirmation (41 in 2 seconds)
    user, barrier, results = f"victim-{uuid.uuid4().hex[:8]}", threading.Barrier(50), []
    addresses = [f"{user}+{n}@example.com" for n in range(1, 51)]

    def join(address: str) -> None:
        barrier.wait()
        results.append(requests.post(f"{api}/joins", json={"email": address, "name": "V", "consent": True}, timeout=120))

    threads = [threading.Thread(target=join, args=(address,)) for address in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then 50 identical answers, and one mail in the mailbox (to the address typed)
    assert {(r.status_code, r.content) for r in results} == {(202, b'{"status":"pending"}')}
    data = requests.get(f"{aws_endpoint}/moto-api/data.json", timeout=60).json()
    mailed = [to for m in data["ses"]["Message"] for to in m["destinations"]["ToAddresses"] if to.startswith(user)]
    assert len(mailed) == 1 and mailed[0] in addresses


def test_multi_touch_join_and_lookback(api, aws_endpoint, stack, marketer, browser):
    # Given a visitor who clicked a LinkedIn ad, then an email link, and had a 45-day-old imported touch
    visitor = _click(browser, _link(api, marketer))
    _click(browser, _link(api, marketer, channel="email", source="crm", medium="email"), visitor)
    old = (datetime.now(timezone.utc) - timedelta(days=45)).isoformat()
    imported = requests.post(f"{api}/touches", headers=marketer, json={"visitor_id": visitor, "occurred_at": old,
                             "campaign": "Ancient", "channel": "event", "source": "fair", "medium": "badge"})
    assert imported.json()["recorded"] == 1
    # When they join from the careers site with the visitor id the snippet kept, and confirm
    email = _email()
    confirmed = join_and_confirm(api, aws_endpoint, {"email": email, "name": "Grace", "consent": True,
                                                     "visitor_id": visitor, "skills": ["rust", "sql"]})
    assert confirmed.status_code == 200
    # Then the two recent touches are credited and the 45-day-old one (outside 30 days) is not
    touches = _attribution(stack, email)
    assert [t["channel"] for t in touches] == ["paid_social", "email"]
    first, last = touches
    assert (first["credits"]["first_touch"], last["credits"]["last_touch"]) == (1, 1)
    assert first["credits"]["position_based"] == last["credits"]["position_based"] == 0.5


def test_a_forged_visitor_id_credits_nothing(api, aws_endpoint, stack, marketer, browser):
    # Finding 2: a join naming someone else's visitor id took their path. Only ids the redirect signed count.
    victim = _click(browser, _link(api, marketer))
    email = _email()
    confirmed = join_and_confirm(api, aws_endpoint, {"email": email, "name": "Mallory", "consent": True,
                                                     "visitor_id": victim[:22]})
    assert confirmed.status_code == 200
    assert [(t["origin"], t["channel"]) for t in _attribution(stack, email)] == [("join", "direct")]


def test_report_sums_match_the_joins_created(api, aws_endpoint, stack, marketer, recruiter, browser):
    before = {model: _report(api, recruiter, model) for model in MODELS}
    paths = [["paid_search"], ["paid_social", "email"], ["email", "paid_search", "paid_social"]]
    dims = {"paid_search": {"channel": "paid_search", "source": "google"},
            "paid_social": {"channel": "paid_social", "source": "linkedin"},
            "email": {"channel": "email", "source": "crm", "medium": "email"}}
    links = {name: _link(api, marketer, **spec) for name, spec in dims.items()}
    expected: dict[str, dict[str, float]] = {model: {} for model in MODELS}
    for path in paths:
        visitor = None
        for channel in path:
            visitor = _click(browser, links[channel], visitor)
        email = _email()
        assert join_and_confirm(api, aws_endpoint, {"email": email, "name": "P", "consent": True,
                                                    "visitor_id": visitor}).status_code == 200
        touches = _attribution(stack, email)
        assert [t["channel"] for t in touches] == path
        for touch in touches:
            for model in MODELS:
                expected[model][touch["channel"]] = expected[model].get(touch["channel"], 0) + touch["credits"][model]
    for model in MODELS:
        after = _report(api, recruiter, model)
        assert after["totals"]["joins"] == pytest.approx(before[model]["totals"]["joins"] + len(paths))
        assert after["totals"]["touches"] == before[model]["totals"]["touches"] + sum(len(p) for p in paths)
        old, new = _rows(before[model]), _rows(after)
        for channel, credit in expected[model].items():
            assert new[channel][0] - old.get(channel, (0, 0))[0] == pytest.approx(credit, abs=1e-6), (model, channel)
        assert after["model"] == model and after["group_by"] == "channel" and after["from"] == _today()


def test_report_by_campaign_and_source(api, recruiter):
    for group_by in ("campaign", "source"):
        report = _report(api, recruiter, "time_decay", group_by)
        assert report["group_by"] == group_by
        assert sum(row["joins"] for row in report["rows"]) == pytest.approx(report["totals"]["joins"], abs=1e-4)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"model": "u_shaped"}, "model"), ({"from": "2026-13-01"}, "from"), ({"to": "yesterday"}, "to"),
     ({"group_by": "country"}, "group_by"), ({"from": "2026-11-20", "to": "2026-11-10"}, "to"),
     ({"from": "2024-01-01", "to": "2026-01-01"}, "to")],
)
def test_report_rejects_bad_queries(api, recruiter, params, field):
    query = {"from": "2026-11-01", "to": "2026-11-30", "model": "linear", **params}
    response = requests.get(f"{api}/reports/attribution", headers=recruiter, params=query)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


def test_report_needs_a_token(api):
    assert requests.get(f"{api}/reports/attribution", params={"from": _today(), "to": _today()}).status_code == 401


MALFORMED = [
    "", "{", "null", "[]", '"text"', "42", "{}", '{"email": null}', '{"email": "a@b.co", "name": "x"}',
    '{"email": "a@b.co", "name": "x", "consent": "true"}', '{"email": "nope", "name": "x", "consent": true}',
    '{"email": "a@b.co", "name": "", "consent": true}', '{"email": "a@b.co", "name": "x", "consent": true, "skills": "rust"}',
    '{"email": "a@b.co", "name": "x", "consent": true, "click_ids": ["a"]}',
    '{"email": "a@b.co", "name": "x", "consent": true, "click_ids": {"evil": "1"}}',
    '{"email": "a@b.co", "name": "x", "consent": true, "visitor_id": "../../etc"}',
    '{"email": "a@b.co", "name": "x", "consent": true, "invite_token": "x"}',
    '{"email": "' + "a" * 400 + '@b.co", "name": "x", "consent": true}',
    '{"email": "a@b.co", "name": "x", "consent": true, "unknown": 1}',
    '{"email": "a@b.co", "name": {"first": "x"}, "consent": true}',
    "\xff\xfe garbage",
]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_join_bodies_get_422_never_5xx(api, body):
    response = requests.post(f"{api}/joins", data=body.encode("utf-8", "surrogateescape"),
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 422, (body, response.status_code, response.text)
    assert response.json()["errors"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
join_like = st.fixed_dictionaries({}, optional={
    "email": json_values | st.emails(), "name": json_values, "consent": json_values, "skills": json_values,
    "click_ids": json_values, "visitor_id": json_values, "utm_source": json_values, "referrer": json_values,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=join_like)
def test_generated_join_bodies_never_5xx(api, body):
    response = requests.post(f"{api}/joins", json=body)
    assert response.status_code < 500, (body, response.text)


def test_careers_site_may_call_joins_cross_origin(api):
    preflight = requests.options(f"{api}/joins", headers={
        "Origin": "https://careers.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_form_encoded_join_is_415_not_a_parse_of_the_data(api):
    response = requests.post(f"{api}/joins", data={"email": "form@example.com", "name": "F", "consent": "on"})
    assert response.status_code == 415
    assert "form@example.com" not in response.text
