"""Handlers invoked in-process with events/ payloads against a moto server holding template.yaml's tables."""

import importlib
import json
import uuid

import pytest

from attract_local.openapi import function_module
from attract_local.stack import LocalAws

# Join events share one sourceIp and the session shares one table: the functional tests check behaviour, not the
# mail limits (tests/integration/test_join_mail_limits.py does, with low limits of its own).
FUNCTIONAL_MAIL_LIMITS = {"JoinMailsPerSourceHour": 1_000_000, "JoinMailsPerHour": 1_000_000}


@pytest.fixture(scope="session")
def local_aws():
    aws = LocalAws(parameters=FUNCTIONAL_MAIL_LIMITS).start()
    yield aws
    aws.stop()


@pytest.fixture
def function_env(local_aws, monkeypatch):
    """Returns load(logical_id) -> the function's app module, with that function's environment in place."""

    def load(logical_id: str):
        for key, value in local_aws.handler_environment(logical_id).items():
            monkeypatch.setenv(key, value)
        _reset_caches()
        # functions/invites/sender/ with app.lambda_handler imports as functions.invites.sender.app.
        module = importlib.import_module(function_module(local_aws.template, logical_id))
        for name in ("_stores", "_links", "_touches", "_campaigns"):
            if hasattr(module, name):
                getattr(module, name).cache_clear()
        return module

    yield load
    _reset_caches()


def _reset_caches() -> None:
    from attract import aws, settings
    from attract.campaigns import launch
    from attract.links import logic

    settings.load_settings.cache_clear()
    aws.client.cache_clear()
    logic.idempotent_create_link.cache_clear()
    launch.idempotent_create_campaign.cache_clear()


@pytest.fixture
def dynamodb_down(monkeypatch):
    """From now on the functions' DynamoDB endpoint refuses connections (an outage), fast."""
    from attract import aws
    from attract_local.stack import reserved_port

    with reserved_port() as dead:  # held, never listening: refused, and no parallel worker's server can take it

        def down() -> None:
            monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dead}")
            monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
            aws.client.cache_clear()

        yield down
    aws.client.cache_clear()


# ---- invitations: the sender with a public base URL, a verified sender domain, a test queue pair

VISIBILITY = 1  # seconds: a failed message comes back quickly
MAX_RECEIVES = 3  # the template's maxReceiveCount


@pytest.fixture
def sender(function_env, local_aws, monkeypatch):
    from attract import settings

    module = function_env("InviteSenderFunction")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://go.acme.example")
    settings.load_settings.cache_clear()
    module._stores.cache_clear()
    return module


@pytest.fixture
def domain(local_aws):
    """A sender domain of this test only (moto's SES is shared by the session), verified."""
    name = f"acme-{uuid.uuid4().hex[:8]}.example"
    local_aws.client("sesv2").create_email_identity(EmailIdentity=name)
    return name


@pytest.fixture
def queues(local_aws):
    sqs = local_aws.client("sqs")
    name = uuid.uuid4().hex[:10]
    dlq = sqs.create_queue(QueueName=f"invites-dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"invites-{name}", Attributes={
        "VisibilityTimeout": str(VISIBILITY),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})})["QueueUrl"]
    return sqs, queue, dlq


# ---- ads (issue 8): both platforms' local sandboxes behind the stack's ads secrets

@pytest.fixture
def sandboxes(local_aws, monkeypatch):
    """Both platforms' local sandboxes, the stack's ads secrets holding their configs, the endpoints pointed at them.

    """
    from aws_lambda_powertools.utilities import parameters

    from attract_local.sandboxes import google_ads as google_sandboxes
    from attract_local.sandboxes import meta as meta_sandboxes

    google, meta = google_sandboxes.GoogleAdsSandbox(), meta_sandboxes.MetaSandbox()
    endpoint, url = google.start(), meta.start()
    secrets = local_aws.client("secretsmanager")
    secrets.put_secret_value(SecretId=local_aws.refs["GoogleAdsSecret"], SecretString=json.dumps(google.config()))
    secrets.put_secret_value(SecretId=local_aws.refs["MetaSecret"], SecretString=json.dumps(meta.config()))
    monkeypatch.setenv("GOOGLE_ADS_ENDPOINT", endpoint)
    monkeypatch.setenv("META_GRAPH_URL", url)
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(google.cert_path))
    parameters.clear_caches()  # a secret read earlier in the session must not be reused
    yield google, meta, endpoint, url
    parameters.clear_caches()
    google.stop()
    meta.stop()


@pytest.fixture
def datamanager(sandboxes, local_aws, monkeypatch):
    """The local Data Manager sandbox beside `sandboxes`: Google conversions. It shares the Google secret (one
    OAuth client for both Google APIs: the Google Ads sandbox's token endpoint serves both) and adds the
    conversion action, as `make local` does (attract_local.ad_sandboxes.AdSandboxes.fill_secrets)."""
    from aws_lambda_powertools.utilities import parameters

    from attract_local.sandboxes.datamanager import DataManagerSandbox

    google = sandboxes[0]
    box = DataManagerSandbox(customer_id=google.customer_id)
    endpoint = box.start()
    local_aws.client("secretsmanager").put_secret_value(
        SecretId=local_aws.refs["GoogleAdsSecret"], SecretString=json.dumps(box.config() | google.config()))
    monkeypatch.setenv("GOOGLE_DATAMANAGER_ENDPOINT", endpoint)
    parameters.clear_caches()
    yield box
    parameters.clear_caches()
    box.stop()
