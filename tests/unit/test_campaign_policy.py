"""Employment-ad rules (attract.campaigns.policy): each broken rule is named, a compliant draft passes."""

import copy

import pytest

from attract.campaigns import policy
from attract.campaigns.models import CampaignDraft
from attract.errors import RulesBrokenError

DRAFT = {
    "name": "Data engineers Berlin", "channels": ["google_search", "meta"],
    "daily_budget": {"amount": "50.00", "currency": "EUR"},
    "start_date": "2026-12-01", "end_date": "2026-12-31",
    "locations": [{"latitude": 52.52, "longitude": 13.405, "radius": 20, "radius_unit": "mile", "country": "DE"}],
    "destination": "https://careers.example.com/data",
    "targeting": {},
    "google": {"keywords": [{"text": "data engineer jobs", "match_type": "PHRASE"}],
               "headlines": ["Data engineer jobs", "Join our data team", "Berlin, hybrid"],
               "descriptions": ["Build pipelines that matter.", "Apply in two minutes."]},
    "meta": {"primary_text": "We are hiring data engineers in Berlin.", "headline": "Data engineers",
             "image_url": "https://careers.example.com/img/data.png", "call_to_action": "LEARN_MORE"},
}


def draft(**changes) -> CampaignDraft:
    body = copy.deepcopy(DRAFT)
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return CampaignDraft.model_validate(body)


def rules(candidate: CampaignDraft) -> set[str]:
    return {violation.rule for violation in policy.check(candidate)}


def test_compliant_draft_passes_every_rule():
    assert policy.check(draft()) == []
    policy.enforce(draft())  # raises nothing


@pytest.mark.parametrize(("field", "value", "meta_rule", "google_rule"), [
    ("age_min", 25, "meta.age_fixed_18_65", "google.no_age"),
    ("age_max", 40, "meta.age_fixed_18_65", "google.no_age"),
    ("genders", [1], "meta.no_gender", "google.no_gender"),
    ("postal_codes", ["10115"], "meta.no_postal_codes", "google.no_postal_codes"),
    ("parental_status", ["PARENT"], "meta.no_demographics", "google.no_parental_status"),
    ("marital_status", ["SINGLE"], "meta.no_demographics", "google.no_marital_status"),
    ("lookalike_audiences", ["lal-1"], "meta.no_lookalike_audiences", "google.no_advertiser_curated_audiences"),
    ("saved_audiences", ["saved-1"], "meta.no_saved_audiences", "google.no_advertiser_curated_audiences"),
    ("excluded_interests", ["6003"], "meta.no_detailed_targeting_exclusions", "google.no_advertiser_curated_audiences"),
    ("custom_audiences", ["ca-1"], "meta.custom_audiences_not_forwarded", "google.no_advertiser_curated_audiences"),
])
def test_each_targeting_field_is_refused_by_name_on_each_platform(field, value, meta_rule, google_rule):
    # Given a draft bringing one targeting option from a platform's own tools
    both = draft(**{f"targeting__{field}": value})
    # Then each platform's rule names it, on the field it came in
    violations = policy.check(both)
    assert {v.rule for v in violations} == {meta_rule, google_rule}
    assert {v.field for v in violations} == {f"targeting.{field}"}
    # And only the platforms the draft runs on are checked
    assert rules(draft(**{f"targeting__{field}": value, "channels": ["meta"]})) == {meta_rule}
    assert rules(draft(**{f"targeting__{field}": value, "channels": ["google_search"]})) == {google_rule}


def test_an_empty_targeting_list_is_no_targeting():
    assert rules(draft(targeting__genders=[], targeting__custom_audiences=[])) == set()


@pytest.mark.parametrize(("radius", "unit", "refused"), [
    (15, "mile", False), ("14.99", "mile", True), (24, "kilometer", False), ("23.9", "kilometer", True),
    (10, "mile", True),
])
def test_meta_radius_is_at_least_15_miles_or_24_km(radius, unit, refused):
    candidate = draft(locations__0__radius=radius, locations__0__radius_unit=unit)
    assert ("meta.radius_min_15_miles" in rules(candidate)) is refused
    assert "meta.radius_min_15_miles" not in rules(draft(locations__0__radius=radius, locations__0__radius_unit=unit,
                                                         channels=["google_search"]))


def test_each_location_radius_is_checked_and_named():
    body = copy.deepcopy(DRAFT)
    body["locations"].append({**body["locations"][0], "radius": 5})
    violations = policy.check(CampaignDraft.model_validate(body))
    assert [(v.rule, v.field) for v in violations] == [("meta.radius_min_15_miles", "locations[1].radius")]


def test_google_radius_is_at_least_1_km():
    assert "google.radius_min_1_km" in rules(draft(locations__0__radius="0.5", locations__0__radius_unit="kilometer"))
    assert "google.radius_min_1_km" not in rules(draft(locations__0__radius=1, locations__0__radius_unit="kilometer"))


