"""The template's other triggers, run locally: SQS event-source mappings and schedules.

moto stores queues and Scheduler schedules but runs event-source mappings only through Docker (absent
here) and fires no schedule at all. So:
- one poller thread per `Type: SQS` event receives from the moto queue (long polling, up to the
  event's BatchSize within its MaximumBatchingWindowInSeconds), invokes the function with the event
  Lambda sends, then deletes what succeeded. With `ReportBatchItemFailures` the `batchItemFailures`
  stay; a function error or an invalid response leaves the whole batch. What stays becomes visible
  again after the queue's VisibilityTimeout, and moto applies the queue's RedrivePolicy (DLQ).
- one scheduler thread fires the `Type: Schedule` / `ScheduleV2` events and the EventBridge Scheduler
  schedules created at run time (re-read with list_schedules / get_schedule every few seconds) whose
  target is a function of the template (`arn:aws:lambda:<region>:<account>:function:<LogicalId>`) or
  one of its SQS queues (the Input, placeholders filled in, is sent as the message body, as Scheduler's
  universal SQS target does).
"""

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from attract.schedules import At, Schedule, UnsupportedScheduleError, parse
from attract_local.runtime import FunctionPool, InvocationError
from attract_local.stack import ACCOUNT, REGION, LocalAws, function_arn

UTC = timezone.utc
LONG_POLL_S = 1  # short enough that the stack stops within a second; Lambda's pollers wait up to 20 s
TICK_S = 0.5
REFRESH_S = 2.0  # how often Scheduler schedules are re-read from the emulator
SQS_RECEIVE_MAX = 10  # per ReceiveMessage call
_PLACEHOLDERS = ("<aws.scheduler.schedule-arn>", "<aws.scheduler.scheduled-time>",
                 "<aws.scheduler.execution-id>", "<aws.scheduler.attempt-number>")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ SQS


@dataclass(frozen=True)
class SqsMapping:
    """One `Type: SQS` event of a function: the event-source mapping SAM would create."""

    event: str
    function: str
    queue_arn: str
    batch_size: int
    window_s: float
    report_failures: bool
    enabled: bool


def sqs_mappings(aws: LocalAws) -> list[SqsMapping]:
    mappings = []
    for name, resource in aws.template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource["Properties"].get("Events") or {}).items():
            if event["Type"] != "SQS":
                continue
            props = aws.resolve(event.get("Properties") or {}, f"{name}.Events.{event_name}.Properties")
            if "FilterCriteria" in props:  # would change which messages reach the function: refuse, never ignore
                raise ValueError(f"{name}.Events.{event_name}: FilterCriteria is not emulated by the local stack")
            mappings.append(SqsMapping(
                event=event_name, function=name, queue_arn=str(props["Queue"]),
                batch_size=int(props.get("BatchSize", 10)),
                window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                enabled=str(props.get("Enabled", True)).lower() != "false"))
    return mappings


def _message_attributes(attributes: dict) -> dict:
    """boto3's MessageAttributes in the camelCase shape of Lambda's SQS event (binary as base64)."""
    converted = {}
    for key, value in attributes.items():
        item: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        converted[key] = item
    return converted


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """The event Lambda's SQS poller sends for a batch of received messages."""
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
            "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
            "awsRegion": REGION}
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_message_ids(result: Any, message_ids: list[str], report_failures: bool) -> set[str]:
    """Which messages of a batch failed, read from the function's response as Lambda reads it.

    Without ReportBatchItemFailures a response is never looked at. With it: no response, an empty object
    or an empty/null `batchItemFailures` is success; a list of `{"itemIdentifier": <a batch id>}` fails
    those; anything else (not an object, a bad entry, an unknown or empty id) fails the whole batch.
    """
    if not report_failures or result is None:
        return set()
    everything = set(message_ids)
    if not isinstance(result, dict):
        return everything
    failures = result.get("batchItemFailures")
    if not failures:
        return set() if failures in (None, []) else everything
    if not isinstance(failures, list):
        return everything
    failed = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything
        failed.add(identifier)
    return failed


