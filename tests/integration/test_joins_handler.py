import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from attract.aws import from_item, to_item
from attract.identity import email_hash
from attract.joins.limits import requester
from attract.joins.logic import JoinPolicy, confirm_join, submit_join
from attract.joins.models import CreditedTouch, JoinRequest, Member, PendingJoin
from attract.joins.repository import MemberRepository
from attract.signing import Signer
from attract.tracking.repository import TouchRepository, invite_token_key
from tests.support import FakeLambdaContext, confirm_event, confirm_link, load_event, sent_mail, with_body

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")


def _invoke(module, event):
    response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response["body"], response.get("headers") or {}


def _secret(local_aws, logical: str) -> str:
    return local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs[logical])["SecretString"]


def _item(local_aws, pk: str, sk: str) -> dict | None:
    found = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"],
                                                  Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item")
    return from_item(found) if found else None


def _aggregate_joins(local_aws, day: str) -> dict[str, float]:
    """Joins counted on `day`, per model, read from the totals items the report reads (the same under every model)."""
    dynamodb, table = local_aws.client("dynamodb"), local_aws.refs["AttractTable"]
    items = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk AND begins_with(SK, :day)",
                           ExpressionAttributeValues={":pk": {"S": "AGG#totals"}, ":day": {"S": f"DAY#{day}"}})["Items"]
    joins = sum(float(from_item(i).get("joins", 0)) for i in items)
    return {model: joins for model in MODELS}


def test_join_event_holds_mails_and_the_form_post_confirms_once(function_env, local_aws):
    joins = function_env("JoinsFunction")
    today = datetime.now(timezone.utc).date().isoformat()
    before = _aggregate_joins(local_aws, today)
    # When the careers site posts the join
    status, body, _ = _invoke(joins, load_event("joins/join"))
    # Then 202 and nothing more, a pending item, no member, nothing counted
    assert (status, json.loads(body)) == (202, {"status": "pending"})
    pk = f"MEMBER#{email_hash('grace.hopper@example.com', _secret(local_aws, 'EmailPepperSecret'))}"
    assert _item(local_aws, pk, "MEMBER") is None
    pending = _item(local_aws, pk, "PENDING")
    assert pending["consent_text_version"] == "v1" and pending["expires_at"] > datetime.now(timezone.utc).timestamp() + 6 * 86400
    # The unsigned visitor id and tc_click of the sample event are recorded, not trusted
    assert pending["untrusted_ids"] == {"visitor_id": "Ky6CYO0h4UJ06YCLle1L_A", "tc_click": ["ZDMHkmOp4YRKtxZA-conhA"]}
    assert _aggregate_joins(local_aws, today) == before
    # And one email with a link under the public base URL
    (mail,) = sent_mail(local_aws.endpoint, "grace.hopper@example.com")
    link = confirm_link(local_aws.endpoint, "grace.hopper@example.com")
    assert mail["source"] == "community@attract.example" and link.startswith("https://abc123.execute-api")
    # The page a mail scanner prefetches changes nothing
    status, page, headers = _invoke(joins, confirm_event(link, "GET"))
    assert status == 200 and "<form method=post>" in page and headers["Referrer-Policy"] == "no-referrer"
    assert _item(local_aws, pk, "MEMBER") is None and _item(local_aws, pk, "PENDING") is not None
    # The button's form POST (form-encoded, any body) confirms: member, attribution, aggregates, pending gone
    status, page, _ = _invoke(joins, confirm_event(link, body="confirm=yes"))
    assert status == 200 and "You're in" in page
    member = _item(local_aws, pk, "MEMBER")
    assert member["email"] == "grace.hopper@example.com" and member["consent"]["text_version"] == "v1"
    # Consent lifetime: the channel kept, and the consent indexed under its month in the same transaction
    assert member["consent"]["channel"] == "join_form"
    month = member["consent"]["confirmed_at"][:7]
    assert _item(local_aws, f"CONSENT#{month}", pk.removeprefix("MEMBER#"))["consent_at"][:7] == month
    attribution = _item(local_aws, pk, "ATTRIBUTION")
    assert "grace" not in json.dumps(attribution, default=str).lower()
    assert [t["origin"] for t in attribution["touches"]] == ["join"]  # the untrusted ids credited nothing
    assert _item(local_aws, pk, "PENDING") is None
    after = _aggregate_joins(local_aws, today)
    assert all(after[m] == pytest.approx(before[m] + 1) for m in MODELS)
    # A second press of the same link: the expired page, nothing counted again
    status, page, _ = _invoke(joins, confirm_event(link))
    assert status == 410 and "expired or was already used" in page
    assert _aggregate_joins(local_aws, today) == after


