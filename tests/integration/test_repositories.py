"""Repository paths that only a real SDK and a real table exercise: code collisions and unprocessed batch items."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from attract.errors import AlreadyExistsError
from attract.links.logic import CREATE_ATTEMPTS, CreateLinkCommand, create_link
from attract.links.models import CreateLinkRequest
from attract.links.repository import LinkRepository
from attract.tracking.models import Touch
from attract.tracking.repository import TouchRepository

NOW = datetime.now(timezone.utc)
REQUEST = CreateLinkRequest(destination="https://careers.example.com/", campaign="Collisions", channel="email",
                            source="crm", medium="email")


def _code() -> str:
    return "C" + uuid.uuid4().hex[:11]


@pytest.fixture
def links(local_aws) -> LinkRepository:
    return LinkRepository(local_aws.refs["AttractTable"], local_aws.client("dynamodb"))


def test_a_taken_code_is_retried_with_a_fresh_one(links):
    taken, fresh = _code(), _code()
    create_link(CreateLinkCommand(owner="u1", request=REQUEST), links, NOW, code_factory=lambda: taken)
    codes = iter([taken, taken, fresh])
    # When the code factory repeats a code the table already holds
    link = create_link(CreateLinkCommand(owner="u2", request=REQUEST), links, NOW, code_factory=lambda: next(codes))
    # Then the conditional Put refuses it and the next code is used; the first link is untouched
    assert link.code == fresh and links.get(fresh)[0].created_by == "u2"
    assert links.get(taken)[0].created_by == "u1"


def test_giving_up_after_the_attempts_is_a_conflict(links):
    taken = _code()
    create_link(CreateLinkCommand(owner="u1", request=REQUEST), links, NOW, code_factory=lambda: taken)
    attempts = []

    def always_taken() -> str:
        attempts.append(taken)
        return taken

    with pytest.raises(AlreadyExistsError):
        create_link(CreateLinkCommand(owner="u2", request=REQUEST), links, NOW, code_factory=always_taken)
    assert len(attempts) == CREATE_ATTEMPTS


def test_put_many_writes_every_item_when_dynamodb_leaves_some_unprocessed(local_aws):
    # A real botocore client against the table; its event hooks make DynamoDB's answer to the first
    # BatchWriteItem hold back 7 items as UnprocessedItems (not written), exactly as throttling would.
    client = local_aws.client("dynamodb")
    table = local_aws.refs["AttractTable"]
    calls, held_back = [], []

    def hold_back(params, **_):
        calls.append(len(params["RequestItems"][table]))
        if len(calls) == 1:
            held_back.extend(params["RequestItems"][table][-7:])
            del params["RequestItems"][table][-7:]

    def report_unprocessed(parsed, **_):
        if len(calls) == 1:
            parsed["UnprocessedItems"] = {table: list(held_back)}

    client.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", hold_back)
    client.meta.events.register("after-call.dynamodb.BatchWriteItem", report_unprocessed)
    try:
        visitor = "Batch_" + uuid.uuid4().hex
        touches = [Touch(touch_id=f"i{n:031d}", occurred_at=NOW - timedelta(minutes=n), origin="import",
                         visitor_id=visitor, campaign="Batch", channel="event", source="fair", medium="badge")
                   for n in range(60)]
        TouchRepository(table, client).put_many(touches, {t.touch_id: 2_000_000_000 for t in touches})
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.BatchWriteItem", hold_back)
        client.meta.events.unregister("after-call.dynamodb.BatchWriteItem", report_unprocessed)
    # 60 items: batches of 25, 25 and 10, plus one retry of the 7 held back
    assert calls == [25, 7, 25, 10]
    stored = client.query(TableName=table, KeyConditionExpression="PK = :pk",
                          ExpressionAttributeValues={":pk": {"S": f"VISITOR#{visitor}"}}, Select="COUNT")["Count"]
    assert stored == 60


def test_the_redirect_reads_a_plain_target_that_matches_the_stored_link(links, local_aws):
    # Given a link created through the marketer path (validated by the pydantic contract), with clicks counted
    code = _code()
    request = CreateLinkRequest(destination="https://careers.example.com/jobs?team=a", campaign="Spring Fair",
                                channel="event", source="Career-Fair", medium="badge", term="t1")
    link = create_link(CreateLinkCommand(owner="u1", request=request), links, NOW, code_factory=lambda: code)
    TouchRepository(links.table, local_aws.client("dynamodb")).count_click(code)
    # When the redirect reads it
    target = links.target(code)
    # Then it gets the same destination and dimensions as the contract model, and nothing for an unknown code
    assert target is not None
    assert {name: getattr(target, name) for name in ("code", "destination", "campaign", "channel", "source", "medium",
                                                      "content", "term")} == link.model_dump(
        mode="json", include={"code", "destination", "campaign", "channel", "source", "medium", "content", "term"})
    assert (target.source, target.content) == ("career-fair", None)
    assert links.target(_code()) is None


def test_a_runs_outcome_counts_stamp_its_first_and_last_outcome_in_the_same_update(local_aws):
    # Given a sending run of 10 planned invitations
    from attract.invites.repository import InviteRepository
    from attract.invites.run_repository import RunRepository

    table, client = local_aws.refs["AttractTable"], local_aws.client("dynamodb")
    campaign, store, runs = "stamp-" + uuid.uuid4().hex[:6], InviteRepository(table, client), RunRepository(table, client)
    client.put_item(TableName=table, Item={"PK": {"S": f"INVITE_RUN#{campaign}"}, "SK": {"S": "RUN#r-1"},
                                           "status": {"S": "sending"}, "planned": {"N": "10"}})
    start = datetime(2030, 1, 2, 9, 0, tzinfo=timezone.utc)
    # When the sender counts 3 sent and 1 skipped 0, 2, 4 and 6 s after it started, and one duplicate at 7 s
    for seconds, name in ((0, "sent"), (2, "sent"), (4, "skipped_cooldown"), (6, "sent")):
        store.count(campaign, "r-1", name, at=start + timedelta(seconds=seconds))
    store.count(campaign, "r-1", "duplicate")
    # Then the run holds the first and the last outcome; 4 outcomes over 6 s is 1 per 2 s (30 a minute), and
    # the 6 left end 12 s after the last one: 09:00:18
    item = runs.get(campaign, "r-1")
    assert (item["first_outcome_at"], item["last_outcome_at"]) == ("2030-01-02T09:00:00.000Z",
                                                                   "2030-01-02T09:00:06.000Z")
    status = RunRepository.to_response(item, start + timedelta(seconds=7))
    assert status.progress.model_dump() == {"done": 4, "total": 10, "per_minute": 30.0}
    assert status.estimated_done_at == "2030-01-02T09:00:18.000Z"
    assert status.counts.sent == 3 and status.counts.skipped == {"cooldown": 1}
