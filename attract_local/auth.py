"""A local stand-in for Cognito: an RSA key, tokens with Cognito's claims, and the JWT authorizer's checks."""

import json
import os
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from attract_local.cfn import ROOT

STATE_DIR = ROOT / ".local"
KEY_FILE = STATE_DIR / "jwt-signing-key.pem"
KEY_ID = "attract-local-1"
LOCAL_USER_POOL_ID = "us-east-1_AttractLocal"
LOCAL_CLIENT_ID = "attractlocalclient0000000000"
ROLES = {"marketer": "marketers", "recruiter": "recruiters", "admin": "admins"}


def signing_key() -> rsa.RSAPrivateKey:
    """The local pool's private key, created on first use and kept in .local/ (git-ignored)."""
    if not KEY_FILE.exists():
        _create_key()
    return serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None)  # type: ignore[return-value]


def _create_key() -> None:
    """Write a new key unless another process (a parallel test worker, `make local`) wrote one first.

    The key appears whole or not at all (a hard link of a finished file): the first one wins and every
    process signs and verifies with it; two keys would make one process's tokens fail in another's gateway.
    """
    STATE_DIR.mkdir(exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    draft = KEY_FILE.with_name(f".{KEY_FILE.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    draft.write_bytes(pem)
    draft.chmod(0o600)
    try:
        os.link(draft, KEY_FILE)
    except FileExistsError:
        pass  # another process's key won
    finally:
        draft.unlink()


def issuer(region: str = "us-east-1", pool_id: str = LOCAL_USER_POOL_ID) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def mint_token(
    groups: list[str],
    *,
    iss: str | None = None,
    client_id: str = LOCAL_CLIENT_ID,
    ttl_seconds: int = 3600,
    subject: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
    now: float | None = None,
    token_use: str = "access",
) -> str:
    """An access token shaped like Cognito's (token_use=access, client_id, cognito:groups, RS256 with kid).

    `token_use="id"` gives an ID token's shape instead (`aud` for the client): the authorizer lets both
    through, the functions must refuse it.
    """
    issued = int(now if now is not None else time.time())
    sub = subject or str(uuid.uuid5(uuid.NAMESPACE_URL, "attract-local/" + "+".join(sorted(groups))))
    claims = {
        "sub": sub,
        "cognito:groups": groups,
        "iss": iss or issuer(),
        "client_id": client_id,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": issued,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
        "username": sub,
    }
    if token_use != "access":
        claims.pop("client_id"), claims.pop("scope")
        claims.update(token_use=token_use, aud=client_id)
    return jwt.encode(claims, key or signing_key(), algorithm="RS256", headers={"kid": KEY_ID})


class AuthorizerError(Exception):
    """The token would be refused by the API Gateway JWT authorizer (401)."""


def verify(authorization: str | None, iss: str, audience: list[str], public_key=None) -> dict:
    """What the HTTP API JWT authorizer checks: signature (kid), issuer, audience or client_id, expiry."""
    if not authorization:
        raise AuthorizerError("missing token")
    token = authorization.split(" ", 1)[1].strip() if authorization.lower().startswith("bearer ") else authorization.strip()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != KEY_ID:
            raise AuthorizerError("unknown key id")
        claims = jwt.decode(
            token,
            public_key or signing_key().public_key(),
            algorithms=["RS256"],
            issuer=iss,
            options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise AuthorizerError(str(error)) from error
    token_audience = claims.get("aud", claims.get("client_id"))
    token_audiences = token_audience if isinstance(token_audience, list) else [token_audience]
    if not set(token_audiences) & set(audience):
        raise AuthorizerError("audience mismatch")
    return claims


def as_gateway_claims(claims: dict) -> dict[str, str]:
    """HTTP API passes every claim as a string, arrays flattened to "[a b]"."""
    flattened = {}
    for key, value in claims.items():
        if isinstance(value, list):
            flattened[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, (dict,)):
            flattened[key] = json.dumps(value)
        else:
            flattened[key] = str(value)
    return flattened


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Print a bearer token for the local API")
    parser.add_argument("--role", choices=sorted(ROLES), default="marketer")
    parser.add_argument("--ttl", type=int, default=3600)
    args = parser.parse_args()
    print(mint_token([ROLES[args.role]], ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