@pytest.mark.parametrize("token", ["nope", "a.b.c.d", "x" * 2000, "%00", "ab.cd.99999999999.sig"])
def test_any_bad_token_gets_the_expired_page_never_5xx(function_env, token):
    joins = function_env("JoinsFunction")
    for method in ("GET", "POST"):
        status, page, _ = _invoke(joins, confirm_event(f"/joins/confirm/{token}", method))
        assert status == 410 and "expired" in page


def test_invalid_join_event_names_each_field(function_env):
    status, body, _ = _invoke(function_env("JoinsFunction"), load_event("joins/join_invalid"))
    assert status == 422
    assert {e["field"] for e in json.loads(body)["errors"]} == {"email", "name", "consent", "skills"}


def test_report_event_for_a_recruiter(function_env):
    status, body, _ = _invoke(function_env("ReportsFunction"), load_event("reports/attribution"))
    body = json.loads(body)
    assert status == 200 and (body["model"], body["group_by"], body["from"]) == ("time_decay", "campaign", "2026-11-01")
    # The stable contract: every field it had, and what issue 14 added (extend, never break)
    assert set(body) >= {"model", "group_by", "from", "to", "rows", "totals", "limit", "folded_rows"}
    assert set(body) - {"model", "group_by", "from", "to", "rows", "totals", "limit", "folded_rows"} == {"profile", "by_model"}


def _report_today(function_env, **query) -> dict:
    today = datetime.now(timezone.utc).date().isoformat()
    query = {"from": today, "to": today, "model": "linear", "group_by": "channel"} | query
    event = load_event("reports/attribution")
    event["queryStringParameters"], event["rawQueryString"] = query, urlencode(query)
    status, body, _ = _invoke(function_env("ReportsFunction"), event)
    assert status == 200, body
    return json.loads(body)


def test_report_rows_and_totals_move_by_exactly_one_join(function_env, local_aws):
    # Given today's report, then one direct join, confirmed through its emailed link
    before = _report_today(function_env)
    email = f"shape-{uuid.uuid4().hex}@example.com"
    joins = function_env("JoinsFunction")
    assert _invoke(joins, with_body(load_event("joins/join"), {"email": email, "name": "S", "consent": True}))[0] == 202
    assert _invoke(joins, confirm_event(confirm_link(local_aws.endpoint, email)))[0] == 200
    after = _report_today(function_env)
    # Then the totals grew by one join of one touch, the direct row by exactly that, and the rows add up to the totals
    assert (after["totals"]["joins"], after["totals"]["touches"]) == (before["totals"]["joins"] + 1,
                                                                        before["totals"]["touches"] + 1)
    rows_before, rows_after = ({row["key"]: row for row in report["rows"]} for report in (before, after))
    assert rows_after["direct"]["joins"] == pytest.approx(rows_before.get("direct", {"joins": 0})["joins"] + 1)
    assert all(row.keys() == {"key", "joins", "touches", "spend", "relevant_joins", "clicks", "join_rate", "relevance_rate"}
               for row in after["rows"])
    assert sum(row["joins"] for row in after["rows"]) == pytest.approx(after["totals"]["joins"], abs=1e-6)
    assert sum(row["touches"] for row in after["rows"]) == after["totals"]["touches"]
    capped = _report_today(function_env, limit="1")
    assert [row["key"] for row in capped["rows"]] == ["(other)"] and capped["totals"] == after["totals"]


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_report_limit_out_of_bounds_is_422(function_env, limit):
    event = load_event("reports/attribution")
    event["queryStringParameters"]["limit"] = limit
    event["rawQueryString"] += f"&limit={limit}"
    status, body, _ = _invoke(function_env("ReportsFunction"), event)
    assert status == 422 and json.loads(body)["errors"][0]["field"] == "limit"


def test_unknown_model_is_422(function_env):
    status, body, _ = _invoke(function_env("ReportsFunction"), load_event("reports/attribution_as_marketer_bad_model"))
    assert status == 422 and json.loads(body)["errors"][0]["field"] == "model"


