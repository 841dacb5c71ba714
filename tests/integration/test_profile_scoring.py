"""Issue 14: target profiles, scoring on join, re-scoring after an edit, the members list — the real handlers
(ProfilesFunction, JoinsFunction, ProfileScorerFunction) against the emulator, with a scoring queue of the test's
own (the session's table is shared: each test uses skill terms and a join day nobody else uses).

Expectations are computed by hand from docs/relevance.md's formula:
    skills = 0.7 x required matched / required + 0.3 x preferred matched / preferred; x place (1, 0.5 or 0)
"""

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from attract.aws import client, from_item
from attract.relevance.keys import index_key, match_partition
from tests.support import FakeLambdaContext, join_and_confirm_in_process, load_event

PATH = "/profiles"


def _day() -> datetime:
    """Noon of a day no other test joins on (relevance aggregates are per join day)."""
    return datetime(2033, 1, 1, 12, tzinfo=timezone.utc) + timedelta(days=random.randrange(20_000))


@pytest.fixture
def world(function_env, local_aws, monkeypatch):
    """(profiles, joins, scorer) modules sharing a scoring queue of this test, joins on a day of this test."""
    from attract import settings

    sqs = local_aws.client("sqs")
    queue = sqs.create_queue(QueueName=f"scoring-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    joins = function_env("JoinsFunction")
    scorer = function_env("ProfileScorerFunction")
    profiles = function_env("ProfilesFunction")
    monkeypatch.setenv("SCORING_QUEUE_URL", queue)
    settings.load_settings.cache_clear()
    for module in (joins, scorer, profiles):
        module._stores.cache_clear()
    joins._scoring.cache_clear()
    day = _day()
    monkeypatch.setattr(joins, "utc_now", lambda: day)

    class World:
        pass

    w = World()
    w.profiles, w.joins, w.scorer, w.sqs, w.queue, w.day = profiles, joins, scorer, sqs, queue, day
    w.endpoint = local_aws.endpoint
    w.table = local_aws.handler_environment("ProfilesFunction")["TABLE_NAME"]
    w.tag = uuid.uuid4().hex[:8]
    return w


def call(module, method: str, path: str, body: dict | None = None, query: dict | None = None,
         headers: dict | None = None) -> dict:
    event = load_event("profiles/create")
    route = path
    if path.startswith(PATH + "/"):
        parts = path.split("/")
        route = "/profiles/{profile_id}" + ("/members" if path.endswith("/members") else "")
        event["pathParameters"] = {"profile_id": parts[2]}
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["headers"] = {**event["headers"], **(headers or {})}
    if body is None:
        event.pop("body", None)
        event["headers"].pop("content-type", None)
    else:
        event["body"] = json.dumps(body)
    return module.lambda_handler(event, FakeLambdaContext())


def drain(w, rounds: int = 50) -> int:
    """Deliver the scoring queue to the scorer as Lambda's poller does, until it is empty; messages handled."""
    handled = 0
    for _ in range(rounds):
        got = w.sqs.receive_message(QueueUrl=w.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return handled
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scoring",
                              "awsRegion": "us-east-1"} for m in got]}
        answer = w.scorer.lambda_handler(event, FakeLambdaContext())
        assert answer["batchItemFailures"] == [], answer
        for m in got:
            w.sqs.delete_message(QueueUrl=w.queue, ReceiptHandle=m["ReceiptHandle"])
        handled += len(got)
    raise AssertionError("the scoring queue never emptied")


def join(w, name: str, skills: list[str], location: str) -> str:
    email = f"{name.lower()}-{w.tag}@example.com"
    answer = join_and_confirm_in_process(w.joins, w.endpoint, {"email": email, "name": name, "consent": True,
                                                                  "skills": skills, "location": location})
    assert answer["statusCode"] == 200, answer["body"]
    return email


def members(w, profile_id: str, **query) -> dict:
    answer = call(w.profiles, "GET", f"{PATH}/{profile_id}/members", query={k: str(v) for k, v in query.items()})
    assert answer["statusCode"] == 200, answer["body"]
    return json.loads(answer["body"])


