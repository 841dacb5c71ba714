"""Click redirect cost: DynamoDB calls and handler CPU per click (cold import: bench/cold_import.py).

Printed, never asserted. Run: `make bench` (CI runs it as a report after the tests).
"""

import contextlib
import importlib
import io
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.context import FakeLambdaContext  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

CLICKS = 300


def _event(name: str, code: str, method: str = "GET") -> dict:
    event = json.loads((ROOT / f"events/{name}.json").read_text())
    event["pathParameters"]["code"] = code
    event["rawPath"] = f"/r/{code}"
    event["requestContext"]["http"]["method"] = method
    return event




def use_function_env(aws: LocalAws, logical_id: str) -> None:
    os.environ.update(aws.handler_environment(logical_id))
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Bench"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one INFO line per call would drown the figures


def measure_clicks() -> None:
    aws = LocalAws().start()
    try:
        use_function_env(aws, "LinksFunction")
        links = importlib.import_module("functions.links.app")
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics line
            created = links.lambda_handler(json.loads((ROOT / "events/links/create_link.json").read_text()),
                                           FakeLambdaContext())
        code = json.loads(created["body"])["code"]

        from attract import aws as attract_aws
        from attract.settings import load_settings

        load_settings.cache_clear()
        attract_aws.client.cache_clear()
        use_function_env(aws, "TrackingFunction")
        tracking = importlib.import_module("functions.tracking.app")
        calls: Counter = Counter()
        attract_aws.client("dynamodb").meta.events.register(
            "before-call.dynamodb", lambda model, **_: calls.update([model.name]))

        devnull = open(os.devnull, "w")  # noqa: SIM115 - held for the whole run, closed at its end
        real_stdout = sys.stdout
        rows = []
        cases = (("human click", "tracking/click", code, "GET", 302), ("bot click", "tracking/click_bot", code, "GET", 302),
                 ("HEAD probe", "tracking/click", code, "HEAD", 302), ("bad code", "tracking/click", "bad-c0de", "GET", 404))
        for label, name, clicked, method, expected in cases:
            tracking._stores.cache_clear()  # cold: empty link cache
            calls.clear()
            sys.stdout = devnull  # EMF metrics are printed per invocation
            tracking.lambda_handler(_event(name, clicked, method), FakeLambdaContext())
            sys.stdout = real_stdout
            cold = dict(calls)
            calls.clear()
            cpu, wall = [], []
            sys.stdout = devnull
            for _ in range(CLICKS):
                c0, w0 = time.thread_time(), time.perf_counter()  # this thread only: moto serves in others
                response = tracking.lambda_handler(_event(name, clicked, method), FakeLambdaContext())
                cpu.append((time.thread_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
                assert response["statusCode"] == expected
            sys.stdout = real_stdout
            warm = {op: n / CLICKS for op, n in calls.items()}
            rows.append((label, cold, warm, statistics.median(cpu), statistics.quantiles(cpu, n=20)[-1],
                         statistics.median(wall)))
        print(f"Click redirect, {CLICKS} warm invocations each (handler in-process, DynamoDB = moto server)")
        print(f"{'':<12} {'DynamoDB calls (cold)':<44} {'per warm click':<40} {'CPU p50':>8} {'CPU p95':>8} {'wall p50':>9}")
        for label, cold, warm, p50, p95, wall50 in rows:
            print(f"{label:<12} {json.dumps(cold):<44} {json.dumps(warm):<40} {p50:>6.2f}ms {p95:>6.2f}ms {wall50:>7.2f}ms")
    finally:
        aws.stop()


if __name__ == "__main__":
    measure_clicks()
