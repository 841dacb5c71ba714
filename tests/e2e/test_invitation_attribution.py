"""An invitation followed over HTTP, as the demo plays it: the join is credited to it and reported under email."""

import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests

from attract.aws import from_item
from attract.identity import email_hash
from attract.relevance.keys import index_key
from attract_local.invitee import BROWSER, follow_invitation, landing_fields
from tests.e2e.invitations import send_invitation
from tests.support import confirm_link, stored_attribution


def _report(api, headers, group_by: str) -> dict[str, float]:
    today = datetime.now(timezone.utc).date().isoformat()
    response = requests.get(f"{api}/reports/attribution", headers=headers, timeout=30,
                            params={"from": today, "to": today, "model": "linear", "group_by": group_by})
    assert response.status_code == 200, response.text
    return {row["key"]: row["joins"] for row in response.json()["rows"]}


def test_an_invitee_who_joins_is_credited_and_reported_under_email(api, aws_endpoint, stack, marketer, recruiter):
    # Given an invitation sent by the stack's sender
    campaign = f"Alumni {uuid.uuid4().hex[:6]}"
    email = f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    send_invitation(stack[0], api, marketer, "https://careers.example.com/community", email, campaign)
    before = _report(api, recruiter, "channel").get("email", 0)
    # When the person follows it, joins on the careers site and confirms
    assert follow_invitation(api, aws_endpoint, email, "Katherine Johnson").status_code == 200
    # Then the click on the invitation's link is the credited path (it stands for the invitation: one touch,
    # not two), and the report counts the join under email
    touches = stored_attribution(stack[0], email)
    assert [(t["origin"], t["channel"], t["campaign"]) for t in touches] == [("click", "email", campaign)]
    assert _report(api, recruiter, "channel")["email"] == before + 1
    assert _report(api, recruiter, "campaign")[campaign] == 1
    # And the join form gave no skills nor location: the employer's record did (events/invites/job.json), so the
    # member is scored on them (issue 14: invitation data counts)
    aws = stack[0]
    pepper = aws.client("secretsmanager").get_secret_value(SecretId=aws.refs["EmailPepperSecret"])["SecretString"]
    member = from_item(aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(email, pepper)}"}, "SK": {"S": "MEMBER"}})["Item"])
    assert (member["skills"], member["location"]) == (["python", "sql"], "Berlin")
    entry = from_item(aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"],
                                                      Key=index_key(email_hash(email, pepper)))["Item"])
    assert (entry["skills"], entry["location"]) == (["python", "sql"], "Berlin")


def test_a_tampered_tc_inv_is_passed_on_but_credits_nothing(api, aws_endpoint, stack, marketer):
    email = f"tamper-{uuid.uuid4().hex[:8]}@example.com"
    link = send_invitation(stack[0], api, marketer, "https://careers.example.com/community", email)
    parts = urlsplit(link)
    token = parse_qs(parts.query)["tc_inv"][0]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    session = requests.Session()
    session.headers["User-Agent"] = BROWSER
    clicked = session.get(urlunsplit(parts._replace(query=urlencode({"tc_inv": forged}))), allow_redirects=False,
                          timeout=30)
    fields = landing_fields(clicked.headers["Location"])
    assert fields["invite_token"] == forged  # well-formed: the redirect cannot tell, the join's lookup does
    submitted = session.post(f"{api}/joins", json={**fields, "email": email, "name": "Mallory", "consent": True},
                             timeout=30)
    assert (submitted.status_code, submitted.content) == (202, b'{"status":"pending"}')
    session.post(confirm_link(aws_endpoint, email), timeout=30)
    assert [t["origin"] for t in stored_attribution(stack[0], email)] == ["click"]
