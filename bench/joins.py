"""Join cost: DynamoDB calls and items written per join, CPU per join. Printed, never asserted (`make bench`).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.context import FakeLambdaContext  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

SAMPLE_JOINS = 200
VOLUMES = (1_000, 20_000)
DAYS = 30
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


if __name__ == "__main__":
    aws = LocalAws().start()
    try:
        measure_join_path(aws)
    finally:
        aws.stop()
