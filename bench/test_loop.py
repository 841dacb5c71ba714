"""The test loop's wall times: `make test-fast` measured here (it is short), `make test` as last recorded.

The full suite takes minutes on 2 CPUs, so the bench does not run it: `make test` records its own wall
time in .local/test-times.json (attract_local.test_times), and this prints that record with its date,
worker count and outcome. In CI, .ci/run runs `make test` just before `make bench`: the figure is that run's.
Printed, never asserted.
"""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.test_times import describe, load  # noqa: E402

FAST_GOAL_S = 60


def main() -> None:
    started = time.perf_counter()
    done = subprocess.run(["make", "-s", "--no-print-directory", "test-fast"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    outcome = "passed" if done.returncode == 0 else f"failed (exit {done.returncode})"
    print("Test loop")
    print(f"  make test-fast: {seconds:.1f} s wall, measured now, {outcome} (goal: under {FAST_GOAL_S} s)")
    print("  " + describe("test", load().get("test")) + " (recorded by make test; not run by the bench)")


if __name__ == "__main__":
    main()
