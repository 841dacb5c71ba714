"""Export and erasure of one person (issue 15) against moto holding template.yaml's tables: the real repositories,
the eraser's handler with an SQS event, the people routes and the forget page in-process.

A person here has what a real one accumulates: an ad click (touch, click lookups, ad landing), an invitation
(the person's row, the invite touch, the campaign's claim, the cooldown), a confirmed join that credited both
(member, attribution, claims, member index entry), a conversion record and a held conversion.
"""

import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from attract.aws import from_item
from attract.campaigns.conversions import ConversionMessage
from attract.campaigns.conversions_repository import ConversionRepository, PendingConversionRepository
from attract.campaigns.models import ConversionResult
from attract.identity import email_hash
from attract.invites.repository import InviteRepository
from attract.invites.tokens import invite_token
from attract.joins.limits import requester
from attract.joins.logic import JoinPolicy, confirm_join, submit_join
from attract.joins.models import JoinRequest
from attract.joins.repository import MemberRepository
from attract.people.forget_link import forget_token, forget_url, open_forget_token
from attract.people.inventory import PersonRecords
from attract.signing import Signer
from attract.tracking.records import ClickTouch
from attract.tracking.repository import TouchRepository
from tests.support import FakeLambdaContext, load_event

POLICY = JoinPolicy()


class _Mail:
    def __init__(self):
        self.sent = []

    def send(self, to, subject, text):
        self.sent.append(text)


@pytest.fixture
def stack(local_aws, function_env):
    """The eraser's module (its environment in place), the table, a DynamoDB client, the pepper and signing key."""
    eraser = function_env("EraserFunction")
    secrets = local_aws.client("secretsmanager")
    pepper = secrets.get_secret_value(SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]
    key = secrets.get_secret_value(SecretId=local_aws.refs["SigningKeySecret"])["SecretString"]
    return SimpleNamespace(eraser=eraser, table=local_aws.refs["AttractTable"], dynamodb=local_aws.client("dynamodb"),
                           pepper=pepper, signer=Signer(key), aws=local_aws)


def _person(stack, now: datetime) -> SimpleNamespace:
    """A person who clicked an ad, was invited, joined through both; a conversion sent and one held."""
    table, dynamodb, signer = stack.table, stack.dynamodb, stack.signer
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    digest = email_hash(email, stack.pepper)
    touches, members = TouchRepository(table, dynamodb), MemberRepository(table, dynamodb)
    visitor, click, gclid = signer.new_visitor_id(), signer.new_click_id(), f"gclid-{uuid.uuid4().hex}"
    code = uuid.uuid4().hex[:8]
    touches.record_click(ClickTouch(touch_id=click, occurred_at=now - timedelta(hours=2), visitor_id=visitor,
                                    link_code=code, campaign="Spring", channel="paid_search", source="google",
                                    medium="cpc", click_ids={"gclid": gclid}), int(now.timestamp()) + 86400,
                         ad_click=("gclid", gclid))
    campaign = f"c{uuid.uuid4().hex[:10]}"
    job = SimpleNamespace(campaign_id=campaign, campaign_name="Alumni", link_code=code,
                          recipient=SimpleNamespace(skills="Python, SQL", location="Berlin"))
    invites = InviteRepository(table, dynamodb)
    expires = int(now.timestamp()) + 60 * 86400
    token = invite_token(signer, job, digest, expires)
    assert invites.claim(campaign, digest, "r-1", now - timedelta(days=1)) == "claimed"
    assert invites.hold_cooldown(digest, campaign, now - timedelta(days=1), 30) is not None
    invites.put_invite_touch(token, job, digest, now - timedelta(days=1), expires)
    invites.mark_sent(campaign, digest, "ses-1", now - timedelta(days=1))
    mail = _Mail()
    outcome = submit_join(JoinRequest.model_validate({
        "email": email, "name": "Ada Lovelace", "consent": True, "visitor_id": visitor,
        "click_ids": {"tc_click": [click]}, "invite_token": token, "skills": ["Python"]}), digest, now, POLICY, signer,
        "https://go.example", touches, members, mail, requester=requester(email, "203.0.113.9", stack.pepper))
    assert outcome == "mailed" and "/d/" in mail.sent[-1]  # the confirmation carries the delete-my-data link
    link = mail.sent[-1].split("/joins/confirm/")[1].split()[0]
    assert confirm_join(link, now, POLICY, signer, members)
    member, _ = members.find(digest)
    ConversionRepository(table, dynamodb).record("meta", ConversionResult(join_id=member.member_id, ok=True,
                                                                          request_id="fb-1"), now)
    held = ConversionMessage(join_id=member.member_id, joined_at=now, channels=["google_search"], gclid=gclid,
                             google_click_at=now - timedelta(hours=2))
    PendingConversionRepository(table, dynamodb).hold("google_search", held, held.due_at("google_search"))
    return SimpleNamespace(email=email, digest=digest, member_id=member.member_id, visitor=visitor, click=click,
                           gclid=gclid, campaign=campaign, code=code)


