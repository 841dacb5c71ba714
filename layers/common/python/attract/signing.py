"""Signed values: compact expiring tokens (join confirmation, later invitations) and self-verifying ids
(`tc_vid`, `tc_click`) that prove the redirect issued them.

HMAC-SHA256 with a key from Secrets Manager. Every MAC covers a purpose label, so a value signed for
one use (a click id) never verifies as another (a visitor id or a confirmation token). Comparisons are
constant-time. Stdlib only: the public functions import this on their hot path.
"""

import base64
import hashlib
import hmac
import secrets

ID_RANDOM_BYTES = 16  # 22 base64url characters
ID_MAC_BYTES = 16  # 22 more: 44 in all, inside the visitor id pattern (16-64)
TOKEN_MAC_BYTES = 32
SEPARATOR = "."
VISITOR = "tc_vid"
CLICK = "tc_click"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, purpose: str, message: str, size: int) -> bytes:
    return hmac.new(key, f"{purpose}\n{message}".encode(), hashlib.sha256).digest()[:size]


class Signer:
    """Signs and verifies with one key. Construct once per warm function (the key comes from a cached secret)."""

    def __init__(self, key: str | bytes):
        if not key:
            raise ValueError("an empty signing key signs nothing")
        self._key = key.encode() if isinstance(key, str) else key

    # ---- ids: random part + truncated MAC, both base64url
    def new_id(self, purpose: str) -> str:
        random_part = _b64(secrets.token_bytes(ID_RANDOM_BYTES))
        return random_part + _b64(_mac(self._key, purpose, random_part, ID_MAC_BYTES))

    def is_issued(self, purpose: str, value: str | None) -> bool:
        """True only for an id this key issued for `purpose`; any other string (old, forged, foreign) is False."""
        if not value or len(value) != 44:
            return False
        random_part, mac = value[:22], value[22:]
        return hmac.compare_digest(mac.encode(), _b64(_mac(self._key, purpose, random_part, ID_MAC_BYTES)).encode())

    def new_visitor_id(self) -> str:
        return self.new_id(VISITOR)

    def new_click_id(self) -> str:
        return self.new_id(CLICK)

    def is_visitor_id(self, value: str | None) -> bool:
        return self.is_issued(VISITOR, value)

    def is_click_id(self, value: str | None) -> bool:
        return self.is_issued(CLICK, value)

    # ---- tokens: "<field>.<field>….<expires_at>.<mac>", URL-path safe
    def token(self, purpose: str, fields: list[str], expires_at: int) -> str:
        for field in fields:
            if not field or SEPARATOR in field or "/" in field:
                raise ValueError("token fields must be non-empty and free of '.' and '/'")
        body = SEPARATOR.join([*fields, str(int(expires_at))])
        return body + SEPARATOR + _b64(_mac(self._key, purpose, body, TOKEN_MAC_BYTES))

    def open(self, purpose: str, token: str | None, now: int, fields: int) -> list[str] | None:
        """The fields of a token this key signed for `purpose`, with `fields` fields, not expired at `now`; else None."""
        if not token or len(token) > 1024:
            return None
        body, _, mac = token.rpartition(SEPARATOR)
        parts = body.split(SEPARATOR)
        if len(parts) != fields + 1:
            return None
        if not hmac.compare_digest(mac.encode(), _b64(_mac(self._key, purpose, body, TOKEN_MAC_BYTES)).encode()):
            return None
        if not parts[-1].isdigit() or int(parts[-1]) <= now:
            return None
        return parts[:-1]


def signing_key(secret_id: str, max_age: int) -> str:
    """The key from Secrets Manager, cached by Powertools for `max_age` seconds (a warm call costs nothing)."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_id, max_age=max_age)
