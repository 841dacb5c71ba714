"""Wall times of the test targets: `make test` and `make test-fast` record theirs, `make bench` prints them.

    python -m attract_local.test_times record NAME -- COMMAND...   # run COMMAND, keep its exit code, record
    python -m attract_local.test_times show                        # what was recorded, and when

The full suite takes minutes, so the bench never runs it: it prints the last recorded `make test`
(CI's own, when .ci/run ran it just before) with its date, worker count and outcome.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from attract_local.cfn import ROOT

RECORD = ROOT / ".local" / "test-times.json"


def load(path: Path = RECORD) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def record(name: str, command: list[str], path: Path = RECORD) -> int:
    """Run `command`, store its wall time under `name`, return its exit code."""
    started = time.perf_counter()
    code = subprocess.call(command)
    seconds = time.perf_counter() - started
    times = load(path)
    times[name] = {"seconds": round(seconds, 1), "exit": code, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "workers": os.environ.get("WORKERS", ""), "cpus": os.cpu_count()}
    path.parent.mkdir(exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.write_text(json.dumps(times, indent=2) + "\n")
    draft.replace(path)  # whole or not at all, should two targets finish at once
    print(f"{name}: {seconds:.1f} s wall (exit {code}; recorded in {path.relative_to(ROOT)})", file=sys.stderr)
    return code


def describe(name: str, entry: dict | None) -> str:
    if not entry:
        return f"make {name}: not recorded yet (run it once)"
    workers = f", {entry['workers']} workers" if entry.get("workers") not in (None, "", "0") else ", one process"
    outcome = "passed" if entry.get("exit") == 0 else f"failed (exit {entry.get('exit')})"
    return f"make {name}: {entry['seconds']:.0f} s wall, {outcome}, {entry['at']}{workers}, {entry.get('cpus')} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="action", required=True)
    run = commands.add_parser("record", help="run a command and record its wall time")
    run.add_argument("name")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    commands.add_parser("show", help="print the recorded times")
    args = parser.parse_args()
    if args.action == "record":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        sys.exit(record(args.name, command))
    times = load()
    for name in ("test-fast", "test"):
        print(describe(name, times.get(name)))


if __name__ == "__main__":
    main()
