"""Cold import of the public functions, as a ratio to a bare boto3 + Powertools import measured in the same run.

The layer is built by its own Makefile recipe (as `sam build` builds it, for this machine's platform and
Python), then each measurement is a fresh interpreter laid out like Lambda: `-I -S` (no site-packages),
sys.path = function code, layer, and a runtime folder holding only what the Lambda Python runtime ships
(boto3, botocore, s3transfer, jmespath, dateutil, urllib3, six). The dev venv's awscrt and pyOpenSSL, which
botocore would pick up, are not on that path. `-B` because /var/task and /opt are read-only: nothing
compiled at import is kept. Tracing is on, as with `Tracing: Active`. Printed, never asserted (`make bench`).
"""

import argparse
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.cfn import load_template, offline_environment  # noqa: E402

PUBLIC = {"tracking": "TrackingFunction", "joins": "JoinsFunction"}
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
HOST_PLATFORM = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}
GOAL = 1.3
# Functions that validate bodies with pydantic pay the floor's frameworks anyway: theirs is measured against the floor.
FLOOR_GOAL = {"joins": 1.2}

# Its Tracer patches botocore only, as ours does: a default Tracer's patch_all would make the baseline
# slower and every ratio look better than it is.
BASELINE = """
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(); Metrics(); Tracer(patch_modules=("botocore",))
"""
# What any resolver-based function pays before a line of ours: the redirect's floor (it has no pydantic).
RESOLVER = BASELINE + """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
APIGatewayHttpResolver()
"""
# The frameworks any resolver-based function with pydantic models pays for, before a line of ours.
FLOOR = BASELINE + """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel
APIGatewayHttpResolver(enable_validation=True)
class Probe(BaseModel):
    name: str
"""
FUNCTION = "import app\n"
TIMED = """
import sys, time
sys.path[:0] = {paths!r}
start = time.perf_counter()
exec(compile({code!r}, "<cold start>", "exec"))
elapsed = time.perf_counter() - start
assert not [m for m in sys.modules if m.split(".")[0] in ("awscrt", "OpenSSL")], "dev-only packages leaked in"
print(elapsed)
"""


def build_layer(target: Path) -> Path:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run(["make", "-s", "-C", str(ROOT / "layers/common"), "build-CommonLayer", f"ARTIFACTS_DIR={target}",
                    f"PLATFORM={HOST_PLATFORM[platform.machine()]}", f"PYTHON_VERSION={version}",
                    f"PYTHON={sys.executable}"], check=True, capture_output=True)
    return target / "python"


def runtime_folder(target: Path) -> Path:
    """Links to the venv's copies of what the Lambda runtime provides, and nothing else."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    target.mkdir()
    for name in RUNTIME_PACKAGES:
        (target / name).symlink_to(site / name)
    return target


def function_copy(area: str, target: Path) -> Path:
    shutil.copytree(ROOT / "functions" / area, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def lambda_environment(code_dir: Path, logical_id: str | None) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": str(code_dir), "AWS_LAMBDA_FUNCTION_NAME": "bench",
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    template = load_template()
    if logical_id:
        env |= offline_environment(template, logical_id)
    else:
        env |= {k: v for k, v in offline_environment(template, "TrackingFunction").items() if k.startswith("POWERTOOLS_")}
    return env


def run(code: str, paths: list[Path], env: dict[str, str], cwd: Path, *flags: str) -> subprocess.CompletedProcess:
    script = TIMED.format(paths=[str(p) for p in paths], code=code)
    return subprocess.run([sys.executable, "-I", "-S", "-B", *flags, "-c", script], env=env, cwd=cwd,
                          capture_output=True, text=True, check=True)


def import_times(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Module -> microseconds spent in its own body (the 'self' column of -X importtime)."""
    spent = {}
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            spent[name] = int(self_us)
    return spent


def added(function: dict[str, int], baseline: dict[str, int], count: int = 5) -> str:
    """What the function imports beyond the baseline, by package (Powertools by subpackage)."""
    spent: Counter = Counter()
    for name, us in function.items():
        if name not in baseline:
            parts = name.split(".")
            spent[".".join(parts[:2]) if parts[0] == "aws_lambda_powertools" else parts[0]] += us
    shown = ", ".join(f"{name} {us / 1000:.0f}" for name, us in spent.most_common(count))
    return f"{sum(spent.values()) / 1000:.0f} ms: {shown}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="cold starts per variant, interleaved")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="attract-cold-") as tmp:
        work = Path(tmp)
        layer = build_layer(work / "layer")
        bare_layer = work / "layer-without-pyc"
        shutil.copytree(layer, bare_layer, ignore=shutil.ignore_patterns("__pycache__"))
        runtime = runtime_folder(work / "runtime")

        variants: dict[str, tuple[str, list[Path], dict[str, str], Path]] = {
            "baseline": (BASELINE, [layer, runtime], lambda_environment(work, None), work),
            "resolver": (RESOLVER, [layer, runtime], lambda_environment(work, None), work),
            "floor": (FLOOR, [layer, runtime], lambda_environment(work, None), work)}
        for area, logical_id in PUBLIC.items():
            code = function_copy(area, work / area)
            env = lambda_environment(code, logical_id)
            variants[area] = (FUNCTION, [code, layer, runtime], env, code)
            variants[f"{area} without pyc"] = (FUNCTION, [code, bare_layer, runtime], env, code)

        for variant in variants.values():  # warm the page cache: every variant starts from the same disk state
            run(*variant)
        times: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for _ in range(args.runs):
            random.shuffle(order)
            for name in order:
                times[name].append(float(run(*variants[name]).stdout))

        median = {name: statistics.median(values) * 1000 for name, values in times.items()}
        fastest = {name: min(values) * 1000 for name, values in times.items()}
        labels = {"baseline": "baseline: boto3 + Powertools Logger/Metrics/Tracer",
                  "resolver": "resolver: + Powertools event handler",
                  "floor": "floor: + Powertools event handler + one pydantic model"}
        print(f"Cold import, {args.runs} fresh interpreters each, interleaved (Python {sys.version_info.major}."
              f"{sys.version_info.minor}, layer built by its Makefile); ratios to the baseline of medians and of minima")
        for name in variants:
            ratio, ratio_min = median[name] / median["baseline"], fastest[name] / fastest["baseline"]
            goal = "" if name in labels or "without" in name else f"  goal <= {GOAL}: {'met' if ratio <= GOAL else 'missed'}"
            print(f"  {labels.get(name, name):<56} {median[name]:6.0f} ms  {ratio:.2f} x  (min {ratio_min:.2f} x){goal}")
        for area, floor_goal in FLOOR_GOAL.items():
            ratio, ratio_min = median[area] / median["floor"], fastest[area] / fastest["floor"]
            print(f"  {area} / floor{'':<47} {ratio:.2f} x  (min {ratio_min:.2f} x)  goal <= {floor_goal}: "
                  f"{'met' if ratio <= floor_goal else 'missed'}")
        print("  imported beyond the baseline, ms in the modules' own bodies (one -X importtime run):")
        baseline = import_times(run(*variants["baseline"], "-X", "importtime"))
        for area in PUBLIC:
            print(f"    {area}: {added(import_times(run(*variants[area], '-X', 'importtime')), baseline)}")

if __name__ == "__main__":
    main()
