"""Scoring members against target profiles, off the request path: on join, after a profile change, on deletion.

Pure logic over ports (no boto3): the stores are `attract.relevance.member_repository` and
`attract.relevance.profile_repository`, the scorer is `attract.relevance.scoring` (passed in as functions, so the
logic is tested with fakes and the joins function never loads the taxonomy).

At most once per member and profile version: a change is written with the member's score item in one
transaction whose condition is "no score for this version yet" and "the profile is still at this version", with
the relevance aggregates (attract.attribution.relevant) and the member's set of relevant profiles. A redelivered
message finds the score written and writes nothing; a stale version finds the profile moved on and stops.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from attract.relevance.records import IndexedMember, StoredScore

Applied = Literal["applied", "already", "stale", "retry"]
MAX_RETRIES = 5
PAGE_SIZE = 100  # members per re-scoring message: one index Query page, one BatchGetItem of their scores


@dataclass(frozen=True)
class ProfileVersion:
    profile_id: str
    version: int
    compiled: Any  # attract.relevance.models.CompiledProfile


@dataclass(frozen=True)
class Change:
    """What scoring `member` against one profile version changes: the score item, the match, the aggregates."""

    member: IndexedMember
    profile_id: str
    version: int
    score: float
    relevant: bool
    old: StoredScore | None

    @property
    def was_relevant(self) -> bool:
        return bool(self.old and self.old.relevant)

    @property
    def enters_any(self) -> bool:
        """The member's set of relevant profiles turns non-empty: count them under scope `any`."""
        return self.relevant and not self.was_relevant and not (self.member.relevant - {self.profile_id})

    @property
    def leaves_any(self) -> bool:
        return self.was_relevant and not self.relevant and self.member.relevant == {self.profile_id}


@dataclass
class Tally:
    scored: int = 0
    entered: int = 0
    left: int = 0
    already: int = 0
    stale: bool = False
    profiles: set[str] = field(default_factory=set)


class ScoreStore(Protocol):
    def member(self, email_hash: str) -> IndexedMember | None: ...
    def members(self, email_hashes: list[str]) -> list[IndexedMember]: ...
    def scores_of(self, email_hash: str) -> dict[str, StoredScore]: ...
    def scores_for(self, profile_id: str, email_hashes: list[str]) -> dict[str, StoredScore]: ...
    def member_page(self, cursor: str, limit: int) -> tuple[list[IndexedMember], str | None]: ...
    def match_page(self, profile_id: str, cursor: str, limit: int) -> tuple[list[str], str | None]: ...
    def apply(self, change: Change, check_profile: bool = True) -> Applied: ...
    def remove_match(self, profile_id: str, score: float, email_hash: str) -> None: ...
    def remove_scores(self, email_hash: str) -> None: ...
    def remove_index(self, email_hash: str) -> None: ...


Scorer = Callable[[Any, Any], Any]  # (CompiledProfile, MemberFacts) -> Score
FactsOf = Callable[[list[str], str | None], Any]  # (skills, location) -> MemberFacts


def plan_change(member: IndexedMember, profile: ProfileVersion, value: float, relevant: bool,
                old: StoredScore | None) -> Change | None:
    """The change to write, or None when there is nothing to: this version was scored already, or the member
    stays irrelevant, or stays relevant with the same score (no item, match or count would differ)."""
    if old is not None and old.version >= profile.version:
        return None
    was = bool(old and old.relevant)
    if not was and not relevant:
        return None
    if was and relevant and old is not None and round(old.score, 4) == round(value, 4):
        return None
    return Change(member, profile.profile_id, profile.version, round(value, 4), relevant, old)


