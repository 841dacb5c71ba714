"""Scoring on a fixed member set, every expectation computed by hand (docs/relevance.md has the formula).

    skills = 0.7 × required matched / required + 0.3 × preferred matched / preferred
    place  = 1 inside a profile place, 0.5 unknown, 0 elsewhere;  value = skills × place
"""

import pytest
from pydantic import ValidationError

from attract.relevance.models import CompiledProfile, MemberFacts, ProfileBody
from attract.relevance.scoring import DEFAULT_MIN_SCORE, compile_profile, member_facts, score, warm

# The issue's profile with Berlin's radius and remote (the country is tried separately below)
BODY = {"name": "Data engineering, Berlin",
        "skills": {"required": ["python", "sql"], "preferred": ["spark", "k8s"]},
        "places": [{"place": "Berlin", "radius_km": 50}, {"remote": True}],
        "min_score": 0.6}
BERLIN_50 = "Berlin, DE (50 km)"

MEMBERS = {
    # name: (skills, location, value, relevant, matched required, matched preferred, place)
    # 2/2 required, k8s of 2 preferred: 0.7 + 0.3 × 1/2 = 0.85; Potsdam is 27.2 km from Berlin: × 1
    "ada": (["Python", "postgres", "SQL", "Kubernetes"], "Potsdam", 0.85, True, ["python", "sql"], ["k8s"], BERLIN_50),
    # python only: 0.7 × 1/2 = 0.35, PySpark and k8s: + 0.3 × 2/2 = 0.65; remote matches remote: × 1
    "bo": (["python", "PySpark", "k8s"], "remote", 0.65, True, ["python"], ["spark", "k8s"], "remote"),
    # sql + spark: 0.35 + 0.15 = 0.5; Munich is 505 km away and not remote: × 0
    "cy": (["SQL", "spark"], "Munich, Germany", 0.0, False, ["sql"], ["spark"], None),
    # Python3 (ESCO alternative label) + sql: 0.7; no location: × 0.5 = 0.35
    "di": (["Python3", "sql", "Data Mesh"], None, 0.35, False, ["python", "sql"], [], None),
    # js is no skill of the profile, Spark is: 0.3 × 1/2 = 0.15; Frankfurt (Oder) is 79.7 km away: × 0
    "ed": (["js", "Spark"], "Frankfurt (Oder)", 0.0, False, [], ["spark"], None),
    # everything: 1.0; "Germany" holds Berlin but may be 800 km from it: unknown, × 0.5 = 0.5 < 0.6
    "fa": (["python", "sql", "spark", "kubernetes"], "Germany", 0.5, False, ["python", "sql"], ["spark", "k8s"], None),
    # 1.0 × 1, Berlin itself (distance 0)
    "gu": (["PYTHON", "SQL", "Apache Spark", "k8s"], "berlin de", 1.0, True, ["python", "sql"], ["spark", "k8s"],
           BERLIN_50),
    # nothing known: 0
    "hu": ([], "Berlin", 0.0, False, [], [], BERLIN_50),
}


@pytest.fixture(scope="module")
def profile() -> CompiledProfile:
    warm()
    return compile_profile(ProfileBody.model_validate(BODY))


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_scores_of_a_fixed_member_set(profile, name):
    skills, location, value, relevant, required, preferred, place = MEMBERS[name]
    result = score(profile, member_facts(skills, location))
    assert (result.value, result.relevant) == (value, relevant)
    assert (result.matched_required, result.matched_preferred, result.place) == (required, preferred, place)


def test_the_relevant_members_best_first(profile):
    scored = {name: score(profile, member_facts(m[0], m[1])) for name, m in MEMBERS.items()}
    relevant = sorted((name for name, s in scored.items() if s.relevant), key=lambda name: -scored[name].value)
    assert relevant == ["gu", "ada", "bo"]


def test_a_country_place_takes_every_city_in_it():
    body = {**BODY, "places": [{"country": "DE"}]}
    profile = compile_profile(ProfileBody.model_validate(body))
    fa = score(profile, member_facts(["python", "sql", "spark", "kubernetes"], "Germany"))
    cy = score(profile, member_facts(["SQL", "spark"], "Munich, Germany"))
    bo = score(profile, member_facts(["python", "PySpark", "k8s"], "remote"))
    assert (fa.value, fa.place, cy.value, cy.place) == (1.0, "DE", 0.5, "DE")
    assert (bo.value, bo.relevant) == (0.0, False)  # remote is not in Germany


def test_a_wider_radius_reaches_farther():
    profile = compile_profile(ProfileBody.model_validate({**BODY, "places": [{"place": "Berlin", "radius_km": 80}]}))
    ed = score(profile, member_facts(["js", "Spark"], "Frankfurt (Oder)"))  # 79.7 km ≤ 80
    assert (ed.value, ed.place) == (0.15, "Berlin, DE (80 km)")


def test_no_places_means_anywhere_and_no_min_score_means_the_default():
    profile = compile_profile(ProfileBody.model_validate(
        {"name": "Python", "skills": {"required": ["python"], "preferred": []}}))
    assert profile.min_score == DEFAULT_MIN_SCORE == 0.5
    result = score(profile, member_facts(["Python"], "Tokyo"))
    assert (result.value, result.relevant, result.place) == (1.0, True, None)


