"""The Google secret's OAuth client and account ids, shared by both Google adapters.

`GoogleAdsSecret` serves the Google Ads API (campaigns, spend: attract.providers.google_ads) and the Data
Manager API (conversions: attract.providers.google_datamanager). One OAuth client and refresh token for
both, so the refresh token must have been granted both scopes. Imported by the adapters only.
"""

from google.oauth2.credentials import Credentials
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class GoogleOAuthConfig(BaseModel):
    """The secret's JSON. Secrets are SecretStr: a repr or a log line never shows them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    login_customer_id: str | None = None
    customer_id: str
    conversion_action: str | None = None  # id or resource name: where the Data Manager API records joins
    token_uri: str = GOOGLE_TOKEN_URI

    @field_validator("login_customer_id", "customer_id")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        # Google's UI shows 123-456-7890; the APIs want 1234567890.
        if value is None or value == "":
            return None
        digits = value.replace("-", "").strip()
        if not digits.isdigit():
            raise ValueError("must be a customer id: 10 digits, dashes allowed")
        return digits


def oauth_credentials(config: GoogleOAuthConfig, scopes: list[str] | None = None) -> Credentials:
    """Credentials that refresh lazily, on the first call, against `config.token_uri`."""
    return Credentials(token=None, refresh_token=config.refresh_token.get_secret_value(), client_id=config.client_id,
                       client_secret=config.client_secret.get_secret_value(), token_uri=config.token_uri, scopes=scopes)
