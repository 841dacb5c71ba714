"""Signed values: compact expiring tokens (join confirmation, later invitations) and self-verifying ids
(`tc_vid`, `tc_click`) that prove the redirect issued them.

HMAC-SHA256 with a key from Secrets Manager. Every MAC covers a purpose label, so a value signed for
one use (a click id) never verifies as another (a visitor id or a confirmation token). Comparisons are
constant-time. Stdlib only: the public functions import this on their hot path.

Rotatable: values are signed with the secret's current version and verified with it, then, only when that
fails, with the previous version (AWSPREVIOUS), so unsubscribe links and visitor cookies issued before a
rotation keep working. The previous key is read lazily: a normal request makes no extra call.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence

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


PREVIOUS_STAGE = "AWSPREVIOUS"  # where Secrets Manager keeps the replaced value after a rotation
# A failed read of the previous key (not "there is none") is retried after this long, not on every forged value.
PREVIOUS_KEY_RETRY_SECONDS = 10
_PREVIOUS_KEYS_PROVIDER = "attract-signing-previous"  # its name in Powertools' provider registry


def _raw(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


class Signer:
    """Signs with the current key; verifies with it, then with the previous keys (rotation).

    `previous` returns the keys a value may still be signed with ([] if none); it is called at most once per
    Signer and only when a value fails with the current key. Construct per request: the keys come from caches.
    """

    def __init__(self, key: str | bytes, previous: Callable[[], Sequence[str | bytes]] | None = None):
        if not key:
            raise ValueError("an empty signing key signs nothing")
        self._key = _raw(key)
        self._previous = previous
        self._previous_keys: list[bytes] | None = None

    def _keys_after_current(self) -> list[bytes]:
        if self._previous_keys is None:
            loaded = self._previous() if self._previous else []
            self._previous_keys = [_raw(key) for key in loaded if key and _raw(key) != self._key]
        return self._previous_keys

    def _verifies(self, mac: str, purpose: str, message: str, size: int) -> bool:
        if hmac.compare_digest(mac.encode(), _b64(_mac(self._key, purpose, message, size)).encode()):
            return True
        return any(hmac.compare_digest(mac.encode(), _b64(_mac(key, purpose, message, size)).encode())
                   for key in self._keys_after_current())

    # ---- ids: random part + truncated MAC, both base64url
    def new_id(self, purpose: str) -> str:
        random_part = _b64(secrets.token_bytes(ID_RANDOM_BYTES))
        return random_part + _b64(_mac(self._key, purpose, random_part, ID_MAC_BYTES))

    def is_issued(self, purpose: str, value: str | None) -> bool:
        """True only for an id these keys issued for `purpose`; any other string (unsigned, forged, foreign) is False."""
        if not value or len(value) != 44:
            return False
        random_part, mac = value[:22], value[22:]
        return self._verifies(mac, purpose, random_part, ID_MAC_BYTES)

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
        """The fields of a token these keys signed for `purpose`, with `fields` fields, not expired at `now`; else None."""
        if not token or len(token) > 1024:
            return None
        body, _, mac = token.rpartition(SEPARATOR)
        parts = body.split(SEPARATOR)
        if len(parts) != fields + 1:
            return None
        if not parts[-1].isdigit() or int(parts[-1]) <= now:  # before the MAC: an expired value costs no key read
            return None
        if not self._verifies(mac, purpose, body, TOKEN_MAC_BYTES):
            return None
        return parts[:-1]


def signing_key(secret_id: str, max_age: int) -> str:
    """The key from Secrets Manager, cached by Powertools for `max_age` seconds (a warm call costs nothing)."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_id, max_age=max_age)


class _PreviousKeys:
    """The secret's AWSPREVIOUS value, cached for max_age including "there is none".

    Not Powertools' default provider: it caches by secret name only, not by VersionStage, so the previous
    value would be served as the current one (and the other way round). Kept in Powertools' provider registry,
    so `parameters.clear_caches()` forgets it with the rest.
    """

    def __init__(self) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._provider = SecretsProvider()
        self._cached: dict[str, tuple[float, list[str | bytes]]] = {}

    def get(self, secret_id: str, max_age: int) -> list[str | bytes]:
        import time

        now = time.monotonic()
        cached = self._cached.get(secret_id)
        if cached and cached[0] > now:
            return cached[1]
        keys, lifetime = self._read(secret_id), max_age
        if keys is None:  # failed: no previous key for a short while, then read again
            keys, lifetime = [], min(max_age, PREVIOUS_KEY_RETRY_SECONDS)
        self._cached[secret_id] = (now + lifetime, keys)
        return keys

    def _read(self, secret_id: str) -> list[str | bytes] | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self._provider.get(secret_id, max_age=0, VersionStage=PREVIOUS_STAGE)
        except GetParameterError as error:
            if "ResourceNotFoundException" in str(error):  # never rotated: no version has the stage
                return []
            import logging

            logging.getLogger(__name__).warning("previous signing key unavailable",
                                                extra={"error": type(error.__context__ or error).__name__})
            return None
        return [value] if isinstance(value, (str, bytes)) and value else []


def previous_signing_keys(secret_id: str, max_age: int) -> list[str | bytes]:
    """The key(s) the secret held before its last rotation; [] if it was never rotated."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    keys = DEFAULT_PROVIDERS.get(_PREVIOUS_KEYS_PROVIDER)
    if keys is None:
        keys = DEFAULT_PROVIDERS[_PREVIOUS_KEYS_PROVIDER] = _PreviousKeys()
    return keys.get(secret_id, max_age)



def signer_for(secret_id: str, max_age: int) -> Signer:
    """A Signer on the secret's current key, falling back to its previous one (read only when needed)."""
    return Signer(signing_key(secret_id, max_age), previous=lambda: previous_signing_keys(secret_id, max_age))
