"""Append one entry per action with legal or financial weight; never update or delete one.

An entry is one item of `AuditTable`: `PK = DAY#<yyyy-mm-dd>`, `SK = <at ISO ms>#<entry id>`, with
`actor_key` (the Cognito `sub`, or `system:<name>`) and `object_key` (`<type>#<id>`) for the two indexes
that read it by actor and by object. It holds who (sub and username), when, what action on which object,
a SHA-256 digest of the request as received and a few non-personal details (counts, targeting, budget).
A person is named by the keyed hash of their address, never by the address. The item is written with
`attribute_not_exists(PK)`: the functions' IAM grants PutItem only, so an entry, once written, stays until
its `expires_at` (AuditRetentionDays) lets DynamoDB's TTL remove it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from attract.attribution.keys import day_sort_key  # the owner of `DAY#` (docs/data-model.md)
from attract.aws import Repository, to_item
from attract.clock import iso, utc_now

DEFAULT_RETENTION_DAYS = 2557


@dataclass(frozen=True)
class Actor:
    """Who acted: a verified Cognito caller (sub and username), or a named part of the system."""

    sub: str
    username: str

    @classmethod
    def from_claims(cls, claims: dict) -> Actor:
        sub = str(claims.get("sub") or "")
        if not sub:
            raise ValueError("an audited action needs a verified caller (no sub claim)")
        # Access tokens carry `username`; ID tokens `cognito:username`. The pool signs in by email
        # (UsernameAttributes), so Cognito's username is a generated id; one that is an address is not kept.
        username = str(claims.get("username") or claims.get("cognito:username") or sub)
        return cls(sub=sub, username=sub if "@" in username else username)

    @classmethod
    def from_event(cls, event: dict) -> Actor:
        from attract.api import jwt_claims  # the API helpers; workers never call this

        return cls.from_claims(jwt_claims(event))

    @classmethod
    def system(cls, name: str) -> Actor:
        """A part of Attract acting on its own: a schedule, the consent renewal, a person's own link."""
        return cls(sub=f"system:{name}", username=name)


def request_digest(request: Any) -> str:
    """SHA-256 of the request as canonical JSON (sorted keys): proves what was asked without storing it."""
    if isinstance(request, bytes):
        raw = request
    elif isinstance(request, str):
        raw = request.encode()
    else:
        raw = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def http_request(event: dict) -> dict:
    """What an API request asked, for its digest: method, path, query and body as received (payload 2.0)."""
    http = (event.get("requestContext") or {}).get("http") or {}
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and body:
        import base64

        body = base64.b64decode(body).decode("utf-8", "replace")
    return {"method": http.get("method", ""), "path": event.get("rawPath") or http.get("path", ""),
            "query": event.get("rawQueryString") or "", "body": body}


def stored_details(details: dict | None) -> dict:
    """Details as DynamoDB takes them: JSON values, numbers as Decimal (it refuses floats)."""
    return json.loads(json.dumps(details or {}, default=str), parse_float=Decimal)


def plain(value: Any) -> Any:
    """A stored value back as JSON types: Decimal -> int or float, sets -> sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        items = [plain(item) for item in value]
        return sorted(items) if isinstance(value, set) else items
    return value


class AuditTrail(Repository):
    """Writes entries to the audit table (one PutItem each)."""

    def __init__(self, table_name: str, dynamodb=None, retention_days: int = DEFAULT_RETENTION_DAYS):
        super().__init__(table_name, dynamodb)
        self.retention_days = retention_days

    def record(self, action: str, object_type: str, object_id: str, *, actor: Actor, request: Any = None,
               details: dict | None = None, now: datetime | None = None) -> dict:
        """Append the entry and return it (as stored, without DynamoDB types)."""
        at = now or utc_now()
        entry_id = secrets.token_hex(8)
        entry = {
            "PK": day_sort_key(at.astimezone(timezone.utc).date()), "SK": f"{iso(at)}#{entry_id}",
            "actor_key": actor.sub, "object_key": f"{object_type}#{object_id}",
            "id": entry_id, "at": iso(at), "action": action, "object_type": object_type, "object_id": object_id,
            "actor_sub": actor.sub, "actor_username": actor.username,
            "request_digest": request_digest(request if request is not None else {}),
            "details": stored_details(details),
            "expires_at": int((at + timedelta(days=self.retention_days)).timestamp()),
        }
        self.dynamodb.put_item(TableName=self.table, Item=to_item(entry),
                               ConditionExpression="attribute_not_exists(PK)")
        return {**entry, "details": plain(entry["details"])}


def trail_from_environment(dynamodb=None) -> AuditTrail:
    """The stack's trail: AUDIT_TABLE_NAME and AUDIT_RETENTION_DAYS (template Globals)."""
    return AuditTrail(os.environ["AUDIT_TABLE_NAME"], dynamodb,
                      int(os.environ.get("AUDIT_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS))


def audit(action: str, object_type: str, object_id: str, *, actor: Actor, request: Any = None,
          details: dict | None = None, dynamodb=None) -> dict:
    """Append one entry to the stack's trail. Raises when it cannot be written: call it where a failure may fail the
    request (after the action succeeded, the caller's retry repeats the action idempotently and audits again)."""
    return trail_from_environment(dynamodb).record(action, object_type, object_id, actor=actor, request=request,
                                                   details=details)


def audit_request(event: dict, action: str, object_type: str, object_id: str, *, details: dict | None = None,
                  dynamodb=None) -> dict:
    """`audit` for an API route: the verified caller as actor, the request as received as its digest."""
    return audit(action, object_type, object_id, actor=Actor.from_event(event), request=http_request(event),
                 details=details, dynamodb=dynamodb)
