"""Cohort distribution charts: histograms binned on the server, every patient in one bin."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cohort.figures.distributions import distribution_figure, histogram, nice_bin_width


@pytest.mark.parametrize(("span", "integer", "width"), [
    (100.0, False, 5.0), (30.0, False, 1.0), (3.0, False, 0.1), (70.0, False, 2.5),
    (4.0, True, 1.0), (0.0, False, 1.0), (1000.0, True, 50.0)])
def test_bin_widths_are_round(span, integer, width):
    assert nice_bin_width(span, integer) == pytest.approx(width)


@pytest.mark.parametrize(("integer", "top"), [(False, None), (True, 20), (True, 38)])
def test_every_value_falls_in_its_bin(integer, top):
    rng = np.random.default_rng(3)
    values = rng.integers(0, top, 5000).astype(float) if integer else rng.gamma(3, 9, 5000)
    counts, lefts, width = histogram(values, integer)
    assert counts.sum() == len(values)
    for left, count in zip(lefts, counts, strict=True):
        assert count == int(((values >= left) & (values < left + width)).sum())
    if integer and width == 1:
        assert set(lefts + width / 2) >= set(values)  # bars centred on whole numbers


def test_figure_size_does_not_grow_with_patients():
    values = pl.Series("age_years", np.random.default_rng(1).normal(65, 10, 200_000))
    figure = distribution_figure(values, "age_years")
    assert len(figure.data[0].x) < 60 and sum(figure.data[0].y) == 200_000
    assert "n = 200000" in figure.layout.title.text
