"""Every employment-ad rule Attract enforces, in one place: data (id, platform, source) plus a check.

`check(draft)` runs before any platform call (at creation and again at launch) and returns one
`Violation` per broken rule and field; the API answers 422 naming each rule. The table in
docs/compliance.md lists every rule with its source and its test (a test keeps the two in step).

Decisions (docs/compliance.md, "Decisions"):
- Google's personalised-advertising restrictions for employment are written for the US and Canada;
  Attract applies them to every location. A draft is one campaign, most countries forbid age and sex
  criteria in job ads anyway (e.g. Germany's AGG), and a rule that depends on the location list would
  silently switch off when a marketer adds a country.
- Meta allows list-based custom audiences for employment (no lookalikes, saved audiences or exclusions),
  but the Meta adapter builds a location-only ad set and never forwards audiences. Accepting them would
  drop them silently, so they are refused by name; Google refuses them by policy (advertiser-curated
  audiences are restricted for employment).
- Radius: Meta's minimum is 15 miles, which Meta itself states as 24 km; both forms are accepted. Its
  maximum is 50 miles / 80 km.
- Countries: the coordinates decide (attract.campaigns.places). A declared country must be one of the
  centre's; the campaign declares every country a radius reaches (special_ad_category_country).
- Rules that need the Meta secret or the ad account (DSA beneficiary and payor, the account's currency)
  are checked by the Meta adapter before its first create: `meta_dsa_violations`,
  `meta_account_currency_violations` here, raised as the same 422.
- Nothing here imports an ads SDK: the rules are checked before any adapter is loaded.
"""

import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from attract.campaigns import places
from attract.campaigns.channels import ad_channel
from attract.campaigns.currencies import UnknownCurrencyError, meta_decimals, meta_units
from attract.campaigns.models import CampaignDraft
from attract.errors import RulesBrokenError

Platform = Literal["meta", "google"]  # the channel registry's `platform` prefixes

META_SAC_DOCS = "https://www.facebook.com/business/help/2220749868045706"
META_API_DOCS = "https://developers.facebook.com/docs/marketing-api/audiences/special-ad-category/"
META_TARGETING_DOCS = "https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting"
META_CURRENCY_DOCS = "https://developers.facebook.com/docs/marketing-api/currencies"
META_BUDGET_DOCS = "https://developers.facebook.com/docs/marketing-api/bidding/overview/budgets"
META_DSA_DOCS = ("https://developers.facebook.com/blog/post/2023/05/16/"
                 "new-marketing-mpa-api-requirements-for-facebook-and-instagram-ads-targeting-eu/")
GOOGLE_POLICY = "https://support.google.com/adspolicy/answer/143465"
GOOGLE_EMPLOYMENT = "https://support.google.com/adspolicy/answer/9917652"
GOOGLE_RSA_LIMITS = "https://support.google.com/google-ads/answer/7684791"
GOOGLE_OPPORTUNITIES = "https://support.google.com/adspolicy/answer/16701755"
GOOGLE_KEYWORD = "https://developers.google.com/google-ads/api/reference/rpc/v26/KeywordInfo"

META_AGE_MIN, META_AGE_MAX = 18, 65
META_MIN_RADIUS = {"mile": Decimal(15), "kilometer": Decimal(24)}
META_MAX_RADIUS = {"mile": Decimal(50), "kilometer": Decimal(80)}  # custom_locations' largest radius
# Where Meta wants dsa_beneficiary and dsa_payor (META_DSA_DOCS and its full list): the EU member states and
# the associated territories with a country code of their own (Åland, French Guiana, Guadeloupe, Martinique,
# Mayotte, Réunion, Saint Martin; the Azores, Madeira, the Canaries, Ceuta and Melilla are PT and ES). Plus the
# EEA states (IS, LI, NO), which Meta does not list: the DSA is marked as EEA-relevant, and naming who pays
# where Meta does not ask costs nothing, while missing it where Meta asks stops the ads.
META_DSA_COUNTRIES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "AX", "GF", "GP", "MQ", "YT", "RE", "MF",
    "IS", "LI", "NO",
})
GOOGLE_MIN_RADIUS_KM = Decimal(1)
RSA_HEADLINES = (3, 15, 30)  # at least, at most, characters each
RSA_DESCRIPTIONS = (2, 4, 90)
KEYWORD_MAX_WORDS = 10  # and 80 characters, which the draft's schema already limits (Keyword.text)
# How far ahead a draft may be dated. Far beyond any campaign a marketer plans (an always-on campaign has no
# end date), and well inside what the platforms take (Google's end_date_time stops at 2037-12-30).
DATE_HORIZON = timedelta(days=3 * 365)