def relevant_joins(w, scope: str) -> tuple[Decimal, Decimal]:
    """(relevant joins counted on the test's day for `scope`, the sum of first-touch credit over channels)."""
    dynamodb = client("dynamodb")
    day = w.day.date().isoformat()

    def items(dimension: str) -> list[dict]:
        return [from_item(i) for i in dynamodb.query(
            TableName=w.table, KeyConditionExpression="PK = :pk AND begins_with(SK, :day)", ConsistentRead=True,
            ExpressionAttributeValues={":pk": {"S": f"AGG#rel#{scope}#{dimension}"}, ":day": {"S": f"DAY#{day}#"}})["Items"]]

    joins = sum((Decimal(i.get("joins", 0)) for i in items("totals")), Decimal(0))
    credit = sum((Decimal(v) for i in items("channel") for k, v in i.items() if k.startswith("r0|")), Decimal(0))
    return joins, credit


def profile_body(w, required, preferred, places, min_score=0.6, name="Data engineering") -> dict:
    return {"name": name, "skills": {"required": [f"{t}-{w.tag}" for t in required],
                                     "preferred": [f"{t}-{w.tag}" for t in preferred]},
            "places": places, "min_score": min_score}


def create(w, body: dict) -> dict:
    answer = call(w.profiles, "POST", PATH, body)
    assert answer["statusCode"] == 201, answer["body"]
    return json.loads(answer["body"])


def test_members_are_scored_on_join_and_rescored_after_an_edit(world):
    w = world
    s = lambda *terms: [f"{t}-{w.tag}" for t in terms]  # noqa: E731 - skill terms of this test only
    # Given a profile: required t1 t2, preferred t3, Berlin within 50 km or remote, min score 0.6
    profile = create(w, profile_body(w, ["t1", "t2"], ["t3"], [{"place": "Berlin", "radius_km": 50}, {"remote": True}]))
    assert (profile["version"], profile["rescoring"]["status"]) == (1, "queued")
    assert profile["id"].startswith("prf_") and len(profile["id"]) == 20
    # When four people join and confirm
    ada = join(w, "Ada", s("t1", "t2", "t3"), "Berlin")     # 0.7 + 0.3 = 1.0, in Berlin: 1.0
    bo = join(w, "Bo", s("t1", "t2"), "remote")             # 0.7, remote: 0.7
    join(w, "Cy", s("t1"), "Berlin")                        # 0.35: below 0.6
    join(w, "Di", s("t1", "t2", "t3"), "Paris")             # 1.0 x 0 (Paris is neither): 0
    drain(w)
    # Then the relevant members are listed best first, with what the join told us and its touches
    page = members(w, profile["id"])
    assert [(m["email"], m["score"]) for m in page["members"]] == [(ada, 1.0), (bo, 0.7)]
    assert page["members"][0]["skills"] == s("t1", "t2", "t3") and page["members"][0]["place"] == "Berlin"
    assert page["members"][0]["first_touch"] == page["members"][0]["last_touch"] == {"channel": "direct",
                                                                                        "campaign": "(none)"}
    assert page["members"][0]["joined_at"] == w.day.strftime("%Y-%m-%dT%H:%M:%SZ") and page["next_cursor"] is None
    # And two relevant joins are counted for the profile and for "any profile", one credit each
    assert relevant_joins(w, profile["id"]) == (2, 2) and relevant_joins(w, "any") == (2, 2)
    done = json.loads(call(w.profiles, "GET", f"{PATH}/{profile['id']}")["body"])
    assert done["rescoring"]["status"] == "done" and done["rescoring"]["scored"] == done["rescoring"]["total"] >= 4

    # When the profile is edited: required t1, preferred t3, in France only
    edited = call(w.profiles, "PUT", f"{PATH}/{profile['id']}",
                  profile_body(w, ["t1"], ["t3"], [{"country": "FR"}]))
    assert edited["statusCode"] == 200 and json.loads(edited["body"])["version"] == 2
    drain(w)
    # Then Ada (Berlin) and Bo (remote) leave, Di (Paris: 0.7 + 0.3 = 1.0) enters; Cy stays out (Berlin)
    page = members(w, profile["id"])
    assert [(m["name"], m["score"]) for m in page["members"]] == [("Di", 1.0)] and page["version"] == 2
    assert relevant_joins(w, profile["id"]) == (1, 1) and relevant_joins(w, "any") == (1, 1)

    # When every message is delivered again (at-least-once): the walk's first page and each member's
    for message in [{"kind": "profile", "profile_id": profile["id"], "version": 2, "cursor": ""},
                    *[{"kind": "member", "email_hash": m} for m in _hashes(w)]]:
        w.sqs.send_message(QueueUrl=w.queue, MessageBody=json.dumps(message))
    drain(w)
    # Then nothing is counted twice
    assert relevant_joins(w, profile["id"]) == (1, 1) and relevant_joins(w, "any") == (1, 1)
    assert [m["name"] for m in members(w, profile["id"])["members"]] == ["Di"]

    # And a stale version's walk (version 1, redelivered late) changes nothing
    w.sqs.send_message(QueueUrl=w.queue, MessageBody=json.dumps(
        {"kind": "profile", "profile_id": profile["id"], "version": 1, "cursor": ""}))
    drain(w)
    assert relevant_joins(w, profile["id"]) == (1, 1)


