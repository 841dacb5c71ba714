"""Issue 13, mail bombing through POST /joins: confirmation mails per mailbox, per source network and for the
whole account, through the real handlers against the emulator (mails read back from moto's SES).

Each test runs in a clock hour of its own (a fake clock): the per-hour counters live in the session's table.
"""

import json
import random
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from attract.aws import from_item
from attract.identity import email_hash
from attract.joins.limits import requester
from attract.joins.logic import JoinPolicy, submit_join
from attract.joins.models import JoinRequest
from attract.joins.repository import MemberRepository
from attract.signing import Signer
from attract.tracking.repository import TouchRepository
from tests.support import FakeLambdaContext, confirm_event, load_event, with_body

ANSWER = (202, '{"status":"pending"}')


def _hour() -> datetime:
    """Ten past a clock hour no other test uses."""
    return datetime(2031, 1, 1, 0, 10, tzinfo=timezone.utc) + timedelta(hours=random.randrange(200_000))


@pytest.fixture
def load(function_env, monkeypatch):
    """load(logical_id, now, **limits) -> the function's module with those limits and a fixed clock."""
    from attract import settings

    def loader(logical_id: str, now: datetime, **limits: int):
        module = function_env(logical_id)
        for name, value in limits.items():
            monkeypatch.setenv(name, str(value))
        settings.load_settings.cache_clear()
        module._stores.cache_clear()
        monkeypatch.setattr(module, "utc_now", lambda: now)
        return module

    return loader


def _join(joins, email: str, ip: str) -> tuple:
    """POST /joins from `ip`: the raw answer (status, body, headers)."""
    event = with_body(load_event("joins/join"), {"email": email, "name": "N", "consent": True})
    event["requestContext"]["http"]["sourceIp"] = ip
    response = joins.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response["body"], json.dumps(response.get("headers"), sort_keys=True)


def _mails(local_aws, addresses: list[str]) -> list[dict]:
    """What moto's SES accepted for any of `addresses`, read once."""
    wanted = {address.lower() for address in addresses}
    data = requests.get(f"{local_aws.endpoint}/moto-api/data.json", timeout=60).json()
    return [m for m in (data.get("ses") or {}).get("Message", [])
            if wanted & {to.lower() for to in m["destinations"].get("ToAddresses", [])}]


def test_plus_tags_and_gmail_dots_mail_one_mailbox_once_an_hour(load, local_aws):
    # Finding: victim+1@, victim+2@ … each got a confirmation (41 mails in one mailbox in 2 seconds)
    now = _hour()
    joins = load("JoinsFunction", now)
    user = f"victim{uuid.uuid4().hex[:8]}"
    tagged = [f"{user}+{n}@example.com" for n in range(1, 51)]
    answers = {_join(joins, address, "198.51.100.40") for address in tagged}
    # Then one mail reaches the mailbox, and the 50 answers are one and the same
    assert len(_mails(local_aws, tagged)) == 1 and len(answers) == 1 and next(iter(answers))[:2] == ANSWER
    # And Gmail's dots and googlemail.com are the same mailbox too
    gmail = [f"{'.'.join(user)}@gmail.com", f"{user.upper()}+x@googlemail.com", f"{user[:3]}.{user[3:]}+y@gmail.com"]
    assert {_join(joins, address, "198.51.100.41")[:2] for address in gmail} == {ANSWER}
    assert len(_mails(local_aws, gmail)) == 1
    # An hour later the mailbox may get one more (the mail still goes to the address typed)
    later = load("JoinsFunction", now + timedelta(hours=1, minutes=1))
    assert _join(later, tagged[7], "198.51.100.40")[:2] == ANSWER
    (mail,) = _mails(local_aws, [tagged[7]])
    assert mail["destinations"]["ToAddresses"] == [tagged[7]]


