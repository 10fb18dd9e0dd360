"""The pacer: when a table may redraw, with no widgets and no real clock."""

from __future__ import annotations

from backgrounder.notebook.pacing import ELAPSED_EVERY, INTERVAL, Pacer, Urgency


def test_news_waits_at_most_its_urgency_after_the_last_redraw() -> None:
    pacer = Pacer(now=100.0)
    assert pacer.due(Urgency.CHANGE, 100.0) == 100.0 + INTERVAL
    assert pacer.due(Urgency.FINAL, 100.0) == 100.0
    pacer.spent(3, 100.5)
    assert pacer.due(Urgency.CHANGE, 100.5) == 100.5 + INTERVAL
    assert pacer.due(Urgency.TICK, 100.5) == 100.5 + ELAPSED_EVERY
    assert pacer.due(Urgency.CHANGE, 200.0) == 200.0  # long quiet: at once


def test_a_redraw_that_sent_many_messages_delays_the_next_but_never_the_final() -> None:
    pacer = Pacer(now=0.0, rate=100.0, burst=100.0)
    pacer.spent(150, 0.0)  # 50 in debt: half a second of refill
    assert pacer.due(Urgency.CHANGE, 0.0) == 0.5
    assert pacer.due(Urgency.FINAL, 0.0) == 0.0
