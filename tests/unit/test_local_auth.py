"""The local authorizer must refuse what API Gateway's JWT authorizer refuses."""

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from attract_local.auth import LOCAL_CLIENT_ID, AuthorizerError, issuer, mint_token, verify

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISS = issuer()


def _verify(token: str | None, audience=(LOCAL_CLIENT_ID,)):
    return verify(token, ISS, list(audience), public_key=KEY.public_key())


def test_valid_token_yields_cognito_claims():
    claims = _verify("Bearer " + mint_token(["marketers"], key=KEY))
    assert claims["cognito:groups"] == ["marketers"] and claims["iss"] == ISS and claims["token_use"] == "access"


@pytest.mark.parametrize(
    "token",
    [
        None,
        "Bearer not-a-jwt",
        mint_token(["marketers"], key=KEY, now=time.time() - 7200, ttl_seconds=3600),  # expired
        mint_token(["marketers"], key=KEY, iss="https://cognito-idp.us-east-1.amazonaws.com/other"),
        mint_token(["marketers"], key=KEY, client_id="someone-elses-client"),
        mint_token(["marketers"], key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ],
    ids=["missing", "garbage", "expired", "wrong-issuer", "wrong-audience", "wrong-key"],
)
def test_refused_tokens(token):
    with pytest.raises(AuthorizerError):
        _verify(token)
