"""The invitation sender against real moto queues, the test playing the poller (receive, invoke, delete
per the batch response, let visibility expire), and the recipients moto's SES actually received.

Every count <= 1, every good invitation exactly 1, the poison message in the DLQ.
"""

import json
import re
import time
import uuid
from collections import Counter
from datetime import datetime
from email import policy
from email.parser import BytesParser

import pytest
import requests

from attract.aws import from_item
from attract.clock import iso
from attract.identity import email_hash
from tests.integration.conftest import VISIBILITY
from tests.raw_mail import check_invitation
from tests.support import FakeLambdaContext, load_event


class HardKill(BaseException):
    """What a Lambda timeout or OOM does to the handler: no `except Exception` cleanup runs."""


def job(domain: str, person: str, campaign: str = "alumni", **changes) -> dict:
    body = load_event("invites/job")
    body["campaign_id"] = campaign
    body["recipient"]["email"] = f"{person}@people.{domain}"
    body["sender"]["from"] = f"Acme Careers <careers@{domain}>"
    body["sender"]["reply_to"] = f"careers@{domain}"
    body.update(changes)
    return body


def poll_once(sender, sqs, queue) -> tuple[int, list[str]]:
    """One poll as Lambda's event-source mapping does it: the records received, and the failed ids."""
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    if not messages:
        return 0, []
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                          "awsRegion": "us-east-1"} for m in messages]}
    response = sender.lambda_handler(event, FakeLambdaContext())
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    for m in messages:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return len(messages), failed


def drain(sender, sqs, queue, rounds: int = 8) -> None:
    """Poll until the queue is empty (failed messages come back after the visibility timeout)."""
    for _ in range(rounds):
        poll_once(sender, sqs, queue)
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
            return
        time.sleep(VISIBILITY + 0.2)


def received(local_aws, domain: str) -> Counter:
    """How many messages SES accepted per recipient of `domain`, read from the emulator's state."""
    data = requests.get(f"{local_aws.endpoint}/moto-api/data.json", timeout=60).json()
    counts: Counter = Counter()
    for message in (data.get("ses") or {}).get("RawMessage", []):
        parsed = BytesParser(policy=policy.default).parsebytes(message["raw_data"].encode())
        for address in parsed["To"].addresses:
            if address.domain == f"people.{domain}":
                counts[address.username] += 1
    return counts


def raw_messages(local_aws, to: str) -> list:
    data = requests.get(f"{local_aws.endpoint}/moto-api/data.json", timeout=60).json()
    found = [BytesParser(policy=policy.default).parsebytes(m["raw_data"].encode())
             for m in (data.get("ses") or {}).get("RawMessage", [])]
    return [m for m in found if str(m["To"]) == to]


def claim(local_aws, campaign: str, address: str) -> dict | None:
    pepper = local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"INVITE_SEND#{campaign}#{email_hash(address, pepper)}"}, "SK": {"S": "SEND"}}).get("Item")
    return from_item(item) if item else None


def run_counts(local_aws, campaign: str, run: str = "run-2026-11-26") -> dict:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"INVITE_RUN#{campaign}"}, "SK": {"S": f"RUN#{run}"}}).get("Item")
    return {k: int(v) for k, v in from_item(item).items() if not isinstance(v, str)} if item else {}


def test_a_duplicate_from_the_producer_sends_once(sender, queues, domain, local_aws):
    sqs, queue, _ = queues
    campaign = f"dup-{uuid.uuid4().hex[:6]}"
    for body in (job(domain, "ada", campaign), job(domain, "ada", campaign), job(domain, "alan", campaign)):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {"ada": 1, "alan": 1}
    marked = claim(local_aws, campaign, f"ada@people.{domain}")
    assert marked["status"] == "SENT" and marked["message_id"]
    # A later redelivery of a sent job (another duplicate) still sends nothing
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "ada", campaign)))
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {"ada": 1, "alan": 1}
    assert run_counts(local_aws, campaign) == {"sent": 2, "duplicate": 2}  # every job has one outcome


