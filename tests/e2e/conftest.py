"""The local stack over HTTP, as a marketer's client or a candidate's browser would use it."""

import pytest
import requests

from attract_local.auth import mint_token
from attract_local.gateway import start_local

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


@pytest.fixture(scope="session")
def stack(stack_log):
    with stack_log.open("w") as log:
        aws, gateway = start_local(port=0, log=log, parameters=FUNCTIONAL_LIMITS)
        yield aws, gateway
        gateway.stop()
        aws.stop()


@pytest.fixture(scope="session")
def api(stack) -> str:
    return stack[1].url


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


@pytest.fixture(scope="session")
def marketer() -> dict:
    return {"Authorization": "Bearer " + mint_token(["marketers"])}


@pytest.fixture(scope="session")
def recruiter() -> dict:
    return {"Authorization": "Bearer " + mint_token(["recruiters"])}


@pytest.fixture(scope="session")
def admin() -> dict:
    return {"Authorization": "Bearer " + mint_token(["admins"])}


@pytest.fixture
def browser() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = BROWSER
    return session


def pytest_collection_modifyitems(items) -> None:
    """Schemathesis 4 gives every operation of one test function the same node id under pytest 9. pytest-xdist
    schedules and reports by node id, so in parallel only one operation per function ran: each gets its own."""
    from _pytest.nodes import coerce_node_id

    for item in items:
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith(f"[{label}]"):
            item._id = coerce_node_id(f"{item.nodeid}[{label}]")