@dataclass(frozen=True)
class Violation:
    rule: str
    field: str
    message: str

    def as_error(self) -> dict:
        """The API's error entry: {field, location, rule, message}; never the offending value."""
        return {"field": self.field, "location": "body", "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Rule:
    id: str
    platform: Platform
    description: str
    source: str
    check: Callable[[CampaignDraft], Iterator[Violation]]
    # "draft": checked by check(draft); "request": what the adapter sends, checked in its wire tests
    applies_to: Literal["draft", "request"] = "draft"


def google_length(text: str) -> int:
    """Characters as Google Ads counts them: double-width (East Asian wide and fullwidth) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


# ---- the checks: each yields one violation per offending field ------------------------------------------

def _refuse_targeting(rule_id: str, fields: Sequence[str], why: str) -> Callable[[CampaignDraft], Iterator[Violation]]:
    def check(draft: CampaignDraft) -> Iterator[Violation]:
        for name in fields:
            value = getattr(draft.targeting, name)
            if value is not None and value != []:
                yield Violation(rule_id, f"targeting.{name}", why)
    return check


def _meta_radius(draft: CampaignDraft) -> Iterator[Violation]:
    for index, location in enumerate(draft.locations):
        if location.radius < META_MIN_RADIUS[location.radius_unit]:
            yield Violation("meta.radius_min_15_miles", f"locations[{index}].radius",
                            "Meta employment ads need a radius of at least 15 miles (24 km) around each location")


def _meta_radius_max(draft: CampaignDraft) -> Iterator[Violation]:
    for index, location in enumerate(draft.locations):
        if location.radius > META_MAX_RADIUS[location.radius_unit]:
            yield Violation("meta.radius_max_50_miles", f"locations[{index}].radius",
                            "Meta targets at most 50 miles (80 km) around a location; add another location instead")


def _meta_country_of_coordinates(draft: CampaignDraft) -> Iterator[Violation]:
    for index, location in enumerate(draft.locations):
        found = places.centre_countries(location.latitude, location.longitude)
        if found and location.country not in found:
            yield Violation("meta.location_country_matches_coordinates", f"locations[{index}].country",
                            f"the coordinates are in {', '.join(sorted(found))}, not in the country given")


def _meta_budget_units(draft: CampaignDraft) -> Iterator[Violation]:
    money = draft.daily_budget
    try:
        meta_units(money.amount, money.currency)
    except UnknownCurrencyError:
        yield Violation("meta.budget_in_currency_units", "daily_budget.currency",
                        "Meta ad accounts have no such currency")
    except ValueError:
        yield Violation("meta.budget_in_currency_units", "daily_budget.amount",
                        f"Meta counts {money.currency} in units of {meta_decimals(money.currency)} decimals: "
                        "the amount is more precise than that")


def _google_radius(draft: CampaignDraft) -> Iterator[Violation]:
    for index, location in enumerate(draft.locations):
        if location.radius_km < GOOGLE_MIN_RADIUS_KM:
            yield Violation("google.radius_min_1_km", f"locations[{index}].radius",
                            "Google employment ads need a radius of at least 1 km around each location")


def _asset_count(kind: str, limits: tuple[int, int, int]) -> Callable[[CampaignDraft], Iterator[Violation]]:
    low, high, _ = limits

    def check(draft: CampaignDraft) -> Iterator[Violation]:
        if draft.google is not None and not low <= len(getattr(draft.google, kind)) <= high:
            yield Violation(f"google.rsa_{kind}_count", f"google.{kind}",
                            f"a responsive search ad has {low} to {high} {kind}")
    return check


def _asset_length(kind: str, limits: tuple[int, int, int]) -> Callable[[CampaignDraft], Iterator[Violation]]:
    longest = limits[2]
    singular = kind.removesuffix("s")

    def check(draft: CampaignDraft) -> Iterator[Violation]:
        for index, text in enumerate(getattr(draft.google, kind) if draft.google is not None else []):
            if google_length(text) > longest:
                yield Violation(f"google.rsa_{singular}_length", f"google.{kind}[{index}]",
                                f"each {singular} is at most {longest} characters (double-width characters count 2)")
    return check


def _keyword_words(draft: CampaignDraft) -> Iterator[Violation]:
    for index, keyword in enumerate(draft.google.keywords if draft.google is not None else []):
        if len(keyword.text.split()) > KEYWORD_MAX_WORDS:
            yield Violation("google.keyword_max_10_words", f"google.keywords[{index}].text",
                            f"a Google keyword has at most {KEYWORD_MAX_WORDS} words")


def _enforced_by_adapter(draft: CampaignDraft) -> Iterator[Violation]:
    return iter(())


RULES: tuple[Rule, ...] = (
    Rule("meta.special_ad_category_employment", "meta",
         "The campaign declares special_ad_categories=[\"EMPLOYMENT\"] and special_ad_category_country "
         "(every country a location's radius reaches, from its coordinates)", META_API_DOCS, _enforced_by_adapter,
         applies_to="request"),
    Rule("meta.location_country_matches_coordinates", "meta",
         "Each location's country is one its coordinates may be in (GeoNames places, 30 km border slack)",
         META_API_DOCS, _meta_country_of_coordinates),
    Rule("meta.dsa_beneficiary_payor_required", "meta",
         "Ads reaching the EU/EEA name who benefits and who pays (dsa_beneficiary, dsa_payor): the Meta secret's, "
         "or the draft's meta.dsa_beneficiary / meta.dsa_payor", META_DSA_DOCS, _enforced_by_adapter,
         applies_to="request"),
    Rule("meta.budget_currency_is_account_currency", "meta",
         "The daily budget is in the Meta ad account's currency (Meta spends in that currency only)",
         META_BUDGET_DOCS, _enforced_by_adapter, applies_to="request"),
    Rule("meta.budget_in_currency_units", "meta",
         "The daily budget is a whole number of Meta's unit for its currency (cents, or whole JPY, KRW, ...)",
         META_CURRENCY_DOCS, _meta_budget_units),
    Rule("meta.radius_max_50_miles", "meta", "Every location radius is at most 50 miles (80 km)",
         META_TARGETING_DOCS, _meta_radius_max),
    Rule("meta.age_fixed_18_65", "meta", "Age is fixed at 18-65+: no age_min / age_max", META_SAC_DOCS,
         _refuse_targeting("meta.age_fixed_18_65", ("age_min", "age_max"),
                           "Meta employment ads reach ages 18 to 65+; age cannot be targeted")),
    Rule("meta.no_gender", "meta", "All genders: no gender targeting", META_SAC_DOCS,
         _refuse_targeting("meta.no_gender", ("genders",), "Meta employment ads reach all genders")),
    Rule("meta.no_postal_codes", "meta", "No ZIP / postal code targeting", META_SAC_DOCS,
         _refuse_targeting("meta.no_postal_codes", ("postal_codes",),
                           "Meta employment ads cannot target postal codes; use a location with a radius")),
    Rule("meta.no_demographics", "meta", "No demographic targeting (parental or marital status)", META_SAC_DOCS,
         _refuse_targeting("meta.no_demographics", ("parental_status", "marital_status"),
                           "Meta employment ads cannot target demographics")),
    Rule("meta.radius_min_15_miles", "meta", "Every location radius is at least 15 miles (24 km)", META_SAC_DOCS,
         _meta_radius),
    Rule("meta.no_lookalike_audiences", "meta", "No lookalike audiences", META_SAC_DOCS,
         _refuse_targeting("meta.no_lookalike_audiences", ("lookalike_audiences",),
                           "Meta employment ads cannot use lookalike audiences")),
    Rule("meta.no_saved_audiences", "meta", "No saved audiences", META_SAC_DOCS,
         _refuse_targeting("meta.no_saved_audiences", ("saved_audiences",),
                           "Meta employment ads cannot use saved audiences")),
    Rule("meta.no_detailed_targeting_exclusions", "meta", "No detailed-targeting exclusions", META_SAC_DOCS,
         _refuse_targeting("meta.no_detailed_targeting_exclusions", ("excluded_interests",),
                           "Meta employment ads cannot exclude interests or other detailed targeting")),
    Rule("meta.custom_audiences_not_forwarded", "meta",
         "Custom audiences: allowed by Meta (inclusion only) but never forwarded by Attract, so refused rather "
         "than silently dropped", META_SAC_DOCS,
         _refuse_targeting("meta.custom_audiences_not_forwarded", ("custom_audiences",),
                           "Attract's Meta ad sets target locations only; custom audiences are not sent")),
    Rule("google.no_age", "google", "No age targeting (personalised ads, employment)", GOOGLE_EMPLOYMENT,
         _refuse_targeting("google.no_age", ("age_min", "age_max"), "Google employment ads cannot target age")),
    Rule("google.no_gender", "google", "No gender targeting", GOOGLE_EMPLOYMENT,
         _refuse_targeting("google.no_gender", ("genders",), "Google employment ads cannot target gender")),
    Rule("google.no_parental_status", "google", "No parental-status targeting", GOOGLE_EMPLOYMENT,
         _refuse_targeting("google.no_parental_status", ("parental_status",),
                           "Google employment ads cannot target parental status")),
    Rule("google.no_marital_status", "google", "No marital-status targeting", GOOGLE_EMPLOYMENT,
         _refuse_targeting("google.no_marital_status", ("marital_status",),
                           "Google employment ads cannot target marital status")),
    Rule("google.no_postal_codes", "google", "No ZIP / postal code targeting", GOOGLE_EMPLOYMENT,
         _refuse_targeting("google.no_postal_codes", ("postal_codes",),
                           "Google employment ads cannot target postal codes; use a location with a radius")),
    Rule("google.no_advertiser_curated_audiences", "google",
         "No advertiser-curated audiences (customer lists, lookalike / saved segments, exclusions)", GOOGLE_POLICY,
         _refuse_targeting("google.no_advertiser_curated_audiences",
                           ("custom_audiences", "lookalike_audiences", "saved_audiences", "excluded_interests"),
                           "Google employment ads may use Google's predefined audiences only")),
    Rule("google.radius_min_1_km", "google", "Every location radius is at least 1 km", GOOGLE_OPPORTUNITIES,
         _google_radius),
    Rule("google.rsa_headlines_count", "google", "A responsive search ad has 3 to 15 headlines", GOOGLE_RSA_LIMITS,
         _asset_count("headlines", RSA_HEADLINES)),
    Rule("google.rsa_headline_length", "google",
         "Each headline is at most 30 characters (double-width characters count 2)", GOOGLE_RSA_LIMITS,
         _asset_length("headlines", RSA_HEADLINES)),
    Rule("google.rsa_descriptions_count", "google", "A responsive search ad has 2 to 4 descriptions",
         GOOGLE_RSA_LIMITS, _asset_count("descriptions", RSA_DESCRIPTIONS)),
    Rule("google.rsa_description_length", "google",
         "Each description is at most 90 characters (double-width characters count 2)", GOOGLE_RSA_LIMITS,
         _asset_length("descriptions", RSA_DESCRIPTIONS)),
    Rule("google.keyword_max_10_words", "google",
         "Each keyword has at most 10 words (and 80 characters: a schema limit of the draft)", GOOGLE_KEYWORD,
         _keyword_words),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


def check(draft: CampaignDraft) -> list[Violation]:
    """Every broken rule of the platforms the draft runs on; an empty list means it may launch."""
    platforms = {ad_channel(channel).platform for channel in draft.channels}
    return [violation for rule in RULES if rule.platform in platforms for violation in rule.check(draft)]


def date_violations(draft: CampaignDraft, today: date) -> list[Violation]:
    """Dates no platform would run: an end already past, or a date beyond DATE_HORIZON.

    A start date already past is not a violation: the launch sends it as "start now" (LaunchPlan).
    """
    found = []
    if draft.end_date is not None and draft.end_date < today:
        found.append(Violation("dates.end_in_past", "end_date", "the end date has passed: the ads could never run"))
    for name in ("start_date", "end_date"):
        value = getattr(draft, name)
        if value is not None and value > today + DATE_HORIZON:
            found.append(Violation("dates.beyond_horizon", name,
                                   f"at most {DATE_HORIZON.days} days ahead (leave end_date out to run until ended)"))
    return found


def enforce(draft: CampaignDraft, today: date | None = None) -> None:
    """RulesBrokenError (422, each rule named) unless the draft keeps every employment-ad rule (and, given
    `today`, has dates the platforms would run)."""
    refuse(check(draft) + (date_violations(draft, today) if today is not None else []))


def refuse(violations: Sequence[Violation], message: str = "Employment-ad policy violated") -> None:
    """RulesBrokenError (422) naming each violation, if there is any (the adapters' own checks raise it too)."""
    if violations:
        raise RulesBrokenError(message, [violation.as_error() for violation in violations])


# ---- for the Meta adapter's wire tests: what reached Graph, checked against the same rules ---------------

def meta_campaign_countries(draft: CampaignDraft) -> list[str]:
    """special_ad_category_country: every country a location's radius reaches (attract.campaigns.places)."""
    return sorted(set().union(*(places.countries_reached(location) for location in draft.locations)))


def meta_dsa_violations(draft: CampaignDraft, beneficiary: str | None, payor: str | None) -> list[Violation]:
    """Rule meta.dsa_beneficiary_payor_required, given the values the adapter would send (draft's or secret's)."""
    reached = META_DSA_COUNTRIES.intersection(meta_campaign_countries(draft))
    if not reached:
        return []
    why = (f"the ads reach {', '.join(sorted(reached))}: Meta requires who benefits and who pays (EU Digital "
           "Services Act); set it in the Meta secret or on the draft")
    return [Violation("meta.dsa_beneficiary_payor_required", f"meta.dsa_{name}", why)
            for name, value in (("beneficiary", beneficiary), ("payor", payor)) if not value]


def meta_account_currency_violations(draft: CampaignDraft, account_currency: str) -> list[Violation]:
    """Rule meta.budget_currency_is_account_currency, given the ad account's currency."""
    if draft.daily_budget.currency == account_currency:
        return []
    return [Violation("meta.budget_currency_is_account_currency", "daily_budget.currency",
                      f"the Meta ad account spends {account_currency}: give the daily budget in {account_currency}")]


def meta_campaign_violations(params: Mapping[str, Any], draft: CampaignDraft) -> list[Violation]:
    """Rule meta.special_ad_category_employment on the campaign a Meta adapter created (its Graph params)."""
    rule = "meta.special_ad_category_employment"
    found = []
    if _as_list(params.get("special_ad_categories")) != ["EMPLOYMENT"]:
        found.append(Violation(rule, "special_ad_categories", "must be exactly [\"EMPLOYMENT\"]"))
    countries = set(_as_list(params.get("special_ad_category_country")))
    missing = set(meta_campaign_countries(draft)) - countries
    if not countries or missing:
        found.append(Violation(rule, "special_ad_category_country",
                               "must name every country the ads run in" + (f" (missing {sorted(missing)})" if missing else "")))
    return found


def meta_targeting_violations(targeting: Mapping[str, Any]) -> list[Violation]:
    """The ad set's Graph `targeting` against the Meta rules: fixed ages, nothing demographic, wide radii."""
    found = []
    if int(targeting.get("age_min", META_AGE_MIN)) != META_AGE_MIN or int(targeting.get("age_max", META_AGE_MAX)) != META_AGE_MAX:
        found.append(Violation("meta.age_fixed_18_65", "targeting.age", "ages must be 18 to 65"))
    for key, rule in (("genders", "meta.no_gender"), ("zips", "meta.no_postal_codes"),
                      ("excluded_custom_audiences", "meta.no_detailed_targeting_exclusions"),
                      ("exclusions", "meta.no_detailed_targeting_exclusions")):
        if targeting.get(key):
            found.append(Violation(rule, f"targeting.{key}", "not allowed for employment ads"))
    for index, place in enumerate(((targeting.get("geo_locations") or {}).get("custom_locations")) or []):
        unit = "kilometer" if place.get("distance_unit") == "kilometer" else "mile"
        radius = Decimal(str(place.get("radius", 0)))
        if radius < META_MIN_RADIUS[unit]:
            found.append(Violation("meta.radius_min_15_miles", f"targeting.geo_locations.custom_locations[{index}]",
                                   "radius below 15 miles (24 km)"))
        if radius > META_MAX_RADIUS[unit]:
            found.append(Violation("meta.radius_max_50_miles", f"targeting.geo_locations.custom_locations[{index}]",
                                   "radius above 50 miles (80 km)"))
    return found


def _as_list(value: Any) -> list:
    if isinstance(value, str):  # Graph form posts carry lists JSON-encoded
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return list(value) if isinstance(value, (list, tuple)) else ([] if value is None else [value])
