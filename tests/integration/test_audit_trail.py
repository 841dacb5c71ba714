"""The audit trail against the stack's own AuditTable (moto): entries, append-only writes, and GET /audit's reads
by actor, object and time, page by page (attract.audit)."""

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from attract.audit.query import AuditQuery, audit_page
from attract.audit.reader import AuditReader
from attract.audit.trail import Actor, AuditTrail, http_request, request_digest
from attract.errors import InvalidRequestError
from attract.signing import Signer

SIGNER = Signer("audit-test-key" * 3)
ADMIN = Actor(sub="11111111-aaaa-4bbb-8ccc-000000000001", username="ada-admin")


@pytest.fixture
def trail(local_aws) -> AuditTrail:
    return AuditTrail(local_aws.refs["AuditTable"], local_aws.client("dynamodb"), retention_days=30)


@pytest.fixture
def reader(local_aws) -> AuditReader:
    return AuditReader(local_aws.refs["AuditTable"], local_aws.client("dynamodb"))


def _actor() -> Actor:
    sub = str(uuid.uuid4())
    return Actor(sub=sub, username=f"user-{sub[:8]}")


def _walk(reader, query: AuditQuery, now: datetime) -> list:
    """Every page of `query`, following next_cursor; the entries in the order given."""
    entries, pages = [], 0
    while True:
        page = audit_page(query, SIGNER, now, reader)
        entries.extend(page.entries)
        pages += 1
        assert pages < 50
        if page.next_cursor is None:
            return entries
        query = query.model_copy(update={"cursor": page.next_cursor})


def test_an_entry_records_who_what_when_and_the_digest_and_expires_after_the_retention(trail, local_aws):
    actor, at = _actor(), datetime(2030, 3, 4, 10, 11, 12, 345000, tzinfo=timezone.utc)
    body = {"name": "Backend Berlin", "skills": {"required": ["python"]}}
    entry = trail.record("profile.create", "profile", "p-1", actor=actor, request=body,
                         details={"version": 1, "score": 0.5}, now=at)
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AuditTable"],
                                                 Key={"PK": {"S": entry["PK"]}, "SK": {"S": entry["SK"]}})["Item"]
    assert item["PK"] == {"S": "DAY#2030-03-04"} and item["SK"]["S"].startswith("2030-03-04T10:11:12.345Z#")
    assert (item["actor_key"], item["object_key"]) == ({"S": actor.sub}, {"S": "profile#p-1"})
    assert (item["actor_sub"], item["actor_username"], item["action"]) == (
        {"S": actor.sub}, {"S": actor.username}, {"S": "profile.create"})
    assert item["request_digest"]["S"] == request_digest(body) == request_digest(dict(reversed(body.items())))
    assert item["details"] == {"M": {"version": {"N": "1"}, "score": {"N": "0.5"}}}
    assert int(item["expires_at"]["N"]) == int((at + timedelta(days=30)).timestamp())
    assert entry["details"] == {"version": 1, "score": 0.5}


def test_an_entry_is_never_overwritten(trail, monkeypatch):
    # Two entries that would land on the same key (same millisecond, same id): the second is refused, not merged
    import attract.audit.trail as module

    monkeypatch.setattr(module.secrets, "token_hex", lambda _: "00000000deadbeef")
    at = datetime(2030, 3, 5, tzinfo=timezone.utc)
    trail.record("profile.delete", "profile", "p-2", actor=_actor(), now=at)
    with pytest.raises(trail.dynamodb.exceptions.ConditionalCheckFailedException):
        trail.record("profile.create", "profile", "p-2", actor=_actor(), now=at)


def test_the_actor_is_the_verified_caller_and_never_an_address():
    assert Actor.from_claims({"sub": "s-1", "username": "ada-admin"}) == Actor("s-1", "ada-admin")
    assert Actor.from_claims({"sub": "s-1", "cognito:username": "ada-admin"}) == Actor("s-1", "ada-admin")
    assert Actor.from_claims({"sub": "s-1", "username": "ada@example.com"}) == Actor("s-1", "s-1")
    assert Actor.system("scheduler") == Actor("system:scheduler", "scheduler")
    with pytest.raises(ValueError):
        Actor.from_claims({"username": "nobody"})


