"""The invite campaign API over HTTP through the local stack, as a marketer's client uses it (sqlite is allowed here)."""

import json
import sqlite3
import uuid

import boto3
import requests

PEOPLE = [(1, "ada@example.com", "Ada", 1), (2, "bad-email", "Bad", 1), (3, "linus@example.com", "Linus", 0),
          (4, "grace@example.com", "Grace", 1), (5, "margaret@example.com", "Margaret", 1)]


def _ats(tmp_path) -> str:
    path = tmp_path / "ats.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, consent INTEGER)")
        connection.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?)", PEOPLE)
    return str(path)


def test_a_marketer_creates_previews_runs_and_schedules_a_campaign(api, aws_endpoint, marketer, recruiter, tmp_path,
                                                                    verified_sender):
    body = {"name": f"E2E invites {uuid.uuid4().hex[:6]}", "destination": "https://careers.example.com/community",
            "source": {"kind": "sqlite", "path": _ats(tmp_path), "table": "candidates"},
            "mapping": {"email": "email", "first_name": "first_name", "consent": "consent", "external_id": "id"},
            "subject": "{{first_name}}, join us", "text": "Hello {{first_name}}: {{invite_url}}",
            "sender": {"from": "Acme Careers <careers@acme.example>", "postal_address": "1 Main Street, Springfield"}}
    assert requests.post(f"{api}/invite-campaigns", json=body, headers=recruiter).status_code == 403
    assert requests.post(f"{api}/invite-campaigns", json=body).status_code == 401
    created = requests.post(f"{api}/invite-campaigns", json=body, headers=marketer)
    assert created.status_code == 201, created.text
    campaign = created.json()
    base = f"{api}/invite-campaigns/{campaign['id']}"
    assert requests.get(base, headers=marketer).json()["link_code"] == campaign["link_code"]

    preview = requests.post(f"{base}/preview", headers=marketer)
    assert preview.status_code == 200, preview.text
    assert [m["to"] for m in preview.json()["messages"]] == ["ada@example.com", "grace@example.com",
                                                             "margaret@example.com"]
    assert preview.json()["skipped"] == {"invalid_email": 1, "no_consent": 1}
    assert f"/r/{campaign['link_code']}?tc_inv=" in preview.json()["messages"][0]["text"]

    started = requests.post(f"{base}/runs", headers=marketer)
    assert started.status_code == 202, started.text
    run = requests.get(f"{base}/runs/{started.json()['run_id']}", headers=marketer)
    assert run.status_code == 200 and run.json()["status"] in ("planning", "sending", "done")
    assert requests.get(f"{base}/runs/r-unknown", headers=marketer).status_code == 404

    put = requests.put(f"{base}/schedule", json={"expression": "cron(0 9 ? * MON *)", "timezone": "Europe/Berlin"},
                       headers=marketer)
    assert put.status_code == 200, put.text
    scheduler = boto3.client("scheduler", endpoint_url=aws_endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    found = scheduler.get_schedule(Name=f"invite-{campaign['id']}")
    assert found["ScheduleExpression"] == "cron(0 9 ? * MON *)"
    assert json.loads(found["Target"]["Input"])["campaign_id"] == campaign["id"]
    assert requests.delete(f"{base}/schedule", headers=marketer).status_code == 204
    assert requests.get(base, headers=marketer).json()["schedule"] is None


def test_fifty_racing_identical_creates_make_one_campaign(api, marketer, tmp_path, verified_sender):
    from concurrent.futures import ThreadPoolExecutor

    body = {"name": f"E2E race {uuid.uuid4().hex[:6]}", "destination": "https://careers.example.com/community",
            "source": {"kind": "sqlite", "path": _ats(tmp_path), "table": "candidates"},
            "mapping": {"email": "email", "consent": "consent"}, "subject": "Join us", "text": "{{invite_url}}",
            "sender": {"from": "careers@acme.example", "postal_address": "1 Main Street, Springfield"}}
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: requests.post(f"{api}/invite-campaigns", json=body, headers=marketer,
                                                        timeout=60), range(50)))
    # Every answer is the campaign or "still being processed" (409, retry); never a second campaign or a 5xx
    assert {a.status_code for a in answers} <= {201, 409}, {a.status_code: a.text for a in answers}
    created = {(a.json()["id"], a.json()["link_code"]) for a in answers if a.status_code == 201}
    assert len(created) == 1
    retried = requests.post(f"{api}/invite-campaigns", json=body, headers=marketer, timeout=60)
    assert retried.status_code == 201 and (retried.json()["id"], retried.json()["link_code"]) in created


def test_racing_run_starts_make_one_run_and_a_repeated_key_gets_it_back(api, marketer, tmp_path, verified_sender):
    from concurrent.futures import ThreadPoolExecutor

    body = {"name": f"E2E run race {uuid.uuid4().hex[:6]}", "destination": "https://careers.example.com/community",
            "source": {"kind": "sqlite", "path": _ats(tmp_path), "table": "candidates"},
            "mapping": {"email": "email", "consent": "consent"}, "subject": "Join us", "text": "{{invite_url}}",
            "sender": {"from": "careers@acme.example", "postal_address": "1 Main Street, Springfield"}}
    created = requests.post(f"{api}/invite-campaigns", json=body, headers=marketer, timeout=60)
    assert created.status_code == 201, created.text
    runs = f"{api}/invite-campaigns/{created.json()['id']}/runs"
    key = {**marketer, "Idempotency-Key": f"double-click-{uuid.uuid4().hex}"}
    # Twenty clients racing to start a run with one key (a double click, a retried timeout)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: requests.post(runs, headers=key, timeout=60), range(20)))
    # Every answer is that one run, or 409 "still being processed"; never a second run or a 5xx
    assert {a.status_code for a in answers} <= {202, 409}, {a.status_code: a.text for a in answers}
    started = {a.json()["run_id"] for a in answers if a.status_code == 202}
    assert len(started) == 1
    assert {a.json().get("run_id", a.json()["message"]) for a in answers if a.status_code == 409} <= started | {
        "The same request is still being processed; retry shortly"}
    # And a later retry with the key answers the same run, whatever state it is in now
    again = requests.post(runs, headers=key, timeout=60)
    assert again.status_code == 202 and again.json()["run_id"] in started
