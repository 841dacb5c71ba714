"""Rotating the signing key (Secrets Manager put-secret-value) keeps what was signed before working: an unsubscribe
link already in an inbox, a visitor id in a cookie. Handlers in-process against the local stack, each test on a
secret of its own (the stack's is shared by the session)."""

import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from attract.identity import email_hash
from attract.signing import Signer
from tests.integration.test_invite_deliverability import _send_one, _suppression, _unsubscribe_event
from tests.integration.test_joins_handler import _item, _secret
from tests.integration.test_tracking_handler import _click_event, link_code  # noqa: F401 - a fixture
from tests.support import FakeLambdaContext, confirm_event, confirm_link, load_event, with_body


@pytest.fixture
def signing_secret(local_aws):
    """A signing key secret never rotated, and rotate() -> the new key (as `aws secretsmanager put-secret-value`)."""
    client = local_aws.client("secretsmanager")
    arn = client.create_secret(Name=f"signing-{uuid.uuid4().hex[:8]}", SecretString="key-before-rotation")["ARN"]

    def rotate() -> str:
        client.put_secret_value(SecretId=arn, SecretString="key-after-rotation")
        # Secrets Manager (and moto) keep the replaced value under AWSPREVIOUS
        assert client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == "key-before-rotation"
        _forget_cached_keys()  # as a warm function would after SECRET_MAX_AGE_SECONDS
        return "key-after-rotation"

    return arn, rotate


def _forget_cached_keys() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


def _on_secret(module, monkeypatch, arn: str):
    from attract import settings

    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", arn)
    settings.load_settings.cache_clear()
    _forget_cached_keys()
    return module


def test_an_unsubscribe_link_sent_before_a_rotation_still_unsubscribes(function_env, sender, queues, domain,
                                                                      local_aws, signing_secret, monkeypatch):
    arn, rotate = signing_secret
    sqs, queue, _ = queues
    _on_secret(sender, monkeypatch, arn)
    (message,) = _send_one(sender, sqs, queue, local_aws, domain, "ada", f"r-{uuid.uuid4().hex[:6]}")
    token = message["List-Unsubscribe"][1:-1].rsplit("/u/", 1)[1]
    assert Signer("key-before-rotation").open("unsubscribe", token, 0, 2)  # signed with the key of the day

    rotate()
    unsubscribe = _on_secret(function_env("InviteUnsubscribeFunction"), monkeypatch, arn)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert unsubscribe.lambda_handler(_unsubscribe_event(tampered, "POST"), FakeLambdaContext())["statusCode"] == 404
    page = unsubscribe.lambda_handler(_unsubscribe_event(token, "GET"), FakeLambdaContext())
    assert page["statusCode"] == 200 and "<form method=post>" in page["body"]
    done = unsubscribe.lambda_handler(_unsubscribe_event(token, "POST"), FakeLambdaContext())
    assert done["statusCode"] == 200 and "unsubscribed" in done["body"]
    assert _suppression(local_aws, f"ada@people.{domain}")["reason"] == "unsubscribe"


def test_a_never_rotated_secret_verifies_with_its_current_key_only(function_env, local_aws, signing_secret,
                                                                   monkeypatch):
    arn, _ = signing_secret
    unsubscribe = _on_secret(function_env("InviteUnsubscribeFunction"), monkeypatch, arn)
    from attract.clock import utc_now
    from attract.invites.tokens import unsubscribe_token

    current = unsubscribe_token(Signer("key-before-rotation"), "campaign-1", "a" * 64, utc_now())
    foreign = unsubscribe_token(Signer("some-other-key"), "campaign-1", "a" * 64, utc_now())
    # No AWSPREVIOUS version (ResourceNotFoundException): a foreign token is simply not valid, twice (cached)
    for _ in range(2):
        assert unsubscribe.lambda_handler(_unsubscribe_event(foreign, "GET"), FakeLambdaContext())["statusCode"] == 404
    assert unsubscribe.lambda_handler(_unsubscribe_event(current, "GET"), FakeLambdaContext())["statusCode"] == 200


def test_a_visitor_id_issued_before_a_rotation_is_trusted_by_the_join(function_env, local_aws, signing_secret,
                                                                      link_code, monkeypatch):  # noqa: F811
    arn, rotate = signing_secret
    tracking = _on_secret(function_env("TrackingFunction"), monkeypatch, arn)
    redirect = tracking.lambda_handler(_click_event("tracking/click", link_code), FakeLambdaContext())
    query = parse_qs(urlsplit(redirect["headers"]["Location"]).query)
    visitor, click = query["tc_vid"][0], query["tc_click"][0]
    assert Signer("key-before-rotation").is_visitor_id(visitor)

    new_key = rotate()
    assert not Signer(new_key).is_visitor_id(visitor)
    joins = _on_secret(function_env("JoinsFunction"), monkeypatch, arn)
    email = f"rotated-{uuid.uuid4().hex[:6]}@example.com"
    body = {**json.loads(load_event("joins/join")["body"]), "email": email, "visitor_id": visitor,
            "click_ids": {"tc_click": [click]}}
    submitted = joins.lambda_handler(with_body(load_event("joins/join"), body), FakeLambdaContext())
    assert submitted["statusCode"] == 202, submitted["body"]
    pk = f"MEMBER#{email_hash(email, _secret(local_aws, 'EmailPepperSecret'))}"
    assert not _item(local_aws, pk, "PENDING").get("untrusted_ids")  # both ids verified with the previous key
    confirmed = joins.lambda_handler(confirm_event(confirm_link(local_aws.endpoint, email)), FakeLambdaContext())
    assert confirmed["statusCode"] == 200 and "You're in" in confirmed["body"]
    credited = [t["touch_id"] for t in _item(local_aws, pk, "ATTRIBUTION")["touches"]]
    assert click in credited  # the click before the rotation is credited


def test_the_previous_version_never_takes_the_current_ones_place_in_the_cache(function_env, local_aws,
                                                                               signing_secret, monkeypatch):
    # Powertools caches a secret by name only, not by VersionStage: AWSPREVIOUS is read and cached apart.
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    from attract.signing import previous_signing_keys, signing_key

    arn, rotate = signing_secret
    _on_secret(function_env("JoinsFunction"), monkeypatch, arn)
    assert previous_signing_keys(arn, 300) == []  # never rotated
    reads: list[str] = []
    DEFAULT_PROVIDERS["attract-signing-previous"]._provider.client.meta.events.register(
        "before-call.secretsmanager.GetSecretValue", lambda **kwargs: reads.append(kwargs["params"]["VersionStage"]))
    assert previous_signing_keys(arn, 300) == [] and reads == []  # "none" is cached too: no read per forged value

    rotate()
    for _ in range(2):
        assert signing_key(arn, 300) == "key-after-rotation"
        assert previous_signing_keys(arn, 300) == ["key-before-rotation"]
    assert signing_key(arn, 300) == "key-after-rotation"
