"""What every room's CLI shares (finsent.cli_args): argument types whose refusals name the value."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from finsent.cli_args import date_arg, positive_int


def test_dates_and_counts_are_checked_with_the_value_named():
    assert date_arg("2026-03-02") == date(2026, 3, 2) and positive_int("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="'2026-13-01' is not a date YYYY-MM-DD"):
        date_arg("2026-13-01")
    with pytest.raises(argparse.ArgumentTypeError, match="'0' must be at least 1"):
        positive_int("0")
    with pytest.raises(argparse.ArgumentTypeError, match="'two' is not an integer"):
        positive_int("two")
