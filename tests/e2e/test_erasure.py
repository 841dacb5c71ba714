"""Issue 15's "Done means", over HTTP through the local stack: a person who landed from an ad (their conversion
queued for Google), was invited and clicked the links, joined; an admin erases them. Then the export is empty, the
report's totals are unchanged, a later invitation or import does not reach them, the audit trail shows who erased
them, and the conversion held for Google is never uploaded. And the "delete my data" link of each email works."""

import base64
import json
import re
import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

from attract.aws import from_item
from attract.identity import email_hash
from attract.invites.campaign_repository import CampaignRepository
from attract.invites.campaigns import InviteCampaign
from attract.invites.run_repository import RunRepository
from attract_local.conversions import sweep_at
from attract_local.invitee import land_from_ad, landing_fields
from attract_local.mailbox import confirm_link, sent_invitations, sent_mail
from tests.e2e.invitations import send_invitation
from tests.support import load_event

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
FORGET_LINK = re.compile(r"(\S*/d/[A-Za-z0-9_.-]+)")


def _pepper(aws) -> str:
    return aws.client("secretsmanager").get_secret_value(SecretId=aws.refs["EmailPepperSecret"])["SecretString"]


def _totals(api, headers) -> dict:
    today = datetime.now(timezone.utc).date().isoformat()
    answer = {}
    for model in MODELS:
        response = requests.get(f"{api}/reports/attribution", headers=headers, timeout=30,
                                params={"from": today, "to": today, "model": model, "group_by": "channel"})
        assert response.status_code == 200, response.text
        body = response.json()
        answer[model] = (body["totals"], sorted((row["key"], row["joins"]) for row in body["rows"]))
    return answer


def _wait(predicate, what: str, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def _claims(headers: dict) -> dict:
    payload = headers["Authorization"].split()[1].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _export(api, admin, email) -> dict:
    response = requests.get(f"{api}/people/export", headers=admin, params={"email": email}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _erasure_done(api, admin, email) -> dict:
    def done():
        body = requests.get(f"{api}/people/erasure", headers=admin, params={"email": email}, timeout=30).json()
        return body if body["status"] == "done" else None

    return _wait(done, "the erasure", 90)


def _audit_entries(aws, digest: str) -> list[dict]:
    items = aws.client("dynamodb").query(TableName=aws.refs["AuditTable"], IndexName="ByObject",
                                         KeyConditionExpression="object_key = :o",
                                         ExpressionAttributeValues={":o": {"S": f"person#{digest}"}})["Items"]
    return [from_item(item) for item in items]


def _run_from_an_ats(aws, tmp_path, emails: list[str]):
    """A scheduled run of a new invite campaign on a SQLite "ATS" holding `emails` (as tests/e2e/test_invite_pipeline.py
    runs one): the stack's planner and sender by themselves. The run's status once done."""
    domain = f"later-{uuid.uuid4().hex[:8]}.example"
    aws.client("sesv2").create_email_identity(EmailIdentity=domain)
    with sqlite3.connect(tmp_path / "ats.db") as connection:
        connection.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, "
                           "consent INTEGER, updated_at TEXT)")
        connection.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?)", [
            (n, address, "Someone", 1, "2026-01-01T00:00:00Z") for n, address in enumerate(emails, 1)])
    campaign_id, table = "c" + uuid.uuid4().hex[:12], aws.refs["AttractTable"]
    CampaignRepository(table, aws.client("dynamodb")).create(InviteCampaign.model_validate({
        "id": campaign_id, "name": "Later import", "destination": "https://careers.example.com/community",
        "source": {"kind": "sqlite", "path": str(tmp_path / "ats.db"), "table": "candidates"},
        "mapping": {"email": "email", "first_name": "first_name", "consent": "consent", "updated_at": "updated_at",
                    "external_id": "id"},
        "subject": "{{first_name}}, join us", "text": "Hello {{first_name}}: {{invite_url}}",
        "sender": {"from": f"Acme <careers@{domain}>", "postal_address": "1 Main Street, Springfield"},
        "link_code": "later1", "created_at": datetime.now(timezone.utc)}))
    due = datetime.now(timezone.utc) + timedelta(seconds=2)
    aws.client("scheduler").create_schedule(
        Name=f"invite-{campaign_id}", GroupName="default", ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="NONE",
        Target={"Arn": aws.attrs[("InvitePlanQueue", "Arn")], "RoleArn": aws.attrs[("InviteSchedulerRole", "Arn")],
                "Input": json.dumps({"campaign_id": campaign_id, "scheduled_at": "<aws.scheduler.scheduled-time>"})})
    runs = RunRepository(table, aws.client("dynamodb"))
    run_id = f"s-{due:%Y%m%dT%H%M%S}Z"
    _wait(lambda: (runs.get(campaign_id, run_id) or {}).get("status") == "done", "the later run")
    aws.client("scheduler").delete_schedule(Name=f"invite-{campaign_id}")
    return RunRepository.to_response(runs.get(campaign_id, run_id))