class SqsPoller:
    """The event-source mapping's poller: one batch at a time, deletes what succeeded."""

    def __init__(self, aws: LocalAws, mapping: SqsMapping, pool: FunctionPool, log: TextIO):
        self.mapping, self.pool, self.log = mapping, pool, log
        self.sqs = aws.client("sqs")
        self.queue_url = self.sqs.get_queue_url(QueueName=mapping.queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        visibility = int(self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
                         ["Attributes"]["VisibilityTimeout"])
        if visibility < pool.timeout_s:
            # Lambda refuses such a mapping: a message would come back while its first delivery still runs.
            raise ValueError(f"{mapping.function}.Events.{mapping.event}: the queue's VisibilityTimeout ({visibility} s)"
                             f" is less than the function's Timeout ({pool.timeout_s:g} s)")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{mapping.function}-{mapping.event}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # noqa: BLE001 - the emulator stopping, or a bug: logged, the poller goes on
                if not self._stop.is_set():
                    print(f"[sqs] {self.mapping.function}.{self.mapping.event}: {type(error).__name__}: {error}",
                          file=self.log, flush=True)
                    self._stop.wait(1)

    def _receive(self, count: int, wait_s: int) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=min(SQS_RECEIVE_MAX, count), WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])

    def gather(self) -> list[dict]:
        """Up to BatchSize messages: the first long poll, then more until the batching window closes."""
        messages = self._receive(self.mapping.batch_size, LONG_POLL_S)
        if not messages:
            return []
        closes = time.monotonic() + self.mapping.window_s
        while len(messages) < self.mapping.batch_size and not self._stop.is_set():
            left = closes - time.monotonic()
            if left <= 0:
                break
            more = self._receive(self.mapping.batch_size - len(messages), min(LONG_POLL_S, int(left)))
            messages += more
            if not more and left < 1:
                self._stop.wait(left)
        return messages

    def poll_once(self) -> int:
        """One receive-invoke-delete round; returns how many messages it deleted."""
        messages = self.gather()
        if not messages:
            return 0
        ids = [m["MessageId"] for m in messages]
        try:
            result = self.pool.invoke(sqs_event(messages, self.mapping.queue_arn))
        except InvocationError as error:
            # As Lambda: a function error (or timeout) fails the batch; the messages come back after the
            # visibility timeout, and the queue's redrive policy moves them on after maxReceiveCount.
            print(f"[sqs] {self.mapping.function}.{self.mapping.event}: batch of {len(ids)} failed ({error.kind})",
                  file=self.log, flush=True)
            return 0
        failed = failed_message_ids(result, ids, self.mapping.report_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_RECEIVE_MAX):
            chunk = done[start:start + SQS_RECEIVE_MAX]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
        if failed:
            print(f"[sqs] {self.mapping.function}.{self.mapping.event}: {len(failed)} of {len(ids)} failed",
                  file=self.log, flush=True)
        return len(done)


# ------------------------------------------------------------------ schedules


