"""Join cost: DynamoDB calls and items written per join, CPU per join; the confirmation mails one client can
cause per hour (issue 13). Printed, never asserted (`make bench`).
What a report costs with 1,000 vs 20,000 joins behind it, and aggregate item sizes: bench/aggregates.py.
"""

import importlib
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.context import FakeLambdaContext  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

SAMPLE_JOINS = 200
VOLUMES = (1_000, 20_000)
DAYS = 30
# The cost rows send many joins from the sample event's one sourceIp: the mail limits would refuse most of
# them. They run with the limits raised; measure_mail_limits sets the template's defaults back.
COST_LIMITS: dict[str, object] = {"JoinMailsPerSourceHour": 1_000_000, "JoinMailsPerHour": 1_000_000}
MAIL_LIMITS = {"JoinMailsPerSourceHour": "JOIN_MAILS_PER_SOURCE_HOUR", "JoinMailsPerHour": "JOIN_MAILS_PER_HOUR"}
CHANNELS = [("paid_search", "google", "cpc"), ("paid_social", "linkedin", "cpc"), ("email", "crm", "email"),
            ("organic_social", "mastodon", "social"), ("event", "career-fair", "badge")]




def use_function_env(aws: LocalAws, logical_id: str) -> None:
    os.environ.update(aws.handler_environment(logical_id))
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Bench"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one INFO line per call would drown the figures


def join_event(body: dict) -> dict:
    event = json.loads((ROOT / "events/joins/join.json").read_text())
    event["body"] = json.dumps(body)
    return event