@pytest.mark.parametrize(("headlines", "refused"), [(2, True), (3, False), (15, False), (16, True)])
def test_rsa_has_3_to_15_headlines(headlines, refused):
    candidate = draft(google__headlines=[f"Headline {n}" for n in range(headlines)])
    assert ("google.rsa_headlines_count" in rules(candidate)) is refused


@pytest.mark.parametrize(("descriptions", "refused"), [(1, True), (2, False), (4, False), (5, True)])
def test_rsa_has_2_to_4_descriptions(descriptions, refused):
    candidate = draft(google__descriptions=[f"Description {n}" for n in range(descriptions)])
    assert ("google.rsa_descriptions_count" in rules(candidate)) is refused


def test_rsa_headline_and_description_lengths_name_the_asset():
    candidate = draft(google__headlines=["a" * 30, "b" * 31, "ok"], google__descriptions=["c" * 90, "d" * 91])
    assert [(v.rule, v.field) for v in policy.check(candidate)] == [
        ("google.rsa_headline_length", "google.headlines[1]"), ("google.rsa_description_length", "google.descriptions[1]")]


def test_a_google_keyword_has_at_most_10_words():
    # Google's KeywordInfo.text: at most 80 characters and 10 words; the schema holds the 80 characters.
    ten = " ".join(["data"] * 10)
    candidate = draft(google__keywords=[{"text": ten}, {"text": ten + " jobs"}, {"text": "data  engineer\tjobs"}])
    assert [(v.rule, v.field) for v in policy.check(candidate)] == [
        ("google.keyword_max_10_words", "google.keywords[1].text")]
    with pytest.raises(ValueError, match="80 characters"):
        draft(google__keywords=[{"text": "k" * 81}])


def test_double_width_characters_count_two():
    # 15 CJK characters are 30 of Google's characters; 16 are 32. Half-width katakana and accents count 1.
    assert policy.google_length("データエンジニア募集中です東京都") == 32
    assert policy.google_length("ﾃﾞｰﾀ") == 4
    assert policy.google_length("Ｄａｔａ") == 8  # fullwidth Latin
    assert policy.google_length("Müller café") == 11
    fits = draft(google__headlines=["データエンジニア募集中です東京", "Join us", "Berlin"])
    too_long = draft(google__headlines=["データエンジニア募集中です東京都", "Join us", "Berlin"])
    assert rules(fits) == set()
    assert rules(too_long) == {"google.rsa_headline_length"}


def test_enforce_raises_one_422_error_per_violation_naming_field_and_rule():
    candidate = draft(targeting__age_min=30, targeting__genders=[2], channels=["meta"])
    with pytest.raises(RulesBrokenError) as raised:
        policy.enforce(candidate)
    assert raised.value.errors == [
        {"field": "targeting.age_min", "location": "body", "rule": "meta.age_fixed_18_65",
         "message": "Meta employment ads reach ages 18 to 65+; age cannot be targeted"},
        {"field": "targeting.genders", "location": "body", "rule": "meta.no_gender",
         "message": "Meta employment ads reach all genders"}]


def test_every_rule_has_a_platform_a_source_and_a_unique_id():
    assert len(policy.RULES_BY_ID) == len(policy.RULES)
    for rule in policy.RULES:
        assert rule.id.startswith(f"{rule.platform}.") and rule.source.startswith("https://") and rule.description


def test_meta_campaign_request_must_declare_employment_and_every_country():
    # What a Meta adapter posted to Graph for the campaign, checked by its wire tests with this helper
    candidate = draft()
    good = {"special_ad_categories": '["EMPLOYMENT"]', "special_ad_category_country": '["DE"]'}
    assert policy.meta_campaign_violations(good, candidate) == []
    assert {v.field for v in policy.meta_campaign_violations({"special_ad_categories": "[]"}, candidate)} == {
        "special_ad_categories", "special_ad_category_country"}
    missing = policy.meta_campaign_violations({**good, "special_ad_category_country": ["FR"]}, candidate)
    assert [v.rule for v in missing] == ["meta.special_ad_category_employment"]


def test_meta_ad_set_targeting_request_is_checked_against_the_same_rules():
    compliant = {"age_min": 18, "age_max": 65, "geo_locations": {"custom_locations": [
        {"latitude": 52.52, "longitude": 13.405, "radius": 24, "distance_unit": "kilometer"}]}}
    assert policy.meta_targeting_violations(compliant) == []
    broken = {"age_min": 21, "age_max": 65, "genders": [1], "zips": [{"key": "DE:10115"}],
              "geo_locations": {"custom_locations": [{"radius": 10, "distance_unit": "mile"}]}}
    assert {v.rule for v in policy.meta_targeting_violations(broken)} == {
        "meta.age_fixed_18_65", "meta.no_gender", "meta.no_postal_codes", "meta.radius_min_15_miles"}