def _hashes(w) -> list[str]:
    items = client("dynamodb").query(TableName=w.table, KeyConditionExpression="PK = :pk",
                                     ExpressionAttributeValues={":pk": {"S": "MEMBERIDX#all"}},
                                     ProjectionExpression="SK, skills")["Items"]
    return [i["SK"]["S"] for i in items if any(w.tag in s["S"] for s in i.get("skills", {}).get("L", []))]


def test_two_profiles_count_any_once_and_deleting_one_uncounts_only_its_own(world):
    w = world
    s = lambda *terms: [f"{t}-{w.tag}" for t in terms]  # noqa: E731
    first = create(w, profile_body(w, ["a"], [], [], name="A"))
    second = create(w, profile_body(w, ["a", "b"], [], [], name="A and B"))
    join(w, "Eve", s("a", "b"), "Lisbon")  # 1.0 for both (no places: factor 1)
    join(w, "Fay", s("a"), "Lisbon")       # 1.0 for A, 0.5 for "A and B" (below 0.6)
    drain(w)
    assert relevant_joins(w, first["id"]) == (2, 2) and relevant_joins(w, second["id"]) == (1, 1)
    assert relevant_joins(w, "any") == (2, 2)  # Eve is relevant to two profiles, counted once
    # When the first profile is deleted
    assert call(w.profiles, "DELETE", f"{PATH}/{first['id']}")["statusCode"] == 204
    assert call(w.profiles, "GET", f"{PATH}/{first['id']}")["statusCode"] == 404
    drain(w)
    # Then Fay (relevant to it only) leaves "any", Eve stays through the second profile
    assert relevant_joins(w, first["id"]) == (0, 0) and relevant_joins(w, "any") == (1, 1)
    assert client("dynamodb").query(TableName=w.table, KeyConditionExpression="PK = :pk",
                                    ExpressionAttributeValues={":pk": {"S": match_partition(first["id"])}})["Items"] == []
    assert call(w.profiles, "DELETE", f"{PATH}/{first['id']}")["statusCode"] == 404


