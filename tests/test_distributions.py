"""Cohort distribution charts: one bar per value for integer and ordinal columns, every label of
a category chart drawn, histograms binned on the server with every patient in one bin."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cohort.datasets import load_dataset
from cohort.figures.distributions import (
    LABEL_WIDTH,
    MAX_BARS,
    chart_kind,
    distribution_figure,
    histogram,
    nice_bin_width,
    patients_with_value,
)


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
    assert "n = 200,000 patients with a value" in figure.layout.title.text


def bars(figure) -> dict[str, int]:
    """Axis label -> patients of a bar chart (vertical or horizontal)."""
    bar = figure.data[0]
    labels, counts = (bar.y, bar.x) if bar.orientation == "h" else (bar.x, bar.y)
    return dict(zip(labels, counts, strict=True))


def test_ecog_one_bar_per_level_of_its_scale_on_a_category_axis():
    ecog = pl.Series("ecog", [0, 0, 1, 1, 1, 2, None, None, None], dtype=pl.Int64)
    figure = distribution_figure(ecog, "ecog")
    assert chart_kind(ecog, "ecog") == "levels"
    assert bars(figure) == {"0": 2, "1": 3, "2": 1, "3": 0, "4": 0}  # ECOG 3-4: none, shown
    axis = figure.layout.xaxis
    assert axis.type == "category" and list(axis.tickvals) == ["0", "1", "2", "3", "4"]
    assert figure.layout.yaxis.range[1] > 3 and figure.data[0].cliponaxis is False  # no clipping
    assert "n = 6 patients with a value; 3 missing" in figure.layout.title.text
    assert patients_with_value(ecog) == 6


@pytest.mark.parametrize("dtype", [pl.Int64, pl.Float64])
def test_fractions_one_bar_per_value_in_numeric_order(dtype):
    fractions = pl.Series("rt_fractions", [1, 3, 5, 5, 10, 25, 30, 3, 5], dtype=dtype)
    figure = distribution_figure(fractions, "rt_fractions")
    assert bars(figure) == {"1": 1, "3": 2, "5": 3, "10": 1, "25": 1, "30": 1}
    assert list(figure.layout.xaxis.tickvals) == ["1", "3", "5", "10", "25", "30"]
    assert figure.layout.xaxis.title.text == "Fractions"


def test_continuous_and_many_valued_columns_stay_histograms():
    rng = np.random.default_rng(2)
    assert chart_kind(pl.Series(rng.normal(65, 9, 300)), "age_years") == "histogram"
    whole = pl.Series(np.arange(40).repeat(2), dtype=pl.Int64)
    assert chart_kind(whole, "kps") == "histogram"  # 40 distinct values
    assert chart_kind(whole.filter(whole < 30), "n_metastases") == "levels"
    assert chart_kind(pl.Series([37.5, 50.0, 60.0]), "rt_total_dose_gy") == "histogram"


HISTOLOGIES = [f"{kind} carcinoma of the {site}" for kind, site in zip(
    ["poorly differentiated squamous cell", "adeno", "small cell", "clear cell",
     "papillary", "mucinous", "signet ring cell", "neuroendocrine", "large cell",
     "undifferentiated", "basaloid", "medullary", "adenosquamous", "sarcomatoid", "lobular"],
    ["oropharynx and base of tongue", "colon", "lung", "kidney", "thyroid", "rectum",
     "stomach", "pancreas", "lung", "nasopharynx", "anal canal", "breast", "cervix",
     "kidney", "breast"], strict=True)]


def test_every_label_of_a_15_category_text_column_is_drawn_whole():
    values = pl.Series("histology", [h for i, h in enumerate(HISTOLOGIES) for _ in range(i + 1)])
    figure = distribution_figure(values, "histology")
    axis = figure.layout.yaxis
    assert len(figure.data[0].y) == 15
    assert list(axis.tickvals) == list(figure.data[0].y) == list(axis.ticktext)
    unwrapped = {label.replace("<br>", " ") for label in axis.ticktext}
    assert unwrapped == set(HISTOLOGIES)  # every label, none cut
    assert not any("…" in label or "..." in label for label in axis.ticktext)
    assert all(len(line) <= LABEL_WIDTH for label in axis.ticktext for line in label.split("<br>"))
    assert next(n for label, n in bars(figure).items() if label.startswith("lobular")) == 15
    few = distribution_figure(pl.Series("histology", HISTOLOGIES[:3]), "histology")
    assert figure.layout.height > few.layout.height + 15 * 20  # height grows with the bars


def test_more_categories_than_bars_say_so():
    values = pl.Series("regimen", [f"regimen {i:02d}" for i in range(40) for _ in range(40 - i)])
    figure = distribution_figure(values, "regimen")
    assert len(figure.data[0].y) == MAX_BARS
    assert figure.data[0].y[-1] == "regimen 00"  # most frequent on top
    assert f"the {MAX_BARS} most frequent of 40 values" in figure.layout.title.text


def test_list_column_counts_patients_with_a_listed_value():
    sites = pl.Series("treated_sites", [["lung"], ["lung", "liver"], [], None])
    figure = distribution_figure(sites, "treated_sites")
    assert bars(figure) == {"lung": 2, "liver": 1}
    assert "n = 2 patients with a value; 2 with none listed" in figure.layout.title.text


def test_demo_ecog_states_the_patients_who_have_it():
    patients = load_dataset("oligomet-demo").patients
    figure = distribution_figure(patients["ecog"], "ecog")
    assert patients_with_value(patients["ecog"]) == patients["ecog"].drop_nulls().len() == 49
    assert "n = 49 patients with a value; 4,250 missing" in figure.layout.title.text
    assert sum(bars(figure).values()) == 49