def test_an_admin_erases_a_member_who_came_from_an_ad_was_invited_and_clicked(api, aws_endpoint, stack, marketer,
                                                                             recruiter, admin, browser, tmp_path):
    aws = stack[0]
    email = f"erase-me-{uuid.uuid4().hex[:8]}@example.com"
    digest = email_hash(email, _pepper(aws))
    profile = requests.post(f"{api}/profiles", headers=marketer, timeout=30, json={
        "name": f"Erasure {uuid.uuid4().hex[:8]}", "skills": {"required": ["python"]}}).json()
    # An ad click lands on the careers page (a tracked link with the platform's click id)
    ad = requests.post(f"{api}/links", headers=marketer, json={
        "destination": "https://careers.example.com/teams/data", "campaign": f"Data ads {uuid.uuid4().hex[:6]}",
        "channel": "paid_search", "source": "google", "medium": "cpc"}, timeout=30).json()
    gclid = f"Cj0KCQ{uuid.uuid4().hex}"
    from_ad = land_from_ad(api, f"https://careers.example.com/teams/data?tc_link={ad['code']}&gclid={gclid}", browser)
    # The person is invited, and clicks the invitation's link in the same browser
    invitation = send_invitation(aws, api, marketer, "https://careers.example.com/community", email)
    clicked = browser.get(invitation, allow_redirects=False, timeout=30)
    from_invite = landing_fields(clicked.headers["Location"])
    # Every email we send carries the delete-my-data link: the invitation too
    (letter,) = sent_invitations(aws_endpoint, email)
    assert FORGET_LINK.search(letter.get_body(("plain",)).get_content())
    # They join with consent to tell the ad platform, and confirm
    click_ids = {**from_ad["click_ids"], "tc_click": from_ad["click_ids"]["tc_click"] + from_invite["click_ids"]["tc_click"]}
    body = {**from_invite, "click_ids": click_ids, "email": email, "name": "Erin Erased", "consent": True,
            "ads_consent": True, "skills": ["python"]}
    assert browser.post(f"{api}/joins", json=body, timeout=30).status_code == 202
    assert FORGET_LINK.search(sent_mail(aws_endpoint, email)[-1]["body"])  # and the confirmation mail
    assert browser.post(confirm_link(aws_endpoint, email), timeout=30).status_code == 200
    # The conversion for Google is queued and held (Google takes it 6 hours after the click)
    held = _wait(lambda: _export(api, admin, email)["held_conversions"], "the held Google conversion")
    assert [json.loads(h["message"])["gclid"] for h in held] == [gclid]
    # And the scorer found them relevant to a profile asking for python (counted in the report's relevant joins)
    _wait(lambda: any(score["profile_id"] == profile["id"] and score["relevant"]
                      for score in _export(api, admin, email)["relevance"]["scores"]), "the member's relevance")
    before = _export(api, admin, email)
    assert before["empty"] is False and before["member"]["email"] == email
    assert before["invitations"]["sent"] and before["claims"] and len(before["touches"]) >= 2
    totals = _totals(api, recruiter)

    # When an admin erases them
    response = requests.delete(f"{api}/people", headers=admin, params={"email": email}, timeout=30)
    assert response.status_code == 202 and response.json()["status"] in ("queued", "running", "done")
    status = _erasure_done(api, admin, email)
    assert status["removed"]["member"] == 1 and status["removed"]["touches"] >= 2

    # Then the export is empty (what is kept is listed as kept: the tombstone and the erasure's status)
    after = _export(api, admin, email)
    assert after["empty"] is True
    assert after["member"] is None and after["touches"] == [] and after["claims"] == []
    assert after["invitations"] == {"sent": [], "outcomes": [], "links": [], "index": []}
    assert after["kept"]["tombstone"]["reason"] == "erased" and email not in json.dumps(after)
    # The report's totals are unchanged
    assert _totals(api, recruiter) == totals
    # The held conversion is never uploaded: the sweep 6.5 hours on releases it without a platform call
    swept = sweep_at(api, datetime.now(timezone.utc) + timedelta(hours=6.5))
    assert swept["ok"] and swept["result"]["counts"].get("uploaded", 0) == 0
    # A later invitation to them (a new campaign whose source holds their address) is skipped as suppressed
    job = load_event("invites/job")
    campaign_id, run_id = f"e2e-{uuid.uuid4().hex[:6]}", f"r-{uuid.uuid4().hex[:20]}"
    job.update(campaign_id=campaign_id, run_id=run_id, campaign_name="Later import", link_code=ad["code"])
    job["recipient"]["email"] = email
    aws.client("sqs").send_message(QueueUrl=aws.refs["InvitesQueue"], MessageBody=json.dumps(job))

    def skipped():
        item = aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"], Key={
            "PK": {"S": f"INVITE_RUN#{campaign_id}"}, "SK": {"S": f"RUN#{run_id}"}}).get("Item")
        return item and int(item.get("skipped_suppressed", {"N": "0"})["N"]) == 1

    _wait(skipped, "the sender's skip")
    # And a later import: a campaign run on an ATS that still holds their address plans everyone but them
    later = _run_from_an_ats(aws, tmp_path, [email, f"someone-{uuid.uuid4().hex[:6]}@example.com"])
    assert later.counts.planned == 1 and later.counts.sent == 1 and later.counts.skipped == {"suppressed": 1}
    assert len(sent_invitations(aws_endpoint, email)) == 1  # still only the first one
    # The audit trail shows who erased them (the admin's sub and username), by the hash, never the address
    who = _claims(admin)
    entries = {entry["action"]: entry for entry in _audit_entries(aws, digest)}
    assert {"person.export", "person.erasure_requested", "person.erased"} <= set(entries)
    for action in ("person.erasure_requested", "person.erased"):
        assert entries[action]["actor_sub"] == who["sub"] and entries[action]["actor_username"] == who["username"]
    assert email not in json.dumps(list(entries.values()), default=str)