def test_the_digest_is_stable_and_tells_requests_apart():
    event = {"rawPath": "/profiles", "rawQueryString": "", "body": '{"name":"x"}',
             "requestContext": {"http": {"method": "POST"}}}
    encoded = {**event, "isBase64Encoded": True, "body": base64.b64encode(b'{"name":"x"}').decode()}
    assert request_digest(http_request(event)) == request_digest(http_request(encoded))
    assert request_digest(http_request(event)) != request_digest(http_request({**event, "body": '{"name":"y"}'}))
    assert request_digest(http_request(event)).startswith("sha256:") and len(request_digest({})) == 7 + 64


def test_by_actor_pages_walk_every_entry_once_newest_first(trail, reader):
    actor, other = _actor(), _actor()
    now = datetime.now(timezone.utc)
    written = [trail.record("ad_campaign.pause", "ad_campaign", f"c-{n}", actor=actor,
                            now=now - timedelta(hours=n * 20)) for n in range(5)]  # over 4 days
    trail.record("ad_campaign.pause", "ad_campaign", "c-x", actor=other, now=now)
    entries = _walk(reader, AuditQuery(actor=actor.sub, limit=2), now + timedelta(seconds=1))
    assert [e.id for e in entries] == [w["id"] for w in written]
    assert {(e.actor.sub, e.actor.username) for e in entries} == {(actor.sub, actor.username)}


def test_by_object_finds_each_actor_of_the_object(trail, reader):
    first, second = _actor(), _actor()
    now, campaign = datetime.now(timezone.utc), "ic-" + uuid.uuid4().hex[:8]
    trail.record("invite_campaign.create", "invite_campaign", campaign, actor=first, now=now - timedelta(minutes=2))
    trail.record("invite_campaign.schedule_set", "invite_campaign", campaign, actor=second,
                 details={"expression": "rate(1 day)"}, now=now - timedelta(minutes=1))
    trail.record("invite_campaign.create", "invite_campaign", campaign + "-other", actor=first, now=now)
    page = audit_page(AuditQuery(object_type="invite_campaign", object_id=campaign), SIGNER,
                      now + timedelta(seconds=1), reader)
    assert [(e.action, e.actor.sub) for e in page.entries] == [
        ("invite_campaign.schedule_set", second.sub), ("invite_campaign.create", first.sub)]
    assert page.entries[0].details == {"expression": "rate(1 day)"} and page.next_cursor is None


def test_by_time_reads_day_after_day_newest_first_within_the_range(trail, reader):
    # Days of their own (2031: nothing else of the session writes there), some empty between
    base = datetime(2031, 6, 10, 12, tzinfo=timezone.utc)
    moments = [base, base - timedelta(hours=13), base - timedelta(days=3), base - timedelta(days=3, minutes=1),
               base - timedelta(days=6)]
    written = [trail.record("profile.replace", "profile", f"t-{n}", actor=ADMIN, now=at)
               for n, at in enumerate(moments)]
    trail.record("profile.replace", "profile", "too-old", actor=ADMIN, now=base - timedelta(days=9))
    query = AuditQuery(since="2031-06-03", until="2031-06-10", limit=2)
    entries = _walk(reader, query, datetime(2031, 6, 11, tzinfo=timezone.utc))
    assert [e.id for e in entries] == [w["id"] for w in written]
    # The default range: the last 7 days before `now`
    recent = audit_page(AuditQuery(limit=100), SIGNER, base + timedelta(days=1, minutes=1), reader)
    assert [e.id for e in recent.entries] == [w["id"] for w in written[:4]]


def test_a_datetime_range_is_exact_to_the_millisecond(trail, reader):
    at = datetime(2031, 7, 1, 8, 0, 0, 500000, tzinfo=timezone.utc)
    inside = trail.record("profile.create", "profile", "edge", actor=ADMIN, now=at)
    query = AuditQuery(since="2031-07-01T08:00:00.500+00:00", until="2031-07-01T10:00:00.500+02:00")
    assert [e.id for e in audit_page(query, SIGNER, at, reader).entries] == [inside["id"]]
    later = AuditQuery(since="2031-07-01T08:00:00.501Z", until="2031-07-01T09:00:00Z")
    assert audit_page(later, SIGNER, at, reader).entries == []


