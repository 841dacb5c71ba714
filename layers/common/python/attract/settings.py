"""Runtime settings, read from the environment and validated once per cold start.

Each function has its own model naming what it needs, and its app module loads it at import: a
missing or invalid variable then fails the cold start (and so the deploy's smoke test), not the
first request that happens to read it. Logic never reads os.environ: handlers call
`load_settings()` and pass plain values on.

A new variable goes into the model of the function that reads it, required (no default) unless a
default is right everywhere; a test checks every function's template environment against its model.
"""

import os
from functools import cache
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """The environment does not satisfy a function's settings; names the variables, never their values."""


def _host_list(value: object) -> object:
    """"careers.example.com, *.example.org" -> normalised entries (lower-case, IDNA); empty -> any host."""
    if not isinstance(value, str):
        return value
    from attract.links.models import ascii_host

    entries = []
    for entry in (part.strip() for part in value.split(",")):
        if entry:
            wildcard = entry.startswith("*.")
            entries.append(("*." if wildcard else "") + ascii_host(entry[2:] if wildcard else entry).rstrip("."))
    return tuple(entries)


class Settings(BaseModel):
    """What every function may read. Optional here, a variable can still be required by a function's model."""

    # defer_build: a function builds the validator of its own model only, not of the five.
    model_config = ConfigDict(frozen=True, populate_by_name=True, defer_build=True)

    table_name: Annotated[str, Field(alias="TABLE_NAME", min_length=3)]
    # Powertools reads it itself, but only when metrics are flushed: after the first request's work.
    metrics_namespace: Annotated[str, Field(alias="POWERTOOLS_METRICS_NAMESPACE", min_length=1)]
    idempotency_table_name: Annotated[str | None, Field(alias="IDEMPOTENCY_TABLE_NAME")] = None
    email_pepper_secret_id: Annotated[str | None, Field(alias="EMAIL_PEPPER_SECRET_ID")] = None
    # HMAC key of signed ids (tc_vid, tc_click) and join confirmation tokens (attract.signing).
    signing_key_secret_id: Annotated[str | None, Field(alias="SIGNING_KEY_SECRET_ID")] = None
    # Verified SES identity that sends join confirmations.
    mail_from_address: Annotated[str | None, Field(alias="MAIL_FROM_ADDRESS")] = None
    # Base URL of the public click redirect; empty means "the host the request came in on".
    public_base_url: Annotated[str, Field(alias="PUBLIC_BASE_URL")] = ""
    touch_retention_days: Annotated[int, Field(alias="TOUCH_RETENTION_DAYS", ge=1, le=3650)] = 400
    visitor_cookie_days: Annotated[int, Field(alias="VISITOR_COOKIE_DAYS", ge=1, le=400)] = 365
    idempotency_seconds: Annotated[int, Field(alias="IDEMPOTENCY_SECONDS", ge=60)] = 3600
    secret_max_age_seconds: Annotated[int, Field(alias="SECRET_MAX_AGE_SECONDS", ge=0)] = 300
    attribution_lookback_days: Annotated[int, Field(alias="ATTRIBUTION_LOOKBACK_DAYS", ge=1, le=365)] = 30
    time_decay_half_life_days: Annotated[float, Field(alias="TIME_DECAY_HALF_LIFE_DAYS", gt=0, le=365)] = 7
    consent_text_version: Annotated[str, Field(alias="CONSENT_TEXT_VERSION", min_length=1)] = "v1"
    aggregate_shards: Annotated[int, Field(alias="AGGREGATE_SHARDS", ge=1, le=64)] = 4
    # Hosts tracked links may send people to (`*.example.com` for subdomains); empty means any host.
    destination_hosts: Annotated[tuple[str, ...], BeforeValidator(_host_list), Field(alias="DESTINATION_HOSTS")] = ()

    @classmethod
    def load(cls) -> Self:
        """This model from the environment, validated on the first call of the process and cached."""
        settings = load_settings(cls)
        assert isinstance(settings, cls)
        return settings


class TrackingSettings(Settings):
    """GET /r/{code}, GET /t.js."""


class JoinsSettings(Settings):
    """POST /joins, GET/POST /joins/confirm/{token}."""

    email_pepper_secret_id: Annotated[str, Field(alias="EMAIL_PEPPER_SECRET_ID", min_length=1)]
    signing_key_secret_id: Annotated[str, Field(alias="SIGNING_KEY_SECRET_ID", min_length=1)]
    mail_from_address: Annotated[str, Field(alias="MAIL_FROM_ADDRESS", min_length=3)]


class LinksSettings(Settings):
    """POST/GET /links, POST /touches."""

    idempotency_table_name: Annotated[str, Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)]
    email_pepper_secret_id: Annotated[str, Field(alias="EMAIL_PEPPER_SECRET_ID", min_length=1)]


class ReportsSettings(Settings):
    """GET /reports/attribution."""


@cache
def load_settings(model: type[Settings] = Settings) -> Settings:
    known = {field.alias for field in model.model_fields.values() if field.alias}
    try:
        return model.model_validate({key: value for key, value in os.environ.items() if key in known})
    except ValidationError as error:
        raise SettingsError(f"{model.__name__}: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """'EMAIL_PEPPER_SECRET_ID is not set; TOUCH_RETENTION_DAYS: Input should be ...' (values left out)."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in item["loc"])
        problems.append(f"{name} is not set" if item["type"] == "missing" else f"{name}: {item['msg']}")
    return "; ".join(problems)
