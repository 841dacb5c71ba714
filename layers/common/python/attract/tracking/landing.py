"""The landing URL of an ad whose final URL is the careers page itself (no /r/ hop).

Google Ads disapproves an ad whose final URL is on another domain than its landing page, so the ad
points at the campaign's destination and the platform appends these parameters (Google's
`final_url_suffix`, Meta's `url_tags`); the snippet (t.js) sees `tc_link` and records the click through
`GET /l/{code}` (attract.tracking.logic.handle_landing). The platforms add their own click id (gclid,
gbraid, wbraid, fbclid) themselves. Stdlib only: the campaigns code imports this to build the suffix.
"""

from urllib.parse import quote, urlencode

LANDING_PARAM = "tc_link"
LANDING_PATH = "/l/"
# t.js sends the landing page's own referrer under this name: the request's Referer is the careers page.
REFERRER_PARAM = "ref"


def landing_params(code: str, source: str, medium: str, campaign: str) -> list[tuple[str, str]]:
    """The parameters an ad appends to its final URL, in this order: tc_link, utm_source, utm_medium, utm_campaign.

    `code` is the campaign's tracked link for the channel (its source, medium and campaign name), so the
    touch carries the link's dimensions whatever the URL's utm_* say.
    """
    return [(LANDING_PARAM, code), ("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)]


def landing_suffix(code: str, source: str, medium: str, campaign: str) -> str:
    """`landing_params` as a query string without "?", spaces as %20 (what final_url_suffix and url_tags take)."""
    return urlencode(landing_params(code, source, medium, campaign), quote_via=quote)
