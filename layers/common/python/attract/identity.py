"""Email identity: normalisation and the keyed hash that stands in for an email everywhere but the member item."""

import hashlib
import hmac


def normalise_email(raw: str) -> str:
    """Trimmed, validated, lower-cased address (ValueError names the rule it breaks)."""
    # Imported here: hashing alone (the planner, the links function) never needs its
    # ~20 ms of compiled RFC patterns. A SnapStart function loads it before the snapshot (attract.snapstart).
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from None
    return checked.normalized.lower()


def email_hash(normalised_email: str, pepper: str) -> str:
    """HMAC-SHA256 with a secret pepper: stable for joins and lookups, useless to a dictionary attack."""
    return hmac.new(pepper.encode(), normalised_email.encode(), hashlib.sha256).hexdigest()


def email_pepper(secret_id: str, max_age: int) -> str:
    """The pepper from Secrets Manager, cached by Powertools for `max_age` seconds."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_id, max_age=max_age)
