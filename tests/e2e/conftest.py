"""The local stack over HTTP, as a marketer's client or a candidate's browser would use it.

Under `make smoke STACK=<name>` (attract_local.smoke) the same suite runs against a deployed stack: `api` is its
URL, `marketer`, `recruiter` and `admin` carry tokens of Cognito test users, and each test that only makes sense
locally is skipped with the reason (a `local_only` marker, or a fixture of the local stack it uses).
"""

import os

import pytest
import requests

from attract_local.ad_sandboxes import SANDBOXES, start_ad_sandboxes
from attract_local.auth import mint_token
from attract_local.gateway import start_local
from attract_local.smoke import local_only_reason, target_from_environment

SMOKE = target_from_environment()  # None: the local stack (the default)

# The session stack checks behaviour, not throttling (tests/e2e/test_gateway_abuse.py does, with low limits):
# high limits so that fast test loops never meet a 429.
FUNCTIONAL_LIMITS = {name: 100_000 for name in ("PublicRateLimit", "PublicBurstLimit", "JoinRateLimit", "JoinBurstLimit",
                                                "ApiRateLimit", "ApiBurstLimit",
                                                # every client here is 127.0.0.1: the mail limits are tested apart
                                                "JoinMailsPerSourceHour", "JoinMailsPerHour")}
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


@pytest.fixture(scope="session")
def stack_log(tmp_path_factory):
    """Everything the functions log (and the gateway's access lines) during the e2e session."""
    return tmp_path_factory.mktemp("stack") / "functions.log"


# The organic posts' platforms (Meta's Graph host also serves the Facebook Page): the publisher's wire sandboxes.
POST_SANDBOXES = ("meta", "linkedin", "x")


@pytest.fixture(scope="session")
def stack(stack_log):
    # The gateway's workers take their environment when it starts: the sandboxes' endpoints are in it then, and the
    # test process's own environment is given back (a `make demo` run by a test starts sandboxes of its own).
    variables = [SANDBOXES[name][3] for name in POST_SANDBOXES]
    before = {name: os.environ.get(name) for name in variables}
    sandboxes = start_ad_sandboxes(os.environ, {name: SANDBOXES[name] for name in POST_SANDBOXES})
    try:
        with stack_log.open("w") as log:
            aws, gateway = start_local(port=0, log=log, parameters=FUNCTIONAL_LIMITS)
            _restore(before)
            sandboxes.fill_secrets(aws)
            yield aws, gateway
            gateway.stop()
            aws.stop()
    finally:
        _restore(before)
        sandboxes.stop()


def _restore(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def api(request) -> str:
    if SMOKE is not None:
        return SMOKE.api
    return request.getfixturevalue("stack")[1].url  # not a parameter: under smoke no local stack starts


@pytest.fixture(scope="session")
def aws_endpoint(stack) -> str:
    """The emulator behind the stack: its /moto-api/data.json holds the mail SES "sent" (tests.support.sent_mail)."""
    return stack[0].endpoint


@pytest.fixture(scope="session")
def verified_sender(stack) -> str:
    """The sample campaigns' sender domain (careers@acme.example), verified in the stack's SES as an operator would:
    the invite API refuses a sender.from SES would refuse."""
    stack[0].client("sesv2").create_email_identity(EmailIdentity="acme.example")
    return "acme.example"


def _bearer(role: str, group: str) -> dict:
    return SMOKE.headers(role) if SMOKE is not None else {"Authorization": "Bearer " + mint_token([group])}


@pytest.fixture(scope="session")
def marketer() -> dict:
    return _bearer("marketer", "marketers")


@pytest.fixture(scope="session")
def recruiter() -> dict:
    return _bearer("recruiter", "recruiters")


@pytest.fixture(scope="session")
def admin() -> dict:
    return _bearer("admin", "admins")


@pytest.fixture
def browser() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = BROWSER
    return session


def pytest_collection_modifyitems(items) -> None:
    """Schemathesis 4 gives every operation of one test function the same node id under pytest 9. pytest-xdist
    schedules and reports by node id, so in parallel only one operation per function ran: each gets its own.
    Under smoke, what only makes sense locally is skipped, saying why."""
    from _pytest.nodes import coerce_node_id

    for item in items:
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith(f"[{label}]"):
            item._id = coerce_node_id(f"{item.nodeid}[{label}]")
        if SMOKE is not None:
            marker = item.get_closest_marker("local_only")
            reason = local_only_reason(item.fixturenames, marker and (marker.args or ["local stack only"])[0])
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"local stack only: {reason}"))
