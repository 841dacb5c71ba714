"""`make fire SCHEDULE=<name>`: fire one schedule of a running `make local` now.

`<name>` is a Schedule/ScheduleV2 event's name in template.yaml (or `Function.Event`), or the name of an
EventBridge Scheduler schedule created at run time (or `group/name`). The stack answers on its local
admin path, `POST /_local/fire/<name>` (loopback only, not part of the API).
"""

import argparse
import json
import sys
from urllib.parse import quote

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="schedule to fire")
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the running local stack's API")
    parser.add_argument("--at", help="fire as of this ISO time (with its offset), e.g. 6 hours ahead")
    args = parser.parse_args(argv)
    if not args.name:
        parser.error("name a schedule: make fire SCHEDULE=<name>")
    try:
        response = requests.post(f"{args.url}/_local/fire/{quote(args.name, safe='')}", timeout=60,
                                 params={"at": args.at} if args.at else None)
    except requests.ConnectionError:
        print(f"no local stack at {args.url}: start it with `make local`", file=sys.stderr)
        return 2
    answer = response.json()
    print(json.dumps(answer, indent=2))
    return 0 if response.status_code == 200 and answer.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
