"""X's user token renewed before its two hours are up (XTokenRefreshFunction, attract.providers.x_tokens), against
the X sandbox's token endpoint (a refresh token is spent by its use, access tokens expire) and the emulator's
Secrets Manager: the publisher keeps posting after the first token expired."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from attract.posts.ports import PlatformError, PostContent
from attract.providers.x_posts import XPostsGateway
from attract.providers.x_tokens import RefreshRefused, RefreshUnavailable, refresh_if_due
from attract_local.sandboxes.x import XSandbox
from tests.support import FakeLambdaContext

NOW = datetime.now(UTC)


@pytest.fixture
def sandbox():
    started = XSandbox()
    started.start()
    yield started
    started.stop()


@pytest.fixture
def secret(local_aws, sandbox):
    """The stack's X secret, filled with the sandbox's credentials (as the local stack does)."""
    secret_id = local_aws.refs["XSecret"]
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=json.dumps(sandbox.config()))
    return secret_id


def _stored(local_aws, secret_id: str) -> dict:
    return json.loads(local_aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


def _tokens_asked(sandbox: XSandbox) -> int:
    return len(sandbox.requests_to("POST", r"^/2/oauth2/token$"))


def _refresh(local_aws, secret_id, sandbox, now):
    return refresh_if_due(secret_id, sandbox.url, now, secrets=local_aws.client("secretsmanager"))


def test_a_token_expiring_soon_is_renewed_and_posting_goes_on_after_the_old_one_expired(local_aws, secret, sandbox):
    before = _stored(local_aws, secret)
    # Given a token with 40 minutes left (under the 45 the refresh keeps)
    due = datetime.fromisoformat(before["expires_at"]) - timedelta(minutes=40)
    # When the refresh runs
    outcome = _refresh(local_aws, secret, sandbox, due)
    # Then the secret holds a new access token, a new refresh token and the new expiry; the rest is unchanged
    after = _stored(local_aws, secret)
    assert outcome.status == "refreshed" and outcome.expires_at == (due + timedelta(hours=2)).replace(microsecond=0)
    assert after["access_token"] != before["access_token"] and after["refresh_token"] != before["refresh_token"]
    assert datetime.fromisoformat(after["expires_at"]) == outcome.expires_at
    assert {k: after[k] for k in ("user_id", "username", "client_id")} == {k: before[k] for k in ("user_id", "username", "client_id")}
    # And when two hours pass for the old token, the adapter built from the renewed secret still posts
    sandbox.expire_tokens(before["access_token"])
    with pytest.raises(PlatformError, match="Unauthorized"):
        XPostsGateway(before, sandbox.url).publish(PostContent(text="old token", link="https://attract.example/r/a1"))
    posted = XPostsGateway(after, sandbox.url).publish(PostContent(text="new token", link="https://attract.example/r/a2"))
    assert posted.post_id in sandbox.tweets


def test_a_fresh_token_is_left_alone_and_x_is_not_asked(local_aws, secret, sandbox):
    before = _stored(local_aws, secret)
    outcome = _refresh(local_aws, secret, sandbox, NOW)
    assert outcome.status == "fresh" and _tokens_asked(sandbox) == 0 and _stored(local_aws, secret) == before


def test_a_second_run_after_the_refresh_finds_the_token_fresh(local_aws, secret, sandbox):
    # Given a refresh that ran (EventBridge may deliver the same event twice)
    later = NOW + timedelta(hours=1, minutes=30)
    assert _refresh(local_aws, secret, sandbox, later).status == "refreshed"
    # When it runs again
    again = _refresh(local_aws, secret, sandbox, later + timedelta(seconds=5))
    # Then nothing is spent twice
    assert again.status == "fresh" and _tokens_asked(sandbox) == 1


def test_a_secret_without_a_refresh_token_is_not_refreshable_and_x_is_not_asked(local_aws, secret, sandbox):
    config = {k: v for k, v in sandbox.config().items() if k not in ("refresh_token", "expires_at")}
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(config))
    assert _refresh(local_aws, secret, sandbox, NOW).status == "not_refreshable"
    placeholder = {**sandbox.config(), "client_id": "FILL-ME", "refresh_token": "FILL-ME"}  # the template's value
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(placeholder))
    assert _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=3)).status == "not_refreshable"
    assert _tokens_asked(sandbox) == 0


def test_a_spent_refresh_token_is_refused_and_the_secret_is_left_as_it_was(local_aws, secret, sandbox):
    # Given a refresh token X has since spent (another refresher, or a write lost after X answered)
    stale = _stored(local_aws, secret)
    assert _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=2)).status == "refreshed"
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(stale))
    # When the refresh runs with it
    with pytest.raises(RefreshRefused) as refused:
        _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=2))
    # Then X's refusal is named, no token is in it, and the secret is untouched
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")
    assert stale["refresh_token"] not in str(refused.value) and _stored(local_aws, secret) == stale


def test_a_confidential_client_authenticates_with_http_basic(local_aws, secret, sandbox):
    sandbox.client_secret = "local-x-client-secret"
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(sandbox.config()))
    assert _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=2)).status == "refreshed"
    wrong = {**_stored(local_aws, secret), "client_secret": "not-it"}
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(wrong))
    with pytest.raises(RefreshRefused) as refused:
        _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=4))
    assert refused.value.code == "unauthorized_client"


def test_x_unavailable_is_retryable_and_spends_nothing(local_aws, secret, sandbox):
    before = _stored(local_aws, secret)
    sandbox.fail_next("token", "503")
    with pytest.raises(RefreshUnavailable):
        _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=2))
    assert _stored(local_aws, secret) == before
    assert _refresh(local_aws, secret, sandbox, NOW + timedelta(hours=2)).status == "refreshed"  # the retry works


def test_the_function_renews_through_the_templates_wiring_and_alarms_on_a_refusal(function_env, local_aws, secret,
                                                                                 sandbox, monkeypatch, capsys, caplog):
    monkeypatch.setenv("X_API_URL", sandbox.url)  # as the local stack points X_API_URL at the sandbox
    app = function_env("XTokenRefreshFunction")
    app._secrets.cache_clear()
    # Given a token with 10 minutes left
    config = {**sandbox.config(), "expires_at": (datetime.now(UTC) + timedelta(minutes=10)).isoformat()}
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(config))
    # When the schedule fires
    answer = app.lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext())
    # Then the secret was renewed, and the log names the outcome, never a token
    assert answer["status"] == "refreshed" and _stored(local_aws, secret)["access_token"] == sandbox.access_token
    # And a refused refresh token fails the invocation (the function's error alarm) with a metric and an error log
    local_aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(config))
    with pytest.raises(RefreshRefused):
        app.lambda_handler({"source": "aws.events"}, FakeLambdaContext())
    # (the log reaches stdout, or pytest's log capture once another test has configured logging)
    printed = capsys.readouterr().out + caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "XTokenRefreshFailed" in printed and "authorize the X app again" in printed
    for token in (config["access_token"], config["refresh_token"], sandbox.access_token, sandbox.refresh_token):
        assert token not in printed
