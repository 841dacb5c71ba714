"""`make demo` is the main job: it runs end to end from the command a new user types, and says what it did."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from attract_local.auth import KEY_FILE, STATE_DIR
from attract_local.cfn import ROOT
from attract_local.stack import SECRETS_OUT
from tests.log_privacy import findings, sample_ats_names, secret_values, typed_names

# One at a time on one worker (make test's --dist loadgroup): a second stack, both ad sandboxes, CPU-bound for a minute.
pytestmark = [pytest.mark.xdist_group("heavy"),
              pytest.mark.local_only("runs `make demo`: its own local stack and ad sandboxes")]


@pytest.fixture(scope="module")
def demo_secrets(tmp_path_factory) -> Path:
    """Where the demo's local stack leaves its secrets as it stops (attract_local.stack.SECRETS_OUT)."""
    return tmp_path_factory.mktemp("demo") / "secrets.json"


@pytest.fixture(scope="module")
def demo_output(demo_secrets) -> str:
    """The demo as `make demo` runs it (a fresh process: local stack, both ad sandboxes, the scenario), run once."""
    done = subprocess.run([sys.executable, "-m", "attract_local.demo"], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=600,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT}/layers/common/python",
                               SECRETS_OUT: str(demo_secrets)})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_demo_runs_every_step_and_reports_what_the_issues_promise(demo_output):
    out = demo_output
    # Then the ad campaign was refused with its rules named, launched once, clicked, synced and fed back
    assert "refused (422), job ads may not target by age: google.no_age, meta.age_fixed_18_65" in out
    assert "same ids: True" in out
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
    # Issue 17: the run's progress as it went, in plain lines (the output is not a terminal): never backwards,
    # never past the total, ending at it
    shown = [int(n) for n in re.findall(r"\n   sending: (\d+) of 233 invitation\(s\) \(\d+%\)", out)]
    assert shown and shown == sorted(shown) and shown[-1] <= 233, shown
    assert "\n   done: 233 of 233 invitation(s) (100%)\n" in out and "\r" not in out
    assert "skipped: invalid_email 15, no_consent 33, duplicate 18, member 1" in out
    assert out.count("credited path email/Alumni invitations 2027\n") == 3
    assert "one-click unsubscribe (RFC 8058 POST) -> 200" in out
    # And the scheduled second run read only the changed rows and invited only the new person
    assert "status done: rows 2, planned 1, sent 1, failed 0" in out and "skipped: already_invited 1" in out, \
        _scheduled_run_story(out)
    assert "per recipient: at most 1" in out
    # Issue 15: an admin exports and erases one member who came from an ad; the export is empty afterwards and the
    # report's totals are unchanged (the anonymous aggregates stay)
    assert "GET /people/export (found by the keyed hash of the address, never a scan): member, attribution" in out
    assert "DELETE /people -> 202" in out
    assert re.search(r"erasure done: \d+ item\(s\) removed; the export is now empty \(kept: tombstone, erasure, "
                     r"erased_conversion_marks\); the report's totals are unchanged", out), out[out.find("== 8."):][:1500]



def _scheduled_run_story(out: str) -> str:
    """What the demo printed about the scheduled run, and what its stack logged about the plan queue: a failure
    names what happened (not fired, skipped as run_in_progress, other counts) instead of cutting the output."""
    printed = out[out.find("the ATS changes"):out.find("== 8.")]
    logged = [line for line in (STATE_DIR / "demo.log").read_text().splitlines()
              if "InvitePlan" in line or "Scheduler invite-" in line or "run_in_progress" in line]
    return printed + "\nlog:\n" + "\n".join(logged[-20:])


def test_the_report_on_screen_accounts_for_every_confirmed_join(demo_output):
    # Given the demo's ledger of the joins it confirmed, by where each came from
    match = re.search(r"Reconciliation: (\d+) confirmed joins = ([^;]+); every model's total is (\d+): (\w+)", demo_output)
    assert match, demo_output[-3000:]
    confirmed, parts, stated, agree = int(match[1]), match[2], int(match[3]), match[4]
    counts = {origin.strip(): int(n) for n, origin in re.findall(r"(\d+) ([a-z ]+[a-z])", parts)}
    # Then the parts add up (7 on the careers site: persons 1, 3-7 and the copied visitor id; 5 ad clicks;
    # 3 invitees; 1 ATS candidate who was a member already) and every model's total row shows the same number
    # (and the reader who joined from the X post: issue 16)
    expected = {"careers site": 7, "ads": 5, "organic posts": 1, "invitations": 3,
                "already a member before the invitations": 1}
    assert counts == expected
    total = sum(expected.values())
    assert confirmed == stated == sum(counts.values()) == total and agree == "yes"
    total_row = re.search(r"^   total\s+((?:[\d.]+\s*){5})$", demo_output, re.MULTILINE)
    assert total_row and [float(cell) for cell in total_row[1].split()] == [float(total)] * 5
    # And every model is explained in words, with no Python repr or cut link on screen
    for model in ("first_touch", "last_touch", "linear", "time_decay", "position_based"):
        assert re.search(rf"^     {model}\s+\w", demo_output, re.MULTILINE)
    assert "{'" not in demo_output and "(value_error)" not in demo_output
    assert not re.search(r"http://127\.0\.0\.1:\d*$", demo_output, re.MULTILINE)  # a link cut mid-URL
    assert not re.search(r"https?://\S*(\.\.\.|…)", demo_output)  # nor one cut with an ellipsis
    assert re.search(r"\d\d:\d\d:\d\d UTC", demo_output)


