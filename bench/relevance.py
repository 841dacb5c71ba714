"""Relevance scoring speed: score() calls a second on one compiled profile, and the data's cold load next to `import boto3`.

- Throughput: the issue's profile (required python, sql; preferred spark, k8s; Berlin 50 km or remote),
  compiled once, against 1,000 members resolved once (a mix of cities, countries, remote, unknown places),
  scored round after round for about two seconds. The contract asks for at least 50,000 calls a second.
- Cold load: fresh interpreters (the dev venv), medians of interleaved runs: `import boto3` (what every
  function pays), importing attract.relevance.scoring, resolving a skill and a city by its own name (ESCO,
  GeoNames' cities, own-name index), and warm() — everything loaded, the 350,000 alternate names too: what
  a profiles function pays once per cold start (or once in a SnapStart snapshot).
Printed, never asserted.
"""

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract.relevance.models import ProfileBody  # noqa: E402
from attract.relevance.scoring import compile_profile, member_facts, score, warm  # noqa: E402

PROFILE = {"name": "Data engineering, Berlin", "skills": {"required": ["python", "sql"], "preferred": ["spark", "k8s"]},
           "places": [{"place": "Berlin", "radius_km": 50}, {"remote": True}], "min_score": 0.6}
SKILLS = ["python", "sql", "spark", "k8s", "js", "postgres", "Java", "Docker", "Data Mesh", "Rust", "Excel", "AWS"]
LOCATIONS = ["Potsdam", "Berlin", "Munich, Germany", "remote", "Germany", "Paris", "Frankfurt (Oder)", None,
             "Atlantis Campus", "London", "Hamburg", "berlin de"]
PROBES = {
    "import boto3": "import boto3",
    "import attract.relevance.scoring": "import attract.relevance.scoring",
    "... and resolve Berlin + python (own names)": "import attract.relevance.scoring as s; "
                                                   "s.member_facts(['python'], 'Berlin')",
    "... and warm() (ESCO + GeoNames loaded)": "import attract.relevance.scoring as s; s.warm()",
}
TIMED = """
import sys, time
sys.path[:0] = {paths!r}
start = time.perf_counter()
exec({code!r})
elapsed = time.perf_counter() - start
# VmHWM, not ru_maxrss: the latter carries the parent's peak across fork and exec
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(elapsed, int(peak) / 1024)
"""


def throughput(members: int, seconds: float) -> float:
    warm()
    profile = compile_profile(ProfileBody.model_validate(PROFILE))
    rng = random.Random(14)
    facts = [member_facts(rng.sample(SKILLS, rng.randint(0, 5)), rng.choice(LOCATIONS)) for _ in range(members)]
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for member in facts:
            score(profile, member)
        calls += len(facts)
    return calls / elapsed


def cold(runs: int) -> dict[str, tuple[float, float]]:
    """Probe -> (median seconds, peak RSS in MB)."""
    paths = [str(ROOT), str(ROOT / "layers/common/python")]
    times: dict[str, list[float]] = {name: [] for name in PROBES}
    memory: dict[str, float] = {}
    for _ in range(runs):
        for name in random.sample(list(PROBES), len(PROBES)):  # interleaved: a busy moment hits all alike
            out = subprocess.run([sys.executable, "-B", "-c", TIMED.format(paths=paths, code=PROBES[name])],
                                 capture_output=True, text=True, check=True).stdout.split()
            times[name].append(float(out[0]))
            memory[name] = max(memory.get(name, 0.0), float(out[1]))
    return {name: (statistics.median(values), memory[name]) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    rate = throughput(1000, args.seconds)
    print(f"score(): {rate:,.0f} calls/s on one compiled profile, 1,000 resolved members (goal ≥ 50,000)")
    medians = cold(args.runs)
    boto3 = medians["import boto3"][0]
    for name, (seconds, megabytes) in medians.items():
        print(f"{name:45} {seconds * 1000:7.0f} ms  {seconds / boto3:5.1f}× import boto3 (median of {args.runs}),"
              f" peak RSS {megabytes:4.0f} MB")


if __name__ == "__main__":
    main()
