"""Public functions answer candidates: their cold start must never pay for an ads SDK."""

import subprocess
import sys

import pytest

from attract_local.cfn import ROOT, load_template

HEAVY = ("google.ads", "googleads", "grpc", "facebook_business", "psycopg", "pymysql")


def _public_functions() -> list[str]:
    names = []
    for name, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        events = (resource["Properties"].get("Events") or {}).values()
        if any((e["Properties"].get("Auth") or {}).get("Authorizer") == "NONE" for e in events):
            names.append(resource["Properties"]["CodeUri"])
    return names


@pytest.mark.parametrize("code_uri", _public_functions())
def test_public_function_imports_no_heavy_sdk(code_uri):
    probe = (
        "import sys, app\n"
        f"heavy = [m for m in sys.modules if m.startswith({HEAVY!r})]\n"
        "print(','.join(heavy))\n"
    )
    env = {"PYTHONPATH": f"{ROOT / code_uri}:{ROOT / 'layers/common/python'}", "POWERTOOLS_METRICS_NAMESPACE": "t",
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                            cwd=ROOT / code_uri, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{code_uri} imports {result.stdout.strip()}"