def test_join_retry_with_same_body_is_the_same_202_and_one_email(function_env, local_aws):
    joins = function_env("JoinsFunction")
    event = with_body(load_event("joins/join"), {"email": "retry@example.com", "name": "R", "consent": True})
    first, second = _invoke(joins, event), _invoke(joins, json.loads(json.dumps(event)))
    assert first[:2] == second[:2] == (202, '{"status":"pending"}')
    assert len(sent_mail(local_aws.endpoint, "retry@example.com")) == 1


@pytest.mark.parametrize("headers", [
    {"referer": "http://[", "origin": "https://[::1", "user-agent": "Mozilla\x00"},
    {"referer": "https://careers.example.com/" + "a" * 20_000, "user-agent": "\u00ff" * 5000},
], ids=["unclosed IPv6 literal, NUL", "long and non-ASCII"])
def test_hostile_browser_headers_are_dropped_not_a_5xx(function_env, headers):
    # The form's Referer/Origin/User-Agent (kept for Meta with the ads consent) are the caller's bytes
    joins = function_env("JoinsFunction")
    event = with_body(load_event("joins/join"), {"email": f"h-{uuid.uuid4().hex[:8]}@example.com", "name": "H",
                                                 "consent": True, "ads_consent": True})
    event["headers"] = {**event["headers"], **headers}
    assert _invoke(joins, event)[:2] == (202, '{"status":"pending"}')


# ---- the repository's transaction against the emulator


class _Mail:
    def __init__(self):
        self.sent = []

    def send(self, to, subject, text):
        self.sent.append(text)


@pytest.fixture
def stores(local_aws):
    table, dynamodb = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    return TouchRepository(table, dynamodb=dynamodb), MemberRepository(table, dynamodb=dynamodb), dynamodb


SIGNER = Signer("integration-key")
POLICY = JoinPolicy()


def _submit(stores, email: str, now: datetime, **fields) -> str:
    touches, members, _ = stores
    mail = _Mail()
    digest = email_hash(email, "pepper")
    outcome = submit_join(JoinRequest.model_validate({"email": email, "name": "N", "consent": True, **fields}), digest,
                          now, POLICY, SIGNER, "https://go.example", touches, members, mail,
                          requester=requester(email, f"203.0.113.{uuid.uuid4().int % 250}", "pepper"))
    assert outcome == "mailed"
    return mail.sent[-1].split("/joins/confirm/")[1].split()[0]


def test_confirmation_retries_a_transaction_conflict_injected_through_the_sdk(stores, local_aws):
    _, members, dynamodb = stores
    now = datetime.now(timezone.utc)
    token = _submit(stores, "conflict@example.com", now)
    calls = []

    def conflict_once(**kwargs):
        calls.append(kwargs["model"].name)
        if len(calls) > 1:
            return None  # let the retry reach the emulator
        parsed = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                  "CancellationReasons": [{"Code": "None"}, {"Code": "None"}, {"Code": "None"},
                                          *[{"Code": "TransactionConflict"}] * 5]}
        return SimpleNamespace(status_code=400, headers={}, content=b""), parsed

    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict_once)
    try:
        assert confirm_join(token, now, POLICY, SIGNER, members)
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", conflict_once)
    assert calls == ["TransactWriteItems"] * 2  # one refused by the injected conflict, one written
    assert members.find(email_hash("conflict@example.com", "pepper")) is not None


def test_a_claimed_click_is_retried_without_its_visitor(stores, local_aws):
    touches, members, dynamodb = stores
    now = datetime.now(timezone.utc)
    visitor, click = SIGNER.new_visitor_id(), SIGNER.new_click_id()
    from attract.tracking.models import Touch

    landing = Touch(touch_id=click, occurred_at=now - timedelta(hours=1), origin="click", visitor_id=visitor,
                    campaign="Shared", channel="email", source="crm", medium="email")
    dynamodb.put_item(TableName=touches.table, Item={
        "PK": {"S": f"CLICK#tc_click#{click}"}, "SK": {"S": f"VISITOR#{visitor}"}, "visitor_id": {"S": visitor}})
    touches.put_many([landing], {click: int(now.timestamp()) + 3600})
    shared = {"visitor_id": visitor, "click_ids": {"tc_click": [click]}}
    first, second = _submit(stores, "first@example.com", now, **shared), _submit(stores, "second@example.com", now, **shared)
    assert confirm_join(first, now, POLICY, SIGNER, members) and confirm_join(second, now, POLICY, SIGNER, members)
    (_, credited) = members.find(email_hash("first@example.com", "pepper"))
    (_, uncredited) = members.find(email_hash("second@example.com", "pepper"))
    assert [t.touch_id for t in credited] == [click]
    assert [t.origin for t in uncredited] == ["join"]
    assert _item(local_aws, f"CLAIM#tc_click#{click}", "CLAIM")["member_id"] is not None