def test_one_network_gets_its_hourly_mails_then_202s_without_mail(load, local_aws):
    now = _hour()
    joins = load("JoinsFunction", now, JOIN_MAILS_PER_SOURCE_HOUR=3)
    run = uuid.uuid4().hex[:8]
    ipv4 = [f"v4-{n}-{run}@example.com" for n in range(6)]
    assert {_join(joins, address, "192.0.2.10")[:2] for address in ipv4} == {ANSWER}
    assert [m["destinations"]["ToAddresses"][0] for m in _mails(local_aws, ipv4)] == ipv4[:3]
    # An IPv6 client counts by its /64: rotating the host part does not help
    ipv6 = [f"v6-{n}-{run}@example.com" for n in range(6)]
    prefix = f"2001:db8:{random.randrange(0xffff):x}:{random.randrange(0xffff):x}"
    assert {_join(joins, address, f"{prefix}::{n + 1:x}")[:2] for n, address in enumerate(ipv6)} == {ANSWER}
    assert len(_mails(local_aws, ipv6)) == 3
    # Another network is not held back, and the first one mails again in the next hour
    assert _join(joins, f"other-{run}@example.com", "192.0.2.11")[:2] == ANSWER
    assert len(_mails(local_aws, [f"other-{run}@example.com"])) == 1
    later = load("JoinsFunction", now + timedelta(hours=1), JOIN_MAILS_PER_SOURCE_HOUR=3)
    assert _join(later, ipv4[5], "192.0.2.10")[:2] == ANSWER
    assert len(_mails(local_aws, [ipv4[5]])) == 1
    # No raw address of either network is stored: the counters are keyed by a keyed hash
    items = local_aws.client("dynamodb").query(
        TableName=local_aws.refs["AttractTable"], KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"MAILLIMIT#source#{requester('x@example.com', '192.0.2.10', _pepper(local_aws)).source}"}},
    )["Items"]
    assert len(items) == 2 and "192.0.2" not in json.dumps(items)


def _pepper(local_aws) -> str:
    return local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]


def test_the_answer_is_byte_identical_whichever_limit_applied(load, local_aws):
    now = _hour()
    joins = load("JoinsFunction", now, JOIN_MAILS_PER_SOURCE_HOUR=2, JOIN_MAILS_PER_HOUR=3)
    run = uuid.uuid4().hex[:8]
    first, second, third, fourth, fifth = (f"{name}-{run}@example.com" for name in ("a", "b", "c", "d", "e"))
    answers = {
        "new": _join(joins, first, "203.0.113.1"),
        "same mailbox": _join(joins, f"a-{run}+again@example.com", "203.0.113.1"),
        "new, second of the network": _join(joins, second, "203.0.113.1"),
        "network over its limit": _join(joins, third, "203.0.113.1"),
        "new, other network": _join(joins, fourth, "203.0.113.2"),
        "account over its cap": _join(joins, fifth, "203.0.113.3"),
    }
    assert len(set(answers.values())) == 1 and answers["new"][:2] == ANSWER, answers
    mailed = {m["destinations"]["ToAddresses"][0] for m in _mails(local_aws, [first, second, third, fourth, fifth,
                                                                               f"a-{run}+again@example.com"])}
    assert mailed == {first, second, fourth}


def _record_deferrals(local_aws, queued: list[dict]) -> None:
    """Keep each message the loaded function sends to JoinMailQueue (its SQS client is new after each load)."""
    from attract import aws

    aws.client("sqs").meta.events.register(
        "provide-client-params.sqs.SendMessage",
        lambda params, **_: queued.append(params) if params["QueueUrl"] == local_aws.refs["JoinMailQueue"] else None)