def confirm_event(token: str) -> dict:
    event = json.loads((ROOT / "events/joins/confirm.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/joins/confirm/{token}"
    event["pathParameters"] = {"token": token}
    return event


def seed_visitor(touches_repo, rng: random.Random, now: datetime, count: int, signer) -> str:
    from attract.tracking.models import Touch

    visitor = signer.new_visitor_id()  # as the redirect issues it: a join trusts only signed ids
    touches = []
    for index in range(count):
        channel, source, medium = rng.choice(CHANNELS)
        touches.append(Touch(touch_id=f"seed{uuid.uuid4().hex[:20]}", occurred_at=now - timedelta(days=rng.uniform(0, 25)),
                             origin="click", visitor_id=visitor, channel=channel, campaign=f"Campaign {index % 4}",
                             source=source, medium=medium))
    touches_repo.put_many(touches, {t.touch_id: 2_000_000_000 for t in touches})
    return visitor


def measure_join_path(aws: LocalAws) -> None:
    """A join is two requests now (docs/security.md): POST /joins (hold + mail) and the confirmation POST."""
    use_function_env(aws, "JoinsFunction")
    joins = importlib.import_module("functions.joins.app")
    from attract import aws as attract_aws
    from attract.signing import Signer

    calls: Counter = Counter()
    written: Counter = Counter()
    links: dict[str, str] = {}

    def count_items(params, **_):
        written["items"] += len(params["TransactItems"])

    def keep_link(params, **_):
        text = params["Content"]["Simple"]["Body"]["Text"]["Data"]
        if "/joins/confirm/" in text:
            links[params["Destination"]["ToAddresses"][0]] = text.split("/joins/confirm/")[1].split()[0]

    dynamodb, sesv2 = attract_aws.client("dynamodb"), attract_aws.client("sesv2")
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", count_items)
    sesv2.meta.events.register("before-call.sesv2", lambda model, **_: calls.update(["ses:" + model.name]))
    sesv2.meta.events.register("provide-client-params.sesv2.SendEmail", keep_link)
    signer = Signer(aws.client("secretsmanager").get_secret_value(SecretId=aws.refs["SigningKeySecret"])["SecretString"])
    touches_repo, _, _ = joins._stores()
    rng = random.Random(1)
    now = datetime.now(timezone.utc)
    rows = []
    devnull, real_stdout = open(os.devnull, "w"), sys.stdout  # noqa: SIM115 - closed at the end of the run

    def step(label, events):
        calls.clear()
        written.clear()
        cpu = []
        for event, status in events:
            started = time.thread_time()
            response = joins.lambda_handler(event, FakeLambdaContext())
            cpu.append((time.thread_time() - started) * 1000)
            assert response["statusCode"] == status, response
        n = len(cpu)
        rows.append((label, {op: round(c / n, 2) for op, c in sorted(calls.items())}, written["items"] / n,
                     statistics.median(cpu), statistics.quantiles(cpu, n=20)[-1]))

    sys.stdout = devnull  # EMF metrics
    try:
        for path_length in (0, 1, 3, 5):
            bodies = []
            for _ in range(SAMPLE_JOINS // 4):
                body = {"email": f"bench-{uuid.uuid4().hex}@example.com", "name": "Bench", "consent": True}
                if path_length:
                    body["visitor_id"] = seed_visitor(touches_repo, rng, now, path_length, signer)
                else:
                    body |= {"utm_source": "google", "utm_medium": "cpc"}
                bodies.append(body)
            step(f"submit, {path_length or 'no'} touches", [(join_event(b), 202) for b in bodies])
            step(f"confirm, {path_length or 'no'} touches", [(confirm_event(links[str(b["email"])]), 200) for b in bodies])
        # The timing class: a member's address does the same calls as a new one (a note instead of a link);
        # within the hour after a mail, every address (new, pending or member) is answered without mailing.
        step("submit: member's address", [(join_event(b), 202) for b in bodies])
        step("submit: within the hour", [(join_event(b), 202) for b in bodies])
    finally:
        sys.stdout = real_stdout
    print(f"Join (handlers in-process, DynamoDB and SES = moto server, {SAMPLE_JOINS // 4} requests per row)")
    print(f"  {'request':<24}  {'calls per request':<82} {'items written':>13} {'CPU p50':>8} {'CPU p95':>8}")
    for label, per_join, items, p50, p95 in rows:
        print(f"  {label:<24}  {json.dumps(per_join):<82} {items:>13.1f} {p50:>6.1f}ms {p95:>6.1f}ms")


def measure_mail_limits(aws: LocalAws) -> None:
    """Issue 13: the confirmation mails one client can cause in a clock hour, to one mailbox and in all.

    Computed from template.yaml's defaults, then measured: POST /joins through the real handler (in-process)
    against moto, counting the SES SendEmail calls and the messages put off to JoinMailQueue, in one clock
    hour of its own (a fixed clock: the handler reads it, so the window cannot roll over mid-run).
    """
    defaults = {name: int(aws.template["Parameters"][name]["Default"])
                for name in (*MAIL_LIMITS, "JoinRateLimit")}
    use_function_env(aws, "JoinsFunction")
    os.environ.update({variable: str(defaults[name]) for name, variable in MAIL_LIMITS.items()})
    joins = importlib.import_module("functions.joins.app")
    from attract import aws as attract_aws
    from attract import settings

    settings.load_settings.cache_clear()
    attract_aws.client.cache_clear()
    joins._stores.cache_clear()
    joins._later.cache_clear()
    first_hour = datetime(2031, 1, 1, 0, 5, tzinfo=timezone.utc) + timedelta(hours=random.randrange(100_000))
    mails: Counter = Counter()
    queued: Counter = Counter()
    attract_aws.client("sesv2").meta.events.register(
        "provide-client-params.sesv2.SendEmail",
        lambda params, **_: mails.update(params["Destination"]["ToAddresses"]))
    attract_aws.client("sqs").meta.events.register(
        "provide-client-params.sqs.SendMessage",
        lambda params, **_: queued.update(["deferred"]) if "JoinMailQueue" in params["QueueUrl"] else None)
    run = uuid.uuid4().hex[:8]

    def post(email: str, ip: str) -> None:
        event = join_event({"email": email, "name": "Bench", "consent": True})
        event["requestContext"]["http"]["sourceIp"] = ip
        assert joins.lambda_handler(event, FakeLambdaContext())["statusCode"] == 202

    def scenario(hour: int, requests: list[tuple[str, str]]) -> tuple[int, int]:
        """The mails sent and put off for `requests`, all in a clock hour of this scenario alone."""
        mails.clear()
        queued.clear()
        with mock.patch.object(joins, "utc_now", lambda: first_hour + timedelta(hours=hour)):
            for email, ip in requests:
                post(email, ip)
        return sum(mails.values()), queued["deferred"]

    per_source, per_account = defaults["JoinMailsPerSourceHour"], defaults["JoinMailsPerHour"]
    throttle = defaults["JoinRateLimit"] * 3600
    devnull, real_stdout = open(os.devnull, "w"), sys.stdout  # noqa: SIM115 - closed at the end of the run
    sys.stdout = devnull  # EMF metrics and log lines
    try:
        mailbox = scenario(0, [(f"victim{run}+{n}@example.com", "198.51.100.30") for n in range(100)])
        gmail = scenario(1, [(f"{'.'.join('victim' + run[:4])}+{n}@gmail.com", "198.51.100.31") for n in range(50)])
        ipv4 = scenario(2, [(f"v4-{n}-{run}@example.com", "198.51.100.32") for n in range(100)])
        ipv6 = scenario(3, [(f"v6-{n}-{run}@example.com", f"2001:db8:{run[:4]}:1::{n + 1:x}") for n in range(100)])
        # Many clients, one request each: only the account-wide cap holds them; the rest wait for later hours.
        crowd = scenario(4, [(f"crowd-{n}-{run}@example.com", f"10.7.{n // 250}.{n % 250}")
                             for n in range(per_account + 100)])
    finally:
        sys.stdout = real_stdout
        devnull.close()
    print("\nConfirmation mails one client can cause in a clock hour (issue 13; template.yaml's defaults: "
          f"JoinMailsPerSourceHour {per_source}, JoinMailsPerHour {per_account}, JoinRateLimit {defaults['JoinRateLimit']}/s)")
    print("  measured: POST /joins through the handler in-process, SES and SQS = moto server, SendEmail calls counted")
    print(f"  {'who':<58} {'computed':>9} {'measured':>9}")
    rows = [
        ("to one mailbox: victim+1..+100@ from one IPv4 client", 1, mailbox[0]),
        ("to one mailbox: 50 dotted / +tagged Gmail spellings", 1, gmail[0]),
        ("in all: 100 addresses from one IPv4 client", min(per_source, per_account), ipv4[0]),
        ("in all: 100 addresses from one IPv6 /64, host part rotated", min(per_source, per_account), ipv6[0]),
        (f"in all: {per_account + 100} clients, one join each (account cap)", per_account, crowd[0]),
    ]
    for label, computed, measured in rows:
        print(f"  {label:<58} {computed:>9,} {measured:>9,}")
    print(f"  {'  of which held and queued for a later hour':<58} {100:>9,} {crowd[1]:>9,}")
    print(f"  before issue 13 (only the route throttle and one mail per exact address an hour): "
          f"{throttle:,} an hour to one mailbox and in all ({defaults['JoinRateLimit']}/s x 3,600)")


if __name__ == "__main__":
    aws = LocalAws(parameters=COST_LIMITS).start()
    try:
        measure_join_path(aws)
        measure_mail_limits(aws)
    finally:
        aws.stop()
