"""A list that goes round in circles ends its walk (finsent.ingest.walks.PagingLoop)."""

from __future__ import annotations

from finsent.ingest.walks import PagingLoop


def test_a_cursor_pointing_back_or_a_page_served_again_ends_the_walk():
    loop, notes = PagingLoop("005930 board"), []
    assert not loop.looped(None, 100, (1, 2), notes) and not loop.looped(100, 90, (3, 4), notes)
    assert loop.looped(90, 100, (5, 6), notes)  # the list points back to a cursor already walked
    assert notes == ["the list loops after 3 page(s) (the list pointed back to 100): this walk ends there; "
                     "anything older that only the loop hides is not reached"]
    again, notes = PagingLoop("news"), []
    assert not again.looped(1, 2, ("a",), notes) and again.looped(2, 3, ("a",), notes)  # the same page again
    assert "a page it already read came again" in notes[0]
    assert not PagingLoop("x").looped(1, 2, (), [])  # an empty page is not a repeat
