"""Planning logic with in-memory fakes: request shapes, checkpoints and resume, error codes, batching adapters."""

import json
from collections import Counter
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from attract.invites.models import InviteSender
from attract.invites.planning import PlanRequest, error_code, parse_request, plan, reads_in_order
from attract.invites.planning_repository import PlanningLookups
from attract.invites.ports import SourceNotAllowedError, SourceTruncatedError
from attract.invites.sources import ColumnMapping
from attract.providers.sqs import SqsBatchSender
from tests.support import load_event

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


class Campaign:
    id, name, link_code = "c1", "Alumni", "abc123"
    subject, text, html, watermark = "Hi {{first_name}}", "Hello", None, None
    mapping = ColumnMapping(email="email", consent="consent", first_name="first_name")
    source = type("Spec", (), {"kind": "s3"})()
    sender = InviteSender.model_validate({"from": "Acme <c@acme.example>", "postal_address": "1 Main Street"})


class ListSource:
    def __init__(self, rows):
        self.all, self.count = rows, 0

    def rows(self, since=None):
        for row in self.all:
            self.count += 1
            yield row


class Runs:
    """The run item's conditional updates, in memory."""

    def __init__(self, checkpoint_rows: int = 0, counts: dict | None = None, refuse_after: int | None = None):
        self.item = {"status": "planning", "checkpoint": {"rows": checkpoint_rows, "counts": counts or {}}}
        self.added: Counter = Counter(counts or {})
        self.refuse_after = refuse_after
        self.settled = 0

    def begin_planning(self, campaign_id, run_id, since, now):
        return self.item if self.item["status"] == "planning" else None

    def _advance(self, previous, rows, counts, added, status=None):
        if self.item["checkpoint"]["rows"] != previous or (self.refuse_after is not None and rows > self.refuse_after):
            return False
        self.item["checkpoint"] = {"rows": rows, "counts": dict(counts)}
        self.added.update(added)
        if status:
            self.item["status"] = status
        return True

    def checkpoint(self, campaign_id, run_id, previous_rows, rows, counts, added):
        return self._advance(previous_rows, rows, counts, added)

    def finish_planning(self, campaign_id, run_id, previous_rows, rows, counts, added, now):
        return self._advance(previous_rows, rows, counts, added, "sending" if counts.get("planned") else "done")

    def rewind(self, campaign_id, run_id, previous_rows, counts):
        return self._advance(previous_rows, 0, {}, {k: -v for k, v in counts.items()})

    def settle(self, campaign_id, run_id, now):
        self.settled += 1
        return False


class Lookups:
    def __init__(self, reasons: dict | None = None):
        self.reasons_by_email, self.calls = reasons or {}, []

    def reasons(self, campaign_id, email_hashes, now, cooldown_days):
        self.calls.append(len(email_hashes))
        return {h: self.reasons_by_email.get(h) for h in email_hashes}


class Queue:
    def __init__(self):
        self.batches: list[list[str]] = []

    def send(self, bodies):
        self.batches.append(list(bodies))

    def recipients(self) -> list[str]:
        return [json.loads(body)["recipient"]["email"] for batch in self.batches for body in batch]


class Watermarks:
    def __init__(self):
        self.completed = []

    def complete_planning(self, campaign_id, run_id, watermark):
        self.completed.append((run_id, watermark))


def people(n: int) -> list[dict]:
    return [{"email": f"p{i}@example.com", "consent": True, "first_name": f"P{i}"} for i in range(n)]


def run_plan(rows, runs, lookups=None, every=10):
    queue, watermarks = Queue(), Watermarks()
    outcome = plan(Campaign(), "r-1", ListSource(rows), runs=runs, campaigns=watermarks, lookups=lookups or Lookups(),
                   queue=queue, hasher=lambda email: email, now=NOW, cooldown_days=30, checkpoint_every=every)
    return outcome, queue, watermarks


