"""The suite under a smoke target (make smoke): the fixtures take the target's API and tokens, and what only makes
sense locally is skipped with its reason. The local stack stands in for the deployed one."""

import os
import re
import subprocess
import sys
import time

import pytest

from attract_local.auth import ROLES, mint_token
from attract_local.cfn import ROOT
from attract_local.smoke import TARGET_ENV, SmokeTarget, write_target

pytestmark = pytest.mark.local_only("stands the local stack in for a deployed one")


def test_under_a_smoke_target_the_suite_uses_its_api_and_tokens_and_skips_what_is_local(api, stack_log, tmp_path):
    # Given a smoke target naming this session's local stack and a token per role
    target = SmokeTarget(api=api, tokens={role: mint_token([group]) for role, group in ROLES.items()})
    env = {**os.environ, TARGET_ENV: str(write_target(target, tmp_path)),
           "PYTHONPATH": f"{ROOT}:{ROOT}/layers/common/python"}
    created_before = stack_log.read_text().count("[gateway] POST /links -> 201")
    # When the suite runs a module that works anywhere and two that only work locally
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "0",
                           "-q", "-rs", "tests/e2e/test_marketer_auth.py", "tests/e2e/test_privacy.py",
                           "tests/e2e/test_serve_signals.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    # Then the first passes against the target (its marketer created a link on this stack, its recruiter was
    # refused as one), and the others are skipped, each saying why
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"\b12 passed, 3 skipped\b", done.stdout), done.stdout[-3000:]
    assert "local stack only: reads the local AWS emulator (moto: its tables, the SES mailbox)" in done.stdout
    assert "local stack only: stops `make local` with signals" in done.stdout
    time.sleep(0.2)  # the gateway's access line is written after its answer
    assert stack_log.read_text().count("[gateway] POST /links -> 201") == created_before + 1