def _sqs_event(body: dict) -> dict:
    return {"Records": [{"messageId": uuid.uuid4().hex, "receiptHandle": "r", "body": json.dumps(body),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
                         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:erasure",
                         "awsRegion": "us-east-1"}]}


def _erase(stack, digest: str, reason: str = "admin") -> dict:
    message = {"email_hash": digest, "reason": reason, "actor": {"sub": "admin-sub", "username": "alice"},
               "requested_at": datetime.now(timezone.utc).isoformat()}
    return stack.eraser.lambda_handler(_sqs_event(message), FakeLambdaContext())


def _get(stack, pk: str, sk: str) -> dict | None:
    item = stack.dynamodb.get_item(TableName=stack.table, Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item")
    return from_item(item) if item else None


def _audit_of(stack, digest: str) -> list[dict]:
    items = stack.dynamodb.query(TableName=stack.aws.refs["AuditTable"], IndexName="ByObject",
                                 KeyConditionExpression="object_key = :o",
                                 ExpressionAttributeValues={":o": {"S": f"person#{digest}"}})["Items"]
    return [from_item(item) for item in items]


def test_the_inventory_finds_everything_by_key_and_the_eraser_removes_it_leaving_the_tombstone(stack):
    now = datetime.now(timezone.utc)
    person = _person(stack, now)
    records = PersonRecords(stack.table, stack.dynamodb)
    held = records.gather(person.digest)
    # Found from the hash alone and the leads it holds
    assert held.member["email"] == person.email and held.attribution and held.index_entry
    assert {t["touch_id"] for t in held.touches} == {person.click}
    assert {c["PK"] for c in held.claims} == {f"CLAIM#tc_click#{person.click}",
                                              f"CLAIM#tc_inv#inv-{person.campaign}-{person.digest[:16]}"}
    assert [s["SK"] for s in held.sends] == ["SEND"] and len(held.invitations) == 1 and len(held.person_rows) == 1
    assert held.cooldown and [c["SK"] for c in held.conversions] == ["meta"] and len(held.held_conversions) == 1
    assert _get(stack, f"CLICK#gclid#{person.gclid}", f"VISITOR#{person.visitor}") is not None
    assert _get(stack, f"LANDING#{person.code}#gclid#{person.gclid}", "LANDING") is not None

    assert _erase(stack, person.digest) == {"batchItemFailures": []}

    after = records.gather(person.digest)
    assert after.personal_items() == []
    # Everything tied to the person is gone, click lookups and ad landing included
    for pk, sk in [(f"MEMBER#{person.digest}", "MEMBER"), (f"MEMBER#{person.digest}", "ATTRIBUTION"),
                   (f"VISITOR#{person.visitor}", held.touches[0]["SK"]),
                   (f"CLICK#tc_click#{person.click}", f"VISITOR#{person.visitor}"),
                   (f"CLICK#gclid#{person.gclid}", f"VISITOR#{person.visitor}"),
                   (f"LANDING#{person.code}#gclid#{person.gclid}", "LANDING"),
                   (f"CLAIM#tc_click#{person.click}", "CLAIM"), (f"COOLDOWN#{person.digest}", "COOLDOWN"),
                   (f"INVITE_SEND#{person.campaign}#{person.digest}", "SEND"),
                   (held.invitations[0]["PK"], "INVITE"), (f"PERSON#{person.digest}", f"INVITED#{person.campaign}"),
                   ("MEMBERIDX#all", person.digest), (held.held_conversions[0]["PK"], held.held_conversions[0]["SK"])]:
        assert _get(stack, pk, sk) is None, pk
    # Kept: the tombstone (the planner's and the sender's suppression check reads it), the status, erased marks
    assert _get(stack, f"SUPPRESS#{person.digest}", "SUPPRESS")["reason"] == "erased"
    assert InviteRepository(stack.table, stack.dynamodb).is_suppressed(person.digest)
    status = _get(stack, f"ERASURE#{person.digest}", "ERASURE")
    assert status["status"] == "done" and set(status["steps"]) >= {"tombstone", "touches", "member"}
    ledger = ConversionRepository(stack.table, stack.dynamodb)
    assert ledger.settled(person.member_id, "google_search") and ledger.settled(person.member_id, "meta")
    assert "email" not in json.dumps(status, default=str).replace("email_hash", "")
    # The audit trail names who asked, never the address
    erased = [entry for entry in _audit_of(stack, person.digest) if entry["action"] == "person.erased"]
    assert [(e["actor_sub"], e["actor_username"]) for e in erased] == [("admin-sub", "alice")]
    assert person.email not in json.dumps(erased, default=str)


def test_erasing_twice_is_erasing_once(stack):
    now = datetime.now(timezone.utc)
    person = _person(stack, now)
    records = PersonRecords(stack.table, stack.dynamodb)
    _erase(stack, person.digest)
    tombstone = _get(stack, f"SUPPRESS#{person.digest}", "SUPPRESS")
    assert _erase(stack, person.digest) == {"batchItemFailures": []}
    assert records.gather(person.digest).personal_items() == []
    assert _get(stack, f"SUPPRESS#{person.digest}", "SUPPRESS") == tombstone
    assert _get(stack, f"ERASURE#{person.digest}", "ERASURE")["removed"]["member"] == 0


def test_a_crash_midway_is_resumed_by_the_redelivery(stack):
    """The eraser dies on its 3rd batch delete (after the tombstone, before the member items): the message comes
    back, and the second run finds the rest through the leads it saved, the member item gone or not."""
    from attract.aws import client

    now = datetime.now(timezone.utc)
    person = _person(stack, now)
    calls = []

    def crash(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("the function died here")

    dynamodb = client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb.BatchWriteItem", crash)
    try:
        answer = _erase(stack, person.digest)
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.BatchWriteItem", crash)
    assert len(answer["batchItemFailures"]) == 1  # SQS delivers it again
    assert _get(stack, f"SUPPRESS#{person.digest}", "SUPPRESS")["reason"] == "erased"  # the tombstone came first
    assert _get(stack, f"ERASURE#{person.digest}", "ERASURE")["status"] == "running"
    assert _get(stack, f"MEMBER#{person.digest}", "MEMBER") is not None  # the member item goes last
    assert _erase(stack, person.digest) == {"batchItemFailures": []}
    assert PersonRecords(stack.table, stack.dynamodb).gather(person.digest).personal_items() == []
    assert _get(stack, f"ERASURE#{person.digest}", "ERASURE")["status"] == "done"


def test_a_crash_after_the_member_item_went_still_finds_the_rest_through_the_saved_leads(stack):
    now = datetime.now(timezone.utc)
    person = _person(stack, now)
    records = PersonRecords(stack.table, stack.dynamodb)
    held = records.gather(person.digest)
    from attract.people.erasure_repository import ErasureRepository

    # As if a run saved its leads, then the member partition was deleted and the function died
    ErasureRepository(stack.table, stack.dynamodb).begin(person.digest, "admin", now, held.leads.as_sets())
    ErasureRepository(stack.table, stack.dynamodb).delete([{"PK": {"S": f"MEMBER#{person.digest}"}, "SK": {"S": sk}}
                                                           for sk in ("MEMBER", "ATTRIBUTION")])
    assert _erase(stack, person.digest) == {"batchItemFailures": []}
    assert records.gather(person.digest).personal_items() == []
    assert _get(stack, f"VISITOR#{person.visitor}", held.touches[0]["SK"]) is None
    assert ConversionRepository(stack.table, stack.dynamodb).settled(person.member_id, "google_search")


def test_a_message_that_names_no_person_fails_and_is_never_half_done(stack):
    answer = stack.eraser.lambda_handler(_sqs_event({"email_hash": "nope", "reason": "admin"}), FakeLambdaContext())
    assert len(answer["batchItemFailures"]) == 1


# ---- the admin routes -------------------------------------------------------------------------------------------

def _admin_event(method: str, path: str, email: str | None, groups: str = "[admins]") -> dict:
    event = load_event("profiles/members")
    event["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["queryStringParameters"] = {"email": email} if email is not None else {}
    event["rawQueryString"] = f"email={email}" if email is not None else ""
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    claims.update({"cognito:groups": groups, "sub": "admin-sub", "username": "alice", "token_use": "access"})
    return event


def _call(module, event) -> tuple[int, dict]:
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_export_delete_and_status_through_the_admin_routes(stack, function_env, local_aws):
    now = datetime.now(timezone.utc)
    person = _person(stack, now)
    people = function_env("PeopleFunction")
    status, export = _call(people, _admin_event("GET", "/people/export", person.email.upper()))
    assert status == 200 and export["person"] == person.digest and export["empty"] is False
    assert export["member"]["email"] == person.email and export["member"]["name"] == "Ada Lovelace"
    assert [c["channel"] if "channel" in c else c["status"] for c in export["conversions"]] == ["uploaded"]
    assert export["invitations"]["sent"][0]["status"] == "SENT" and export["touches"][0]["touch_id"] == person.click
    assert "PK" not in json.dumps(export)
    status, queued = _call(people, _admin_event("DELETE", "/people", person.email))
    assert (status, queued["status"], queued["reason"]) == (202, "queued", "admin")
    # The message on ErasureQueue names the hash and the admin, never the address
    sqs = local_aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=local_aws.refs["ErasureQueue"], MaxNumberOfMessages=10)["Messages"]
    mine = [json.loads(m["Body"]) for m in messages if person.digest in m["Body"]]
    assert mine and mine[0]["actor"] == {"sub": "admin-sub", "username": "alice"} and person.email not in str(mine)
    for m in messages:
        sqs.delete_message(QueueUrl=local_aws.refs["ErasureQueue"], ReceiptHandle=m["ReceiptHandle"])
    _erase(stack, person.digest)
    status, done = _call(people, _admin_event("GET", "/people/erasure", person.email))
    assert (status, done["status"]) == (200, "done") and done["removed"]["touches"] == 1
    status, export = _call(people, _admin_event("GET", "/people/export", person.email))
    assert status == 200 and export["empty"] is True and export["member"] is None
    assert export["kept"]["tombstone"]["reason"] == "erased"
    actions = sorted(e["action"] for e in _audit_of(stack, person.digest))
    assert actions == ["person.erased", "person.erasure_requested", "person.export", "person.export"]


@pytest.mark.parametrize("email", ["", "not-an-address", "a@", "x" * 400])
def test_a_bad_email_is_a_422_naming_email(stack, function_env, email):
    people = function_env("PeopleFunction")
    for method, path in [("GET", "/people/export"), ("DELETE", "/people"), ("GET", "/people/erasure")]:
        status, body = _call(people, _admin_event(method, path, email))
        assert status == 422 and body["errors"][0]["field"] == "email", (method, body)


def test_only_admins_may_export_or_erase(stack, function_env):
    people = function_env("PeopleFunction")
    status, _ = _call(people, _admin_event("GET", "/people/export", "a@example.com", groups="[recruiters marketers]"))
    assert status == 403


# ---- the delete-my-data link -------------------------------------------------------------------------------------

def _forget_event(token: str, method: str) -> dict:
    event = load_event("invites/unsubscribe")
    event["routeKey"] = f"{method} /d/{{token}}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/d/{token}"
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"token": token}
    return event


def test_the_forget_link_shows_a_page_then_queues_the_erasure_the_same_for_anyone(stack, function_env, local_aws):
    now = datetime.now(timezone.utc)
    person = _person(stack, now)
    forget = function_env("ForgetFunction")
    url = forget_url(stack.signer, "https://go.example/", person.digest, now)
    assert url.startswith("https://go.example/d/") and open_forget_token(stack.signer, url.rsplit("/", 1)[1], now)
    token = url.rsplit("/", 1)[1]
    response = forget.lambda_handler(_forget_event(token, "GET"), FakeLambdaContext())
    assert response["statusCode"] == 200 and "<form method=post>" in response["body"]
    assert _get(stack, f"ERASURE#{person.digest}", "ERASURE") is None  # a GET changes nothing
    member_answer = forget.lambda_handler(_forget_event(token, "POST"), FakeLambdaContext())
    stranger = forget_token(stack.signer, email_hash(f"nobody-{uuid.uuid4().hex}@example.com", stack.pepper), now)
    stranger_answer = forget.lambda_handler(_forget_event(stranger, "POST"), FakeLambdaContext())
    assert member_answer["statusCode"] == stranger_answer["statusCode"] == 200
    assert member_answer["body"] == stranger_answer["body"]  # never tells a member from a stranger
    assert _get(stack, f"ERASURE#{person.digest}", "ERASURE")["reason"] == "self_service"
    _erase(stack, person.digest, "self_service")
    assert PersonRecords(stack.table, stack.dynamodb).gather(person.digest).personal_items() == []


@pytest.mark.parametrize("token", ["nope", "a.b", "x" * 2000, "%00"])
def test_a_bad_forget_token_is_a_400_page_never_a_500(stack, function_env, token):
    forget = function_env("ForgetFunction")
    for method in ("GET", "POST"):
        response = forget.lambda_handler(_forget_event(token, method), FakeLambdaContext())
        assert response["statusCode"] == 400 and "not valid" in response["body"]


def test_an_unsubscribe_token_does_not_open_the_forget_page(stack):
    from attract.invites.tokens import unsubscribe_token

    now = datetime.now(timezone.utc)
    other = unsubscribe_token(stack.signer, "c1", "a" * 64, now)
    assert open_forget_token(stack.signer, other, now) is None
    expired = forget_token(stack.signer, "a" * 64, now - timedelta(days=3651))
    assert open_forget_token(stack.signer, expired, now) is None