def test_a_schedule_message_names_its_run_by_the_scheduled_time_and_one_of_run_or_time_is_required():
    # events/invites/plan.json: what the plan queue delivers from an EventBridge Scheduler schedule
    request = parse_request(load_event("invites/plan")["Records"][0]["body"])
    assert request.run() == "s-20261126T060000Z" and request.trigger == "schedule"
    assert PlanRequest.model_validate({"campaign_id": "c1", "run_id": "r-abc"}).run() == "r-abc"
    for body in ({"campaign_id": "c1"}, {"campaign_id": "c1", "run_id": "r", "scheduled_at": "2026-11-26T10:00:00Z"},
                 {"campaign_id": "a/b", "run_id": "r"}):
        with pytest.raises(ValidationError):
            PlanRequest.model_validate(body)


def test_rows_are_counted_by_reason_looked_up_25_at_a_time_and_enqueued_10_at_a_time():
    rows = [*people(57), {"email": "nope", "consent": True}, {"email": "x@example.com", "consent": "no"},
            {"email": "P1@Example.com", "consent": True}]
    runs = Runs()
    outcome, queue, watermarks = run_plan(rows, runs, Lookups({"p3@example.com": "member",
                                                                "p4@example.com": "already_invited"}))
    assert outcome == "planned" and runs.item["status"] == "sending" and runs.settled == 1
    assert runs.added == Counter({"rows": 60, "planned": 55, "invalid_email": 1, "no_consent": 1, "duplicate": 1,
                                  "member": 1, "already_invited": 1})
    assert all(len(batch) <= 10 for batch in queue.batches) and len(queue.recipients()) == 55
    assert watermarks.completed == [("r-1", NOW)]  # no updated_at mapped: the run's time


def test_a_resumed_run_skips_the_checkpointed_rows_and_counts_each_row_once():
    # Given a run that checkpointed 20 of 35 rows (its counts already ADDed) before dying
    rows = people(35)
    runs = Runs(checkpoint_rows=20, counts={"rows": 20, "planned": 20})
    # When the plan message comes again
    outcome, queue, _ = run_plan(rows, runs)
    # Then only rows 21-35 are enqueued again, and the run's counts are those of 35 rows
    assert outcome == "planned"
    assert queue.recipients() == [f"p{i}@example.com" for i in range(20, 35)]
    assert runs.added == Counter({"rows": 35, "planned": 35})


def test_a_duplicate_of_the_first_rows_after_a_resume_is_still_a_duplicate():
    rows = [*people(12), {"email": "p0@example.com", "consent": True}]
    runs = Runs(checkpoint_rows=10, counts={"rows": 10, "planned": 10})
    _, queue, _ = run_plan(rows, runs)
    assert queue.recipients() == ["p10@example.com", "p11@example.com"]
    assert runs.added["duplicate"] == 1


def test_a_concurrent_planner_of_the_same_run_stops_at_its_first_refused_checkpoint():
    runs = Runs(refuse_after=10)
    outcome, queue, watermarks = run_plan(people(30), runs)
    assert outcome == "superseded" and runs.item["status"] == "planning" and watermarks.completed == []
    assert len(queue.recipients()) == 20  # enqueued before it knew: the sender's claims make them harmless


def test_a_run_no_longer_planning_is_not_planned_again():
    runs = Runs()
    runs.item["status"] = "done"
    outcome, queue, _ = run_plan(people(5), runs)
    assert outcome == "not_planning" and queue.batches == []


def test_only_a_parallel_scan_lacks_a_stable_order():
    def spec(**fields):
        return type("Spec", (), {"kind": "dynamodb", "key": None, "segments": 4, **fields})()

    assert not reads_in_order(spec())
    assert reads_in_order(spec(segments=1)) and reads_in_order(spec(key=object()))
    assert reads_in_order(type("Spec", (), {"kind": "postgresql"})())


