"""SnapStart: two execution environments resumed from one snapshot never issue the same id or nonce.

A snapshot is the memory of a process after its init phase; each restore resumes a copy of it. Forking an
initialised process is the same thing on one machine: each child is a restore of the parent's image (except that
CPython reseeds `random` in a forked child, which a restore does not: the probe puts the image's state back). The
probe imports a public function (its init phase), runs the before-snapshot hooks, forks twice, runs the
after-restore hooks in each child (as the Lambda runtime would) and reports what each child issues.
"""

import json
import subprocess
import sys

import pytest

from attract_local.cfn import ROOT, load_template, offline_environment

TEMPLATE = load_template()
SNAPSTART_FUNCTIONS = sorted(name for name, resource in TEMPLATE["Resources"].items()
                             if (resource.get("Properties") or {}).get("SnapStart"))

PROBE = """
import json, os, random, secrets, sys, uuid

import app  # the init phase: settings, resolver, the hooks the function registers
import boto3
from attract import aws, snapstart
from attract.signing import Signer
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

restore = sys.argv[1] == "restore"
snapstart.run_before_snapshot()
# What init could leave behind: a client (its session's credentials, its pooled connections), a cached secret.
client_before = aws.client("dynamodb")
session_before = boto3.DEFAULT_SESSION
DEFAULT_PROVIDERS["secrets"] = object()

snapshot_random = random.getstate()
issued = []
for _ in range(2):  # two restores of the same snapshot
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        # os.fork reseeds random in the child (os.register_at_fork); a SnapStart restore runs no such handler.
        random.setstate(snapshot_random)
        if restore:
            snapstart.run_after_restore()
        signer = Signer(b"k" * 32)
        out = {"jitter": random.random(), "visitor_id": signer.new_visitor_id(), "click_id": signer.new_click_id(),
               "nonce": secrets.token_urlsafe(16), "member_id": str(uuid.uuid4()),
               "new_client": aws.client("dynamodb") is not client_before,
               "new_session": boto3.DEFAULT_SESSION is not session_before,
               "providers_dropped": "secrets" not in DEFAULT_PROVIDERS}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        issued.append(json.loads(pipe.read()))
    os.wait()
print(json.dumps(issued))
"""


def _restores(function: str, mode: str) -> list[dict]:
    code_uri = TEMPLATE["Resources"][function]["Properties"]["CodeUri"]
    env = {"PYTHONPATH": f"{ROOT / code_uri}:{ROOT / 'layers/common/python'}", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "snapshot", "AWS_SECRET_ACCESS_KEY": "snapshot", "POWERTOOLS_TRACE_DISABLED": "true",
           **offline_environment(TEMPLATE, function)}
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env,
                            cwd=ROOT / code_uri, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_public_functions_run_with_snapstart():
    assert SNAPSTART_FUNCTIONS == ["ConsentFunction", "ForgetFunction", "InviteUnsubscribeFunction", "JoinsFunction",
                                  "TrackingFunction", "WebFunction"]


@pytest.mark.parametrize("function", SNAPSTART_FUNCTIONS)
def test_two_restores_of_one_snapshot_never_issue_the_same_id_or_nonce(function):
    # Given one initialised process, forked twice (two restores of its snapshot), each running the after-restore hooks
    first, second = _restores(function, "restore")
    # Then nothing either issues is the other's, and neither reuses init's client, session or cached providers
    for key in ("jitter", "visitor_id", "click_id", "nonce", "member_id"):
        assert first[key] != second[key], key
    for restored in (first, second):
        assert restored["new_client"] and restored["new_session"] and restored["providers_dropped"], restored


def test_without_the_hooks_two_restores_repeat_each_other():
    # Guard against a simulation that cannot fail: without the after-restore hooks the forked children share
    # random's state (the same jitter, so the same retry schedule) and init's client and session.
    first, second = _restores("JoinsFunction", "no-hooks")
    assert first["jitter"] == second["jitter"]
    assert not first["new_client"] and not first["new_session"] and not first["providers_dropped"]


def test_the_hooks_are_handed_to_the_lambda_runtime_where_it_provides_them(tmp_path):
    # The Lambda Python runtime ships snapshot_restore_py; a stand-in records what we register with it.
    (tmp_path / "snapshot_restore_py.py").write_text(
        "before, after = [], []\n"
        "def register_before_snapshot(func, *args, **kwargs): before.append(func)\n"
        "def register_after_restore(func, *args, **kwargs): after.append(func)\n")
    probe = ("import snapshot_restore_py as runtime\nfrom attract import snapstart\n"
             "print(snapstart.ON_LAMBDA_RUNTIME, runtime.before == [snapstart.run_before_snapshot],"
             " runtime.after == [snapstart.run_after_restore])")
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT / 'layers/common/python'}"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60,
                            check=False)
    assert result.stdout.split() == ["True", "True", "True"], result.stderr
    # And without the runtime (local stack, tests) nothing is registered anywhere: the runners are called directly
    local = subprocess.run([sys.executable, "-c", "from attract import snapstart; print(snapstart.ON_LAMBDA_RUNTIME)"],
                           capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "layers/common/python")},
                           timeout=60, check=False)
    assert local.stdout.strip() == "False", local.stderr
