"""Skills and places resolve with open data (ESCO, GeoNames): synonyms, unknown terms, ambiguous names, countries."""

import math

import pytest

from attract.geo import distance_km
from attract.relevance.places import fold_place, resolve_country, resolve_place
from attract.relevance.skills import resolve_skill

PYTHON = "esco:ccd0a1d9-afda-43d9-b901-96344886e14d"  # http://data.europa.eu/esco/skill/ccd0a1d9-…
JAVASCRIPT = "esco:3cd569a2-4f88-4c1e-9995-8dce8c5e51a7"
POSTGRESQL = "esco:a8d07b5a-c1a1-42c6-9d53-db9c7a2ca996"
BERLIN, POTSDAM, FRANKFURT_MAIN, FRANKFURT_ODER = 2950159, 2852458, 2925533, 2925535  # GeoNames ids
PARIS_FR, PARIS_TX = 2988507, 4717560


# ---- skills


@pytest.mark.parametrize(("term", "concept_id", "label"), [
    ("JavaScript", JAVASCRIPT, "JavaScript"),  # ESCO preferred label
    ("javascript", JAVASCRIPT, "JavaScript"),  # case-folded
    ("Java script", JAVASCRIPT, "JavaScript"),  # ESCO alternative label
    ("js", JAVASCRIPT, "JavaScript"),  # the supplement's label on the ESCO concept
    ("postgres", POSTGRESQL, "PostgreSQL"),  # ESCO alternative label
    ("  PostgreSQL ", POSTGRESQL, "PostgreSQL"),
    ("Python3", PYTHON, "Python (computer programming)"),  # ESCO alternative label
    ("k8s", "attract:kubernetes", "Kubernetes"),  # the supplement: ESCO has no Kubernetes
    ("Kubernetes", "attract:kubernetes", "Kubernetes"),
    ("spark", "attract:apache-spark", "Apache Spark"),  # the supplement wins over ESCO's unrelated SPARK
    ("C Sharp", "esco:4c016b68-4116-468c-9dc6-42710c239e4a", "C#"),
    # ESCO gives "ML" to two concepts; the supplement says machine learning, the language keeps its full name
    ("ML", "esco:3a2d5b45-56e4-4f5a-a55a-4a4a65afdc43", "machine learning"),
    ("ML (computer programming)", "esco:a4d336a6-9ffd-402a-91cc-f359716ba4e0", "ML (computer programming)"),
])
def test_skills_resolve_through_preferred_and_alternative_labels(term, concept_id, label):
    resolved = resolve_skill(term)
    assert (resolved.concept_id, resolved.label) == (concept_id, label)
    assert resolved.term == term.strip()  # what was typed stays, for display


def test_synonyms_share_one_key_and_different_skills_do_not():
    assert resolve_skill("js").key == resolve_skill("JavaScript").key == JAVASCRIPT
    assert resolve_skill("k8s").key == resolve_skill("KUBERNETES").key
    assert resolve_skill("Java").key != resolve_skill("JavaScript").key  # two ESCO concepts


def test_unknown_terms_are_kept_verbatim_and_match_only_themselves_folded():
    mesh = resolve_skill("Data Mesh")
    assert (mesh.term, mesh.concept_id, mesh.label) == ("Data Mesh", None, "Data Mesh")
    assert mesh.key == resolve_skill("data   MESH").key == "term:data mesh"
    assert mesh.key != resolve_skill("data meshes").key


def test_an_esco_preferred_label_beats_another_concepts_alternative_label():
    # "MATLAB" is ESCO's MATLAB and also an alternative label of "computer vision": the build drops the latter
    assert resolve_skill("matlab").label == "MATLAB"


# ---- places


@pytest.mark.parametrize("text", ["Berlin", "Berlin, Germany", "berlin de", "BERLIN (DE)", "Berlin, DEU",
                                  "berlin deutschland"])