def test_an_invitation_token_credits_the_invitation(stores, local_aws):
    touches, members, dynamodb = stores
    now = datetime.now(timezone.utc)
    token = "invite-" + "x" * 40
    # As the invitation sender stores it: under the token's hash, never the token itself
    dynamodb.put_item(TableName=touches.table, Item=to_item({
        "PK": f"INVITE#{invite_token_key(token)}", "SK": "INVITE", "touch_id": "inv-1",
        "occurred_at": (now - timedelta(days=2)).isoformat(), "origin": "invite", "campaign": "Alumni invite",
        "channel": "email", "source": "recruiter", "medium": "invitation"}))
    link_token = _submit(stores, "invited@example.com", now, invite_token=token)
    assert confirm_join(link_token, now, POLICY, SIGNER, members)
    (member, path) = members.find(email_hash("invited@example.com", "pepper"))
    assert [(t.origin, t.campaign, t.credits["first_touch"]) for t in path] == [("invite", "Alumni invite", 1)]
    assert member.consent["channel"] == "invitation"  # consent given on the invitation's way in


def test_one_invitation_token_credits_one_join(stores, local_aws):
    # Issue 13: the token is claimed in the confirmation's transaction (CLAIM#tc_inv#<invitation>), like tc_click
    touches, members, dynamodb = stores
    now = datetime.now(timezone.utc)
    token, touch_id = "invite-" + uuid.uuid4().hex * 2, f"inv-claim-{uuid.uuid4().hex[:16]}"
    dynamodb.put_item(TableName=touches.table, Item=to_item({
        "PK": f"INVITE#{invite_token_key(token)}", "SK": "INVITE", "touch_id": touch_id,
        "occurred_at": (now - timedelta(days=1)).isoformat(), "origin": "invite", "campaign": "Alumni invite",
        "channel": "email", "source": "recruiter", "medium": "invitation"}))
    emails = [f"inv-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in range(3)]
    links = [_submit(stores, email, now, invite_token=token) for email in emails]
    assert all(confirm_join(link, now, POLICY, SIGNER, members) for link in links)
    origins = [[t.origin for t in members.find(email_hash(email, "pepper"))[1]] for email in emails]
    assert origins == [["invite"], ["join"], ["join"]]
    claim = _item(local_aws, f"CLAIM#tc_inv#{touch_id}", "CLAIM")
    assert claim["member_id"] == members.find(email_hash(emails[0], "pepper"))[0].member_id


def test_pending_item_round_trips_and_confirm_refuses_a_replaced_nonce(stores):
    _, members, _ = stores
    now = datetime.now(timezone.utc)
    token = _submit(stores, "replaced@example.com", now)
    digest = email_hash("replaced@example.com", "pepper")
    pending = members.pending(digest)
    assert isinstance(pending, PendingJoin) and pending.email == "replaced@example.com"
    # A newer submission an hour later replaces the pending item: the first link no longer works
    later = _submit(stores, "replaced@example.com", now + timedelta(hours=1, seconds=1))
    assert not confirm_join(token, now, POLICY, SIGNER, members)
    assert confirm_join(later, now + timedelta(hours=2), POLICY, SIGNER, members)
    member = Member.model_validate({**members.find(digest)[0].model_dump(), "member_id": "other"})
    path = [CreditedTouch(touch_id="t", occurred_at=now, origin="join", channel="direct", campaign="(none)",
                          source="(direct)", medium="(none)", credits={m: 1 for m in MODELS})]
    from attract.joins.logic import LinkUsedError

    with pytest.raises(LinkUsedError):  # already a member: the member Put's condition refuses, nothing written
        members.confirm(member, path, "nonce", [], {})
