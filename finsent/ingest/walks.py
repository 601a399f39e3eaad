"""What the board and news walks share beyond the HTTP client: noticing a list that goes round in
circles, and quarantining the records validation refuses."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from pathlib import Path

from finsent.ingest.quarantine import save_raw
from finsent.ingest.transfer import Answer
from finsent.ingest.validation import Rejected

log = logging.getLogger(__name__)


class PagingLoop:
    """Notices a walk going round in circles: the list hands back a cursor (or page number) the walk
    was already at, or serves a page it already read. SOURCES.md ends a walk at a repeated
    ``lastOffset``; two pages that alternate are the same fault one step longer, and would be
    walked forever (holding the ticker's lock and a pool slot)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._cursors: set[Hashable] = set()
        self._pages: set[tuple] = set()
        self._count = 0

    def looped(self, cursor: Hashable, next_cursor: Hashable, page: tuple, notes: list[str]) -> bool:
        """Record the page read at ``cursor`` (``page``: the keys it showed); True when the walk should end
        here because it loops (said in the log and in ``notes``)."""
        self._count += 1
        self._cursors.add(cursor)
        seen_page = bool(page) and page in self._pages
        self._pages.add(page)
        seen_cursor = next_cursor is not None and next_cursor in self._cursors
        if not (seen_page or seen_cursor):
            return False
        why = "a page it already read came again" if seen_page else f"the list pointed back to {next_cursor!r}"
        note = (f"the list loops after {self._count} page(s) ({why}): this walk ends there; anything older "
                "that only the loop hides is not reached")
        log.warning("%s: %s", self.what, note)
        notes.append(note)
        return True


def quarantine_records(directory: Path, source: str, ticker: str, answer: Answer,
                       refused: Sequence[Rejected]) -> str:
    """Save the page that held ``refused`` records (its raw body, each record's key and reason); return
    the note the run's report shows."""
    first = refused[0]
    path = save_raw(directory, source=source, ticker=ticker, url=answer.url, body=answer.content,
                    reason=f"{len(refused)} record(s) refused by validation; first {first.key}: {first.reason}",
                    content_type=answer.headers.get("Content-Type"),
                    details={"refused": [{"key": r.key, "reason": r.reason} for r in refused]})
    note = (f"{len(refused)} record(s) refused and quarantined (first {first.key}: {first.reason}); "
            f"raw page saved to {path}")
    log.warning("%s %s: %s", ticker, source, note)
    return note