def test_members_pages_with_a_signed_cursor_consent_and_csv(world):
    w = world
    s = lambda *terms: [f"{t}-{w.tag}" for t in terms]  # noqa: E731
    profile = create(w, profile_body(w, ["x", "y"], ["z"], []))
    join(w, "Gus", s("x", "y", "z"), "Oslo")  # 1.0
    join(w, "=Hal", s("x", "y"), "Oslo")      # 0.7 (a name a spreadsheet would run)
    join(w, "Ivy", s("x", "y"), "Rome")       # 0.7
    drain(w)
    # Pages of one, best first; equal scores in a stable order
    first = members(w, profile["id"], limit=1)
    second = members(w, profile["id"], limit=1, cursor=first["next_cursor"])
    third = members(w, profile["id"], limit=1, cursor=second["next_cursor"])
    names = [p["members"][0]["name"] for p in (first, second, third)]
    assert names[0] == "Gus" and sorted(names[1:]) == ["=Hal", "Ivy"] and third["next_cursor"] is None
    # A tampered cursor is a 422 naming the field and rule, never a 500
    bad = call(w.profiles, "GET", f"{PATH}/{profile['id']}/members",
               query={"cursor": first["next_cursor"][:-2] + ("AA" if not first["next_cursor"].endswith("AA") else "BB")})
    assert bad["statusCode"] == 422
    assert json.loads(bad["body"])["errors"] == [{"field": "cursor", "location": "query", "rule": "cursor_invalid",
                                                  "message": "The cursor is not one this API issued, or it expired"}]
    # Another profile's cursor is refused too
    other = create(w, profile_body(w, ["q"], [], [], name="Other"))
    assert call(w.profiles, "GET", f"{PATH}/{other['id']}/members",
                query={"cursor": first["next_cursor"]})["statusCode"] == 422
    # CSV: exact bytes (BOM, CRLF, the formula-looking name escaped), the next cursor in a header
    csv_answer = call(w.profiles, "GET", f"{PATH}/{profile['id']}/members", query={"format": "csv", "limit": "2"})
    assert csv_answer["statusCode"] == 200, csv_answer["body"]
    assert csv_answer["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_answer["headers"]["X-Next-Cursor"]
    body = csv_answer["body"]
    joined = w.day.strftime("%Y-%m-%dT%H:%M:%SZ")
    header = ("\ufeffname,email,skills,place,score,joined_at,first_touch_channel,first_touch_campaign,"
              "last_touch_channel,last_touch_campaign\r\n")
    gus = (f"Gus,gus-{w.tag}@example.com,x-{w.tag}; y-{w.tag}; z-{w.tag},Oslo,1.0000,{joined},"
           "direct,(none),direct,(none)\r\n")
    def cell(text: str) -> str:  # what a spreadsheet would run is escaped with a leading quote
        return "'" + text if text.startswith("=") else text

    second = names[1]
    second_row = (f"{cell(second)},{cell(second.lower())}-{w.tag}@example.com,x-{w.tag}; y-{w.tag},"
                  f"{'Oslo' if second == '=Hal' else 'Rome'},0.7000,{joined},direct,(none),direct,(none)\r\n")
    assert body == header + gus + second_row
    # When Gus's consent is withdrawn, Gus no longer appears
    dynamodb = client("dynamodb")
    gus_hash = dynamodb.query(TableName=w.table, KeyConditionExpression="PK = :pk", Limit=1,
                              ExpressionAttributeValues={":pk": {"S": match_partition(profile["id"])}})["Items"][0]
    gus_key = {"PK": {"S": f"MEMBER#{gus_hash['email_hash']['S']}"}, "SK": {"S": "MEMBER"}}
    dynamodb.update_item(TableName=w.table, Key=gus_key, UpdateExpression="SET consent.granted = :no",
                         ExpressionAttributeValues={":no": {"BOOL": False}})
    assert [m["name"] for m in members(w, profile["id"])["members"]] == names[1:]
    # And once a member's item is gone (erased), nothing of theirs is listed
    dynamodb.delete_item(TableName=w.table, Key=gus_key)
    assert [m["name"] for m in members(w, profile["id"])["members"]] == names[1:]


def test_forget_member_removes_every_relevance_item_and_keeps_the_anonymous_counts(world):
    from attract.relevance.member_repository import ScoreRepository
    from attract.relevance.rescoring import forget_member

    w = world
    s = lambda *terms: [f"{t}-{w.tag}" for t in terms]  # noqa: E731
    one = create(w, profile_body(w, ["k"], [], [], name="K"))
    two = create(w, profile_body(w, ["k"], ["l"], [], name="K, L"))
    join(w, "Jo", s("k", "l"), "Oslo")  # 1.0 and 1.0
    drain(w)
    (jo,) = _hashes(w)
    assert relevant_joins(w, "any") == (1, 1) and relevant_joins(w, two["id"]) == (1, 1)
    # When the member is erased (issue 15 calls this)
    forget_member(jo, ScoreRepository(w.table))
    # Then no index entry, no score, no match is left, and the counts stay (the report keeps its totals)
    dynamodb = client("dynamodb")
    assert "Item" not in dynamodb.get_item(TableName=w.table, Key=index_key(jo))
    assert dynamodb.query(TableName=w.table, KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
                          ExpressionAttributeValues={":pk": {"S": f"MEMBER#{jo}"}, ":s": {"S": "SCORE#"}})["Items"] == []
    for profile in (one, two):
        assert members(w, profile["id"])["members"] == []
        assert relevant_joins(w, profile["id"]) == (1, 1)
    assert relevant_joins(w, "any") == (1, 1)
    forget_member(jo, ScoreRepository(w.table))  # erasing twice is erasing once
    assert relevant_joins(w, "any") == (1, 1) and members(w, two["id"])["members"] == []


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({"name": "", "skills": {"required": ["a"]}}, "name", "string_too_short"),
    ({"name": "n", "skills": {"required": ["a"]}, "places": [{"place": "Berlin", "country": "DE"}]}, "places[0]",
     "place_kind"),
    ({"name": "n", "skills": {"required": ["a"]}, "places": [{"place": "Berlin", "radius_km": 0}]},
     "places[0].place.radius_km", "greater_than"),
    ({"name": "n", "skills": {"required": ["a"]}, "min_score": 1.5}, "min_score", "less_than_equal"),
    ({"name": "n", "skills": {"required": ["a"] * 51}}, "skills.required", "too_long"),
    ({"name": "n", "skills": {"required": ["a"]}, "color": "red"}, "(unknown field)", "extra_forbidden"),  # never echoed
])
def test_invalid_profiles_are_422_naming_field_and_rule(world, body, field, rule):
    answer = call(world.profiles, "POST", PATH, body)
    assert answer["statusCode"] == 422, answer["body"]
    errors = json.loads(answer["body"])["errors"]
    assert (errors[0]["field"], errors[0]["rule"]) == (field, rule), errors


