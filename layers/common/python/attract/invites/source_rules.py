"""What a source's failure means.

`classify(error)` is the one reading of a source's failure by its kind (never its message: drivers quote
hosts, SQL and credentials): the API's answer (422 or 502, field, rule, message) and the planner's run code
(and whether a retry can help) come from the same row.
"""

from dataclasses import dataclass

from attract.invites.ports import SourceError, SourceNotAllowedError, SourceSecretError, SourceTruncatedError

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
