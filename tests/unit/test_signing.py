import re
from datetime import datetime, timezone

from attract.dimensions import VISITOR_ID_PATTERN
from attract.links.models import Link
from attract.signing import Signer
from attract.tracking.logic import ClickRequest, handle_click
from tests.unit.fakes import MemoryLinks, MemoryTouches

SIGNER = Signer("k" * 64)


def test_signed_ids_fit_the_visitor_id_pattern_and_verify_only_for_their_purpose_and_key():
    visitor, click = SIGNER.new_visitor_id(), SIGNER.new_click_id()
    assert re.fullmatch(VISITOR_ID_PATTERN, visitor) and re.fullmatch(VISITOR_ID_PATTERN, click)
    assert SIGNER.is_visitor_id(visitor) and SIGNER.is_click_id(click)
    assert not SIGNER.is_visitor_id(click) and not SIGNER.is_click_id(visitor)
    assert not Signer("other").is_visitor_id(visitor)
    flipped = visitor[:30] + ("A" if visitor[30] != "A" else "B") + visitor[31:]
    for bad in (flipped, visitor[:-1], visitor + "A", "Ky6CYO0h4UJ06YCLle1L_A", "", None, "é" * 44):
        assert not SIGNER.is_visitor_id(bad), bad


def test_token_vector_is_pinned():
    # A changed MAC construction would kill every link in flight: pin it (HMAC-SHA256(key, purpose \\n body)).
    token = Signer("key").token("join-confirm", ["ab", "cd"], 1800000000)
    assert token == "ab.cd.1800000000.Zg_ttyHJPhjIe7HQtOjECcHx5GcJLx0ET0Fy1W0YWrU"
    assert Signer("key").open("join-confirm", token, 1799999999, 2) == ["ab", "cd"]
    assert Signer("key").open("join-confirm", token, 1800000000, 2) is None  # expired
    assert Signer("key").open("invite", token, 1799999999, 2) is None  # another purpose


def test_redirect_issues_signed_ids_and_replaces_an_unsigned_cookie():
    now = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    link = Link(code="Ab3dE5gH", destination="https://careers.example.com/", campaign="C", channel="email",
                source="crm", medium="email", created_at=now, created_by="u1")
    old = "Ky6CYO0h4UJ06YCLle1L_A"  # issued before signing: valid pattern, no MAC
    outcome = handle_click(ClickRequest(code=link.code, visitor_cookie=old, user_agent="Mozilla/5.0 Chrome/126"),
                           MemoryLinks(link), MemoryTouches(), now, 400, signer=SIGNER)
    assert outcome.visitor_id != old and SIGNER.is_visitor_id(outcome.visitor_id) and SIGNER.is_click_id(outcome.click_id)
    again = handle_click(ClickRequest(code=link.code, visitor_cookie=outcome.visitor_id, user_agent="Mozilla/5.0 Chrome/126"),
                         MemoryLinks(link), MemoryTouches(), now, 400, signer=SIGNER)
    assert again.visitor_id == outcome.visitor_id


# ---- rotation: sign with the current key, verify with it and then (lazily) with the previous one

class PreviousKeys:
    """What Secrets Manager holds under AWSPREVIOUS, counting the reads."""

    def __init__(self, *keys: str):
        self.keys, self.reads = list(keys), 0

    def __call__(self) -> list[str]:
        self.reads += 1
        return self.keys


def test_values_signed_before_a_rotation_still_verify_and_new_ones_use_the_new_key():
    old = Signer("old-key")
    visitor, token = old.new_visitor_id(), old.token("unsubscribe", ["ab", "cd"], 1800000000)
    previous = PreviousKeys("old-key")
    rotated = Signer("new-key", previous=previous)
    assert rotated.is_visitor_id(visitor)
    assert rotated.open("unsubscribe", token, 1700000000, 2) == ["ab", "cd"]
    assert previous.reads == 1  # once per Signer, however many values need it
    fresh = rotated.new_visitor_id()
    assert Signer("new-key").is_visitor_id(fresh) and not old.is_visitor_id(fresh)
    assert not rotated.is_click_id(visitor)  # the purpose still binds under the previous key


def test_the_previous_key_is_read_only_when_the_current_one_fails():
    previous = PreviousKeys("old-key")
    signer = Signer("new-key", previous=previous)
    current = Signer("new-key")
    assert signer.is_visitor_id(current.new_visitor_id())
    assert signer.open("join-confirm", current.token("join-confirm", ["a"], 1800000000), 1700000000, 1) == ["a"]
    assert signer.open("join-confirm", current.token("join-confirm", ["a"], 1600000000), 1700000000, 1) is None
    assert not signer.is_visitor_id("too-short") and not signer.is_visitor_id(None)
    assert previous.reads == 0  # the hot path: current key only
    assert not signer.is_visitor_id(Signer("forger").new_visitor_id())
    assert previous.reads == 1


def test_forged_values_fail_with_every_key():
    signer = Signer("new-key", previous=PreviousKeys("old-key"))
    visitor = Signer("old-key").new_visitor_id()
    flipped = visitor[:30] + ("A" if visitor[30] != "A" else "B") + visitor[31:]
    token = Signer("old-key").token("unsubscribe", ["ab", "cd"], 1800000000)
    for bad in (flipped, Signer("third-key").new_visitor_id(), "Ky6CYO0h4UJ06YCLle1L_A" * 2):
        assert not signer.is_visitor_id(bad), bad
    assert signer.open("unsubscribe", token.replace("ab.", "ax."), 1700000000, 2) is None
    assert signer.open("invite", token, 1700000000, 2) is None
    assert signer.open("unsubscribe", Signer("third-key").token("unsubscribe", ["ab", "cd"], 1800000000),
                       1700000000, 2) is None


def test_a_secret_never_rotated_verifies_with_the_current_key_alone():
    for previous in (PreviousKeys(), PreviousKeys("new-key"), None):  # none, the same value again, no source
        signer = Signer("new-key", previous=previous)
        assert signer.is_visitor_id(Signer("new-key").new_visitor_id())
        assert not signer.is_visitor_id(Signer("old-key").new_visitor_id())