@pytest.mark.parametrize(("radius", "unit", "refused"), [
    (50, "mile", False), (51, "mile", True), (80, "kilometer", False), ("80.5", "kilometer", True)])
def test_meta_radius_is_at_most_50_miles_or_80_km(radius, unit, refused):
    candidate = draft(locations__0__radius=radius, locations__0__radius_unit=unit)
    assert ("meta.radius_max_50_miles" in rules(candidate)) is refused
    broken = [v for v in policy.check(candidate) if v.rule == "meta.radius_max_50_miles"]
    assert [v.field for v in broken] == (["locations[0].radius"] if refused else [])


def test_meta_ad_set_radius_beyond_50_miles_is_checked_on_the_request_too():
    wide = {"age_min": 18, "age_max": 65, "geo_locations": {"custom_locations": [
        {"latitude": 52.52, "longitude": 13.405, "radius": 81, "distance_unit": "kilometer"}]}}
    assert [v.rule for v in policy.meta_targeting_violations(wide)] == ["meta.radius_max_50_miles"]


@pytest.mark.parametrize(("latitude", "longitude", "country", "refused"), [
    (52.52, 13.405, "DE", False),     # Berlin
    (52.52, 13.405, "AT", True),
    (48.2082, 16.3738, "DE", True),   # Vienna
    (47.6506, 9.1751, "CH", False),   # Kreuzlingen (CH), nearer to Konstanz (DE) than to its own centre
    (47.6506, 9.1751, "DE", False),
    (13.405, 52.52, "DE", True),      # latitude and longitude swapped: the Arabian Sea, not Germany
])
def test_meta_location_country_must_be_one_its_coordinates_may_be_in(latitude, longitude, country, refused):
    candidate = draft(locations__0__latitude=latitude, locations__0__longitude=longitude, locations__0__country=country)
    broken = [v for v in policy.check(candidate) if v.rule == "meta.location_country_matches_coordinates"]
    assert [v.field for v in broken] == (["locations[0].country"] if refused else [])


def test_meta_campaign_countries_are_every_country_a_radius_reaches():
    # An 80 km radius around Basel (CH) reaches Germany and France: all three are declared to Meta
    basel = draft(locations=[{"latitude": 47.5596, "longitude": 7.5886, "radius": 80, "radius_unit": "kilometer",
                              "country": "CH"}])
    assert policy.meta_campaign_countries(basel) == ["CH", "DE", "FR"]
    assert policy.meta_campaign_countries(draft()) == ["DE"]  # 20 miles around Berlin stay in Germany
    # And the campaign request must name them all
    declared = {"special_ad_categories": '["EMPLOYMENT"]', "special_ad_category_country": '["CH"]'}
    assert [v.rule for v in policy.meta_campaign_violations(declared, basel)] == ["meta.special_ad_category_employment"]


def test_meta_dsa_beneficiary_and_payor_are_required_where_the_ads_reach_the_eu():
    zurich = draft(locations=[{"latitude": 47.3769, "longitude": 8.5417, "radius": 15, "radius_unit": "mile",
                               "country": "CH"}])
    assert policy.meta_dsa_violations(zurich, None, None) == []  # Switzerland: no DSA
    assert policy.meta_dsa_violations(draft(), "Acme GmbH", "Acme GmbH") == []
    assert [(v.field, v.rule) for v in policy.meta_dsa_violations(draft(), "Acme GmbH", None)] == [
        ("meta.dsa_payor", "meta.dsa_beneficiary_payor_required")]
    oslo = draft(locations=[{"latitude": 59.9139, "longitude": 10.7522, "radius": 20, "radius_unit": "mile",
                             "country": "NO"}])
    assert len(policy.meta_dsa_violations(oslo, None, None)) == 2  # the EEA too (docs/compliance.md)


def test_meta_budget_is_in_the_account_currency():
    assert policy.meta_account_currency_violations(draft(), "EUR") == []
    (broken,) = policy.meta_account_currency_violations(draft(), "USD")
    assert (broken.field, broken.rule) == ("daily_budget.currency", "meta.budget_currency_is_account_currency")


@pytest.mark.parametrize(("amount", "currency", "field"), [
    ("5000", "JPY", None), ("5000.50", "JPY", "daily_budget.amount"), ("12.34", "EUR", None),
    ("100", "KRW", None), ("100.1", "KRW", "daily_budget.amount"), ("10", "XYZ", "daily_budget.currency")])
def test_meta_budget_has_no_more_precision_than_meta_s_unit_for_its_currency(amount, currency, field):
    candidate = draft(daily_budget={"amount": amount, "currency": currency})
    broken = [v for v in policy.check(candidate) if v.rule == "meta.budget_in_currency_units"]
    assert [v.field for v in broken] == ([field] if field else [])