def test_the_demo_ends_with_the_overlap_per_channel_for_the_profile(demo_output):
    # Given the profile "python and sql required, spark and k8s preferred, Berlin 50 km, DE or remote, min 0.6"
    overlap = demo_output[demo_output.index("== The overlap"):]
    rows = {cells[0]: cells[1:] for line in overlap.splitlines()
            if (cells := line.split()) and cells[0] in ("paid_search", "paid_social", "email", "direct", "event")}
    # Then under last touch: paid_search has 5 joins (persons 1, 5, 6 and two Google ad clicks), 3 of them
    # relevant (person 1: 0.7 + 0.3 x 1/2 = 0.85; person 6: 0.7; ad click 1: 0.85; person 5 has python only,
    # 0.35; ad click 2 sql only, 0.35), so 41.37 EUR / 3 = 13.79 EUR per relevant join
    assert rows["paid_search"][:2] == ["5.00", "3.00"] and rows["paid_search"][2:] == ["13.79", "EUR"]
    # paid_social: person 4 (Potsdam, 27 km from Berlin; python, sql, spark and k8s: 1.0) and the Meta ad clicks
    # 3 (remote, kubernetes: 0.85), 4 (Paris: no place matches, 0) and 5 (0.7): 3 of 4, 38.90 EUR / 3 = 12.97 EUR
    assert rows["paid_social"][:2] == ["4.00", "3.00"] and rows["paid_social"][2:] == ["12.97", "EUR"]
    # And the best matches are listed, best first
    scores = [float(s) for s in re.findall(r"^     score ([\d.]+)", overlap, re.MULTILINE)]
    assert scores and scores == sorted(scores, reverse=True) and scores[0] == 1.0


def test_the_demo_logs_no_email_address_name_token_or_secret(demo_output, demo_secrets):
    # Given every log line of the demo (each function's log and the gateway's access lines), the names of the
    # people it used (its sample ATS, as the demo left it, and the names its sources type into join forms) and
    # the secrets of its stack (email pepper, signing key, the sandboxes' platform credentials, the local JWT key)
    log = (STATE_DIR / "demo.log").read_text()
    sources = [*sorted((ROOT / "attract_local").glob("demo*.py")), ROOT / "attract_local" / "invitee.py"]
    names = sample_ats_names(STATE_DIR / "demo-ats.sqlite") | typed_names(sources)
    stack_secrets = json.loads(demo_secrets.read_text())
    secrets = secret_values(stack_secrets, pem=KEY_FILE)
    assert {"EmailPepperSecret", "SigningKeySecret", "GoogleAdsSecret", "MetaSecret"} <= set(stack_secrets)
    assert len(names) > 50 and "sandbox-secret" in secrets  # what is looked for was really found
    assert "join submitted" in log and "[gateway] POST /joins -> 202" in log  # the functions did log
    # Then none of it is in the log (the access lines name route keys, never a path with a token in it)
    assert findings(log, names=names, secrets=secrets) == []
    # And what the demo prints for the marketer shows addresses of demo people, but no token or secret
    shown = [(kind, match) for kind, match in findings(demo_output, secrets=secrets) if kind != "email address"]
    assert shown == []
    # And the check sees an address planted in a log line (tests/unit/test_log_privacy.py plants each kind)
    planted = '{"level":"INFO","message":"join submitted","email":"Planted.Person@mail.example"}'
    assert findings(log + planted + "\n", names=names, secrets=secrets) == [("email address", "Planted.Person@mail.example")]


def test_the_demo_publishes_one_post_to_three_pages_and_reports_it_beside_the_ads(demo_output):
    # Issue 16: refused before any call, published on the three sandboxes, a reader joins from the X post's link,
    # the metrics sync runs, and the organic_social row shows the join at zero spend next to the ad channels
    out = demo_output[demo_output.index("== 6b."):]
    assert re.search(r"refused \(422\) before any call: .*x\.too_long", out)
    for channel in ("facebook_page", "linkedin_org", "x"):
        assert re.search(rf"^     {channel}\s+published: http", out, re.MULTILINE), out[:2000]
    assert "a reader clicks the X post's link and joins: credited organic_social/x" in out
    assert "facebook_page ok, linkedin_org ok, x ok" in out
    assert re.search(r"report, last touch, organic_social\s+joins 1\.00, no spend", out)
    assert re.search(r"report, last touch, paid_search\s+joins [\d.]+, [\d.]+ EUR", out)