def test_unknown_and_malformed_ids(world):
    unknown = "prf_" + "A" * 16
    for method in ("GET", "DELETE"):
        assert call(world.profiles, method, f"{PATH}/{unknown}")["statusCode"] == 404
    assert call(world.profiles, "GET", f"{PATH}/{unknown}/members")["statusCode"] == 404
    assert call(world.profiles, "PUT", f"{PATH}/{unknown}", {"name": "n", "skills": {}})["statusCode"] == 404
    bad = call(world.profiles, "GET", f"{PATH}/not-a-profile")
    assert bad["statusCode"] == 422 and json.loads(bad["body"])["errors"][0]["field"] == "profile_id"


def test_a_member_scored_on_join_costs_four_dynamodb_calls(world):
    # Reported in docs/data-model.md, "Sizes and costs"
    w = world
    s = lambda *terms: [f"{t}-{w.tag}" for t in terms]  # noqa: E731
    create(w, profile_body(w, ["m"], [], [], name="M"))
    drain(w)  # the profile's own walk
    join(w, "Kim", s("m"), "Oslo")
    calls: list[str] = []
    dynamodb = client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    try:
        drain(w)
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb")
    # GetItem (index entry), Query (profiles), Query (the member's scores), one transaction (relevant to M)
    assert calls == ["Query", "GetItem", "Query", "TransactWriteItems"]


def test_a_rescore_page_costs_five_calls_and_one_transaction_per_member_that_changes(world):
    # Reported in docs/data-model.md, "Sizes and costs": per page of ≤ 100 index entries
    from attract.relevance.member_repository import ScoreRepository
    from attract.relevance.profile_repository import ProfileRepository
    from attract.relevance.scoring import member_facts, score
    from attract.relevance.worker import handle

    w = world
    s = lambda *terms: [f"{t}-{w.tag}" for t in terms]  # noqa: E731
    for name, skills in [("Lu", s("r")), ("Mo", s("r")), ("Ned", s("other"))]:
        join(w, name, skills, "Oslo")
    drain(w)  # their own scoring (no profile of this test yet)
    profile = create(w, profile_body(w, ["r"], [], [], name="R"))

    class Sent(list):
        def send(self, message):
            self.append(message)

    sent, per_page, changed = Sent([{"kind": "profile", "profile_id": profile["id"], "version": 1, "cursor": ""}]), [], 0
    dynamodb = client("dynamodb")
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    while sent:
        calls.clear()
        try:
            handle(sent.pop(), ProfileRepository(w.table), ScoreRepository(w.table), sent, score, member_facts)
        except BaseException:
            dynamodb.meta.events.unregister("before-call.dynamodb")
            raise
        changed += calls.count("TransactWriteItems")
        per_page.append([c for c in calls if c != "TransactWriteItems"])
    dynamodb.meta.events.unregister("before-call.dynamodb")
    # Every page: the profile's version and cursor, its compiled body, one index page, their scores, the progress
    assert per_page and all(page == ["GetItem", "GetItem", "Query", "BatchGetItem", "UpdateItem"] for page in per_page)
    # And one transaction per member whose relevance changed: Lu and Mo (1.0), not Ned, not anyone else's members
    assert changed == 2
    assert sorted(m["name"] for m in members(w, profile["id"])["members"]) == ["Lu", "Mo"]


