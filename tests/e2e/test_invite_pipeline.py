"""Schedule -> plan queue -> planner -> invites queue -> sender -> SES, run by the local stack by itself.

Nothing is invoked by the test: an EventBridge Scheduler schedule targets the stack's plan queue (as the
invite API creates them), the stack's scheduler sends its Input there, and the SQS pollers run the planner
and the sender in their own worker processes with the template's environment.
"""

import json
import sqlite3
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import requests

from attract.invites.campaign_repository import CampaignRepository
from attract.invites.campaigns import InviteCampaign
from attract.invites.run_repository import RunRepository

MAPPING = {"email": "email", "first_name": "first_name", "consent": "consent", "updated_at": "updated_at",
           "external_id": "id"}


def _ats(path, domain: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE candidates (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, "
                           "consent INTEGER, updated_at TEXT)")
        connection.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?, ?)", [
            (1, f"ada@people.{domain}", "Ada", 1, "2026-01-01T00:00:00Z"),
            (2, f"grace@people.{domain}", "Grace", 1, "2026-01-02T00:00:00Z"),
            (3, f"linus@people.{domain}", "Linus", 0, "2026-01-03T00:00:00Z"),
            (4, f" ADA@people.{domain} ", "Ada", 1, "2026-01-04T00:00:00Z")])


def _received(endpoint: str, domain: str) -> Counter:
    from email import policy
    from email.parser import BytesParser

    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=60).json()
    counts: Counter = Counter()
    for message in (data.get("ses") or {}).get("RawMessage", []):
        parsed = BytesParser(policy=policy.default).parsebytes(message["raw_data"].encode())
        for address in parsed["To"].addresses:
            if address.domain == f"people.{domain}":
                counts[address.username] += 1
    return counts


def test_a_scheduled_campaign_runs_through_planner_and_sender_to_done(stack, tmp_path):
    # Given a campaign on a local SQLite "ATS" (a verified sender domain) and its schedule on the plan queue
    aws, _ = stack
    domain = f"pipe-{uuid.uuid4().hex[:8]}.example"
    aws.client("sesv2").create_email_identity(EmailIdentity=domain)
    _ats(tmp_path / "ats.db", domain)
    campaign_id = "c" + uuid.uuid4().hex[:12]
    table = aws.refs["AttractTable"]
    CampaignRepository(table, aws.client("dynamodb")).create(InviteCampaign.model_validate({
        "id": campaign_id, "name": "Pipeline", "destination": "https://careers.example.com/community",
        "source": {"kind": "sqlite", "path": str(tmp_path / "ats.db"), "table": "candidates"},
        "mapping": MAPPING, "subject": "{{first_name}}, join us", "text": "Hello {{first_name}}: {{invite_url}}",
        "sender": {"from": f"Acme <careers@{domain}>", "postal_address": "1 Main Street, Springfield"},
        "link_code": "pipe01", "created_at": datetime.now(UTC)}))
    due = datetime.now(UTC) + timedelta(seconds=2)
    aws.client("scheduler").create_schedule(
        Name=f"invite-{campaign_id}", GroupName="default", ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="NONE",
        Target={"Arn": aws.attrs[("InvitePlanQueue", "Arn")], "RoleArn": aws.attrs[("InviteSchedulerRole", "Arn")],
                "Input": json.dumps({"campaign_id": campaign_id, "scheduled_at": "<aws.scheduler.scheduled-time>"})})
    # When the stack runs by itself until the run is done
    run_id = f"s-{due:%Y%m%dT%H%M%S}Z"
    runs = RunRepository(table, aws.client("dynamodb"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = runs.get(campaign_id, run_id)
        if run and run.get("status") == "done":
            break
        time.sleep(0.5)
    # Then ada and grace got one invitation each; the run is done with its counts
    status = RunRepository.to_response(runs.get(campaign_id, run_id) or {"SK": "RUN#missing"})
    assert status.status == "done" and status.trigger == "schedule", status
    assert status.counts.model_dump() == {"rows": 4, "planned": 2, "sent": 2, "failed": 0,
                                          "skipped": {"no_consent": 1, "duplicate": 1}}
    assert status.progress.model_dump(exclude={"per_minute"}) == {"done": 2, "total": 2}
    assert status.estimated_done_at is None  # done: nothing left to estimate
    assert _received(aws.endpoint, domain) == Counter({"ada": 1, "grace": 1})
    aws.client("scheduler").delete_schedule(Name=f"invite-{campaign_id}")
