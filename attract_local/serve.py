"""`make local`: serve the API on http://127.0.0.1:3000 until Ctrl-C or SIGTERM."""

import argparse
import signal
import sys
import threading

from attract_local.ad_sandboxes import start_ad_sandboxes
from attract_local.gateway import start_local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--aws-port", type=int, default=5000, help="port of the moto server (the AWS endpoint)")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a template parameter, e.g. --parameter JoinRateLimit=200 (repeatable)")
    args = parser.parse_args()
    parameters = dict(item.split("=", 1) for item in args.parameter)
    stop = threading.Event()
    # Handlers first: a SIGTERM during start-up must stop the stack too, not kill it half-made.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # Before the gateway: the function workers inherit the endpoints set here.
    sandboxes = start_ad_sandboxes()
    aws, gateway = start_local(args.port, args.aws_port, parameters=parameters)
    try:
        sandboxes.fill_secrets(aws)
        print(f"Attract API:   {gateway.url}")
        print(f"AWS emulator:  {aws.endpoint}  (AWS_ENDPOINT_URL for the aws CLI / boto3)")
        for route in gateway.routes:
            print(f"  {route.key:<24} -> {route.function}{'' if route.authorizer else '  (public)'}")
        for line in gateway.triggers.describe():
            print(f"  {line}")
        for line in sandboxes.notes:
            print(f"Ads: {line}")
        print(f"Dashboard:     {gateway.url}/dashboard  (sign in on the local hosted UI: {gateway.url}/oauth2/authorize)")
        print(f"API docs:      {gateway.url}/docs")
        print("Tokens: make token ROLE=marketer | ROLE=recruiter.  Ctrl-C stops.", flush=True)
        # wait() with a timeout returns to the interpreter regularly, so the signal handler runs promptly.
        while not stop.wait(0.5):
            pass
    finally:
        print("stopping", file=sys.stderr, flush=True)
        gateway.stop()
        aws.stop()
        sandboxes.stop()


if __name__ == "__main__":
    main()
