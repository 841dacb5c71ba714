"""attract.relevance.rescoring with an in-memory store and a scorer whose results the test states: which
members enter and leave a profile, scope `any`, at most once per version, stale walks, erasure."""

from dataclasses import dataclass
from datetime import datetime, timezone

from attract.relevance.records import IndexedMember, StoredScore
from attract.relevance.rescoring import (
    ProfileVersion,
    forget_member,
    plan_change,
    remove_profile_page,
    rescore_page,
    score_new_member,
)
from tests.unit.fakes import MemoryScores


@dataclass
class Result:
    value: float
    relevant: bool


def scorer(profile, facts):
    """A profile "compiled" as {skill: weight} and a min score; a member's facts are their skills."""
    weights, minimum = profile
    value = round(sum(weights.get(skill, 0) for skill in facts), 4)
    return Result(value, value >= minimum)


def facts_of(skills, location):
    return skills


def member(h: str, *skills: str) -> IndexedMember:
    return IndexedMember(email_hash=h, joined_at=datetime(2026, 12, 1, tzinfo=timezone.utc), skills=list(skills))


def store_with(*members: IndexedMember, versions=None) -> MemoryScores:
    store = MemoryScores(versions or {})
    for m in members:
        store.index[m.email_hash] = m
    return store


def test_plan_writes_only_what_changes():
    m = member("a")
    p = ProfileVersion("p", 2, None)
    assert plan_change(m, p, 0.2, False, None) is None  # stays irrelevant: no write
    assert plan_change(m, p, 0.9, True, StoredScore(profile_id="p", version=2, score=0.1, relevant=False)) is None
    assert plan_change(m, p, 0.9, True, StoredScore(profile_id="p", version=1, score=0.9, relevant=True)) is None
    moved = plan_change(m, p, 0.8, True, StoredScore(profile_id="p", version=1, score=0.9, relevant=True))
    assert moved is not None and (moved.score, moved.was_relevant, moved.enters_any) == (0.8, True, False)
    left = plan_change(m, p, 0.1, False, StoredScore(profile_id="p", version=1, score=0.9, relevant=True))
    assert left is not None and left.leaves_any is False  # the member's set does not hold p: not the last one


def test_a_new_member_against_every_profile_counts_any_once():
    store = store_with(member("a", "py", "sql"), versions={"p1": 1, "p2": 1, "p3": 1})
    profiles = [ProfileVersion("p1", 1, ({"py": 1.0}, 0.5)), ProfileVersion("p2", 1, ({"sql": 0.6}, 0.5)),
                ProfileVersion("p3", 1, ({"go": 1.0}, 0.5))]
    tally = score_new_member("a", profiles, store, scorer, facts_of)
    # Relevant to p1 (1.0) and p2 (0.6), not p3 (0.0): two writes, `any` counted once
    assert (tally.scored, tally.entered) == (2, 2)
    assert store.counts == {"p1": 1, "p2": 1, "any": 1}
    assert store.index["a"].relevant == {"p1", "p2"}
    # Delivered again: nothing more
    again = score_new_member("a", profiles, store, scorer, facts_of)
    assert (again.scored, store.counts) == (0, {"p1": 1, "p2": 1, "any": 1})


def test_an_edit_moves_members_in_and_out_and_any_follows():
    store = store_with(member("a", "py"), member("b", "go"), member("c", "py", "go"),
                       versions={"p": 1, "q": 1})
    v1 = ProfileVersion("p", 1, ({"py": 1.0}, 0.5))
    q = ProfileVersion("q", 1, ({"go": 0.5, "py": 0.5}, 0.9))
    rescore_page(v1, "", store, scorer, facts_of)
    rescore_page(q, "", store, scorer, facts_of)
    assert store.counts == {"p": 2, "q": 1, "any": 2}  # p: a, c; q: c (1.0); any: a, c
    # When p's next version wants go instead
    store.profile_versions["p"] = 2
    v2 = ProfileVersion("p", 2, ({"go": 1.0}, 0.5))
    tally, read, cursor = rescore_page(v2, "", store, scorer, facts_of)
    # Then a leaves (and leaves any: p was its only profile), b enters (and enters any), c stays (q holds it too)
    assert (tally.entered, tally.left, read, cursor) == (1, 1, 3, None)
    assert store.counts == {"p": 2, "q": 1, "any": 2} and store.index["a"].relevant == set()
    assert store.index["b"].relevant == {"p"} and store.index["c"].relevant == {"p", "q"}
    # A redelivered page counts nothing twice; the stale version's page stops at its first write
    assert rescore_page(v2, "", store, scorer, facts_of)[0].scored == 0
    stale, _, stale_cursor = rescore_page(ProfileVersion("p", 1, ({"py": 1.0}, 0.5)), "", store, scorer, facts_of)
    assert (stale.scored, stale_cursor) == (0, None) and store.counts == {"p": 2, "q": 1, "any": 2}


def test_pages_walk_the_index_with_a_cursor():
    store = store_with(*[member(f"{n:02d}", "py") for n in range(5)], versions={"p": 1})
    p = ProfileVersion("p", 1, ({"py": 1.0}, 0.5))
    cursor, pages = "", 0
    while cursor is not None:
        _, _, cursor = rescore_page(p, cursor, store, scorer, facts_of, limit=2)
        pages += 1
    assert pages == 3 and store.counts == {"p": 5, "any": 5}


def test_a_racing_profile_is_replanned_not_double_counted():
    # Given a member relevant to nothing, scored for p while another writer makes them relevant to q
    store = store_with(member("a", "py"), versions={"p": 1, "q": 1})

    def other_writer():
        store.index["a"].relevant.add("q")
        store.counts["q"] = store.counts.get("q", 0) + 1
        store.counts["any"] = store.counts.get("any", 0) + 1

    store.race = other_writer
    score_new_member("a", [ProfileVersion("p", 1, ({"py": 1.0}, 0.5))], store, scorer, facts_of)
    # Then p is counted, and `any` only once (q's writer counted it; p's was re-planned on the new set)
    assert store.counts == {"q": 1, "p": 1, "any": 1}


def test_deleting_a_profile_uncounts_it_and_forgetting_a_member_keeps_the_anonymous_counts():
    store = store_with(member("a", "py"), member("b", "py", "go"), versions={"p": 1, "q": 1})
    for profile in (ProfileVersion("p", 1, ({"py": 1.0}, 0.5)), ProfileVersion("q", 1, ({"go": 1.0}, 0.5))):
        rescore_page(profile, "", store, scorer, facts_of)
    assert store.counts == {"p": 2, "any": 2, "q": 1}
    remove_profile_page("p", "", store)
    assert store.counts == {"p": 0, "any": 1, "q": 1} and store.matches["p"] == {}
    # An erased member: nothing of theirs is left, and the counts (anonymous, as the join counts) stay
    assert forget_member("b", store).left == 1
    assert store.counts == {"p": 0, "any": 1, "q": 1} and "b" not in store.index
    assert store.scores_of("b") == {} and store.matches["q"] == {}


def test_if_match_names_a_version_or_is_refused():
    import pytest

    from attract.errors import InvalidRequestError
    from attract.relevance.profiles import if_match_version

    assert [if_match_version(v) for v in (None, '"3"', "3", 'W/"12"')] == [None, 3, 3, 12]
    for bad in ("*", "", '"x"', "²", "-1", "1" * 19):
        with pytest.raises(InvalidRequestError):
            if_match_version(bad)
