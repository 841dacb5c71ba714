"""The extended reports through the local gateway: human clicks per key, join rate, content, CSV and funnels."""

import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support import join_and_confirm


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def test_clicks_join_rate_content_and_csv_of_a_hostile_campaign(api, aws_endpoint, marketer, recruiter, browser):
    # Given a link a marketer named like a formula and a script, with an ad content
    campaign = f'=HYPERLINK("http://evil.example","x")<script>{uuid.uuid4().hex[:6]}'
    content = f"banner-{uuid.uuid4().hex[:6]}"
    url = requests.post(f"{api}/links", headers=marketer, json={
        "destination": "https://careers.example.com/", "campaign": campaign, "channel": "referral", "source": "partner",
        "medium": "referral", "content": content}).json()["url"]
    # When a person clicks it 3 times, a link preview bot once, and joins with the visitor id of the clicks
    locations = [browser.get(url, allow_redirects=False).headers["Location"] for _ in range(3)]
    assert requests.get(url, allow_redirects=False, headers={"User-Agent": "Slackbot-LinkExpanding 1.0"}).status_code == 302
    visitor = parse_qs(urlsplit(locations[-1]).query)["tc_vid"][0]
    email = f"rep-{uuid.uuid4().hex[:10]}@example.com"
    assert join_and_confirm(api, aws_endpoint, {"email": email, "name": "R", "consent": True,
                                                "visitor_id": visitor}).status_code == 200
    # Then the campaign's row: 1 join, 3 human clicks (the bot not counted), join rate 1/3
    query = {"from": _today(), "to": _today(), "group_by": "campaign", "limit": "500"}
    rows = {row["key"]: row for row in requests.get(f"{api}/reports/attribution", headers=recruiter, params=query).json()["rows"]}
    assert (rows[campaign]["joins"], rows[campaign]["clicks"], rows[campaign]["join_rate"]) == (1.0, 3, 0.333333)
    assert rows[campaign]["relevance_rate"] == 0.0 and rows[campaign]["spend"] == []
    by_content = requests.get(f"{api}/reports/attribution", headers=recruiter, params=query | {"group_by": "content"}).json()
    assert {row["key"]: (row["joins"], row["clicks"]) for row in by_content["rows"]}[content] == (1.0, 3)
    # And the CSV (asked by Accept) has the name as text, never a formula, quoted for its quotes
    csv = requests.get(f"{api}/reports/attribution", headers=recruiter | {"Accept": "text/csv"}, params=query)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbfmodel,key,joins,")
    escaped = campaign.replace('"', '""')
    assert f"\r\nlast_touch,\"'{escaped}\",1.0,1,0.0,3,0.333333,0.0,,,,\r\n".encode() in csv.content
    # And the funnels answer for the same day (this referral link is no email or ads funnel)
    funnels = requests.get(f"{api}/reports/funnels", headers=recruiter, params={"from": _today(), "to": _today()})
    assert funnels.status_code == 200 and all(f["campaign"] != campaign for f in funnels.json()["campaigns"])
    assert requests.get(f"{api}/reports/funnels", params={"from": _today(), "to": _today()}).status_code == 401