def _apply(change: Change, store: ScoreStore, profile: ProfileVersion, scorer: Scorer, facts: Any,
           tally: Tally, check_profile: bool = True) -> bool:
    """Write one change, re-planned after a racing write moved the member's set of relevant profiles. False: stale."""
    current: Change | None = change
    for _ in range(MAX_RETRIES):
        if current is None:
            return True
        outcome = store.apply(current, check_profile)
        if outcome == "applied":
            tally.scored += 1
            tally.entered += current.relevant and not current.was_relevant
            tally.left += current.was_relevant and not current.relevant
            return True
        if outcome == "already":
            tally.already += 1
            return True
        if outcome == "stale":
            tally.stale = True
            return False
        member = store.member(change.member.email_hash)
        if member is None:  # erased meanwhile: nothing of theirs is scored again
            return True
        old = store.scores_of(member.email_hash).get(profile.profile_id)
        result = scorer(profile.compiled, facts) if facts is not None else None
        current = (plan_change(member, profile, result.value, result.relevant, old) if result is not None
                   else _removal(member, profile, old))
    raise RuntimeError("the member's relevance kept changing under the scorer")  # the message is retried


def score_new_member(email_hash: str, profiles: Iterable[ProfileVersion], store: ScoreStore, scorer: Scorer,
                     facts_of: FactsOf) -> Tally:
    """A member who just joined (message kind `member`), against every profile."""
    tally = Tally()
    member = store.member(email_hash)
    if member is None:
        return tally
    facts = facts_of(member.skills, member.location)
    olds = store.scores_of(email_hash)
    for profile in profiles:
        result = scorer(profile.compiled, facts)
        change = plan_change(member, profile, result.value, result.relevant, olds.get(profile.profile_id))
        if change is not None:
            _apply(change, store, profile, scorer, facts, tally)
            # The next profile plans on the set as written (no read: a racing writer fails its condition instead)
            moved = member.relevant | {profile.profile_id} if change.relevant else member.relevant - {profile.profile_id}
            member = member.model_copy(update={"relevant": moved})
        tally.profiles.add(profile.profile_id)
    return tally


def rescore_page(profile: ProfileVersion, cursor: str, store: ScoreStore, scorer: Scorer, facts_of: FactsOf,
                 limit: int = PAGE_SIZE) -> tuple[Tally, int, str | None]:
    """One page of the member index against one profile version: (tally, members read, next cursor or None)."""
    tally = Tally()
    members, next_cursor = store.member_page(cursor, limit)
    olds = store.scores_for(profile.profile_id, [m.email_hash for m in members])
    for member in members:
        facts = facts_of(member.skills, member.location)
        result = scorer(profile.compiled, facts)
        change = plan_change(member, profile, result.value, result.relevant, olds.get(member.email_hash))
        if change is not None and not _apply(change, store, profile, scorer, facts, tally):
            return tally, len(members), None  # the profile changed again: this walk stops, the new one goes on
    return tally, len(members), next_cursor


def _removal(member: IndexedMember, profile: ProfileVersion, old: StoredScore | None) -> Change | None:
    if old is None or not old.relevant:
        return None
    return Change(member, profile.profile_id, profile.version, 0.0, False, old)


def remove_profile_page(profile_id: str, cursor: str, store: ScoreStore,
                        limit: int = PAGE_SIZE) -> tuple[Tally, str | None]:
    """A deleted profile: one page of its matches un-counted (its aggregates and scope `any`) and removed."""
    tally = Tally()
    hashes, next_cursor = store.match_page(profile_id, cursor, limit)
    olds = store.scores_for(profile_id, hashes)
    # Far above any version the profile had: the removal passes every score's version fence.
    gone = ProfileVersion(profile_id, 2**62, None)
    for member in store.members(hashes):
        change = _removal(member, gone, olds.get(member.email_hash))
        if change is not None:
            _apply(change, store, gone, lambda *_: None, None, tally, check_profile=False)
    return tally, next_cursor


def forget_member(email_hash: str, store: ScoreStore) -> Tally:
    """Erasure (issue 15): every relevance item of the member removed (matches, scores, index entry). Their share of
    the relevance aggregates stays, as their join does in the join aggregates: those counts are anonymous, and the
    report keeps its totals. `left` counts the matches removed."""
    tally = Tally()
    for profile_id, old in sorted(store.scores_of(email_hash).items()):
        if old.relevant:
            store.remove_match(profile_id, old.score, email_hash)
            tally.left += 1
    store.remove_scores(email_hash)
    store.remove_index(email_hash)
    return tally