def test_above_the_account_cap_joins_are_held_and_mailed_in_a_later_hour(load, local_aws):
    now = _hour()
    joins = load("JoinsFunction", now, JOIN_MAILS_PER_HOUR=2)
    queued: list[dict] = []
    _record_deferrals(local_aws, queued)
    run = uuid.uuid4().hex[:8]
    emails = [f"cap-{n}-{run}@example.com" for n in range(3)]
    # When three people join in an hour whose cap is two
    assert {_join(joins, email, f"198.51.100.{60 + n}")[:2] for n, email in enumerate(emails)} == {ANSWER}
    # Then two are mailed; the third is held and its mail queued (delayed), naming the pending join, not the address
    assert {m["destinations"]["ToAddresses"][0] for m in _mails(local_aws, emails)} == set(emails[:2])
    (message,) = queued
    body = json.loads(message["MessageBody"])
    assert emails[2] not in message["MessageBody"] and body["email_hash"] == email_hash(emails[2], _pepper(local_aws))
    assert message["DelaySeconds"] == 900  # the next hour is 50 minutes away: SQS's longest delay
    pending = from_item(local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{body['email_hash']}"}, "SK": {"S": "PENDING"}})["Item"])
    assert pending["email"] == emails[2] and pending["nonce"] == body["nonce"]
    # When the queue delivers it within the same hour: still capped, queued again, nothing sent
    event = load_event("joins/deferred_mail")
    event["Records"][0]["body"] = message["MessageBody"]
    mailer = load("JoinMailerFunction", now + timedelta(minutes=15), JOIN_MAILS_PER_HOUR=2)
    _record_deferrals(local_aws, queued)
    assert mailer.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(queued) == 2 and queued[1]["MessageBody"] == message["MessageBody"]
    assert queued[1]["DelaySeconds"] == 900  # 35 minutes to the next hour: SQS's longest delay, then another hop
    assert _mails(local_aws, [emails[2]]) == []
    # When it is delivered in the next hour: sent, once (a redelivery sends nothing more)
    mailer = load("JoinMailerFunction", now + timedelta(hours=1), JOIN_MAILS_PER_HOUR=2)
    for _ in range(2):
        assert mailer.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    (mail,) = _mails(local_aws, [emails[2]])
    # And its link confirms the join
    link = mail["body"].split("/joins/confirm/")[1].split()[0]
    confirmer = load("JoinsFunction", now + timedelta(hours=1, minutes=5))
    response = confirmer.lambda_handler(confirm_event(f"/joins/confirm/{link}"), FakeLambdaContext())
    assert response["statusCode"] == 200 and "You're in" in response["body"]


def test_fifty_racing_submissions_stay_within_every_limit(local_aws):
    # 50 requests at once (threads against the emulator, the repository's own transactions): the conditions hold
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    members, touches = MemberRepository(table, dynamodb=dynamodb), TouchRepository(table, dynamodb=dynamodb)
    policy, signer, now = JoinPolicy(mails_per_source_hour=5, mails_per_hour=1_000_000), Signer("race-key"), _hour()
    sent: list[str] = []

    class Mail:
        def send(self, to, subject, text):
            sent.append(to)

    def race(emails: list[str], ip: str) -> list[str]:
        barrier, outcomes = threading.Barrier(len(emails)), []

        def one(email: str) -> None:
            request = JoinRequest.model_validate({"email": email, "name": "R", "consent": True})
            barrier.wait()
            outcomes.append(submit_join(request, email_hash(request.email, "pepper"), now, policy, signer,
                                        "https://go.example", touches, members, Mail(),
                                        requester=requester(request.email, ip, "pepper")))

        threads = [threading.Thread(target=one, args=(email,)) for email in emails]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    user = f"race{uuid.uuid4().hex[:8]}"
    same_mailbox = race([f"{user}+{n}@example.com" for n in range(50)], "198.51.100.90")
    assert same_mailbox.count("mailed") == 1 and len(sent) == 1
    sent.clear()
    distinct = race([f"{user}-{n}@example.com" for n in range(50)], "198.51.100.91")
    assert distinct.count("mailed") == 5 == len(sent) and set(distinct) == {"mailed", "source_limited"}