def test_a_failure_before_the_send_releases_the_claim_and_the_retry_sends_once(sender, queues, local_aws):
    sqs, queue, _ = queues
    domain = f"late-{uuid.uuid4().hex[:8]}.example"  # not verified yet: SES rejects before accepting
    campaign = f"tr-{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "grace", campaign)))
    count, failed = poll_once(sender, sqs, queue)
    assert count == 1 and len(failed) == 1
    assert claim(local_aws, campaign, f"grace@people.{domain}") is None  # released: MessageRejected precedes acceptance
    local_aws.client("sesv2").create_email_identity(EmailIdentity=domain)
    time.sleep(VISIBILITY + 0.2)
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {"grace": 1}
    assert claim(local_aws, campaign, f"grace@people.{domain}")["status"] == "SENT"


def cooldown(local_aws, address: str) -> dict | None:
    pepper = local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"COOLDOWN#{email_hash(address, pepper)}"}, "SK": {"S": "COOLDOWN"}}).get("Item")
    return from_item(item) if item else None


def test_a_send_ses_refuses_gives_the_persons_cooldown_back_as_it_was(sender, queues, domain, local_aws):
    # Given a person another campaign invited 40 days ago, and a campaign whose sender SES refuses (not verified)
    sqs, queue, _ = queues
    person = f"kathleen@people.{domain}"
    pepper = local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    old = int(time.time()) - 40 * 86400
    local_aws.client("dynamodb").put_item(TableName=local_aws.refs["AttractTable"], Item={
        "PK": {"S": f"COOLDOWN#{email_hash(person, pepper)}"}, "SK": {"S": "COOLDOWN"}, "type": {"S": "cooldown"},
        "invited_at": {"N": str(old)}, "campaign_id": {"S": "older"}, "expires_at": {"N": str(old + 30 * 86400)}})
    refused = job(f"unverified-{uuid.uuid4().hex[:8]}.example", "kathleen", f"no-{uuid.uuid4().hex[:6]}")
    refused["recipient"]["email"] = person
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(refused))
    # When SES refuses it (MessageRejected)
    count, failed = poll_once(sender, sqs, queue)
    assert count == 1 and len(failed) == 1
    # Then the person's cooldown is the one before, untouched, and no claim is left
    assert cooldown(local_aws, person) == {"PK": f"COOLDOWN#{email_hash(person, pepper)}", "SK": "COOLDOWN",
                                           "type": "cooldown", "invited_at": old, "campaign_id": "older",
                                           "expires_at": old + 30 * 86400}
    assert claim(local_aws, refused["campaign_id"], person) is None
    # And a campaign SES accepts invites them now, not 30 days after an invitation never sent
    accepted = job(domain, "kathleen", f"yes-{uuid.uuid4().hex[:6]}")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(accepted))
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {"kathleen": 1}
    assert cooldown(local_aws, person)["campaign_id"] == accepted["campaign_id"]


def test_a_job_failing_on_its_last_receive_is_counted_failed_and_the_run_settles(sender, queues, local_aws):
    # Given a run that planned two jobs, one of them to a domain SES never accepts mail from
    from attract.invites.run_repository import RunRepository

    sqs, queue, dlq = queues
    campaign = f"fail-{uuid.uuid4().hex[:6]}"
    good, bad = f"ok-{uuid.uuid4().hex[:8]}.example", f"never-{uuid.uuid4().hex[:8]}.example"
    local_aws.client("sesv2").create_email_identity(EmailIdentity=good)
    table = local_aws.refs["AttractTable"]
    local_aws.client("dynamodb").put_item(TableName=table, Item={
        "PK": {"S": f"INVITE_RUN#{campaign}"}, "SK": {"S": "RUN#run-2026-11-26"}, "status": {"S": "sending"},
        "planned": {"N": "2"}})
    for domain in (good, bad):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "kim", campaign)))
    # When the sender polls until the queue is empty (the bad job is received three times)
    drain(sender, sqs, queue)
    # Then the bad job is in the DLQ and counted failed once, and with both outcomes the run is done
    assert len(sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])) == 1
    assert run_counts(local_aws, campaign) == {"sent": 1, "failed": 1, "planned": 2}
    assert RunRepository(table, local_aws.client("dynamodb")).get(campaign, "run-2026-11-26")["status"] == "done"