@dataclass
class Scheduled:
    """A schedule the scheduler thread fires: a template event, or a Scheduler schedule read back from moto."""

    name: str  # the template event's name, or the Scheduler schedule's
    kind: str  # Schedule | ScheduleV2 | Scheduler
    function: str
    expression: str
    schedule: Schedule
    input: str | None
    enabled: bool
    anchor: datetime  # when the local stack first saw it: rate() counts from here
    arn: str
    group: str | None = None
    version: str = ""  # Scheduler's LastModificationDate: a change rebuilds the entry
    delete_after: bool = False  # ActionAfterCompletion: DELETE
    start: datetime | None = None
    end: datetime | None = None
    next_at: datetime | None = field(default=None)
    queue_url: str | None = None  # an SQS target: the Input is sent there instead of invoking `function`

    def __post_init__(self) -> None:
        if self.start and self.start > self.anchor:
            self.anchor = self.start
        # An at() already past when first seen fires at the first tick; the others wait for their time.
        self.next_at = self.schedule.moment if isinstance(self.schedule, At) else \
            self.schedule.next_after(self.anchor, self.anchor)

    def event(self, scheduled_at: datetime) -> dict:
        if self.kind == "Schedule" and self.input is None:
            # EventBridge's rule envelope; with `Input`, the rule sends that constant JSON instead.
            return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                    "source": "aws.events", "account": ACCOUNT, "time": _iso(scheduled_at), "region": REGION,
                    "resources": [self.arn], "detail": {}}
        return json.loads(self.text(scheduled_at))

    def text(self, scheduled_at: datetime) -> str:
        """The Input as sent: Scheduler fills its context attributes into it (EventBridge rules do not)."""
        text = self.input if self.input is not None else "{}"
        if self.kind != "Schedule":
            for placeholder, value in zip(_PLACEHOLDERS, (self.arn, _iso(scheduled_at), str(uuid.uuid4()), "1"),
                                          strict=True):
                text = text.replace(placeholder, value)
        return text


def template_schedules(aws: LocalAws, now: datetime) -> list[Scheduled]:
    """Every Schedule / ScheduleV2 event of the template; an expression not honoured locally raises."""
    found = []
    for name, resource in aws.template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource["Properties"].get("Events") or {}).items():
            kind = event["Type"]
            if kind not in ("Schedule", "ScheduleV2"):
                continue
            props = aws.resolve(event.get("Properties") or {}, f"{name}.Events.{event_name}.Properties")
            if kind == "Schedule":
                expression, zone = str(props["Schedule"]), None
                enabled = str(props.get("Enabled", True)).lower() != "false" and props.get("State") != "DISABLED"
                arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{props.get('Name') or name + event_name}"
            else:
                expression, zone = str(props["ScheduleExpression"]), props.get("ScheduleExpressionTimezone")
                enabled = props.get("State", "ENABLED") != "DISABLED"
                arn = (f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{props.get('GroupName', 'default')}/"
                       f"{props.get('Name') or name + event_name}")
            try:
                schedule = parse(expression, zone)
            except UnsupportedScheduleError as error:
                raise UnsupportedScheduleError(expression, f"{name}.Events.{event_name}: {error}") from None
            found.append(Scheduled(name=event_name, kind=kind, function=name, expression=expression,
                                   schedule=schedule, input=props.get("Input"), enabled=enabled, anchor=now, arn=arn))
    return found


