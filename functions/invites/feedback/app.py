"""SES bounce and complaint events (EventBridge, from the configuration set's event destination).

A permanent bounce or a complaint puts the address on the suppression list (its hash: never the
address) and is counted on the campaign run the message's tags name. Redelivered events count once.
"""

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.clock import utc_now
from attract.identity import email_hash, email_pepper, normalise_email
from attract.invites.repository import InviteRepository
from attract.observability import logger, metrics, tracer
from attract.settings import InviteFeedbackSettings

load_settings = InviteFeedbackSettings.load
load_settings()


@lru_cache(maxsize=1)
def _store() -> InviteRepository:
    return InviteRepository(load_settings().table_name)


def _suppressions(detail: dict) -> tuple[str, list[str]]:
    """(reason, addresses) an SES event asks to suppress; ("", []) for a transient bounce or anything else."""
    kind = detail.get("eventType")
    if kind == "Bounce" and (detail.get("bounce") or {}).get("bounceType") == "Permanent":
        return "bounce", [r.get("emailAddress", "") for r in detail["bounce"].get("bouncedRecipients") or []]
    if kind == "Complaint":
        return "complaint", [r.get("emailAddress", "") for r in (detail.get("complaint") or {}).get(
            "complainedRecipients") or []]
    return "", []


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = load_settings()
    detail = event.get("detail") or {}
    reason, addresses = _suppressions(detail)
    tags = (detail.get("mail") or {}).get("tags") or {}
    campaign, run = (tags.get("campaign_id") or [None])[0], (tags.get("run_id") or [None])[0]
    pepper = email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds) if addresses else ""
    added = 0
    for address in addresses:
        try:
            digest = email_hash(normalise_email(address), pepper)
        except ValueError:
            continue
        if _store().suppress(digest, reason, utc_now(), campaign):
            added += 1
            if campaign and run:
                _store().count(campaign, run, "bounced" if reason == "bounce" else "complained")
    if added:
        metrics.add_metric(name="InvitationBounces" if reason == "bounce" else "InvitationComplaints",
                           unit=MetricUnit.Count, value=added)
    logger.info("ses feedback", extra={"event_type": detail.get("eventType"), "suppressed": added})
    return {"suppressed": added}
