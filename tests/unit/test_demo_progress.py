"""The demo's run progress (attract_local.demo_invites): a bar redrawn in place on a terminal, plain lines in CI."""

import io

from attract_local.demo_invites import ProgressPrinter, bar, compact, describe

PLANNING = {"status": "planning", "progress": {"done": 12, "total": None, "per_minute": None},
            "estimated_done_at": None}
SENDING = {"status": "sending", "progress": {"done": 60, "total": 233, "per_minute": 1234.4},
           "estimated_done_at": "2026-12-04T10:22:05.123Z"}
DONE = {"status": "done", "progress": {"done": 233, "total": 233, "per_minute": 1180.0}, "estimated_done_at": None}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_runs_progress_in_words():
    # 60 of 233 is 25.75 %: 25 %; 1234.4 a minute rounds to 1,234
    assert describe(SENDING) == ("sending: 60 of 233 invitation(s) (25%), about 1,234 a minute, "
                                 "expected done at 10:22:05 UTC")
    assert describe({**SENDING, "progress": {"done": 0, "total": 233, "per_minute": None},
                     "estimated_done_at": None}) == "sending: 0 of 233 invitation(s) (0%), measuring the send rate"
    assert describe(PLANNING) == ("planning: reading the ATS, 12 invitation(s) handled so far "
                                  "(the total is known once every row is read)")
    assert describe(DONE) == "done: 233 of 233 invitation(s) (100%)"
    assert describe({"status": "failed", "progress": {"done": 3, "total": None}}) == "failed after 3 invitation(s)"


def test_the_bar_fills_in_proportion():
    # 24 columns: 60 of 233 fills 24 * 60 // 233 = 6
    assert bar(60, 233) == "[" + "#" * 6 + "." * 18 + "]"
    assert bar(233, 233) == "[" + "#" * 24 + "]" and bar(5, None) == "[" + "." * 24 + "]"
    assert bar(0, 0) == "[" + "#" * 24 + "]"  # nothing planned is complete
    assert compact(SENDING) == "[######..................] 60/233 25%  1,234/min  done at 10:22:05 UTC"
    assert len("   " + compact(SENDING)) <= 80


def test_on_a_terminal_one_line_is_redrawn_and_ended_once():
    out = Terminal()
    printer = ProgressPrinter(out)
    for run in (PLANNING, SENDING, DONE):
        printer.update(run)
    printer.close()
    text = out.getvalue()
    assert text.count("\r\033[K") == 3 and text.count("\n") == 1 and text.endswith("233/233 100%  done\n")


def test_elsewhere_plain_lines_when_the_words_change_at_most_every_two_seconds_and_the_last_always():
    out, clock = io.StringIO(), Clock()
    printer = ProgressPrinter(out, clock=clock, every=2.0)
    printer.update({"message": "no run yet"})  # a 404 body while the schedule has not fired: nothing shown
    printer.update(PLANNING)  # t=0: printed
    printer.update(PLANNING)  # unchanged: not repeated
    clock.now = 1.0
    printer.update(SENDING)  # too soon: held
    clock.now = 2.5
    later = {**SENDING, "progress": {**SENDING["progress"], "done": 120}}
    printer.update(later)  # 2.5 s after the last line: printed (the held one is superseded)
    clock.now = 3.0
    printer.update(DONE)  # done is always printed
    printer.close()
    assert out.getvalue().splitlines() == [
        "   " + describe(PLANNING), "   " + describe(later), "   " + describe(DONE)]
    assert "\r" not in out.getvalue()


def test_a_held_line_is_printed_when_following_stops():
    out, clock = io.StringIO(), Clock()
    printer = ProgressPrinter(out, clock=clock)
    printer.update(PLANNING)
    printer.update(SENDING)  # held: the poll gives up (timeout) before two seconds passed
    printer.close()
    assert out.getvalue().splitlines() == ["   " + describe(PLANNING), "   " + describe(SENDING)]
