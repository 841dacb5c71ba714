"""Runtime settings, read from the environment once per cold start.

Logic never reads os.environ: handlers call `load_settings()` and pass plain values on.
"""

import os
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: Annotated[str, Field(alias="TABLE_NAME", min_length=3)]
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


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    return Settings.model_validate({key: value for key, value in os.environ.items() if key in known})
