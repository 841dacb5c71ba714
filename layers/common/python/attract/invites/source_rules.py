"""What an invite campaign may read, and what a source's failure means: one place for both.

`check_source(spec, policy)` is the guard in code behind IAM (docs/security.md, "Invitation sources"): a
bucket, table or secret must match the resource pattern of the template's IAM statement, matched as IAM
matches it, and may never be one of Attract's own. It runs before any I/O, at creation, preview and run (the
planner too, for a campaign stored before the rule), so its answer says nothing of what exists.

`classify(error)` is the one reading of a source's failure by its kind (never its message: drivers quote
hosts, SQL and credentials): the API's answer (422 or 502, field, rule, message) and the planner's run code
(and whether a retry can help) come from the same row.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from attract.invites.ports import SourceError, SourceNotAllowedError, SourceSecretError, SourceTruncatedError

# ---- the guard -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcePolicy:
    """The template's source patterns and Attract's own resources, as the functions' settings give them.

    The patterns are the IAM statements' resources, verbatim (`arn:aws:s3:::<SourceBucketPattern>/*`,
    `arn:aws:dynamodb:<region>:<account>:table/<SourceTablePattern>`,
    `arn:aws:secretsmanager:<region>:<account>:secret:<SourceSecretPrefix>*`): a test checks they are the same
    strings, so this guard allows exactly what IAM allows, and never more.
    """

    object_arn_pattern: str
    table_arn_pattern: str
    secret_arn_pattern: str
    own_tables: tuple[str, ...] = ()  # names
    own_secrets: tuple[str, ...] = ()  # ARNs (CloudFormation's Ref of a secret)
    own_buckets: tuple[str, ...] = ()  # names
    allow_local: bool = False  # sqlite files: the local stack and the demo only


def source_policy(settings: Any) -> SourcePolicy:
    """The policy of a function's settings (InviteApiSettings, InvitePlannerSettings, which require every value).
    A pattern missing all the same matches nothing: every source is refused, never allowed."""
    return SourcePolicy(
        object_arn_pattern=settings.source_object_arn_pattern or "",
        table_arn_pattern=settings.source_table_arn_pattern or "",
        secret_arn_pattern=settings.source_secret_arn_pattern or "",
        own_tables=tuple(dict.fromkeys((settings.table_name, *settings.stack_table_names))),
        own_secrets=tuple(settings.stack_secret_arns), own_buckets=tuple(settings.stack_bucket_names),
        allow_local=bool(settings.invite_allow_local_sources))


def check_source(spec: Any, policy: SourcePolicy) -> None:
    """SourceNotAllowedError (field, rule) unless the campaign may read `spec`. No I/O: the same answer for a
    resource that exists and one that does not."""
    if spec.kind == "sqlite":
        if not policy.allow_local:
            raise SourceNotAllowedError("sqlite sources are for the local stack and the demo only")
        return
    if spec.kind in ("postgresql", "mysql"):
        _check_secret(spec.secret_id, policy)
    elif spec.kind == "s3":
        bucket, key = spec.bucket_and_key
        partition = _partition(policy.object_arn_pattern)
        if not arn_like(policy.object_arn_pattern, f"arn:{partition}:s3:::{bucket}/{key}"):
            raise _refused("source.uri", "source_bucket_not_allowed", "SourceBucketPattern",
                           _resource(policy.object_arn_pattern, ":::").removesuffix("/*"))
        if _folded(bucket) in {_folded(name) for name in policy.own_buckets}:
            raise _own("source.uri")
    elif spec.kind == "dynamodb":
        base = policy.table_arn_pattern.split(":table/", 1)[0]
        allowed = arn_like(policy.table_arn_pattern, f"{base}:table/{spec.table_name}") and (
            spec.index is None or arn_like(f"{policy.table_arn_pattern}/index/*",
                                           f"{base}:table/{spec.table_name}/index/{spec.index}"))
        if not allowed:
            raise _refused("source.table_name", "source_table_not_allowed", "SourceTablePattern",
                           _resource(policy.table_arn_pattern, ":table/"))
        if _folded(spec.table_name) in {_folded(name) for name in policy.own_tables}:
            raise _own("source.table_name")
    else:
        raise SourceNotAllowedError(f"unknown source kind {spec.kind}", "source.kind", "source_kind_unknown")


def _check_secret(secret_id: str, policy: SourcePolicy) -> None:
    # A name is looked up in the function's own account and region: its ARN is the pattern's base + the name
    # (+ "-" and 6 characters Secrets Manager adds, which the pattern's trailing * covers). An ARN is taken as
    # written, so another account's or region's secret is refused as IAM refuses it.
    base = policy.secret_arn_pattern.split(":secret:", 1)[0] + ":secret:"
    arn = secret_id if secret_id.startswith("arn:") else base + secret_id
    if not arn_like(policy.secret_arn_pattern, arn):
        raise _refused("source.secret_id", "source_secret_not_allowed", "SourceSecretPrefix",
                       _resource(policy.secret_arn_pattern, ":secret:").removesuffix("*") + "…")
    if _folded(secret_id) in _secret_spellings(policy.own_secrets):
        raise _own("source.secret_id")


def _secret_spellings(arns: tuple[str, ...]) -> frozenset[str]:
    """Every way to name each of Attract's secrets: its ARN, its partial ARN (no random suffix) and its name."""
    spellings = set()
    for arn in arns:
        full = arn.strip()
        partial = re.sub(r"-[A-Za-z0-9]{6}$", "", full)
        spellings |= {full, partial, full.split(":secret:", 1)[-1], partial.split(":secret:", 1)[-1]}
    return frozenset(_folded(spelling) for spelling in spellings if spelling)


