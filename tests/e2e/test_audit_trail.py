"""Issue 15's audit trail over the local stack: a marketer's profile, invite campaign and schedule are found by an
admin's GET /audit by actor and by object, page by page; nobody else may read the trail."""

import json
import sqlite3
import time
import uuid

import requests

from attract_local.auth import mint_token


def _ats(tmp_path) -> str:
    path = tmp_path / "audit-ats.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, email TEXT, consent INTEGER)")
    return str(path)


def _walk(api: str, admin: dict, **params) -> list[dict]:
    """Every entry of the query, following next_cursor."""
    entries: list[dict] = []
    cursor = None
    for _ in range(100):
        answer = requests.get(f"{api}/audit", headers=admin, params={**params, **({"cursor": cursor} if cursor else {})},
                              timeout=30)
        assert answer.status_code == 200, answer.text
        entries.extend(answer.json()["entries"])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return entries
    raise AssertionError("the pages never ended")


def test_an_admin_finds_who_changed_what_and_nobody_else_reads_the_trail(api, stack, admin, recruiter, marketer,
                                                                         tmp_path, verified_sender):
    # A marketer of their own (a sub nobody else in the session uses)
    sub = str(uuid.uuid4())
    mine = {"Authorization": "Bearer " + mint_token(["marketers"], subject=sub)}
    tag = uuid.uuid4().hex[:8]
    profile = requests.post(f"{api}/profiles", json={"name": f"Audit {tag}", "skills": {"required": ["python"]},
                                                     "places": [{"remote": True}]}, headers=mine, timeout=30)
    assert profile.status_code == 201, profile.text
    campaign = requests.post(f"{api}/invite-campaigns", headers=mine, timeout=30, json={
        "name": f"Audit invites {tag}", "destination": "https://careers.example.com/community",
        "source": {"kind": "sqlite", "path": _ats(tmp_path), "table": "candidates"},
        "mapping": {"email": "email", "consent": "consent", "external_id": "id"},
        "subject": "Join us", "text": "Hello: {{invite_url}}",
        "sender": {"from": "Acme Careers <careers@acme.example>", "postal_address": "1 Main Street, Springfield"}})
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    schedule = requests.put(f"{api}/invite-campaigns/{campaign_id}/schedule", headers=mine, timeout=30,
                            json={"expression": "cron(0 9 ? * MON *)", "timezone": "Europe/Berlin"})
    assert schedule.status_code == 200, schedule.text

    # The admin finds the three changes by the marketer's sub, newest first, with the marketer as actor
    by_actor = _walk(api, admin, actor=sub)
    assert [(e["action"], e["object_id"]) for e in by_actor] == [
        ("invite_campaign.schedule_set", campaign_id), ("invite_campaign.create", campaign_id),
        ("profile.create", profile.json()["id"])]
    assert {(e["actor"]["sub"], e["actor"]["username"]) for e in by_actor} == {(sub, sub)}
    assert all(e["request_digest"].startswith("sha256:") for e in by_actor)
    assert by_actor[0]["details"] == {"expression": "cron(0 9 ? * MON *)", "timezone": "Europe/Berlin"}
    assert "@" not in str(by_actor)  # the sender's address is recorded by its domain only
    # And by object: a profile's whole life, each change by whoever made it
    profile_id = profile.json()["id"]
    recruiter_sub = str(uuid.uuid4())
    theirs = {"Authorization": "Bearer " + mint_token(["recruiters"], subject=recruiter_sub)}
    replaced = requests.put(f"{api}/profiles/{profile_id}", headers=theirs, timeout=30, json={
        "name": f"Audit {tag} v2", "skills": {"required": ["python", "sql"]}, "places": [{"remote": True}]})
    assert replaced.status_code == 200, replaced.text
    assert requests.delete(f"{api}/profiles/{profile_id}", headers=mine, timeout=30).status_code == 204
    assert requests.delete(f"{api}/profiles/{profile_id}", headers=mine, timeout=30).status_code == 404  # no entry
    by_object = _walk(api, admin, object_type="profile", object_id=profile_id)
    assert [(e["action"], e["actor"]["sub"]) for e in by_object] == [
        ("profile.delete", sub), ("profile.replace", recruiter_sub), ("profile.create", sub)]
    assert by_object[1]["details"]["version"] == 2 and by_object[0]["details"] == {}
    # One entry a page walks the same entries, each once
    by_actor = _walk(api, admin, actor=sub)
    assert [e["action"] for e in by_actor] == ["profile.delete", "invite_campaign.schedule_set",
                                               "invite_campaign.create", "profile.create"]
    paged = _walk(api, admin, actor=sub, limit=1)
    assert [e["id"] for e in paged] == [e["id"] for e in by_actor]
    # Every entry of the last days, one page at a time: no repeats, and ours among them
    everything = _walk(api, admin, limit=7)
    ids = [e["id"] for e in everything]
    assert len(ids) == len(set(ids)) and {e["id"] for e in by_actor} <= set(ids)
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)

    # A run started by the marketer: its start by them, its end (nothing to plan in an empty table) by the planner,
    # once each, with the counts
    run = requests.post(f"{api}/invite-campaigns/{campaign_id}/runs", headers=mine, timeout=30)
    assert run.status_code == 202, run.text
    run_object = f"{campaign_id}/{run.json()['run_id']}"
    deadline = time.monotonic() + 30
    while len(run_entries := _walk(api, admin, object_type="invite_run", object_id=run_object)) < 2:
        assert time.monotonic() < deadline, run_entries
        time.sleep(0.3)
    time.sleep(1)  # a second end entry, if any were written, would be there by now
    run_entries = _walk(api, admin, object_type="invite_run", object_id=run_object)
    assert [(e["action"], e["actor"]["sub"]) for e in run_entries] == [
        ("invite_run.done", "system:invite-planner"), ("invite_run.start", sub)]
    assert run_entries[0]["details"]["counts"]["planned"] == 0 and run_entries[1]["details"]["trigger"] == "api"

    # A firing of the campaign's schedule (the message EventBridge Scheduler sends): started by the scheduler
    aws = stack[0]
    aws.client("sqs").send_message(QueueUrl=aws.refs["InvitePlanQueue"], MessageBody=json.dumps(
        {"campaign_id": campaign_id, "scheduled_at": "2026-12-07T08:00:00Z"}))
    scheduled = f"{campaign_id}/s-20261207T080000Z"
    deadline = time.monotonic() + 30
    while len(fired := _walk(api, admin, object_type="invite_run", object_id=scheduled)) < 2:
        assert time.monotonic() < deadline, fired
        time.sleep(0.3)
    assert [(e["action"], e["actor"]["sub"], e["details"]["trigger"]) for e in fired] == [
        ("invite_run.done", "system:invite-planner", "schedule"), ("invite_run.start", "system:scheduler", "schedule")]

    # Nobody but admins reads the trail; bad input is a 422 naming the field
    assert requests.get(f"{api}/audit", headers=recruiter, timeout=30).status_code == 403
    assert requests.get(f"{api}/audit", headers=marketer, timeout=30).status_code == 403
    assert requests.get(f"{api}/audit", timeout=30).status_code == 401
    tampered = requests.get(f"{api}/audit", headers=admin, params={"actor": sub, "cursor": "x.1.y"}, timeout=30)
    assert tampered.status_code == 422 and tampered.json()["errors"][0]["field"] == "cursor"
    both = requests.get(f"{api}/audit", headers=admin, timeout=30,
                        params={"actor": sub, "object_type": "profile", "object_id": "p"})
    assert both.status_code == 422 and both.json()["errors"][0]["rule"] == "one_filter"
    assert requests.get(f"{api}/audit", headers=admin, params={"limit": 101}, timeout=30).status_code == 422
