"""cohort.cox.univariable_multivariable_table: univariable screen beside the multivariable model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cohort import cox
from cohort.cox import (
    MAX_LEVELS,
    covariate_options,
    fit_cox,
    format_hr_ci,
    format_p_value,
    univariable_multivariable_table,
    univariable_screen,
)

REF_DIR = Path(__file__).parent / "reference"
REFERENCE = json.loads((REF_DIR / "cox_reference.json").read_text())
COVARIATES = ["Treatment", "Celltype", "Karnofsky_score", "Age_in_years", "Prior_therapy"]


@pytest.fixture(scope="module")
def veterans() -> pl.DataFrame:
    return pl.read_csv(REF_DIR / "data" / "veterans.csv")


@pytest.fixture(scope="module")
def table(veterans) -> pl.DataFrame:
    uni = univariable_screen(veterans, "time", "status", COVARIATES)
    multi = fit_cox(veterans, "time", "status", COVARIATES)
    return univariable_multivariable_table(uni, multi.terms)


def _row(table: pl.DataFrame, covariate: str, level: str | None) -> dict:
    level_match = pl.col("level").is_null() if level is None else pl.col("level") == level
    out = table.filter((pl.col("covariate") == covariate) & level_match)
    assert out.height == 1
    return out.row(0, named=True)


def _r_term(model: str, term: str) -> dict:
    return next(t for t in REFERENCE[model]["terms"] if t["term"] == term)


def test_one_row_per_level_in_model_order(table):
    assert table.select("covariate", "level").rows() == [
        ("Treatment", "standard"), ("Treatment", "test"),
        ("Celltype", "adeno"), ("Celltype", "large"), ("Celltype", "smallcell"),
        ("Celltype", "squamous"), ("Karnofsky_score", None), ("Age_in_years", None),
        ("Prior_therapy", "no"), ("Prior_therapy", "yes"),
    ]


@pytest.mark.parametrize("level", ["large", "smallcell", "squamous"])
def test_both_sides_match_r(table, level):
    row = _row(table, "Celltype", level)
    uni, multi = _r_term("veterans_celltype", f"Celltype{level}"), _r_term("veterans",
                                                                            f"Celltype{level}")
    for side, ref in (("uni", uni), ("multi", multi)):
        for stat in ("hr", "lower", "upper", "p"):
            assert row[f"{side}_{stat}"] == pytest.approx(ref[stat], rel=1e-4), (side, stat)
    assert row["multi_hr_ci"] == format_hr_ci(multi["hr"], multi["lower"], multi["upper"])
    assert row["uni_hr_ci"] == f"{uni['hr']:.2f} ({uni['lower']:.2f}–{uni['upper']:.2f})"


def test_reference_rows_and_texts(table):
    ref = _row(table, "Celltype", "adeno")
    assert ref["uni_hr_ci"] == ref["multi_hr_ci"] == "reference"
    assert ref["uni_p_text"] == ref["multi_p_text"] == ""
    karno = _row(table, "Karnofsky_score", None)
    assert karno["multi_hr_ci"] == "0.97 (0.96–0.98)" and karno["multi_p_text"] == "<0.001"
    assert karno["multi_n"] == 137 and karno["multi_events"] == 128


def test_covariate_left_out_of_the_multivariable_model(veterans):
    data = veterans.with_columns((pl.col("Karnofsky_score") * 2).alias("karno_twice"))
    covs = ["Karnofsky_score", "karno_twice"]
    multi = fit_cox(data, "time", "status", covs)
    table = univariable_multivariable_table(univariable_screen(data, "time", "status", covs),
                                            multi.terms)
    twice = _row(table, "karno_twice", None)
    assert twice["multi_hr_ci"] == "not in model" and twice["multi_hr"] is None
    assert twice["uni_hr_ci"].startswith("0.98 (")


def test_formatting_helpers():
    assert format_hr_ci(None, None, None) == ""
    assert format_hr_ci(float("inf"), None, None) == "not estimable"
    assert format_hr_ci(1.234, 0.5, 3.0) == "1.23 (0.50–3.00)"
    assert format_p_value(0.0004) == "<0.001"
    assert format_p_value(0.0415) == "0.042"
    assert format_p_value(None) == ""


def test_covariate_options_leave_out_ids_outcomes_and_unusable_columns():
    patients = pl.DataFrame({
        "patient_id": ["a", "b", "c"],
        "age_years": [60.0, 70.0, 80.0],
        "sex": ["female", "male", "male"],
        "regimen": ["x", "x", "x"],                      # one value
        "treated_sites": [["liver"], ["lung"], ["bone"]],  # a list
        "best_response": ["CR", "PD", "SD"],             # after treatment
        "dlt": [True, False, False],                     # after treatment
        "os_months": [1.0, 2.0, 3.0], "os_event": [1, 0, 1],
        "relapse_months": [1.0, 2.0, 3.0], "relapse_event": [0, 1, 1],
        "centre": ["a", "b", "a"],
        "surname": ["Ng", "Li", "Ho"],                    # identifies patients
    })
    assert covariate_options(patients) == ["age_years", "sex", "centre"]
    levels = [str(i) for i in range(MAX_LEVELS + 1)]
    many_levels = pl.DataFrame({"centre": levels * 2, "age_years": list(range(2 * len(levels)))})
    assert covariate_options(many_levels) == ["age_years"]


def brute_force_concordance_counts(time, status, lp):
    """Every pair looked at: (event i, row j) comparable when t_j > t_i, or t_j == t_i and j is
    censored; concordant when lp_i > lp_j."""
    per = np.zeros((len(time), 3))
    for i in np.flatnonzero(status == 1):
        comparable = (time > time[i]) | ((time == time[i]) & (status == 0))
        for k, hit in enumerate((lp[i] > lp, lp[i] < lp, lp[i] == lp)):
            mask = comparable & hit
            per[i, k] += mask.sum()
            per[mask, k] += 1
    return per.sum(0) / 2, per


@pytest.mark.parametrize("seed", range(6))
def test_fast_concordance_counts_equal_the_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    time = rng.integers(1, 1 + int(rng.integers(1, 60)), n).astype(float)  # many tied times
    status = (rng.random(n) < rng.random()).astype(float)
    lp = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # many tied predictors
    totals, per = cox._concordance_counts(time, status, lp)
    expected_totals, expected_per = brute_force_concordance_counts(time, status, lp)
    np.testing.assert_array_equal(per, expected_per)
    np.testing.assert_array_equal(totals, expected_totals)


def test_forest_ticks_thin_out_over_a_wide_range():
    from cohort.figures.forest import axis_ticks

    assert axis_ticks(math.log10(0.2), math.log10(5)) == [0.2, 0.5, 1, 2, 5]
    assert axis_ticks(-2, 2) == [0.01, 0.1, 1, 10, 100]