def test_a_poison_message_lands_in_the_dead_letter_queue(sender, queues, domain, local_aws):
    sqs, queue, dlq = queues
    campaign = f"poison-{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=queue, MessageBody="{not json")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({**job(domain, "x", campaign), "campaign_id": "a/b"}))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "edsger", campaign)))
    drain(sender, sqs, queue)
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(m["Body"][:9] for m in dead) == sorted(["{not json", json.dumps({"campaign_id": "a/b"})[:9]])
    assert received(local_aws, domain) == {"edsger": 1}  # the good one in the same batches: exactly once


def test_a_hard_kill_after_ses_accepted_never_resends_and_is_counted_for_reconciliation(sender, queues, domain,
                                                                                          local_aws):
    sqs, queue, _ = queues
    campaign = f"kill-{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "barbara", campaign)))
    ses_events = sender._stores()[2].sesv2.meta.events

    def die(**_):
        raise HardKill()

    ses_events.register("after-call.sesv2.SendEmail", die, unique_id="hard-kill")
    try:
        with pytest.raises(HardKill):
            poll_once(sender, sqs, queue)
    finally:
        ses_events.unregister("after-call.sesv2.SendEmail", unique_id="hard-kill")
    assert received(local_aws, domain) == {"barbara": 1}  # SES had accepted it
    assert claim(local_aws, campaign, f"barbara@people.{domain}")["status"] == "SENDING"
    time.sleep(VISIBILITY + 0.2)
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {"barbara": 1}
    assert claim(local_aws, campaign, f"barbara@people.{domain}")["status"] == "SENDING"
    assert run_counts(local_aws, campaign) == {"reconcile": 1}


def test_the_sent_message_carries_one_click_unsubscribe_and_the_postal_address(sender, queues, domain, local_aws):
    sqs, queue, _ = queues
    campaign = f"mime-{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "katherine", campaign)))
    drain(sender, sqs, queue)
    (message,) = raw_messages(local_aws, f"katherine@people.{domain}")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://go.acme.example/u/")
    text = message.get_body(("plain",)).get_content()
    assert "1 Main Street, Springfield" in text and message["List-Unsubscribe"][1:-1] in text
    assert "https://go.acme.example/r/inv-berlin?tc_inv=" in text


def sent_raw(local_aws, to: str) -> list[dict]:
    """moto's records of the raw messages SES accepted for `to`: {source, destinations, raw_data} (the bytes sent)."""
    data = requests.get(f"{local_aws.endpoint}/moto-api/data.json", timeout=60).json()
    to_line = re.compile(rf"^To: {re.escape(to)}\r?$", re.MULTILINE)
    return [m for m in (data.get("ses") or {}).get("RawMessage", []) if to_line.search(m["raw_data"])]


def test_the_raw_bytes_ses_received_read_strictly_whatever_the_row_holds(sender, queues, domain, local_aws):
    # Given a job whose first name hides a Bcc in an encoded word and a line separator, used in the subject
    sqs, queue, _ = queues
    campaign = f"raw-{uuid.uuid4().hex[:6]}"
    body = job(domain, "dorothy", campaign)
    body["recipient"]["first_name"] = "=?utf-8?q?Dot=0D=0ABcc:_spy@evil.example?=\u2028Bcc: spy2@evil.example"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    # When the sender sends it through SES
    drain(sender, sqs, queue)
    # Then the bytes SES received have one header block of printable ASCII fields, each once, no Bcc
    address = f"dorothy@people.{domain}"
    (message,) = sent_raw(local_aws, address)
    raw = message["raw_data"].encode()
    headers = check_invitation(raw)
    assert raw.isascii() and message["destinations"] == [address]  # SES found no other recipient in the headers
    assert headers["To"] == address and "Bcc" not in headers
    assert headers["Subject"] == ("= ?utf-8?q?Dot=0D=0ABcc:_spy@evil.example?= Bcc: spy2@evil.example, join our talent "
                                  "community")
    # And List-Unsubscribe is the plain one-click URL in the raw bytes, the one the body shows
    url = headers["List-Unsubscribe"][1:-1]
    assert url.startswith("https://go.acme.example/u/") and f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in raw
    assert url in BytesParser(policy=policy.default).parsebytes(raw).get_body(("plain",)).get_content()


def test_the_template_wires_the_queue_dlq_and_partial_batch_responses():
    from attract_local.cfn import load_template

    resources = load_template()["Resources"]
    queue = resources["InvitesQueue"]["Properties"]
    function = resources["InviteSenderFunction"]["Properties"]
    # A job must not come back while an earlier delivery may still be sending it
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    # Jobs carry addresses: encrypted with the stack's key (template.yaml, DataKey)
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3 and queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["InvitesDeadLetterQueue", "Arn"]}
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["BatchSize"] == 10
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_runs_progress_counts_each_job_once_and_estimates_the_finish_while_sending(sender, queues, domain,
                                                                                      local_aws):
    # Given a run that planned four invitations, two of them queued so far
    from attract.clock import utc_now
    from attract.invites.run_repository import RunRepository

    sqs, queue, _ = queues
    campaign = f"prog-{uuid.uuid4().hex[:6]}"
    table = local_aws.refs["AttractTable"]
    runs = RunRepository(table, local_aws.client("dynamodb"))
    local_aws.client("dynamodb").put_item(TableName=table, Item={
        "PK": {"S": f"INVITE_RUN#{campaign}"}, "SK": {"S": "RUN#run-2026-11-26"}, "status": {"S": "sending"},
        "planned": {"N": "4"}})
    for person in ("ada", "alan"):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, person, campaign)))
    # When the sender has sent them, and ada's job is delivered again (the planner's copy after a resume)
    drain(sender, sqs, queue)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "ada", campaign)))
    drain(sender, sqs, queue)
    # Then two of four are done (the duplicate is counted, but not as progress), and the finish is projected
    item = runs.get(campaign, "run-2026-11-26")
    assert run_counts(local_aws, campaign) == {"planned": 4, "sent": 2, "duplicate": 1}
    now = utc_now()
    status = RunRepository.to_response(item, now)
    assert status.status == "sending"
    assert (status.progress.done, status.progress.total) == (2, 4)
    first = datetime.fromisoformat(item["first_outcome_at"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(item["last_outcome_at"].replace("Z", "+00:00"))
    assert first <= last <= now
    if last > first:  # two sends, one interval apart: two more intervals after the last, unless that is past
        assert status.estimated_done_at == iso(max(last + 2 * (last - first), now))
        assert status.progress.per_minute == round(60 / (last - first).total_seconds(), 1)
    else:  # the same millisecond: no rate measured
        assert status.estimated_done_at is None and status.progress.per_minute is None
    # And when the other two are sent, the run is done: 4 of 4, nothing to estimate
    for person in ("grace", "kim"):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, person, campaign)))
    drain(sender, sqs, queue)
    done = RunRepository.to_response(runs.get(campaign, "run-2026-11-26") or {}, utc_now())
    assert done.status == "done" and done.progress.done == done.progress.total == 4
    assert done.estimated_done_at is None
    assert received(local_aws, domain) == {"ada": 1, "alan": 1, "grace": 1, "kim": 1}


