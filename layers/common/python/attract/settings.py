"""Runtime settings, read from the environment and validated once per cold start.

Each function has its own model naming what it needs, and its app module loads it at import: a
missing or invalid variable then fails the cold start (and so the deploy's smoke test), not the
first request that happens to read it. Logic never reads os.environ: handlers call
`load_settings()` and pass plain values on.

A new variable is a field of `Settings` (with a default unless every function needs it) and is named
in `REQUIRED` of each function model that cannot do without it; a test checks every function's
template environment against its model.

Plain dataclasses and a few hand-written rules, not pydantic: the public redirect loads its settings on
every cold start and imports no pydantic at all (docs/decisions.md, "Cold start").
"""

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, Self


class SettingsError(RuntimeError):
    """The environment does not satisfy a function's settings; names the variables, never their values."""


def variable(name: str, default: Any = MISSING, *, parse: Callable[[str], Any] = str, min_length: int | None = None,
             ge: float | None = None, gt: float | None = None, le: float | None = None) -> Any:
    """A setting read from the environment variable `name`, converted by `parse` and checked; required without a default."""
    rules = {"parse": parse, "min_length": min_length, "ge": ge, "gt": gt, "le": le}
    return field(default=default, metadata={"variable": name, **rules})


def _host_list(value: str) -> tuple[str, ...]:
    """"careers.example.com, *.example.org" -> normalised entries (lower-case, IDNA); empty -> any host."""
    from attract.links.models import ascii_host  # the links function's only: it has pydantic loaded anyway

    entries = []
    for entry in (part.strip() for part in value.split(",")):
        if entry:
            wildcard = entry.startswith("*.")
            entries.append(("*." if wildcard else "") + ascii_host(entry[2:] if wildcard else entry).rstrip("."))
    return tuple(entries)


def _names(value: str) -> tuple[str, ...]:
    """"a, b,c" -> ("a", "b", "c"): a comma-separated list of names or ARNs (empty entries dropped)."""
    return tuple(entry for entry in (part.strip() for part in value.split(",")) if entry)