def test_spellings_of_one_city_are_one_geonames_place(text):
    place = resolve_place(text)
    assert place is not None
    assert (place.kind, place.geoname_id, place.name, place.country, place.ambiguous) == (
        "city", BERLIN, "Berlin", "DE", False)
    assert (place.latitude, place.longitude) == (52.52437, 13.41053)
    assert place.text == text


def test_an_ambiguous_name_takes_the_most_populous_place_and_says_so():
    paris = resolve_place("Paris")
    assert (paris.geoname_id, paris.country, paris.ambiguous) == (PARIS_FR, "FR", True)
    # Frankfurt is the own name of neither: both are "Frankfurt" by alternate name; am Main is the larger
    frankfurt = resolve_place("Frankfurt")
    assert (frankfurt.geoname_id, frankfurt.name, frankfurt.ambiguous) == (FRANKFURT_MAIN, "Frankfurt am Main", True)


@pytest.mark.parametrize(("text", "geoname_id"), [
    ("Paris, TX", PARIS_TX), ("paris us", PARIS_TX), ("Paris, Texas", PARIS_TX), ("Paris, France", PARIS_FR),
    ("Frankfurt (Oder)", FRANKFURT_ODER), ("Frankfurt Oder", FRANKFURT_ODER), ("Frankfurt am Main", FRANKFURT_MAIN),
])
def test_a_qualifier_picks_the_namesake(text, geoname_id):
    place = resolve_place(text)
    assert (place.geoname_id, place.ambiguous) == (geoname_id, False)


def test_accents_and_local_names_fold():
    assert fold_place("Zürich") == fold_place("ZURICH") == "zurich"
    assert resolve_place("München").geoname_id == resolve_place("Munich").geoname_id == 2867714
    assert resolve_place("Köln").geoname_id == resolve_place("Cologne").geoname_id


@pytest.mark.parametrize(("text", "code", "name"), [
    ("DE", "DE", "Germany"), ("deu", "DE", "Germany"), ("Germany", "DE", "Germany"), ("Deutschland", "DE", "Germany"),
    ("UK", "GB", "United Kingdom"), ("United States", "US", "United States"), ("USA", "US", "United States"),
])
def test_countries_resolve_by_code_and_name(text, code, name):
    for place in (resolve_place(text), resolve_country(text)):
        assert (place.kind, place.country, place.name, place.latitude) == ("country", code, name, None)


@pytest.mark.parametrize("text", ["remote", "Remote", "anywhere", "Home Office", "work from home", "WFH",
                                  "Remote (EU)", "remote, Germany"])
def test_remote_words_resolve_to_remote(text):
    place = resolve_place(text)
    assert (place.kind, place.country, place.geoname_id) == ("remote", None, None)


@pytest.mark.parametrize("text", ["Atlantis, Germany", "Paris, Germany", "nowhere-ville", "", "   ", ","])
def test_unknown_places_resolve_to_nothing(text):
    assert resolve_place(text) is None
    assert resolve_country(text or "x") is None


def test_radius_matching_works_on_coordinates():
    berlin, potsdam, oder = resolve_place("Berlin"), resolve_place("Potsdam"), resolve_place("Frankfurt (Oder)")
    # By hand (equirectangular, good at this scale): Potsdam is 0.12551° of latitude south (13.96 km) and
    # 0.34487° of longitude west (× cos 52.46° × 111.19 = 23.36 km) of Berlin: √(13.96² + 23.36²) = 27.2 km.
    assert distance_km(berlin.latitude, berlin.longitude, potsdam.latitude, potsdam.longitude) == pytest.approx(27.2, abs=0.1)
    # Frankfurt (Oder): 0.17723° south (19.71 km), 1.14009° east (× cos 52.44° × 111.19 = 77.25 km): 79.7 km
    assert distance_km(berlin.latitude, berlin.longitude, oder.latitude, oder.longitude) == pytest.approx(79.7, abs=0.2)
    # A quarter of the equator is a quarter of the circumference
    assert distance_km(0, 0, 0, 90) == pytest.approx(2 * math.pi * 6371.0088 / 4)