def test_error_codes_say_what_failed_and_whether_a_retry_can_help():
    from botocore.exceptions import ClientError

    assert error_code(SourceTruncatedError("x")) == ("source_truncated", False)
    assert error_code(SourceNotAllowedError("x")) == ("source_not_allowed", True)
    # A missing object and one that may not be read are one code: the run says nothing of what exists
    assert error_code(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")) == ("source_unreadable", True)
    assert error_code(ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject")) == ("source_unreadable", True)
    assert error_code(ClientError({"Error": {"Code": "ThrottlingException"}}, "Query")) == ("planning_failed", False)
    assert error_code(RuntimeError("boom")) == ("planning_failed", False)


class FakeSqs:
    def __init__(self, failures: list[list[dict]]):
        self.failures, self.calls = failures, []

    def send_message_batch(self, QueueUrl, Entries):
        self.calls.append([entry["Id"] for entry in Entries])
        return {"Failed": self.failures.pop(0) if self.failures else []}


def test_the_queue_sender_retries_failed_entries_only_and_refuses_a_sender_fault():
    sqs = FakeSqs([[{"Id": "3", "SenderFault": False, "Code": "InternalError"}]])
    SqsBatchSender("q", sqs, sleep=lambda s: None).send([f"body{i}" for i in range(12)])
    assert sqs.calls == [[str(i) for i in range(10)], ["3"], ["0", "1"]]
    faulty = FakeSqs([[{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents"}]])
    with pytest.raises(RuntimeError, match="InvalidMessageContents"):
        SqsBatchSender("q", faulty, sleep=lambda s: None).send(["x"])


def test_the_queue_sender_keeps_a_batch_under_256_kib():
    sqs = FakeSqs([])
    SqsBatchSender("q", sqs, sleep=lambda s: None).send(["x" * 100_000] * 5)
    assert [len(ids) for ids in sqs.calls] == [2, 2, 1]


class FakeDynamodb:
    def __init__(self, table: str, items: list[dict]):
        self.table, self.items, self.calls = table, items, []

    def batch_get_item(self, RequestItems):
        keys = RequestItems[self.table]["Keys"]
        self.calls.append(len(keys))
        wanted = {(k["PK"]["S"], k["SK"]["S"]) for k in keys}
        found = [i for i in self.items if (i["PK"]["S"], i["SK"]["S"]) in wanted]
        if len(self.calls) == 1:  # throttled: half comes back unprocessed
            return {"Responses": {self.table: []}, "UnprocessedKeys": {self.table: {**RequestItems[self.table]}}}
        return {"Responses": {self.table: found}}


def test_lookups_ask_100_keys_a_call_retry_unprocessed_keys_and_apply_precedence():
    now = int(NOW.timestamp())
    items = [{"PK": {"S": "MEMBER#a"}, "SK": {"S": "MEMBER"}}, {"PK": {"S": "SUPPRESS#a"}, "SK": {"S": "SUPPRESS"}},
             {"PK": {"S": "SUPPRESS#b"}, "SK": {"S": "SUPPRESS"}},
             {"PK": {"S": "COOLDOWN#c"}, "SK": {"S": "COOLDOWN"}, "invited_at": {"N": str(now - 86400)},
              "campaign_id": {"S": "other"}},
             {"PK": {"S": "COOLDOWN#d"}, "SK": {"S": "COOLDOWN"}, "invited_at": {"N": str(now - 40 * 86400)},
              "campaign_id": {"S": "other"}},
             {"PK": {"S": "COOLDOWN#e"}, "SK": {"S": "COOLDOWN"}, "invited_at": {"N": str(now)},
              "campaign_id": {"S": "c1"}},
             {"PK": {"S": "INVITE_SEND#c1#e"}, "SK": {"S": "SEND"}}]
    dynamodb = FakeDynamodb("t", items)
    hashes = ["a", "b", "c", "d", "e", *(f"z{i}" for i in range(25))]
    reasons = PlanningLookups("t", dynamodb, sleep=lambda s: None).reasons("c1", hashes, NOW, 30)
    assert {h: r for h, r in reasons.items() if r} == {"a": "member", "b": "suppressed", "c": "cooldown",
                                                      "e": "already_invited"}
    assert dynamodb.calls == [100, 100, 20]  # 30 people: 25 + 5, the first call's keys asked again