def _folded(name: str) -> str:
    # Refusing more is safe: names that differ only in case are one name here (some services compare them so).
    return name.strip().casefold()


def _partition(arn: str) -> str:
    return arn.split(":", 2)[1] if arn.count(":") >= 2 else "aws"


def _resource(pattern: str, marker: str) -> str:
    return pattern.split(marker, 1)[-1]


def _refused(field: str, rule: str, parameter: str, pattern: str) -> SourceNotAllowedError:
    return SourceNotAllowedError(f"invitation sources are read only where the template's {parameter} allows: "
                                 f"{pattern}", field, rule)


def _own(field: str) -> SourceNotAllowedError:
    return SourceNotAllowedError("a source may never be one of Attract's own tables, buckets or secrets", field,
                                 "source_own_resource")


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's matching of a resource ARN against a pattern: `*` any run of characters, `?` one, case-sensitive,
    each of the six colon-separated parts on its own (a wildcard never spans a colon before the resource)."""
    patterns, parts = pattern.split(":", 5), arn.split(":", 5)
    return len(patterns) == len(parts) == 6 and all(
        _wildcard(part_pattern).fullmatch(part) for part_pattern, part in zip(patterns, parts, strict=True))


@lru_cache(maxsize=64)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern),
                      re.DOTALL)


# ---- failures --------------------------------------------------------------------------------------------------

# Codes that say "not there" or "not yours": one answer for both, so a caller learns nothing of what exists.
_UNREADABLE = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404", "ResourceNotFoundException",
                         "AccessDenied", "AccessDeniedException", "Forbidden", "403", "AllAccessDisabled"})
_SECRET_ERRORS = frozenset({"GetParameterError", "GetSecretValueError"})
_SQL_MISSING = ("no such table", "no such column")


@dataclass(frozen=True)
class SourceFailure:
    """A source's failure, read once: the run's error code (and whether a retry can help), and the API's answer."""

    code: str  # the run item's `error` (attract.invites.planning)
    permanent: bool  # a retry cannot help: the run fails now instead of being retried
    field: str
    rule: str
    message: str  # ours, never the driver's
    upstream: bool  # 502 (the source is unavailable), else 422 (the campaign names something unusable)


def classify(error: BaseException) -> SourceFailure | None:
    """What a source's `error` means, by its kind; None for an error that is not recognisably the source's."""
    kind = type(error).__name__
    if isinstance(error, SourceNotAllowedError):
        return SourceFailure("source_not_allowed", True, error.field, error.rule, error.message, False)
    if isinstance(error, SourceTruncatedError):  # MariaDB's net_write_timeout, a dropped stream: read again
        return SourceFailure("source_truncated", False, "source", "source_invalid", str(error), False)
    if isinstance(error, SourceSecretError) or kind == "TransformParameterError":
        return SourceFailure("source_secret_invalid", True, "source.secret_id", "source_secret_invalid",
                             "the secret is not JSON in the RDS format of the source's kind (engine, host, port, "
                             "username, password, dbname)", False)
    if isinstance(error, SourceError):
        return SourceFailure("source_error", True, "source", "source_invalid", str(error), False)
    if kind in _SECRET_ERRORS:  # missing, not ours, throttled: Powertools says the same for each
        return SourceFailure("source_secret_unavailable", False, "source.secret_id", "source_secret_unavailable",
                             "the source's secret could not be read", True)
    if type(error).__module__.startswith("sqlalchemy"):
        original = str(getattr(error, "orig", "")).lower()
        if kind == "ProgrammingError" or original.startswith(_SQL_MISSING):
            return SourceFailure("source_query_failed", True, "mapping", "source_schema",
                                 "the table or a mapped column does not exist, or may not be read", False)
        if kind in ("OperationalError", "InterfaceError"):  # unreachable, refused, dropped: a retry can help
            return SourceFailure("source_unavailable", False, "source", "source_unavailable",
                                 f"the database could not be read ({kind})", True)
        return SourceFailure("source_query_failed", True, "source", "source_unavailable",
                             f"the database could not be read ({kind})", True)
    code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
    if code in _UNREADABLE:
        return SourceFailure("source_unreadable", True, "source", "source_unavailable",
                             "the source does not exist, or may not be read", True)
    return None


def unavailable(error: BaseException) -> SourceFailure:
    """The API's answer to a failure `classify` does not know: the source could not be read, by kind only."""
    code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
    detail = f"the source answered {code}" if code else f"the source could not be read ({type(error).__name__})"
    return SourceFailure("planning_failed", False, "source", "source_unavailable", detail, True)