def test_the_forget_link_of_a_confirmation_mail_erases_the_person(api, aws_endpoint, stack, admin, browser):
    aws = stack[0]
    email = f"forget-me-{uuid.uuid4().hex[:8]}@example.com"
    assert browser.post(f"{api}/joins", json={"email": email, "name": "Fay Forget", "consent": True},
                        timeout=30).status_code == 202
    assert browser.post(confirm_link(aws_endpoint, email), timeout=30).status_code == 200
    link = FORGET_LINK.findall(sent_mail(aws_endpoint, email)[-1]["body"])[-1]
    assert link.startswith(api)
    # A GET (a mail scanner's prefetch) shows the button and changes nothing
    page = browser.get(link, timeout=30)
    assert page.status_code == 200 and "<form method=post>" in page.text
    assert _export(api, admin, email)["member"]["email"] == email
    # The button's POST queues the erasure; the page says the same as for anyone
    pressed = browser.post(link, timeout=30)
    assert pressed.status_code == 200 and "request is received" in pressed.text
    assert _erasure_done(api, admin, email)["reason"] == "self_service"
    assert _export(api, admin, email)["empty"] is True
    entries = {e["action"]: e for e in _audit_entries(aws, email_hash(email, _pepper(aws)))}
    assert entries["person.erased"]["actor_sub"] == "system:self-service"
    # A damaged link is a 400 page, not an error
    assert browser.post(link[:-3] + "xyz", timeout=30).status_code == 400
    assert browser.get(f"{api}/d/nonsense", timeout=30).status_code == 400


def test_the_people_routes_are_for_admins_only_and_name_a_bad_email(api, marketer, admin):
    assert requests.get(f"{api}/people/export", headers=marketer, params={"email": "a@example.com"},
                        timeout=30).status_code == 403
    assert requests.delete(f"{api}/people", params={"email": "a@example.com"}, timeout=30).status_code == 401
    refused = requests.delete(f"{api}/people", headers=admin, params={"email": "nope"}, timeout=30)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "email"
