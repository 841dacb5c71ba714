"""Consent lifetime (issue 15): the daily renewal job and the renew page, in-process against the moto server.

The job runs as of a fixed time (the schedule's `time`), with its real SES, SQS and DynamoDB calls. Each test
has a table and an erasure queue of its own (the session's are shared): the job reads whole months.
"""

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from attract.aws import from_item, to_item
from attract.people.consent import add_months, index_put, renew_token
from attract.people.consent_repository import ConsentRepository
from attract.people.forget_link import open_forget_token
from attract.signing import Signer
from tests.support import FakeLambdaContext, load_event

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)  # a consent confirmed then
DUE = add_months(T0, 24)
RENEW_LINK = re.compile(r"(\S*/consent/[A-Za-z0-9_.-]+)")


@pytest.fixture
def world(function_env, local_aws, monkeypatch):
    """The renewal function with a table and an erasure queue of this test, and the renew page on the same table."""
    from attract import settings

    dynamodb, sqs = local_aws.client("dynamodb"), local_aws.client("sqs")
    table = f"consent-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                                                {"AttributeName": "SK", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"},
                                     {"AttributeName": "SK", "KeyType": "RANGE"}])
    queue = sqs.create_queue(QueueName=f"erasure-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    job = function_env("ConsentRenewalFunction")
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("ERASURE_QUEUE_URL", queue)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://go.acme.example")
    settings.load_settings.cache_clear()
    job._stores.cache_clear()
    secret = local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs["SigningKeySecret"])
    return {"job": job, "table": table, "queue": queue, "dynamodb": dynamodb, "sqs": sqs,
            "store": ConsentRepository(table, dynamodb), "signer": Signer(secret["SecretString"]), "aws": local_aws}


def _member(world, at: datetime = T0, version: str = "v1") -> tuple[str, str]:
    """A member confirmed at `at`, as the join's confirmation writes it: the member item and its index entry."""
    email = f"renew-{uuid.uuid4().hex[:10]}@example.com"
    digest = uuid.uuid4().hex + uuid.uuid4().hex
    world["dynamodb"].put_item(TableName=world["table"], Item=to_item({
        "PK": f"MEMBER#{digest}", "SK": "MEMBER", "type": "member", "email": email, "email_hash": digest,
        "name": "Ada", "consent": {"granted": True, "text_version": version, "at": at.isoformat(),
                                   "confirmed_at": at.isoformat(), "channel": "join_form"}}))
    world["dynamodb"].put_item(**index_put(world["table"], digest, at)["Put"])
    return email, digest


