"""Invitation sender cost: CPU, DynamoDB and SES calls per 1,000 invitations. Printed, never asserted.

The handler runs in-process against the local stack (moto) with SQS-shaped batches of 10, as Lambda's
event-source mapping delivers them. CPU is a ratio to building the same 1,000 MIME messages alone,
measured in the same run. A second pass with the same jobs (every one a duplicate) shows what a
redelivery costs: no SES call.
"""

import contextlib
import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.context import FakeLambdaContext  # noqa: E402
from attract_local.stack import LocalAws  # noqa: E402

INVITATIONS = 1_000
BATCH = 10


def jobs(domain: str, campaign: str) -> list[dict]:
    base = json.loads((ROOT / "events/invites/job.json").read_text())
    out = []
    for index in range(INVITATIONS):
        job = json.loads(json.dumps(base))
        job["campaign_id"] = campaign
        job["recipient"]["email"] = f"person{index}@people.{domain}"
        job["sender"]["from"] = f"Acme Careers <careers@{domain}>"
        out.append(job)
    return out


def batches(bodies: list[dict]):
    for start in range(0, len(bodies), BATCH):
        yield {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": json.dumps(body),
                            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                            "awsRegion": "us-east-1"} for body in bodies[start:start + BATCH]]}


def main() -> None:
    aws = LocalAws().start()
    try:
        os.environ.update(aws.handler_environment("InviteSenderFunction"))
        os.environ.update(PUBLIC_BASE_URL="https://go.acme.example", INVITE_MAX_SEND_RATE="10000",
                          POWERTOOLS_METRICS_NAMESPACE="Bench", POWERTOOLS_LOG_LEVEL="WARNING")
        domain = f"bench-{uuid.uuid4().hex[:6]}.example"
        aws.client("sesv2").create_email_identity(EmailIdentity=domain)
        import importlib

        sender = importlib.import_module("functions.invites.sender.app")
        _, store, mailer, *_ = sender._stores()
        calls: Counter = Counter()
        store.dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
        mailer.sesv2.meta.events.register("before-call.sesv2", lambda model, **_: calls.update(["ses:" + model.name]))
        bodies = jobs(domain, f"bench-{uuid.uuid4().hex[:6]}")

        from attract.invites.messages import compose, mime

        started = time.process_time()
        for body in bodies:
            mime(compose({"first_name": body["recipient"]["first_name"]}, body["templates"]["subject"],
                         body["templates"]["text"], body["templates"]["html"], body["sender"]["from"],
                         body["sender"]["reply_to"], body["recipient"]["email"], body["sender"]["postal_address"],
                         "https://go.acme.example/r/x?tc_inv=t", "https://go.acme.example/u/t", "k"))
        baseline = time.process_time() - started

        print(f"invitation sender, {INVITATIONS} invitations in batches of {BATCH} (moto; CPU includes the client side "
              f"of every call)")
        print(f"  {'pass':<28} {'CPU ratio':>9} {'CPU s':>6}  calls per 1,000 invitations")
        print(f"  {'MIME only (baseline)':<28} {1.0:>9.1f} {baseline:>6.2f}  -")
        for label in ("first send", "redelivery (all duplicates)"):
            calls.clear()
            started = time.process_time()
            with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics lines
                for event in batches(bodies):
                    response = sender.lambda_handler(event, FakeLambdaContext())
                    assert not response["batchItemFailures"], response
            spent = time.process_time() - started
            print(f"  {label:<28} {spent / baseline:>9.1f} {spent:>6.2f}  {dict(sorted(calls.items()))}")
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