def _integer(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError("Input should be a valid integer") from None


def _number(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError("Input should be a valid number") from None
    if not math.isfinite(number):
        raise ValueError("Input should be a finite number")
    return number


def _flag(value: str) -> bool:
    """"true"/"false" (any case; also 1/0, yes/no), as template parameters spell booleans."""
    text = value.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ValueError("Input should be true or false")


def _checked(value: str, rules: Mapping[str, Any]) -> Any:
    """The converted value, or ValueError saying which rule it breaks (never quoting the value)."""
    converted = rules["parse"](value)
    if rules["min_length"] is not None and len(converted) < rules["min_length"]:
        count = rules["min_length"]
        raise ValueError(f"String should have at least {count} character{'s' if count > 1 else ''}")
    if rules["ge"] is not None and converted < rules["ge"]:
        raise ValueError(f"Input should be greater than or equal to {rules['ge']}")
    if rules["gt"] is not None and converted <= rules["gt"]:
        raise ValueError(f"Input should be greater than {rules['gt']}")
    if rules["le"] is not None and converted > rules["le"]:
        raise ValueError(f"Input should be less than or equal to {rules['le']}")
    return converted


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What every function may read. Optional here, a variable can still be required by a function's model.

    A function's model is a plain subclass naming the optional variables it requires (`REQUIRED`): one
    dataclass in all, as each one costs the cold start its generated methods.
    """

    # Variables optional here that the function's model requires.
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    table_name: str = variable("TABLE_NAME", min_length=3)
    # Powertools reads it itself, but only when metrics are flushed: after the first request's work.
    metrics_namespace: str = variable("POWERTOOLS_METRICS_NAMESPACE", min_length=1)
    idempotency_table_name: str | None = variable("IDEMPOTENCY_TABLE_NAME", None, min_length=3)
    email_pepper_secret_id: str | None = variable("EMAIL_PEPPER_SECRET_ID", None, min_length=1)
    # HMAC key of signed ids (tc_vid, tc_click) and join confirmation tokens (attract.signing).
    signing_key_secret_id: str | None = variable("SIGNING_KEY_SECRET_ID", None, min_length=1)
    # Verified SES identity that sends join confirmations.
    mail_from_address: str | None = variable("MAIL_FROM_ADDRESS", None, min_length=3)
    # Base URL of the public click redirect; empty means "the host the request came in on".
    public_base_url: str = variable("PUBLIC_BASE_URL", "")
    touch_retention_days: int = variable("TOUCH_RETENTION_DAYS", 400, parse=_integer, ge=1, le=3650)
    visitor_cookie_days: int = variable("VISITOR_COOKIE_DAYS", 365, parse=_integer, ge=1, le=400)
    idempotency_seconds: int = variable("IDEMPOTENCY_SECONDS", 3600, parse=_integer, ge=60)
    secret_max_age_seconds: int = variable("SECRET_MAX_AGE_SECONDS", 300, parse=_integer, ge=0)
    attribution_lookback_days: int = variable("ATTRIBUTION_LOOKBACK_DAYS", 30, parse=_integer, ge=1, le=365)
    time_decay_half_life_days: float = variable("TIME_DECAY_HALF_LIFE_DAYS", 7.0, parse=_number, gt=0, le=365)
    consent_text_version: str = variable("CONSENT_TEXT_VERSION", "v1", min_length=1)
    aggregate_shards: int = variable("AGGREGATE_SHARDS", 4, parse=_integer, ge=1, le=64)
    # Hosts tracked links may send people to (`*.example.com` for subdomains); empty means any host.
    destination_hosts: tuple[str, ...] = variable("DESTINATION_HOSTS", (), parse=_host_list)
    # Invite campaign API: where runs are queued for the planner and what schedules send there.
    invite_plan_queue_url: str | None = variable("INVITE_PLAN_QUEUE_URL", None, min_length=1)
    invite_plan_queue_arn: str | None = variable("INVITE_PLAN_QUEUE_ARN", None, min_length=1)
    invite_scheduler_role_arn: str | None = variable("INVITE_SCHEDULER_ROLE_ARN", None, min_length=1)
    # Where Scheduler puts a plan message it could not deliver (every invite schedule's DeadLetterConfig).
    invite_schedule_dead_letter_arn: str | None = variable("INVITE_SCHEDULE_DEAD_LETTER_ARN", None, min_length=1)
    # sqlite sources read local files: the local stack and the demo only.
    invite_allow_local_sources: bool = variable("INVITE_ALLOW_LOCAL_SOURCES", False, parse=_flag)
    # What invitation sources may read (attract.invites.source_rules): the resources of the template's IAM
    # statements, verbatim (`arn:…:s3:::<SourceBucketPattern>/*`, `…:table/<SourceTablePattern>`,
    # `…:secret:<SourceSecretPrefix>*`), and Attract's own tables, secrets and buckets, which a source never is.
    source_object_arn_pattern: str | None = variable("SOURCE_OBJECT_ARN_PATTERN", None, min_length=8)
    source_table_arn_pattern: str | None = variable("SOURCE_TABLE_ARN_PATTERN", None, min_length=8)
    source_secret_arn_pattern: str | None = variable("SOURCE_SECRET_ARN_PATTERN", None, min_length=8)
    stack_table_names: tuple[str, ...] = variable("STACK_TABLE_NAMES", (), parse=_names)
    stack_secret_arns: tuple[str, ...] = variable("STACK_SECRET_ARNS", (), parse=_names)
    stack_bucket_names: tuple[str, ...] = variable("STACK_BUCKET_NAMES", (), parse=_names)
    # Invitations: at most one from any campaign per person within the cooldown (attract.invites).
    invite_cooldown_days: int = variable("INVITE_COOLDOWN_DAYS", 30, parse=_integer, ge=0, le=3650)
    invite_token_days: int = variable("INVITE_TOKEN_DAYS", 60, parse=_integer, ge=1, le=400)
    invite_max_send_rate: float = variable("INVITE_MAX_SEND_RATE", 10.0, parse=_number, gt=0, le=10_000)
    ses_configuration_set: str | None = variable("SES_CONFIGURATION_SET", None, min_length=1)
    # Ads platforms (issue 8): Secrets Manager secrets holding each platform's credentials, and endpoints.
    google_ads_secret_id: str | None = variable("GOOGLE_ADS_SECRET_ID", None, min_length=1)
    meta_secret_id: str | None = variable("META_SECRET_ID", None, min_length=1)
    google_ads_endpoint: str = variable("GOOGLE_ADS_ENDPOINT", "googleads.googleapis.com:443", min_length=3)
    meta_graph_url: str = variable("META_GRAPH_URL", "https://graph.facebook.com", min_length=8)
    # Google conversions go through the Data Manager API (gRPC host:port), with the Google Ads secret's OAuth client.
    google_datamanager_endpoint: str = variable("GOOGLE_DATAMANAGER_ENDPOINT", "datamanager.googleapis.com:443",
                                                min_length=3)
    # Rate-limited platform calls (Google RESOURCE_EXHAUSTED, Meta 17/613/80004): tries in all, and the first
    # backoff (full jitter, doubling). The attempts must fit the function's timeout.
    ads_retry_attempts: int = variable("ADS_RETRY_ATTEMPTS", 5, parse=_integer, ge=1, le=10)
    ads_retry_base_seconds: float = variable("ADS_RETRY_BASE_SECONDS", 0.5, parse=_number, ge=0, le=10)
    # Ads conversion feedback (issue 8): the joins function enqueues confirmed ad-clicked joins here; empty = none.
    conversions_queue_url: str = variable("CONVERSIONS_QUEUE_URL", "")
    # The invitation queues' maxReceiveCount: the last receive of a job or plan message records its failure.
    invite_max_receives: int = variable("INVITE_MAX_RECEIVES", 3, parse=_integer, ge=1, le=1000)
    # Join confirmation mails (issue 13, attract.joins.limits): per client network and account-wide per clock
    # hour; above the account's cap the mails wait in this queue for a later hour.
    join_mails_per_source_hour: int = variable("JOIN_MAILS_PER_SOURCE_HOUR", 30, parse=_integer, ge=1, le=1_000_000)
    join_mails_per_hour: int = variable("JOIN_MAILS_PER_HOUR", 500, parse=_integer, ge=1, le=10_000_000)
    join_mail_queue_url: str | None = variable("JOIN_MAIL_QUEUE_URL", None, min_length=1)
    # A report's email cost: invitations sent x this price per 1,000 (SES outbound email, docs/platforms.md).
    email_price_per_1000: float = variable("EMAIL_PRICE_PER_1000", 0.10, parse=_number, ge=0, le=1000)
    email_price_currency: str = variable("EMAIL_PRICE_CURRENCY", "USD", min_length=3)
    # The dashboard's sign-in (attract.web): the Cognito hosted UI's base URL and the app client it signs in to.
    sign_in_url: str | None = variable("SIGN_IN_URL", None, min_length=8)
    user_pool_client_id: str | None = variable("USER_POOL_CLIENT_ID", None, min_length=1)
    # Target profiles (issue 14): work for the profile scorer (new members, profile versions); empty = none.
    scoring_queue_url: str = variable("SCORING_QUEUE_URL", "")
    # Where erasures wait for the eraser (issue 15: the admin's DELETE /people, a person's own link, the consent job).
    erasure_queue_url: str | None = variable("ERASURE_QUEUE_URL", None, min_length=1)
    # Organic posts (issue 16): one secret per platform, the API endpoints (the local sandboxes' in the local stack),
    # the publisher's queue and what a publish_at schedule needs (attract.posts).
    facebook_page_secret_id: str | None = variable("FACEBOOK_PAGE_SECRET_ID", None, min_length=1)
    linkedin_secret_id: str | None = variable("LINKEDIN_SECRET_ID", None, min_length=1)
    x_secret_id: str | None = variable("X_SECRET_ID", None, min_length=1)
    linkedin_api_url: str = variable("LINKEDIN_API_URL", "https://api.linkedin.com", min_length=8)
    x_api_url: str = variable("X_API_URL", "https://api.x.com", min_length=8)
    posts_queue_url: str | None = variable("POSTS_QUEUE_URL", None, min_length=1)
    posts_queue_arn: str | None = variable("POSTS_QUEUE_ARN", None, min_length=1)
    posts_scheduler_role_arn: str | None = variable("POSTS_SCHEDULER_ROLE_ARN", None, min_length=1)
    posts_schedule_dead_letter_arn: str | None = variable("POSTS_SCHEDULE_DEAD_LETTER_ARN", None, min_length=1)

    @classmethod
    def load(cls) -> Self:
        """This model from the environment, validated on the first call of the process and cached."""
        # A class is hashable; mypy reads the instances' dataclass __hash__ as the class's own.
        settings = load_settings(cls)  # type: ignore[arg-type]
        assert isinstance(settings, cls)
        return settings

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Environment variable -> field name, for every setting of this model."""
        return {item.metadata["variable"]: item.name for item in fields(cls)}

    @classmethod
    def required_variables(cls) -> list[str]:
        """The variables this model cannot do without."""
        return [item.metadata["variable"] for item in fields(cls)
                if item.default is MISSING or item.metadata["variable"] in cls.REQUIRED]

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Self:
        """This model from `environment` (other keys ignored), or SettingsError naming every problem."""
        values, problems = {}, []
        required = cls.required_variables()
        for item in fields(cls):
            name = item.metadata["variable"]
            if name not in environment:
                if name in required:
                    problems.append(f"{name} is not set")
                continue
            try:
                values[item.name] = _checked(environment[name], item.metadata)
            except ValueError as error:
                problems.append(f"{name}: {error}")
        if problems:
            raise SettingsError(f"{cls.__name__}: {'; '.join(problems)}")
        return cls(**values)


class TrackingSettings(Settings):
    """GET /r/{code}, GET /t.js."""

    # Without the key the redirect still works (unsigned ids, no join trusts them): a deploy must not.
    REQUIRED = ("SIGNING_KEY_SECRET_ID",)
    signing_key_secret_id: str


class JoinsSettings(Settings):
    """POST /joins, GET/POST /joins/confirm/{token}."""

    REQUIRED = ("EMAIL_PEPPER_SECRET_ID", "SIGNING_KEY_SECRET_ID", "MAIL_FROM_ADDRESS", "JOIN_MAIL_QUEUE_URL")
    email_pepper_secret_id: str  # required: never None here
    signing_key_secret_id: str
    mail_from_address: str
    join_mail_queue_url: str  # mails above the account's hourly cap wait there


class JoinMailerSettings(Settings):
    """SQS (JoinMailQueue) -> SES: join confirmations put off by the account's hourly cap."""

    REQUIRED = ("SIGNING_KEY_SECRET_ID", "MAIL_FROM_ADDRESS", "JOIN_MAIL_QUEUE_URL")
    signing_key_secret_id: str
    mail_from_address: str
    join_mail_queue_url: str


class LinksSettings(Settings):
    """POST/GET /links, POST /touches."""

    REQUIRED = ("IDEMPOTENCY_TABLE_NAME", "EMAIL_PEPPER_SECRET_ID")
    idempotency_table_name: str
    email_pepper_secret_id: str


class InviteSenderSettings(Settings):
    """SQS -> SES: sends invitations at most once."""

    REQUIRED = ("EMAIL_PEPPER_SECRET_ID", "SIGNING_KEY_SECRET_ID", "SES_CONFIGURATION_SET")
    email_pepper_secret_id: str
    signing_key_secret_id: str
    ses_configuration_set: str


class UnsubscribeSettings(Settings):
    """GET/POST /u/{token}."""

    REQUIRED = ("SIGNING_KEY_SECRET_ID",)
    signing_key_secret_id: str


class InviteFeedbackSettings(Settings):
    """SES bounce and complaint events."""

    REQUIRED = ("EMAIL_PEPPER_SECRET_ID",)
    email_pepper_secret_id: str


class WebSettings(Settings):
    """GET /dashboard, GET /docs, GET /static/{name}: pages and files, no data."""

    REQUIRED = ("SIGN_IN_URL", "USER_POOL_CLIENT_ID")
    sign_in_url: str
    user_pool_client_id: str


class ProfilesSettings(Settings):
    """/profiles: target profiles and their members (recruiters, marketers)."""

    REQUIRED = ("SIGNING_KEY_SECRET_ID", "SCORING_QUEUE_URL")
    signing_key_secret_id: str  # the members list's cursors are signed
    scoring_queue_url: str


class ProfileScorerSettings(Settings):
    """SQS (ScoringQueue) -> scores: new members against every profile, profile versions against every member."""

    REQUIRED = ("SCORING_QUEUE_URL",)
    scoring_queue_url: str


class PeopleSettings(Settings):
    """GET /people/export, DELETE /people, GET /people/erasure (admins)."""

    REQUIRED = ("EMAIL_PEPPER_SECRET_ID", "ERASURE_QUEUE_URL")
    email_pepper_secret_id: str
    erasure_queue_url: str


class EraserSettings(Settings):
    """SQS (ErasureQueue) -> a person's data removed, the tombstone kept."""


class ForgetSettings(Settings):
    """GET/POST /d/{token}: the "delete my data" link of every email."""

    REQUIRED = ("SIGNING_KEY_SECRET_ID", "ERASURE_QUEUE_URL")
    signing_key_secret_id: str
    erasure_queue_url: str


class ReportsSettings(Settings):
    """GET /reports/attribution and /reports/funnels."""


class CampaignsSettings(Settings):
    """POST/GET /campaigns, POST /campaigns/{id}/launch|pause|resume|end."""

    REQUIRED = ("IDEMPOTENCY_TABLE_NAME", "GOOGLE_ADS_SECRET_ID", "META_SECRET_ID")
    idempotency_table_name: str
    google_ads_secret_id: str
    meta_secret_id: str


class SpendSyncSettings(Settings):
    """Hourly ads spend sync (EventBridge schedule). The ads secrets and endpoints: see attract.campaigns.gateways."""

    REQUIRED = ("GOOGLE_ADS_SECRET_ID", "META_SECRET_ID")
    google_ads_secret_id: str
    meta_secret_id: str


class ConversionsSettings(Settings):
    """SQS -> Google (Data Manager API) / Meta conversion uploads; a Google join younger than 6 hours waits."""

    REQUIRED = ("GOOGLE_ADS_SECRET_ID", "META_SECRET_ID")
    google_ads_secret_id: str
    meta_secret_id: str


class ConversionSweepSettings(ConversionsSettings):
    """Schedule -> the conversions that waited (attract.campaigns.conversions.sweep), uploaded once due."""


# What the functions reading invitation sources cannot do without (attract.invites.source_rules.SourcePolicy).
SOURCE_RULES = ("SOURCE_OBJECT_ARN_PATTERN", "SOURCE_TABLE_ARN_PATTERN", "SOURCE_SECRET_ARN_PATTERN",
                "STACK_TABLE_NAMES", "STACK_SECRET_ARNS")


def _boolean(value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("Input should be a valid boolean")
    return text in ("true", "1", "yes")


@dataclass(frozen=True, kw_only=True)
class InvitePlannerSettings(Settings):
    """SQS (plan queue) -> source -> SQS (invites queue): plans a run of an invite campaign.

    Its own dataclass (not fields of Settings): only the planner pays for the generated methods.
    """

    REQUIRED = ("EMAIL_PEPPER_SECRET_ID", "INVITES_QUEUE_URL", *SOURCE_RULES)
    email_pepper_secret_id: str = variable("EMAIL_PEPPER_SECRET_ID", min_length=1)
    invites_queue_url: str = variable("INVITES_QUEUE_URL", min_length=1)
    # sqlite sources: the local stack and the demo only (attract.invites.source_rules).
    invite_allow_local_sources: bool = variable("INVITE_ALLOW_LOCAL_SOURCES", False, parse=_boolean)
    # Rows between two checkpoints of the run item (what a redelivered plan message skips).
    invite_plan_checkpoint_rows: int = variable("INVITE_PLAN_CHECKPOINT_ROWS", 1000, parse=_integer, ge=1,
                                                le=1_000_000)


@cache
def load_settings(model: type[Settings] = Settings) -> Settings:
    return model.from_environment(os.environ)


class InviteApiSettings(Settings):
    """POST/GET /invite-campaigns…: campaigns, previews, runs and schedules (marketers)."""

    REQUIRED = ("IDEMPOTENCY_TABLE_NAME", "INVITE_PLAN_QUEUE_URL", "INVITE_PLAN_QUEUE_ARN", "INVITE_SCHEDULER_ROLE_ARN",
                "INVITE_SCHEDULE_DEAD_LETTER_ARN",
                *SOURCE_RULES)
    idempotency_table_name: str
    invite_plan_queue_url: str
    invite_plan_queue_arn: str
    invite_scheduler_role_arn: str
    invite_schedule_dead_letter_arn: str
    source_object_arn_pattern: str
    source_table_arn_pattern: str
    source_secret_arn_pattern: str


@dataclass(frozen=True, kw_only=True)
class AuditSettings(Settings):
    """GET /audit (admins): the audit trail, newest first (issue 15)."""

    REQUIRED = ("SIGNING_KEY_SECRET_ID", "AUDIT_TABLE_NAME")
    signing_key_secret_id: str = variable("SIGNING_KEY_SECRET_ID", min_length=1)  # the pages' cursors are signed
    audit_table_name: str = variable("AUDIT_TABLE_NAME", min_length=3)


@dataclass(frozen=True, kw_only=True)
class ConsentRenewalSettings(Settings):
    """Schedule (daily) -> SES and ErasureQueue: asks members to renew their consent, erases who did not.

    Its own dataclass (not fields of Settings): only this function pays for the generated methods.
    """

    REQUIRED = ("SIGNING_KEY_SECRET_ID", "MAIL_FROM_ADDRESS", "ERASURE_QUEUE_URL")
    signing_key_secret_id: str = variable("SIGNING_KEY_SECRET_ID", min_length=1)
    mail_from_address: str = variable("MAIL_FROM_ADDRESS", min_length=3)
    erasure_queue_url: str = variable("ERASURE_QUEUE_URL", min_length=1)
    consent_renewal_months: int = variable("CONSENT_RENEWAL_MONTHS", 24, parse=_integer, ge=1, le=120)
    consent_grace_days: int = variable("CONSENT_GRACE_DAYS", 30, parse=_integer, ge=1, le=365)


class ConsentSettings(Settings):
    """GET/POST /consent/{token}: the renew page and its button."""

    REQUIRED = ("SIGNING_KEY_SECRET_ID",)
    signing_key_secret_id: str


class PostsSettings(Settings):
    """POST /posts, GET and DELETE /posts/{id} (marketers): links, claims, the queue and one-time schedules."""

    REQUIRED = ("IDEMPOTENCY_TABLE_NAME", "POSTS_QUEUE_URL", "POSTS_QUEUE_ARN", "POSTS_SCHEDULER_ROLE_ARN",
                "POSTS_SCHEDULE_DEAD_LETTER_ARN")
    idempotency_table_name: str
    posts_queue_url: str
    posts_queue_arn: str
    posts_scheduler_role_arn: str
    posts_schedule_dead_letter_arn: str


class PostsPublisherSettings(Settings):
    """PostsQueue -> each platform (attract.posts.publishing), with the platforms' secrets."""

    REQUIRED = ("POSTS_QUEUE_URL", "FACEBOOK_PAGE_SECRET_ID", "LINKEDIN_SECRET_ID", "X_SECRET_ID")
    posts_queue_url: str


class PostsMetricsSettings(Settings):
    """Scheduled: published posts' impressions and clicks into the report (attract.posts.metrics)."""

    REQUIRED = ("FACEBOOK_PAGE_SECRET_ID", "LINKEDIN_SECRET_ID", "X_SECRET_ID")


class XTokenRefreshSettings(Settings):
    """Scheduled: the X secret's OAuth 2.0 user token renewed before it expires (attract.providers.x_tokens)."""

    REQUIRED = ("X_SECRET_ID",)
    x_secret_id: str
