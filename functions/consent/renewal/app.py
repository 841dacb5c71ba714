"""Consent renewal: every day, members whose consent is `ConsentRenewalMonths` old are asked to renew, once,
and those who did not within `ConsentGraceDays` are sent to the eraser (attract.people.consent_renewal).

It works as of the schedule's time (the event's `time`): a retried invocation does the same work, and the
local stack can fire it as of a later time (`POST /_local/fire/ConsentRenewalFunction.Daily?at=`).
"""

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.audit.trail import Actor, audit
from attract.clock import scheduled_at, utc_now
from attract.observability import logger, metrics, tracer
from attract.people.consent_renewal import RenewalPolicy, run_renewals
from attract.people.consent_repository import ConsentRepository
from attract.people.requests import request_erasure
from attract.settings import ConsentRenewalSettings, SettingsError
from attract.signing import signer_for

load_settings = ConsentRenewalSettings.load
load_settings()

ACTOR = Actor.system("consent-renewal")
METRICS = {"mailed": "ConsentRenewalsMailed", "mail_failed": "ConsentRenewalMailFailed",
           "erasure_requested": "ConsentErasuresRequested", "removed": "ConsentEntriesRemoved",
           "indexed": "ConsentEntriesBackfilled"}


@lru_cache(maxsize=1)
def _stores():
    from attract.providers.ses import SesRawMailer  # SES only where mail is sent

    settings = load_settings()
    if not settings.public_base_url:
        # No request to take a host from: the renew link needs the public base URL.
        raise SettingsError("ConsentRenewalSettings: PUBLIC_BASE_URL is empty (set the PublicBaseUrl parameter)")
    policy = RenewalPolicy(public_base_url=settings.public_base_url, from_address=settings.mail_from_address,
                           months=settings.consent_renewal_months, grace_days=settings.consent_grace_days)
    return policy, ConsentRepository(settings.table_name), SesRawMailer(None)


def _erase(email_hash: str, now) -> None:
    request_erasure(load_settings().erasure_queue_url, email_hash, "consent_expired", ACTOR, now)


def _audit(action: str, email_hash: str) -> None:
    audit(action, "person", email_hash, actor=ACTOR)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = load_settings()
    now = scheduled_at(event) or utc_now()
    policy, store, mailer = _stores()
    signer = signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)
    counts = run_renewals(now, policy, signer, store, mailer, _erase, _audit)
    for outcome, metric in METRICS.items():
        if counts.get(outcome):
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=counts[outcome])
    logger.info("consent renewal", extra={"as_of": now.isoformat(), "counts": dict(counts)})
    return {"as_of": now.isoformat(), "counts": dict(counts)}