def _rule(query: AuditQuery, reader, now=None) -> tuple[str, str]:
    with pytest.raises(InvalidRequestError) as refused:
        audit_page(query, SIGNER, now or datetime.now(timezone.utc), reader)
    return refused.value.field, refused.value.rule


def test_a_cursor_tampered_with_or_of_another_query_is_refused(trail, reader):
    actor, now = _actor(), datetime.now(timezone.utc)
    for n in range(3):
        trail.record("profile.delete", "profile", f"cur-{n}", actor=actor, now=now - timedelta(seconds=n))
    cursor = audit_page(AuditQuery(actor=actor.sub, limit=1), SIGNER, now, reader).next_cursor
    assert cursor
    body, _, mac = cursor.rpartition(".")
    fields = body.split(".")
    forged_position = base64.urlsafe_b64encode(b"2999-01-01T00:00:00.000Z#ffff").decode().rstrip("=")
    for bad in (cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"),
                ".".join([fields[0], forged_position, *fields[2:]]) + "." + mac,
                "not-a-cursor"):
        assert _rule(AuditQuery(actor=actor.sub, limit=1, cursor=bad), reader, now) == ("cursor", "cursor_invalid")
    assert _rule(AuditQuery(actor=_actor().sub, cursor=cursor), reader, now) == ("cursor", "cursor_invalid")
    assert _rule(AuditQuery(actor=actor.sub, cursor=cursor), reader, now + timedelta(days=2)) == (
        "cursor", "cursor_invalid")  # expired
    assert _rule(AuditQuery(actor=actor.sub, cursor=Signer("another key" * 3).token("audit", ["a", "b", "c"], 2**40)),
                 reader, now) == ("cursor", "cursor_invalid")


@pytest.mark.parametrize(("query", "expected"), [
    (AuditQuery(actor="x", object_type="profile", object_id="p"), ("actor", "one_filter")),
    (AuditQuery(object_type="profile"), ("object_id", "missing")),
    (AuditQuery(object_id="p"), ("object_type", "missing")),
    (AuditQuery(since="2026-12-05", until="2026-12-04"), ("from", "range_order")),
    (AuditQuery(since="2025-01-01", until="2026-12-04"), ("from", "range_too_long")),
    (AuditQuery(since="yesterday"), ("from", "iso_datetime")),
    (AuditQuery(until="2026-13-01"), ("to", "iso_datetime")),
    (AuditQuery(until="0001-01-01T00:00:00+14:00"), ("to", "iso_datetime")),
    (AuditQuery(since="1999-12-31"), ("from", "out_of_range")),
])
def test_bad_queries_name_their_field_and_rule(reader, query, expected):
    assert _rule(query, reader, datetime(2026, 12, 4, tzinfo=timezone.utc)) == expected


# ---------------------------------------------------------------- invite runs (attract.invites.run_audit)

def _runs_entries(reader, campaign: str, run: str) -> list:
    page = audit_page(AuditQuery(object_type="invite_run", object_id=f"{campaign}/{run}"), SIGNER,
                      datetime.now(timezone.utc) + timedelta(seconds=1), reader)
    return list(reversed(page.entries))  # oldest first


@pytest.fixture
def audit_env(local_aws, monkeypatch):
    """What template.yaml's Globals give every function: the trail's table (attract.audit.audit reads it)."""
    monkeypatch.setenv("AUDIT_TABLE_NAME", local_aws.refs["AuditTable"])


def _campaign(local_aws) -> str:
    campaign = "audit-" + uuid.uuid4().hex[:8]
    local_aws.client("dynamodb").put_item(TableName=local_aws.refs["AttractTable"], Item={
        "PK": {"S": f"INVITE_CAMPAIGN#{campaign}"}, "SK": {"S": "CAMPAIGN"}})
    return campaign