def test_profiles_are_listed_newest_first_with_a_signed_cursor(world):
    w = world
    made = [create(w, profile_body(w, ["n"], [], [], name=f"P{n}"))["id"] for n in range(3)]
    first = json.loads(call(w.profiles, "GET", PATH, query={"limit": "2"})["body"])
    assert [p["id"] for p in first["profiles"]] == [made[2], made[1]]
    second = json.loads(call(w.profiles, "GET", PATH, query={"limit": "2", "cursor": first["next_cursor"]})["body"])
    assert second["profiles"][0]["id"] == made[0]
    forged = call(w.profiles, "GET", PATH, query={"cursor": first["next_cursor"].replace(".", "x", 1)})
    assert forged["statusCode"] == 422 and json.loads(forged["body"])["errors"][0]["rule"] == "cursor_invalid"
    for limit in ("0", "101", "many"):
        assert call(w.profiles, "GET", PATH, query={"limit": limit})["statusCode"] == 422
    for limit in ("0", "51"):
        assert call(w.profiles, "GET", f"{PATH}/{made[0]}/members", query={"limit": limit})["statusCode"] == 422


def test_a_join_stands_when_the_scoring_queue_refuses(local_aws):
    from attract.providers.sqs import SqsScoringQueue

    # Given a queue URL SQS does not know: sending to it raises
    queue = SqsScoringQueue(f"{local_aws.endpoint}/123456789012/no-such-queue", sqs=local_aws.client("sqs"))
    with pytest.raises(Exception):  # noqa: B017 - whatever SQS answers
        queue.send({"kind": "member", "email_hash": "ab" * 32})
    # Then the confirmation's notice is counted and swallowed: the join stands
    assert queue.member_joined("ab" * 32) is None


def test_racing_walks_count_each_member_once_per_profile_and_once_under_any(world):
    # Two profiles walked at the same moment, and the same page delivered four times at once: each member is
    # relevant to both, so the `any` scope must see each member once, whichever walk reaches them first.
    import threading

    from attract.relevance.keys import index_put
    from attract.relevance.member_repository import ScoreRepository
    from attract.relevance.profile_repository import ProfileRepository
    from attract.relevance.scoring import member_facts, score
    from attract.relevance.worker import handle

    w = world
    dynamodb = client("dynamodb")
    joined = w.day.isoformat()
    for n in range(12):  # index entries as the confirmation writes them (one credited touch, channel direct)
        put = index_put(w.table, f"{w.tag}{n:056x}", joined, [f"race-{w.tag}"], "Oslo",
                        {"channel": {"direct": [Decimal(1)] * 6}})["Put"]
        dynamodb.put_item(TableName=w.table, Item=put["Item"])
    ids = [create(w, profile_body(w, ["race"], [], [], name=name))["id"] for name in ("A", "B")]
    messages = [{"kind": "profile", "profile_id": pid, "version": 1, "cursor": ""} for pid in ids for _ in range(4)]
    errors: list[BaseException] = []

    class Chain(list):
        def send(self, message):
            self.append(message)

    def walk(message: dict) -> None:
        chain = Chain([message])
        try:
            while chain:
                handle(chain.pop(), ProfileRepository(w.table), ScoreRepository(w.table), chain, score, member_facts)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=walk, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert relevant_joins(w, ids[0]) == (12, 12) and relevant_joins(w, ids[1]) == (12, 12)
    assert relevant_joins(w, "any") == (12, 12)


def test_if_match_replaces_only_the_version_it_names(world):
    w = world
    profile = create(w, profile_body(w, ["v"], [], [], name="V"))
    path, body = f"{PATH}/{profile['id']}", profile_body(w, ["v", "w"], [], [], name="V2")
    # The version edited is still current: replaced (version 2)
    ok = call(w.profiles, "PUT", path, body, headers={"if-match": '"1"'})
    assert ok["statusCode"] == 200 and json.loads(ok["body"])["version"] == 2
    # An edit of version 1 made elsewhere meanwhile: 412 with the current version, nothing changed
    stale = call(w.profiles, "PUT", path, body, headers={"if-match": 'W/"1"'})
    assert (stale["statusCode"], json.loads(stale["body"])["version"]) == (412, 2)
    assert json.loads(call(w.profiles, "GET", path)["body"])["version"] == 2
    # Not a version: 422 naming the header; without If-Match the last write wins
    bad = call(w.profiles, "PUT", path, body, headers={"if-match": "*"})
    assert bad["statusCode"] == 422 and json.loads(bad["body"])["errors"][0]["rule"] == "if_match_invalid"
    assert json.loads(call(w.profiles, "PUT", path, body)["body"])["version"] == 3
