"""The audit trail (issue 15): who did what with legal or financial weight, append-only (AuditTable)."""

from attract.audit.trail import (
    Actor,
    AuditTrail,
    audit,
    audit_request,
    http_request,
    request_digest,
    trail_from_environment,
)

__all__ = ["Actor", "AuditTrail", "audit", "audit_request", "http_request", "request_digest", "trail_from_environment"]
