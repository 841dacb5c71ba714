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


def seed_visitor(touches_repo, rng: random.Random, now: datetime, count: int) -> str:
    from attract.tracking.models import Touch

    visitor = uuid.uuid4().hex[:22]
    touches = []
    for index in range(count):
        channel, source, medium = rng.choice(CHANNELS)
        touches.append(Touch(touch_id=f"seed{uuid.uuid4().hex[:20]}", occurred_at=now - timedelta(days=rng.uniform(0, 25)),
                             origin="click", visitor_id=visitor, channel=channel, campaign=f"Campaign {index % 4}",
                             source=source, medium=medium))
    touches_repo.put_many(touches, {t.touch_id: 2_000_000_000 for t in touches})
    return visitor


def measure_join_path(aws: LocalAws) -> None:
    use_function_env(aws, "JoinsFunction")
    joins = importlib.import_module("functions.joins.app")
    from attract import aws as attract_aws

    calls: Counter = Counter()
    written: Counter = Counter()

    def count_items(params, **_):
        written["items"] += len(params["TransactItems"])

    dynamodb = attract_aws.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", count_items)
    touches_repo, _, _ = joins._stores()
    rng = random.Random(1)
    now = datetime.now(timezone.utc)
    rows = []
    devnull, real_stdout = open(os.devnull, "w"), sys.stdout
    for path_length in (0, 1, 3, 5):
        visitors = [seed_visitor(touches_repo, rng, now, path_length) if path_length else None for _ in range(SAMPLE_JOINS // 4)]
        calls.clear()
        written.clear()
        cpu = []
        sys.stdout = devnull  # EMF metrics
        for visitor in visitors:
            body = {"email": f"bench-{uuid.uuid4().hex}@example.com", "name": "Bench", "consent": True}
            if visitor:
                body["visitor_id"] = visitor
            else:
                body |= {"utm_source": "google", "utm_medium": "cpc"}
            started = time.thread_time()
            response = joins.lambda_handler(join_event(body), FakeLambdaContext())
            cpu.append((time.thread_time() - started) * 1000)
            assert response["statusCode"] == 201, response
        sys.stdout = real_stdout
        n = len(visitors)
        rows.append((path_length, {op: round(c / n, 2) for op, c in sorted(calls.items())}, written["items"] / n,
                     statistics.median(cpu), statistics.quantiles(cpu, n=20)[-1]))
    print(f"Join (POST /joins handler in-process, DynamoDB = moto server, {SAMPLE_JOINS // 4} joins per row)")
    print(f"  {'touches':>7}  {'DynamoDB calls per join':<62} {'items written':>13} {'CPU p50':>8} {'CPU p95':>8}")
    for length, per_join, items, p50, p95 in rows:
        print(f"  {length or 'none':>7}  {json.dumps(per_join):<62} {items:>13.1f} {p50:>6.1f}ms {p95:>6.1f}ms")


if __name__ == "__main__":
    aws = LocalAws().start()
    try:
        measure_join_path(aws)
    finally:
        aws.stop()
