"""The embargo, one meaning everywhere (``dataset build`` and ``backtest``).

``embargo`` is the number of sessions skipped between the last training session and the first
scored (valid/test) one. A horizon-h label of a session is known only h - 1 sessions later (its
return ends at the close h - 1 sessions on), so the horizon adds h - 1 sessions on top: the last
training label is known before the first scored session opens, with ``embargo`` sessions to spare.
"""

from __future__ import annotations

EMBARGO_HELP = ("sessions skipped between the last training session and the first scored one "
                "(default 1); a horizon-h label adds h-1 more")


def sessions_skipped(embargo: int, horizon: int) -> int:
    """Sessions left out between a training part and the part after it."""
    return embargo + horizon - 1
