"""`make demo` is the main job: it runs end to end from the command a new user types, and says what it did."""

import os
import re
import subprocess
import sys

import pytest

from attract_local.cfn import ROOT

# One at a time on one worker (make test's --dist loadgroup): a second stack, both ad sandboxes, CPU-bound for a minute.
pytestmark = pytest.mark.xdist_group("heavy")


def test_the_demo_runs_every_step_and_reports_what_the_issues_promise():
    # When the demo runs as `make demo` runs it (a fresh process: local stack, both ad sandboxes, the scenario)
    done = subprocess.run([sys.executable, "-m", "attract_local.demo"], cwd=ROOT, capture_output=True, text=True,
                          check=False,
                          timeout=600, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT}/layers/common/python"})
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    # Then the ad campaign was refused with its rules named, launched once, clicked, synced and fed back
    assert "422 google.no_age, meta.age_fixed_18_65" in out and "same ids: True" in out
    assert "google_search ok, meta ok" in out
    # Issue 12: a dry run first; the ads land on the careers page; the landing is credited; Google's
    # conversion waits 6 hours (held by the first sweep, uploaded by the one 6.5 hours later), Meta's goes at once
    assert "dry run (each platform validates the whole launch, creates nothing): google_search accepted, meta accepted" in out
    assert out.count("the ad lands on the careers page: https://careers.example.com/teams/data?tc_link=") == 2
    assert out.count("credited paid_search/google\n") == 2 and out.count("credited paid_social/meta\n") == 3
    assert "Meta 2 Lead event(s) at once" in out
    assert "uploads 0 and holds it" in out
    assert "the sweep uploads 1 to Google's Data Manager API (IngestEvents): 1 event(s) recorded" in out
    assert re.search(r"Data engineers Berlin\s+5\.00\s+[\d.]+ EUR\s+[\d.]+ EUR", out)  # spend and cost per join
    # And the invitations planted in the ATS were screened as planted, each person mailed at most once
    assert "status done: rows 300, planned 233, sent 233, failed 0" in out
    assert "skipped: invalid_email 15, no_consent 33, duplicate 18, member 1" in out
    assert out.count("credited path email/Alumni invitations 2027\n") == 3
    assert "one-click unsubscribe (RFC 8058 POST) -> 200" in out
    # And the scheduled second run read only the changed rows and invited only the new person
    assert "status done: rows 2, planned 1, sent 1, failed 0" in out and "skipped: already_invited 1" in out
    assert "per recipient: at most 1" in out
