"""Consent lifetime through the local stack: join and confirm, the renewal job fired "as of" 24 months later
mails a renew link, its button renews; someone who does not renew is sent to the eraser after the grace.

A stack of this module's own: firing the job two years ahead asks every member of the stack to renew, and
then to be erased, which must not reach the members of the other e2e tests.
"""

import json
import re
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
import requests

from attract.aws import from_item
from attract.identity import email_hash
from attract.people.consent import add_months
from attract_local.gateway import start_local
from attract_local.mailbox import sent_invitations
from tests.e2e.conftest import FUNCTIONAL_LIMITS
from tests.support import join_and_confirm

JOB = "ConsentRenewalFunction.Daily"
RENEW_LINK = re.compile(r"(\S*/consent/[A-Za-z0-9_.-]+)")


@pytest.fixture(scope="module")
def consent_stack(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("consent") / "stack.log"
    with log_path.open("w") as log:
        aws, gateway = start_local(port=0, log=log, parameters=FUNCTIONAL_LIMITS)
        yield aws, gateway
        gateway.stop()
        aws.stop()


def _fire(api: str, at: datetime) -> dict:
    response = requests.post(f"{api}/_local/fire/{quote(JOB, safe='')}", params={"at": at.isoformat()}, timeout=120)
    response.raise_for_status()
    answer = response.json()
    assert answer["ok"] is True, answer
    return answer["result"]["counts"]


def _member(aws, email: str) -> dict | None:
    pepper = aws.client("secretsmanager").get_secret_value(SecretId=aws.refs["EmailPepperSecret"])["SecretString"]
    item = aws.client("dynamodb").get_item(TableName=aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(email, pepper)}"}, "SK": {"S": "MEMBER"}}).get("Item")
    return from_item(item) | {"email_hash": email_hash(email, pepper)} if item else None


def _renew_link(aws, email: str) -> str:
    mails = [m for m in sent_invitations(aws.endpoint, email) if "talent community" in m["Subject"]]
    assert len(mails) == 1, f"{len(mails)} renewal mails"
    return RENEW_LINK.search(mails[0].get_body(("plain",)).get_content()).group(1)


def _erasure_requests(aws, timeout_s: float = 10) -> list[dict]:
    sqs, found, deadline = aws.client("sqs"), [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=aws.refs["ErasureQueue"], MaxNumberOfMessages=10,
                                  WaitTimeSeconds=1).get("Messages", [])
        found += [json.loads(m["Body"]) for m in got]
        if found and not got:
            break
    return found


def _eraser_consumes(aws) -> bool:
    """Whether a function of the template reads ErasureQueue (the eraser, another part of issue 15)."""
    return any(event.get("Type") == "SQS" and "ErasureQueue" in json.dumps(event.get("Properties", {}))
               for resource in aws.template["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"
               for event in (resource["Properties"].get("Events") or {}).values())


def test_members_renew_with_one_click_and_who_does_not_is_sent_to_the_eraser(consent_stack):
    aws, gateway = consent_stack
    api, marker = gateway.url, uuid.uuid4().hex[:10]
    renewer, lapser = f"renewer-{marker}@example.com", f"lapser-{marker}@example.com"
    for email in (renewer, lapser):
        assert join_and_confirm(api, aws.endpoint, {"email": email, "name": "Ada", "consent": True}).status_code == 200
    joined = _member(aws, renewer)
    assert joined["consent"]["channel"] == "join_form" and joined["consent"]["text_version"] == "v1"
    confirmed_at = datetime.fromisoformat(joined["consent"]["confirmed_at"])

    # 24 months and a day later, the job mails each once (fired twice: still one mail each)
    mailed_at = add_months(confirmed_at, 24) + timedelta(days=1)
    assert _fire(api, mailed_at)["mailed"] == 2
    assert _fire(api, mailed_at + timedelta(hours=1)).get("mailed", 0) == 0
    link = _renew_link(aws, renewer)
    assert link.startswith(api + "/consent/")
    _renew_link(aws, lapser)

    # The link's page changes nothing; its button renews the consent
    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and "<form method=post>" in page.text
    assert _member(aws, renewer)["consent"]["confirmed_at"] == joined["consent"]["confirmed_at"]
    renewed = requests.post(link, timeout=30, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert renewed.status_code == 200 and "You stay" in renewed.text
    consent = _member(aws, renewer)["consent"]
    assert consent["channel"] == "renewal" and consent["confirmed_at"] > joined["consent"]["confirmed_at"]
    assert requests.post(link, timeout=30).status_code == 400  # used: nothing more to renew
    assert requests.get(f"{api}/consent/not-a-token", timeout=30).status_code == 400

    # Past the grace, without renewing: the lapser's erasure is requested, once; never the renewer's
    lapsed_hash = _member(aws, lapser)["email_hash"]
    assert _fire(api, mailed_at + timedelta(days=31))["erasure_requested"] == 1
    assert _fire(api, mailed_at + timedelta(days=32)).get("erasure_requested", 0) == 0
    if _eraser_consumes(aws):  # the eraser takes the message off the queue: its work is the proof
        deadline = time.monotonic() + 60
        while _member(aws, lapser) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _member(aws, lapser) is None and _member(aws, renewer) is not None
    else:
        (request,) = _erasure_requests(aws)
        assert request["email_hash"] == lapsed_hash and request["reason"] == "consent_expired"
        assert request["actor"]["sub"] == "system:consent-renewal"
