"""What an ad campaign's audit entry records (attract.audit): the targeting and budget sent, and each platform's
outcome. Never the ads' texts, the DSA beneficiary or payor (free text that may name a person) or a URL's query."""

from typing import Any

from attract.campaigns.models import CampaignDraft
from attract.campaigns.records import Campaign, DryRunResponse


def draft_details(draft: CampaignDraft) -> dict[str, Any]:
    """Budget, dates, channels and the targeting: locations, age and the search keywords."""
    details: dict[str, Any] = {
        "channels": list(draft.channels),
        "daily_budget": {"amount": str(draft.daily_budget.amount), "currency": draft.daily_budget.currency},
        "start_date": draft.start_date.isoformat(), "end_date": draft.end_date.isoformat() if draft.end_date else None,
        "locations": [location.model_dump(mode="json") for location in draft.locations],
        "targeting": draft.targeting.model_dump(mode="json", exclude_none=True),
    }
    if draft.google is not None:
        details["keywords"] = [keyword.model_dump(mode="json") for keyword in draft.google.keywords]
    return details


def campaign_details(campaign: Campaign, *, with_draft: bool = True) -> dict[str, Any]:
    """The campaign's status and each platform's ids (what the platforms created); the draft's targeting too."""
    details: dict[str, Any] = {
        "status": campaign.status, "version": campaign.version,
        "platforms": {channel: ids.model_dump(mode="json", exclude_none=True)
                      for channel, ids in campaign.platform_ids.items()}}
    return {**draft_details(campaign.draft), **details} if with_draft else details


def dry_run_details(draft: CampaignDraft, report: DryRunResponse) -> dict[str, Any]:
    """What would have been sent, and what each platform said of it (codes and request ids, not its prose)."""
    return {**draft_details(draft), "ok": report.ok,
            "platforms": {channel: {"ok": said.ok, "codes": said.codes, "request_id": said.request_id}
                          for channel, said in report.channels.items()}}
