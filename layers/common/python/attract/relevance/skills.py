"""Skill terms to concepts: ESCO's ICT skills (vendored, CC BY 4.0) plus a small reviewed supplement.

`data/esco_skills.json` is built by attract_local/build_skills.py from ESCO v1.1.1 (see data/LICENSE-ESCO.md):
each concept's preferred label and every alternative label point at the concept, so "Postgres" is
PostgreSQL and "C Sharp" is C#. `data/skills_supplement.json` adds what ESCO lacks or names for another
thing (Kubernetes/k8s, Apache Spark, "js"), each entry with the reason it is there; it wins over ESCO
for the labels it lists. A term that resolves to nothing is kept verbatim and matches only itself,
case- and space-folded ("Data Mesh" == "data  mesh").

Both files are read once, on first use (a few ms; warm() does it at cold start), from the layer.
"""

import json
from functools import lru_cache
from importlib import resources

from attract.relevance.models import ResolvedSkill, fold

ESCO_PREFIX = "esco:"  # concept ids: "esco:<uuid of http://data.europa.eu/esco/skill/<uuid>>", "attract:<slug>"


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[str, str]]:
    """Folded label -> (concept id, preferred label)."""
    data = resources.files("attract.relevance") / "data"
    esco = json.loads((data / "esco_skills.json").read_text(encoding="utf-8"))
    supplement = json.loads((data / "skills_supplement.json").read_text(encoding="utf-8"))
    index: dict[str, tuple[str, str]] = {}
    for concept_id, label, _alternatives in esco["concepts"]:
        index[fold(label)] = (ESCO_PREFIX + concept_id, label)
    for concept_id, label, alternatives in esco["concepts"]:
        for alternative in alternatives:
            # A preferred label beats another concept's alternative; labels two concepts share as
            # alternatives were left out by the build (build_skills.py), so the order here does not matter.
            index.setdefault(fold(alternative), (ESCO_PREFIX + concept_id, label))
    labels = {concept_id: label for concept_id, label in index.values()}
    for entry in supplement["entries"]:
        concept_id = entry.get("concept_id") or ESCO_PREFIX + entry["esco_id"]
        label = entry.get("label") or labels[concept_id]  # an ESCO concept it adds labels to must exist
        for term in [label, *entry["labels"]]:
            index[fold(term)] = (concept_id, label)
    return index


@lru_cache(maxsize=65536)
def resolve_skill(term: str) -> ResolvedSkill:
    """The concept a skill term names; an unknown term comes back with concept_id None and itself as label."""
    term = term.strip()
    found = _index().get(fold(term))
    if found is None:
        return ResolvedSkill(term=term, concept_id=None, label=term)
    return ResolvedSkill(term=term, concept_id=found[0], label=found[1])