class LocalTriggers:
    """SQS pollers and the scheduler thread for one local stack; `tick(now)` fires what is due at `now`.

    `clock` is injectable so that tests move time instead of waiting for it.
    """

    def __init__(self, aws: LocalAws, pools: dict[str, FunctionPool], log: TextIO,
                 clock: Callable[[], datetime] | None = None, refresh_s: float = REFRESH_S):
        self.aws, self.pools, self.log = aws, pools, log
        self.clock = clock or (lambda: datetime.now(UTC))
        self.refresh_s = refresh_s
        self.mappings = [m for m in sqs_mappings(aws) if m.enabled]
        self.pollers = [SqsPoller(aws, m, pools[m.function], log) for m in self.mappings]
        self.schedules = template_schedules(aws, self.clock())
        self.runtime: dict[tuple[str, str], Scheduled] = {}  # (group, name) -> Scheduler schedule
        # The stack's queues by ARN: a Scheduler schedule may target one (SendMessage of its Input).
        self.queues = {arn: str(aws.refs[logical]) for (logical, attribute), arn in aws.attrs.items()
                       if attribute == "Arn" and str(arn).startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:")}
        self._skipped: set[tuple[str, str, str]] = set()  # (group, name, version) already reported as not run
        self._refreshed = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._async = ThreadPoolExecutor(max_workers=4, thread_name_prefix="scheduled")

    def start(self) -> "LocalTriggers":
        for poller in self.pollers:
            poller.start()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def signal_stop(self) -> None:
        self._stop.set()
        for poller in self.pollers:
            poller.signal_stop()

    def stop(self, timeout_s: float = 2.0) -> None:
        self.signal_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
        for poller in self.pollers:
            poller.join(timeout_s)
        self._async.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception as error:  # noqa: BLE001 - as the pollers: logged, the scheduler goes on
                if not self._stop.is_set():
                    print(f"[scheduler] {type(error).__name__}: {error}", file=self.log, flush=True)

    # ---------------------------------------------------------------- Scheduler schedules

    def refresh(self) -> None:
        """Read the Scheduler schedules back from the emulator (moto only stores them)."""
        scheduler = self.aws.client("scheduler")
        seen: set[tuple[str, str]] = set()
        token = None
        while True:
            page = scheduler.list_schedules(**({"NextToken": token} if token else {}))
            for summary in page.get("Schedules", []):
                key = (summary.get("GroupName") or "default", summary["Name"])
                seen.add(key)
                version = str(summary.get("LastModificationDate"))
                current = self.runtime.get(key)
                if current is not None and current.version == version:
                    continue
                detail = scheduler.get_schedule(Name=key[1], GroupName=key[0])
                entry = self._runtime_entry(detail, key, version)
                if entry is None:
                    self.runtime.pop(key, None)
                else:
                    self.runtime[key] = entry
            token = page.get("NextToken")
            if not token:
                break
        for key in set(self.runtime) - seen:
            del self.runtime[key]
        self._refreshed = time.monotonic()

    def _runtime_entry(self, detail: dict, key: tuple[str, str], version: str) -> Scheduled | None:
        target = detail.get("Target") or {}
        arn = str(target.get("Arn", ""))
        prefix = function_arn("")
        function = arn.removeprefix(prefix).split(":")[0] if arn.startswith(prefix) else ""
        label = f"{key[0]}/{key[1]}"
        queue_url = self.queues.get(arn)
        if function not in self.pools and queue_url is None:
            self._report_once(key, version, f"schedule {label}: target {arn} is not a function or queue of this "
                                            "stack: not fired locally")
            return None
        try:
            schedule = parse(str(detail.get("ScheduleExpression")), detail.get("ScheduleExpressionTimezone"))
        except UnsupportedScheduleError as error:
            self._report_once(key, version, f"schedule {label}: {error}: NOT FIRED")
            return None
        if queue_url is not None:
            function = arn.rsplit(":", 1)[-1]  # the queue's name, for the log lines
        return Scheduled(name=key[1], kind="Scheduler", function=function, expression=str(detail["ScheduleExpression"]),
                         schedule=schedule, input=target.get("Input"), enabled=detail.get("State") != "DISABLED",
                         anchor=self.clock(), arn=str(detail.get("Arn", "")), group=key[0], version=version,
                         delete_after=detail.get("ActionAfterCompletion") == "DELETE",
                         start=detail.get("StartDate"), end=detail.get("EndDate"), queue_url=queue_url)

    def _report_once(self, key: tuple[str, str], version: str, message: str) -> None:
        if (*key, version) not in self._skipped:
            self._skipped.add((*key, version))
            print(f"[scheduler] {message}", file=self.log, flush=True)

    # ---------------------------------------------------------------- firing

    def tick(self, now: datetime | None = None, refresh: bool | None = None) -> list[Future]:
        """Fire every enabled schedule due at `now` (asynchronously, as EventBridge invokes); returns the
        invocations, so a caller may wait for them."""
        now = now or self.clock()
        with self._lock:
            if refresh or (refresh is None and time.monotonic() - self._refreshed >= self.refresh_s):
                self.refresh()
            fired = []
            for entry in [*self.schedules, *self.runtime.values()]:
                if not entry.enabled or entry.next_at is None or entry.next_at > now:
                    continue
                if entry.end is not None and now > entry.end:
                    entry.next_at = None
                    continue
                scheduled_at = entry.next_at
                fired.append(self._async.submit(self._invoke, entry, scheduled_at))
                entry.next_at = entry.schedule.next_after(now, entry.anchor)
                if isinstance(entry.schedule, At) and entry.kind == "Scheduler" and entry.delete_after:
                    self.aws.client("scheduler").delete_schedule(Name=entry.name, GroupName=entry.group or "default")
            return fired

    def _invoke(self, entry: Scheduled, scheduled_at: datetime) -> dict:
        label = f"{entry.kind} {entry.name} -> {entry.function}"
        if entry.queue_url is not None:
            return self._send(entry, scheduled_at, label)
        try:
            event = entry.event(scheduled_at)
        except ValueError:  # AWS refuses a non-JSON Input for a Lambda target at creation; moto does not
            print(f"[scheduler] {label}: Input is not JSON: not fired", file=self.log, flush=True)
            return {"schedule": entry.name, "function": entry.function, "ok": False, "error": "InvalidInput"}
        try:
            result = self.pools[entry.function].invoke(event)
        except InvocationError as error:
            # Lambda retries a failed asynchronous invocation (twice, minutes apart); locally it is logged only.
            print(f"[scheduler] {label}: function error {error.kind}", file=self.log, flush=True)
            return {"schedule": entry.name, "function": entry.function, "ok": False, "error": error.kind}
        print(f"[scheduler] {label}: fired", file=self.log, flush=True)
        return {"schedule": entry.name, "function": entry.function, "ok": True, "result": result}

    def _send(self, entry: Scheduled, scheduled_at: datetime, label: str) -> dict:
        """An SQS target: the Input as the message body (Scheduler retries a failed send; locally it is logged)."""
        assert entry.queue_url is not None
        try:
            sent = self.aws.client("sqs").send_message(QueueUrl=entry.queue_url, MessageBody=entry.text(scheduled_at))
        except Exception as error:  # noqa: BLE001 - botocore's errors: logged like a function error
            print(f"[scheduler] {label}: SendMessage failed ({type(error).__name__})", file=self.log, flush=True)
            return {"schedule": entry.name, "queue": entry.function, "ok": False, "error": type(error).__name__}
        print(f"[scheduler] {label}: sent", file=self.log, flush=True)
        return {"schedule": entry.name, "queue": entry.function, "ok": True, "message_id": sent["MessageId"]}

    def names(self) -> list[str]:
        with self._lock:
            return sorted({e.name for e in self.schedules} | {e.name for e in self.runtime.values()})

    def fire(self, name: str, at: datetime | None = None) -> dict:
        """Fire one schedule now, whatever its expression or state (`make fire`); waits for the function.

        `name` is a template event's name (or `Function.Event`), or a Scheduler schedule's (or `group/name`).
        `at` is the scheduled time the event carries (default now): a function that works as of its event's
        time can be run as of hours ahead. Raises KeyError when nothing, or more than one schedule, has that name.
        """
        with self._lock:
            self.refresh()
            matches = [e for e in self.schedules if name in (e.name, f"{e.function}.{e.name}")]
            matches += [e for e in self.runtime.values() if name in (e.name, f"{e.group}/{e.name}")]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} schedules named {name!r}")
        return self._invoke(matches[0], at or self.clock())

    def describe(self) -> list[str]:
        lines = [f"SQS  {m.queue_arn.rsplit(':', 1)[-1]} -> {m.function} (batch {m.batch_size}"
                 f"{', partial failures' if m.report_failures else ''})" for m in self.mappings]
        lines += [f"{e.kind:<10} {e.name}: {e.expression} -> {e.function}{'' if e.enabled else '  (disabled)'}"
                  for e in self.schedules]
        return lines