def test_a_run_is_audited_once_when_started_and_once_when_settled(local_aws, reader, audit_env):
    from attract.invites.run_audit import AuditedRuns

    table, client = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    campaign, caller = _campaign(local_aws), _actor()
    api = AuditedRuns(table, caller, request={"path": "/runs"}, dynamodb=client)
    sender = AuditedRuns(table, Actor.system("invite-sender"), dynamodb=client)
    now = datetime.now(timezone.utc)
    assert api.start(campaign, "r-1", "api", now)
    assert not api.start(campaign, "r-1", "api", now)  # the run exists: nothing started, nothing audited
    # Planned 2, both sent: the run settles; a second (duplicate) settle changes nothing
    client.update_item(TableName=table, Key={"PK": {"S": f"INVITE_RUN#{campaign}"}, "SK": {"S": "RUN#r-1"}},
                       UpdateExpression="SET #s = :sending, planned = :two, sent = :two, #r = :two",
                       ExpressionAttributeNames={"#s": "status", "#r": "rows"},
                       ExpressionAttributeValues={":sending": {"S": "sending"}, ":two": {"N": "2"}})
    assert sender.settle(campaign, "r-1", now) and not sender.settle(campaign, "r-1", now)
    entries = _runs_entries(reader, campaign, "r-1")
    assert [(e.action, e.actor.sub) for e in entries] == [("invite_run.start", caller.sub),
                                                          ("invite_run.done", "system:invite-sender")]
    assert entries[0].details == {"campaign_id": campaign, "trigger": "api"}
    assert entries[0].request_digest == request_digest({"path": "/runs"})
    assert entries[1].details["counts"] == {"rows": 2, "planned": 2, "sent": 2, "failed": 0, "skipped": {}}


def test_a_scheduled_run_is_started_by_the_scheduler_and_a_failure_audited_once(local_aws, reader, audit_env):
    from attract.invites.run_audit import AuditedRuns

    table, client = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    campaign = _campaign(local_aws)
    planner = AuditedRuns(table, Actor.system("invite-planner"), dynamodb=client)
    now = datetime.now(timezone.utc)
    assert planner.start(campaign, "s-1", "schedule", now)
    assert planner.fail(campaign, "s-1", "source_unreachable", now)
    assert not planner.fail(campaign, "s-1", "source_unreachable", now)
    entries = _runs_entries(reader, campaign, "s-1")
    assert [(e.action, e.actor.sub, e.actor.username) for e in entries] == [
        ("invite_run.start", "system:scheduler", "scheduler"),
        ("invite_run.failed", "system:invite-planner", "invite-planner")]
    assert entries[1].details["error"] == "source_unreachable" and entries[1].details["status"] == "failed"


def test_a_run_with_nothing_planned_is_done_by_the_planner(local_aws, reader, audit_env):
    from attract.invites.run_audit import AuditedRuns

    table, client = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    campaign = _campaign(local_aws)
    planner = AuditedRuns(table, Actor.system("invite-planner"), dynamodb=client)
    now = datetime.now(timezone.utc)
    planner.start(campaign, "s-2", "schedule", now)
    planner.begin_planning(campaign, "s-2", None, now)
    assert planner.finish_planning(campaign, "s-2", 0, 3, {"rows": 3, "suppressed": 3}, {"rows": 3, "suppressed": 3},
                                   now)
    assert not planner.settle(campaign, "s-2", now)  # done already: no second entry
    actions = [(e.action, e.details.get("counts", {}).get("rows")) for e in _runs_entries(reader, campaign, "s-2")]
    assert actions == [("invite_run.start", None), ("invite_run.done", 3)]


def test_entries_hold_no_address_even_when_details_are_built_from_a_request(trail, reader):
    # The wiring passes identifiers and counts; a test of the whole trail's text (no `@`) for one action
    actor, now = _actor(), datetime.now(timezone.utc)
    trail.record("invite_campaign.create", "invite_campaign", "ic-mail", actor=actor,
                 request={"sender": {"from": "careers@acme.example"}}, details={"sender_domain": "acme.example"},
                 now=now)
    page = audit_page(AuditQuery(actor=actor.sub), SIGNER, now + timedelta(seconds=1), reader)
    assert "@" not in json.dumps(page.model_dump(mode="json"))