def _run(world, at: datetime) -> dict:
    event = load_event("consent/renewal_schedule") | {"time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return world["job"].lambda_handler(event, FakeLambdaContext())["counts"]


def _renewal_mails(world, to: str) -> list:
    from attract_local.mailbox import sent_invitations  # every raw message SES accepted for `to`, parsed

    return [m for m in sent_invitations(world["aws"].endpoint, to) if "talent community" in m["Subject"]]


def _erasure_messages(world) -> list[dict]:
    found = []
    while True:
        got = world["sqs"].receive_message(QueueUrl=world["queue"], MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return found
        found += [json.loads(m["Body"]) for m in got]


def _entry(world, month: str, digest: str) -> dict | None:
    item = world["dynamodb"].get_item(TableName=world["table"], Key={"PK": {"S": f"CONSENT#{month}"},
                                                                      "SK": {"S": digest}}).get("Item")
    return from_item(item) if item else None


def _audited(world, digest: str, action: str) -> int:
    response = world["dynamodb"].query(TableName=world["aws"].refs["AuditTable"], IndexName="ByObject",
                                       KeyConditionExpression="object_key = :key",
                                       ExpressionAttributeValues={":key": {"S": f"person#{digest}"}})
    return sum(1 for item in response["Items"] if item["action"]["S"] == action)


def test_mailed_once_after_24_months_and_a_day_even_when_run_twice(world):
    email, digest = _member(world)
    # A day before the 24 months: nothing
    assert _run(world, DUE - timedelta(days=1)).get("mailed", 0) == 0
    assert _renewal_mails(world, email) == []
    # 24 months and a day: one mail, with a signed renew link and one-click unsubscribe; run again: no second one
    assert _run(world, DUE + timedelta(days=1))["mailed"] == 1
    assert _run(world, DUE + timedelta(days=1, hours=1)).get("mailed", 0) == 0
    (mail,) = _renewal_mails(world, email)
    body = mail.get_body(("plain",)).get_content()
    assert RENEW_LINK.search(body).group(1).startswith("https://go.acme.example/consent/")
    assert mail["List-Unsubscribe"].startswith("<https://go.acme.example/u/")
    # and the "delete my data" link every mail carries, signed for this person
    forget = re.search(r"https://go\.acme\.example/d/(\S+)", body).group(1)
    assert open_forget_token(world["signer"], forget, DUE + timedelta(days=2)) == digest
    assert mail["From"] == "community@attract.example"
    assert _entry(world, "2026-03", digest)["renewal_sent_at"].startswith(str((DUE + timedelta(days=1)).date()))
    assert _audited(world, digest, "person.consent_renewal_sent") == 1
    assert _erasure_messages(world) == []


def test_no_renewal_within_the_grace_period_requests_the_erasure_once(world):
    _, digest = _member(world)
    mailed_at = DUE + timedelta(days=1)
    _run(world, mailed_at)
    # Within the grace: nothing asked
    assert _run(world, mailed_at + timedelta(days=29)).get("erasure_requested", 0) == 0
    assert _erasure_messages(world) == []
    # Past it: one erasure request (the eraser's message), once however often the job runs
    later = mailed_at + timedelta(days=31)
    assert _run(world, later)["erasure_requested"] == 1
    assert _run(world, later + timedelta(days=1)).get("erasure_requested", 0) == 0
    (message,) = _erasure_messages(world)
    assert message["email_hash"] == digest and message["reason"] == "consent_expired"
    assert message["actor"] == {"sub": "system:consent-renewal", "username": "consent-renewal"}
    assert message["requested_at"].startswith(str(later.date()))
    # The eraser removes the member: the next run removes the index entry
    world["dynamodb"].delete_item(TableName=world["table"],
                                  Key={"PK": {"S": f"MEMBER#{digest}"}, "SK": {"S": "MEMBER"}})
    assert _run(world, later + timedelta(days=2))["removed"] == 1
    assert _entry(world, "2026-03", digest) is None


def test_a_renewed_consent_is_not_asked_again_for_24_months(world):
    email, digest = _member(world)
    mailed_at = DUE + timedelta(days=1)
    _run(world, mailed_at)
    renewed_at = mailed_at + timedelta(days=5)
    assert world["store"].renew(digest, "2026-03", renewed_at, "v2")
    # The member's consent given again (channel renewal, the current text), the entry moved to the renewal's month
    member = from_item(world["dynamodb"].get_item(TableName=world["table"], Key={
        "PK": {"S": f"MEMBER#{digest}"}, "SK": {"S": "MEMBER"}})["Item"])
    assert member["consent"]["channel"] == "renewal" and member["consent"]["text_version"] == "v2"
    assert member["consent"]["confirmed_at"] == renewed_at.isoformat()
    assert _entry(world, "2026-03", digest) is None
    assert _entry(world, "2028-03", digest) == {"PK": "CONSENT#2028-03", "SK": digest, "type": "consent",
                                                "consent_at": renewed_at.isoformat()}
    # Past the grace: no erasure; 24 months less a day after the renewal: no mail; then one
    assert _run(world, mailed_at + timedelta(days=40)).get("erasure_requested", 0) == 0
    assert _run(world, add_months(renewed_at, 24) - timedelta(days=1)).get("mailed", 0) == 0
    assert len(_renewal_mails(world, email)) == 1
    assert _run(world, add_months(renewed_at, 24) + timedelta(days=1))["mailed"] == 1
    assert len(_renewal_mails(world, email)) == 2
    assert _erasure_messages(world) == []
    # A second press of the first link renews nothing more
    assert not world["store"].renew(digest, "2026-03", renewed_at, "v2")


def test_an_entry_whose_member_is_gone_is_removed_and_the_cursor_moves_on(world):
    _, gone = _member(world)
    world["dynamodb"].delete_item(TableName=world["table"], Key={"PK": {"S": f"MEMBER#{gone}"}, "SK": {"S": "MEMBER"}})
    _, rejoined = _member(world)  # erased, then joined again in 2026-05: the 2026-03 entry is not their consent
    world["dynamodb"].update_item(TableName=world["table"], Key={"PK": {"S": f"MEMBER#{rejoined}"}, "SK": {"S": "MEMBER"}},
                                  UpdateExpression="SET consent.confirmed_at = :at",
                                  ExpressionAttributeValues={":at": {"S": "2026-05-02T00:00:00+00:00"}})
    counts = _run(world, DUE + timedelta(days=40))
    assert counts == {"removed": 2}
    assert _entry(world, "2026-03", gone) is None and _entry(world, "2026-03", rejoined) is None
    # Every month up to the one 24 months back is empty now: the next run starts there
    assert world["store"].cursor() == "2026-04"


def _page(world, token: str, method: str) -> tuple[int, str]:
    event = load_event("consent/renew" if method == "POST" else "consent/renew_page")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/consent/{token}"
    event["pathParameters"] = {"token": token}
    response = world["page"].lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response["body"]


@pytest.fixture
def page(world, function_env, monkeypatch):
    from attract import settings

    world["page"] = function_env("ConsentFunction")
    monkeypatch.setenv("TABLE_NAME", world["table"])
    settings.load_settings.cache_clear()
    world["page"]._store.cache_clear()
    return world


def test_the_renew_page_changes_nothing_and_its_button_renews_once(page):
    world = page
    _, digest = _member(world)
    assert world["store"].claim_mail("2026-03", digest, DUE)  # as the job does before mailing the link
    token = renew_token(world["signer"], digest, "2026-03", int(datetime.now(timezone.utc).timestamp()) + 86400)
    status, html = _page(world, token, "GET")
    assert status == 200 and "<form method=post>" in html
    assert _entry(world, "2026-03", digest) is not None  # a GET (a mail scanner) renewed nothing
    status, html = _page(world, token, "POST")
    assert status == 200 and "You stay" in html
    now_month = datetime.now(timezone.utc).strftime("%Y-%m")
    assert _entry(world, "2026-03", digest) is None and _entry(world, now_month, digest) is not None
    assert _audited(world, digest, "person.consent_renewed") == 1
    # Pressed again: nothing to renew, the invalid page (never a 500)
    assert _page(world, token, "POST")[0] == 400


@pytest.mark.parametrize("token", ["nope", "a.b.c.d", "x" * 2000, "%00", "ab.cd.99999999999.sig"])
def test_a_bad_token_gets_the_400_page_never_a_500(page, token):
    for method in ("GET", "POST"):
        status, html = _page(page, token, method)
        assert status == 400 and "not valid" in html


def test_expired_and_nobody_answer_the_same_400(page):
    world = page
    _, digest = _member(world)
    assert world["store"].claim_mail("2026-03", digest, DUE)
    now = int(datetime.now(timezone.utc).timestamp())
    expired = renew_token(world["signer"], digest, "2026-03", now - 1)
    nobody = renew_token(world["signer"], "f" * 64, "2026-03", now + 86400)
    forged = renew_token(Signer("another key"), digest, "2026-03", now + 86400)
    answers = {_page(world, token, "POST") for token in (expired, nobody, forged)}
    assert len(answers) == 1 and next(iter(answers))[0] == 400
    assert _entry(world, "2026-03", digest) is not None


def test_an_overlapping_run_that_read_the_entry_before_the_mail_sends_nothing(world):
    # A retried invocation running beside the first: it read the entry before the first run's mark
    from attract.people.consent_renewal import RenewalPolicy, handle_entry
    from attract.providers.ses import SesRawMailer

    email, _ = _member(world)
    (stale,) = world["store"].entries("2026-03")
    assert _run(world, DUE + timedelta(days=1))["mailed"] == 1
    policy = RenewalPolicy(public_base_url="https://go.acme.example", from_address="community@attract.example")
    outcome = handle_entry(stale, "2026-03", DUE + timedelta(days=1), policy, world["signer"], world["store"],
                           SesRawMailer(None, world["aws"].client("sesv2")),
                           lambda *_: pytest.fail("no erasure"), lambda *_: pytest.fail("no audit"))
    assert outcome == "sent_already" and len(_renewal_mails(world, email)) == 1


def test_members_confirmed_before_the_index_existed_are_indexed_once_and_asked_in_turn(world):
    # Two members of 2025 known only to the member index (MEMBERIDX#all), as before issue 15; one of them also
    # renewed since (its entry moved): the walk's old entry is not their consent and goes
    from attract.relevance.keys import index_put as member_index_put

    old = datetime(2025, 6, 1, 9, tzinfo=timezone.utc)
    members = [_member(world, at=old) for _ in range(3)]
    for _, digest in members:
        world["dynamodb"].delete_item(TableName=world["table"], Key={"PK": {"S": "CONSENT#2025-06"}, "SK": {"S": digest}})
        world["dynamodb"].put_item(**member_index_put(world["table"], digest, old.isoformat(), [], None, {})["Put"])
    renewed = members[2][1]
    world["dynamodb"].put_item(**index_put(world["table"], renewed, T0)["Put"])
    world["dynamodb"].update_item(TableName=world["table"], Key={"PK": {"S": f"MEMBER#{renewed}"}, "SK": {"S": "MEMBER"}},
                                  UpdateExpression="SET consent.confirmed_at = :at",
                                  ExpressionAttributeValues={":at": {"S": T0.isoformat()}})
    from attract.people.consent_renewal import RenewalPolicy, run_renewals
    from attract.providers.ses import SesRawMailer

    # The walk goes a page a run (here pages of 2): the cursor stays until it is done; nothing is due yet
    policy = RenewalPolicy(public_base_url="https://go.acme.example", from_address="community@attract.example",
                           backfill_pages=1, backfill_page_size=2)
    mailer = SesRawMailer(None, world["aws"].client("sesv2"))
    today = datetime(2026, 12, 4, tzinfo=timezone.utc)
    assert run_renewals(today, policy, world["signer"], world["store"], mailer, pytest.fail, pytest.fail) == {
        "indexed": 2}
    assert world["store"].backfill_state()[0] is False and world["store"].cursor() is None
    assert run_renewals(today, policy, world["signer"], world["store"], mailer, pytest.fail, pytest.fail) == {
        "indexed": 1}
    assert world["store"].backfill_state() == (True, None) and world["store"].cursor() == "2024-12"
    assert run_renewals(today, policy, world["signer"], world["store"], mailer, pytest.fail, pytest.fail) == {}
    # 24 months and a day after June 2025: the two mailed once, the renewed one's old entry removed
    due = run_renewals(add_months(old, 24) + timedelta(days=1), policy, world["signer"], world["store"], mailer,
                       lambda *_: None, lambda *_: None)
    assert due == {"mailed": 2, "removed": 1}
    assert [len(_renewal_mails(world, email)) for email, _ in members] == [1, 1, 0]
    assert _entry(world, "2026-03", renewed) is not None


def test_an_address_no_header_can_carry_is_counted_and_does_not_stop_the_run(world):
    _, unmailable_hash = _member(world)
    world["dynamodb"].update_item(TableName=world["table"], Key={"PK": {"S": f"MEMBER#{unmailable_hash}"},
                                                                 "SK": {"S": "MEMBER"}},
                                  UpdateExpression="SET email = :email",
                                  ExpressionAttributeValues={":email": {"S": "jos\u00e9@example.com"}})
    email, _ = _member(world)
    assert _run(world, DUE + timedelta(days=1)) == {"mail_failed": 1, "mailed": 1}
    assert len(_renewal_mails(world, email)) == 1
    assert "renewal_sent_at" not in _entry(world, "2026-03", unmailable_hash)  # not claimed: never erased unasked
    assert _run(world, DUE + timedelta(days=40)).get("erasure_requested", 0) == 1  # only the mailed one
