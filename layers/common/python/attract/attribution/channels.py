"""Channel grouping for a join that arrives without any recorded touch (docs/attribution.md).

In the spirit of GA4's default channel groups: campaign parameters first, then ad click ids, then
the referrer's host, and `direct` when there is nothing at all.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

SEARCH_ENGINES = ("google.", "bing.com", "duckduckgo.com", "yahoo.", "ecosia.org", "baidu.com", "yandex.",
                  "qwant.com", "startpage.com", "search.brave.com", "naver.com")
SOCIAL_NETWORKS = ("facebook.com", "fb.com", "instagram.com", "linkedin.com", "lnkd.in", "t.co", "twitter.com",
                   "x.com", "reddit.com", "youtube.com", "tiktok.com", "xing.com", "mastodon.", "threads.net",
                   "pinterest.", "quora.com", "whatsapp.com", "telegram.org", "bsky.app", "glassdoor.", "kununu.com")
PAID_MEDIA = ("cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "cpm", "cpv", "cpa", "display",
              "paid_social", "paid-social", "paidsocial", "retargeting")
EMAIL_MEDIA = ("email", "e-mail", "e_mail", "newsletter", "mail")
SOCIAL_MEDIA = ("social", "social-network", "social-media", "sm", "social network", "social media")
SEARCH_CLICK_IDS = {"gclid": "google", "gbraid": "google", "wbraid": "google", "msclkid": "bing"}
SOCIAL_CLICK_IDS = {"li_fat_id": "linkedin"}
SOCIAL_SOURCE_NAMES = ("facebook", "instagram", "linkedin", "twitter", "x", "reddit", "tiktok", "youtube", "xing", "meta")


def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    host = host.lower().removeprefix("www.").removeprefix("m.")
    return any(host == p or host.startswith(p) or host.endswith("." + p) or (p.endswith(".") and p in host)
               for p in patterns)


def is_search_engine(host: str) -> bool:
    return _matches(host, SEARCH_ENGINES)


def is_social_network(host: str) -> bool:
    return _matches(host, SOCIAL_NETWORKS)


def known_source(value: str) -> str | None:
    """The fixed name of a search engine or social network that `value` (a host or a bare name) stands for.

    A finite set (the patterns and names above, trailing dots dropped), so a source the public made up
    can be reported by one of these names without growing the aggregates (docs/decisions.md).
    """
    if value in SOCIAL_SOURCE_NAMES or value in SEARCH_CLICK_IDS.values() or value in SOCIAL_CLICK_IDS.values():
        return value
    for pattern in SEARCH_ENGINES + SOCIAL_NETWORKS:
        if _matches(value, (pattern,)):
            return pattern.rstrip(".")
    return None


def group_channel(utm: Mapping[str, str], click_ids: Mapping[str, object], referrer: str | None) -> tuple[str, str, str]:
    """(channel, source, medium) for a touchless join."""
    source = (utm.get("utm_source") or "").strip().lower()
    medium = (utm.get("utm_medium") or "").strip().lower()
    host = (urlsplit(referrer).hostname or "") if referrer else ""

    if medium:
        social_source = is_social_network(source) or source in SOCIAL_SOURCE_NAMES
        if medium in PAID_MEDIA:
            return ("paid_social" if social_source or medium in ("paid_social", "paid-social", "paidsocial")
                    else "paid_search"), source or "(not set)", medium
        if medium in EMAIL_MEDIA:
            return "email", source or "(not set)", medium
        if medium in SOCIAL_MEDIA or social_source:
            return "organic_social", source or "(not set)", medium
        if medium == "organic":
            return "organic_search", source or "(not set)", medium
        if medium in ("event", "events", "offline", "qr", "badge"):
            return "event", source or "(not set)", medium
        return "referral", source or host or "(not set)", medium
    for kind, engine in SEARCH_CLICK_IDS.items():
        if click_ids.get(kind):
            return "paid_search", source or engine, "cpc"
    for kind, network in SOCIAL_CLICK_IDS.items():
        if click_ids.get(kind):
            return "paid_social", source or network, "cpc"
    if host:
        if is_search_engine(host):
            return "organic_search", host, "organic"
        if is_social_network(host):
            return "organic_social", host, "social"
        return "referral", host, "referral"
    if source:
        return "referral", source, "(none)"
    return "direct", "(direct)", "(none)"
