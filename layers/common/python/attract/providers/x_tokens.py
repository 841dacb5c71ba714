"""X's OAuth 2.0 user access token kept alive: it "only stays valid for two hours" unless the app was granted
`offline.access`, whose refresh token buys a new one (docs.x.com, OAuth 2.0 Authorization Code Flow with PKCE).

The X secret (XSecret) then also holds `client_id` (the X app's OAuth 2.0 client id), `refresh_token`,
`expires_at` (ISO 8601) and, for a confidential client, `client_secret`. XTokenRefreshFunction calls
`refresh_if_due` every 30 minutes: when the token has less than REFRESH_BEFORE left (or no known expiry), it POSTs
the refresh token grant to `<X_API_URL>/2/oauth2/token` and writes the new access token, the new refresh token
and the new expiry back as the secret's current version. The adapters read the secret through Powertools' cache
(SECRET_MAX_AGE_SECONDS, 5 minutes): a changed secret builds a new adapter, and the old token has over 40 minutes
left by then.

One writer: the function's reserved concurrency is 1, because a refresh token is spent by its use; two
refreshers would race, and the loser's token would be refused. The same holds across a crash between X's answer
and the write: the new refresh token is lost, and the next run's refresh is refused (RefreshRefused, alarmed),
after which a person must authorize the app again. Plain HTTP, not tweepy: tweepy 4.17 builds no refresh
request (its OAuth2UserHandler only fetches a first token, from api.twitter.com).
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from attract.clock import iso

TOKEN_PATH = "/2/oauth2/token"
REFRESH_BEFORE = timedelta(minutes=45)  # > the 30 minutes between two runs: a token is never found expired
PLACEHOLDER = "FILL-ME"  # the template's initial secret value: not configured yet
_VERSION_NAMESPACE = uuid.UUID("5b0d3c1e-4a8f-4f7e-9a51-7d2f3b9c6e10")

Credential = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class XTokenSecret(BaseModel):
    """The fields of the X secret the refresh reads; the others (user_id, username) are written back unchanged."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: Credential
    refresh_token: Credential | None = None
    client_id: Credential | None = None
    client_secret: SecretStr | None = None
    expires_at: datetime | None = None


class _TokenAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: Credential
    expires_in: int = Field(gt=0, le=366 * 86400)  # seconds
    refresh_token: Credential | None = None


class RefreshOutcome(BaseModel):
    status: Literal["refreshed", "fresh", "not_refreshable"]
    expires_at: datetime | None = None


class RefreshRefused(Exception):
    """X refused the refresh token or the client (used, revoked, wrong app): a person must authorize the app again.
    `code` is the token endpoint's `error` (RFC 6749 section 5.2), never a token."""

    def __init__(self, status: int, code: str):
        super().__init__(f"X refused the token refresh: HTTP {status} {code}")
        self.status, self.code = status, code


class RefreshUnavailable(Exception):
    """X's token endpoint did not answer usefully (5xx, 429, no connection, a malformed answer): try again later."""


def refresh_due(secret: XTokenSecret, now: datetime, before: timedelta = REFRESH_BEFORE) -> bool:
    return secret.expires_at is None or secret.expires_at - before <= now


def refresh_if_due(secret_id: str, endpoint: str, now: datetime, *, secrets, timeout_s: float = 10,
                   before: timedelta = REFRESH_BEFORE) -> RefreshOutcome:
    """Refresh the X secret's access token when due; `secrets` is a Secrets Manager client (never cached: the
    current version is read each time, so a refresh token is never used twice from a stale copy)."""
    current = secrets.get_secret_value(SecretId=secret_id)
    stored = json.loads(current["SecretString"])
    try:
        secret = XTokenSecret.model_validate(stored)
    except ValidationError:
        return RefreshOutcome(status="not_refreshable")  # not filled in yet: the adapters say so where it is used
    if not secret.refresh_token or not secret.client_id or PLACEHOLDER in (secret.refresh_token, secret.client_id):
        return RefreshOutcome(status="not_refreshable", expires_at=secret.expires_at)
    if not refresh_due(secret, now, before):
        return RefreshOutcome(status="fresh", expires_at=secret.expires_at)
    answer = _refresh(endpoint.rstrip("/") + TOKEN_PATH, secret, timeout_s)
    expires_at = (now + timedelta(seconds=answer.expires_in)).replace(microsecond=0)  # as stored
    renewed = {**stored, "access_token": answer.access_token,
               "refresh_token": answer.refresh_token or secret.refresh_token, "expires_at": iso(expires_at)}
    # Named after the version it replaces: botocore's retry of a lost answer writes this version once, no more.
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(renewed),
                             ClientRequestToken=str(uuid.uuid5(_VERSION_NAMESPACE, current["VersionId"])))
    return RefreshOutcome(status="refreshed", expires_at=expires_at)


def _refresh(url: str, secret: XTokenSecret, timeout_s: float) -> _TokenAnswer:
    form = {"grant_type": "refresh_token", "refresh_token": secret.refresh_token}
    auth = None
    if secret.client_secret is not None:  # a confidential client authenticates with HTTP Basic
        auth = (str(secret.client_id), secret.client_secret.get_secret_value())
    else:  # a public client names itself
        form["client_id"] = secret.client_id
    try:
        response = requests.post(url, data=form, auth=auth, timeout=timeout_s, allow_redirects=False,
                                 headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise RefreshUnavailable(f"X's token endpoint did not answer ({type(error).__name__})") from None
    body = _json(response)
    if response.status_code in (400, 401) and isinstance(body.get("error"), str):
        raise RefreshRefused(response.status_code, str(body["error"])[:64])
    if response.status_code != 200:
        raise RefreshUnavailable(f"X's token endpoint answered HTTP {response.status_code}")
    try:
        return _TokenAnswer.model_validate(body)
    except ValidationError:
        raise RefreshUnavailable("X's token endpoint answered no access token or expiry") from None


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
