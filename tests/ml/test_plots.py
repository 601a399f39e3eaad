"""Evaluation plots are PNG files drawn without a display (finsent.ml.plots)."""

from __future__ import annotations

import numpy as np

from finsent.ml.plots import confusion_plot, headless_pyplot


def test_the_confusion_plot_is_a_png_and_pyplot_draws_to_files(tmp_path):
    y, p = np.array([1, 0, 1, 1, 0]), np.array([0.9, 0.2, 0.4, 0.7, 0.6])
    path = confusion_plot(y, p, tmp_path / "confusion.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1_000
    assert headless_pyplot().get_backend().lower() == "agg"