def test_only_preferred_skills_or_none_at_all():
    preferred_only = compile_profile(ProfileBody.model_validate(
        {"name": "p", "skills": {"preferred": ["go", "rust", "kotlin"]}}))
    # golang is Go: 1 of 3 preferred; no places in the profile, so no location is no penalty
    assert score(preferred_only, member_facts(["golang"], None)).value == round(1 / 3, 4) == 0.3333
    nothing = compile_profile(ProfileBody.model_validate({"name": "n", "skills": {}, "places": [{"remote": True}]}))
    assert score(nothing, member_facts([], "anywhere")).value == 1.0


def test_unknown_terms_and_places_match_verbatim():
    profile = compile_profile(ProfileBody.model_validate(
        {"name": "mesh", "skills": {"required": ["Data Mesh"]}, "places": [{"place": "Atlantis Campus"}]}))
    assert profile.places[0].resolved is None
    hit = score(profile, member_facts(["data  mesh"], "atlantis   campus"))
    assert (hit.value, hit.matched_required, hit.place) == (1.0, ["Data Mesh"], "Atlantis Campus")
    # an unknown place elsewhere is unknown to us: 0.5
    assert score(profile, member_facts(["data mesh"], "Springfield Office Park")).value == 0.5


def test_synonyms_in_the_profile_count_once():
    profile = compile_profile(ProfileBody.model_validate(
        {"name": "js", "skills": {"required": ["js", "JavaScript"], "preferred": ["javascript", "sql"]}}))
    result = score(profile, member_facts(["Java script", "SQL"], None))
    # one required concept (matched) and one preferred (sql; javascript is already required): 0.7 + 0.3
    assert (result.value, result.matched_required, result.matched_preferred) == (1.0, ["js"], ["sql"])
    assert score(profile, member_facts(["SQL"], None)).value == 0.3


def test_compiled_profile_and_member_facts_survive_json(profile):
    stored = CompiledProfile.model_validate(profile.model_dump(mode="json"))
    facts = member_facts(*MEMBERS["ada"][:2])
    again = MemberFacts.model_validate(facts.model_dump(mode="json"))
    assert score(stored, again) == score(profile, facts)
    assert stored.places[0].resolved.geoname_id == 2950159


def test_min_score_zero_still_needs_some_score():
    profile = compile_profile(ProfileBody.model_validate({**BODY, "min_score": 0}))
    assert score(profile, member_facts([], "Tokyo")).relevant is False


# ---- the body's validation (422 naming the field and rule)


def _errors(body: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as raised:
        ProfileBody.model_validate(body)
    return [(error["loc"], error["type"]) for error in raised.value.errors()]


def test_the_issues_body_is_accepted():
    body = ProfileBody.model_validate({**BODY, "places": [{"place": "Berlin", "radius_km": 50}, {"country": "DE"},
                                                          {"remote": True}]})
    assert [type(place).__name__ for place in body.places] == ["NearPlace", "CountryPlace", "RemotePlace"]
    assert ProfileBody.model_validate({**BODY, "places": [{"place": "Berlin"}]}).places[0].radius_km == 50


@pytest.mark.parametrize(("place", "loc", "rule"), [
    ({"place": "Berlin", "country": "DE"}, ("places", 0), "place_kind"),
    ({}, ("places", 0), "place_kind"),
    ("Berlin", ("places", 0), "place_kind"),
    ({"radius_km": 5}, ("places", 0), "place_kind"),
    ({"place": "Berlin", "radius_km": 0}, ("places", 0, "place", "radius_km"), "greater_than"),
    ({"place": "Berlin", "radius_km": 1001}, ("places", 0, "place", "radius_km"), "less_than_equal"),
    ({"place": "Berlin", "zoom": 3}, ("places", 0, "place", "zoom"), "extra_forbidden"),
    ({"remote": False}, ("places", 0, "remote", "remote"), "literal_error"),
    ({"place": ""}, ("places", 0, "place", "place"), "string_too_short"),
])
def test_a_place_is_exactly_one_of_three_shapes(place, loc, rule):
    assert _errors({**BODY, "places": [place]}) == [(loc, rule)]


@pytest.mark.parametrize(("change", "loc", "rule"), [
    ({"name": " "}, ("name",), "string_too_short"),
    ({"min_score": 1.5}, ("min_score",), "less_than_equal"),
    ({"skills": {"required": ["x" * 61]}}, ("skills", "required", 0), "string_too_long"),
    ({"skills": {"required": ["x"] * 51}}, ("skills", "required"), "too_long"),
    ({"places": [{"remote": True}] * 21}, ("places",), "too_long"),
    ({"owner": "me"}, ("owner",), "extra_forbidden"),
])
def test_other_fields_are_bounded(change, loc, rule):
    assert _errors({**BODY, **change}) == [(loc, rule)]


def test_a_place_that_names_a_country_or_remote_is_one():
    profile = compile_profile(ProfileBody.model_validate(
        {"name": "x", "skills": {}, "places": [{"place": "Germany", "radius_km": 10}, {"place": "anywhere"},
                                                {"country": "Narnia"}]}))
    assert [(p.resolved and p.resolved.kind, p.radius_km, p.label) for p in profile.places] == [
        ("country", None, "DE"), ("remote", None, "remote"), (None, None, "Narnia")]
    assert score(profile, member_facts([], "Hamburg")).place == "DE"
    assert score(profile, member_facts([], "WFH")).place == "remote"
    assert score(profile, member_facts([], "narnia")).place == "Narnia"  # verbatim