def test_a_skipped_job_delivered_again_is_counted_once(sender, queues, domain, local_aws):
    # Given a person who unsubscribed after planning, and their job delivered three times (twice after it was
    # handled: the planner's copies after resumes)
    from attract.invites.run_repository import RunRepository

    sqs, queue, _ = queues
    campaign, person = f"once-{uuid.uuid4().hex[:6]}", f"edith@people.{domain}"
    pepper = local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    table = local_aws.refs["AttractTable"]
    local_aws.client("dynamodb").put_item(TableName=table, Item={
        "PK": {"S": f"SUPPRESS#{email_hash(person, pepper)}"}, "SK": {"S": "SUPPRESS"}, "type": {"S": "suppression"},
        "reason": {"S": "unsubscribe"}})
    local_aws.client("dynamodb").put_item(TableName=table, Item={
        "PK": {"S": f"INVITE_RUN#{campaign}"}, "SK": {"S": "RUN#run-2026-11-26"}, "status": {"S": "sending"},
        "planned": {"N": "2"}})
    for _ in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "edith", campaign)))
        drain(sender, sqs, queue)
    # Then it is one skipped job of two: the run is still sending, at 1 of 2
    runs = RunRepository(table, local_aws.client("dynamodb"))
    assert run_counts(local_aws, campaign) == {"planned": 2, "skipped_suppressed": 1}
    status = RunRepository.to_response(runs.get(campaign, "run-2026-11-26") or {})
    assert status.status == "sending" and (status.progress.done, status.progress.total) == (1, 2)
    assert received(local_aws, domain) == {}
