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
    assert twice["uni_hr_ci"] == "0.983 (0.979–0.988)"  # 0.98 (0.98–0.99) at two decimals


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


# --- hazard-ratio digits --------------------------------------------------------------------


@pytest.mark.parametrize(("hr", "lower", "upper", "digits"), [
    (0.85, 0.60, 1.21, 2),
    (1.0043, 0.9991, 1.0096, 3),        # 1.00 (1.00–1.01) at two decimals
    (0.983, 0.979, 0.988, 3),           # 0.98 (0.98–0.99): HR and lower bound the same
    (1.00004, 0.99998, 1.0001, 5),
    (2.0, 0.004, 900.0, 3),             # a lower bound is never printed as 0.00
    (1 + 1e-9, 1 - 1e-9, 1 + 2e-9, cox.HR_MAX_DIGITS),
])
def test_hr_digits(hr, lower, upper, digits):
    assert cox.hr_digits(hr, lower, upper) == digits


def test_hr_text_of_an_hr_close_to_one():
    assert format_hr_ci(1.0043, 0.9991, 1.0096) == "1.004 (0.999–1.010)"
    assert format_hr_ci(1.0043, 0.9991, 1.0096, digits=2) == "1.00 (1.00–1.01)"


def _apart(values: list[float], digits: int) -> bool:
    """The three numbers, printed, differ from one another, from 1 and from 0."""
    texts = [f"{v:.{digits}f}" for v in values]
    return len(set(texts)) == 3 and not {f"{1:.{digits}f}", f"{0:.{digits}f}"} & set(texts)


@pytest.mark.parametrize("seed", range(3))
def test_hr_digits_are_the_fewest_that_tell_the_numbers_apart(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        log_hr, se = rng.normal(0, 0.3), 10 ** rng.uniform(-5, 0)
        values = [math.exp(log_hr), math.exp(log_hr - 1.96 * se), math.exp(log_hr + 1.96 * se)]
        digits = cox.hr_digits(*values)
        assert _apart(values, digits) or digits == cox.HR_MAX_DIGITS
        assert digits == cox.HR_MIN_DIGITS or not _apart(values, digits - 1)


# --- numeric covariates per a chosen unit ---------------------------------------------------

GBSG2 = ["horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec"]


@pytest.fixture(scope="module")
def gbsg2() -> pl.DataFrame:
    return pl.read_csv(REF_DIR / "data" / "gbsg2.csv")


def _term(result, term: str) -> dict:
    return result.terms.filter(pl.col("term") == term).row(0, named=True)


def test_age_per_10_years_is_hr_to_the_tenth_as_r(gbsg2):
    per_10 = fit_cox(gbsg2, "time", "status", GBSG2, per={"age": 10})
    per_year = fit_cox(gbsg2, "time", "status", GBSG2)
    age, r_age = _term(per_10, "age"), next(t for t in REFERENCE["gbsg2"]["terms"]
                                            if t["term"] == "age")
    assert age["per"] == 10 and _term(per_year, "age")["per"] == 1
    for stat in ("hr", "lower", "upper"):
        assert age[stat] == pytest.approx(_term(per_year, "age")[stat] ** 10, rel=1e-9)
        assert age[stat] == pytest.approx(r_age[stat] ** 10, rel=1e-6)  # R: coxph(~ I(age/10))
    assert age["p"] == pytest.approx(r_age["p"], rel=1e-6)
    others = [t for t in per_10.terms["term"] if t != "age"]
    for term in others:
        assert _term(per_10, term)["hr"] == pytest.approx(_term(per_year, term)["hr"], rel=1e-9)
    assert per_10.concordance == pytest.approx(per_year.concordance, abs=1e-12)
    assert per_10.lr_test.chisq == pytest.approx(per_year.lr_test.chisq, rel=1e-9)


def test_per_10_years_equals_a_prescaled_column(gbsg2):
    scaled = gbsg2.with_columns((pl.col("age") / 10).alias("age_10"))
    per_10 = fit_cox(gbsg2, "time", "status", GBSG2, per={"age": 10})
    prescaled = fit_cox(scaled, "time", "status", [c if c != "age" else "age_10" for c in GBSG2])
    for stat in ("coef", "se", "hr", "lower", "upper", "p"):
        assert _term(per_10, "age")[stat] == pytest.approx(_term(prescaled, "age_10")[stat],
                                                           rel=1e-9, abs=1e-12)


def test_per_10_years_equals_lifelines_on_age_over_10(gbsg2):
    from lifelines import CoxPHFitter

    frame = gbsg2.select("time", "status", (pl.col("age") / 10).alias("age"), "pnodes")
    ours = fit_cox(gbsg2, "time", "status", ["age", "pnodes"], per={"age": 10})
    theirs = CoxPHFitter().fit(frame.to_pandas(), "time", "status").summary
    assert _term(ours, "age")["hr"] == pytest.approx(theirs.loc["age", "exp(coef)"], rel=1e-6)
    assert _term(ours, "age")["se"] == pytest.approx(theirs.loc["age", "se(coef)"], rel=1e-5)


def test_univariable_screen_uses_the_same_unit(gbsg2):
    uni = univariable_screen(gbsg2, "time", "status", ["age"], per={"age": 10})
    alone = fit_cox(gbsg2, "time", "status", ["age"], per={"age": 10})
    assert uni["hr"][0] == alone.terms["hr"][0] and uni["per"][0] == 10


@pytest.mark.parametrize("unit", [0, -10, float("nan"), float("inf")])
def test_a_unit_must_be_a_positive_number(gbsg2, unit):
    with pytest.raises(ValueError, match="positive number"):
        fit_cox(gbsg2, "time", "status", ["age"], per={"age": unit})


@pytest.mark.parametrize(("column", "per", "label"), [
    ("age_years", 10, "Age (per 10 years)"),
    ("age_years", 1, "Age (years)"),
    ("age_years", None, "Age (years)"),
    ("bed10_gy", 2.5, "BED10 (per 2.5 Gy)"),
    ("n_metastases", 5, "Metastases (per 5)"),
    ("kps", 10, "Karnofsky score (per 10)"),
    ("tumour_size_mm", 10, "Tumour size mm (per 10)"),
])
def test_covariate_label_names_the_unit(column, per, label):
    assert cox.covariate_label(column, per) == label


# --- reference level, table cells -----------------------------------------------------------


def test_largest_level_is_the_default_reference():
    assert cox.largest_level(pl.Series(["b", "a", "b", "c", None, None, None])) == "b"
    assert cox.largest_level(pl.Series(["b", "a", "b", "a"])) == "a"  # tie: first sorted
    enum = pl.Series(["lo", "hi", "hi", "lo"], dtype=pl.Enum(["lo", "hi"]))
    assert cox.largest_level(enum.reverse()) == "lo"  # tie: first in the enum's order
    assert cox.largest_level(pl.Series([True, False, False])) == "false"
    assert cox.largest_level(pl.Series([None], dtype=pl.String)) is None


def test_shown_table_has_no_empty_cell_and_says_the_unit(veterans):
    data = veterans.with_columns((pl.col("Karnofsky_score") * 2).alias("karno_twice"))
    covs = ["Celltype", "Karnofsky_score", "karno_twice", "Age_in_years"]
    per = {"Age_in_years": 10}
    multi = fit_cox(data, "time", "status", covs, per=per)
    table = univariable_multivariable_table(
        univariable_screen(data, "time", "status", covs, per=per), multi.terms)
    shown = cox.hr_table_text(table)
    assert all(dtype == pl.String for dtype in shown.dtypes)
    assert shown.null_count().sum_horizontal().item() == 0
    assert not any(shown.select(pl.all().str.contains("None|null|nan"))
                   .select(pl.any_horizontal(pl.all())).to_series())
    rows = {r["covariate"] or r["level"]: r for r in shown.iter_rows(named=True)}
    assert rows["Karno twice"]["multi_n"] == rows["Karno twice"]["multi_events"] == "–"
    assert rows["Age in years (per 10)"]["multi_n"] == f"{multi.n:,}"
    assert rows["Age in years (per 10)"]["multi_hr_ci"] == format_hr_ci(
        *[_term(multi, "Age_in_years")[k] for k in ("hr", "lower", "upper")])
    assert [r["covariate"] for r in shown.iter_rows(named=True)][:5] == [
        "Celltype", "", "", "", "Karnofsky score"]


def test_dropped_table_lists_the_reason(veterans):
    data = veterans.with_columns(pl.lit("x").alias("site"))
    result = fit_cox(data, "time", "status", ["Karnofsky_score", "site"])
    assert cox.dropped_table(result).rows() == [
        ("Site", "", "the same value (x) in every row used")]


@pytest.mark.parametrize(("column", "per", "text"), [
    ("age_years", 1, "per year"), ("age_years", 10, "per 10 years"),
    ("bed10_gy", 1, "per Gy"), ("kps", 10, "per 10"), ("n_metastases", 1, "per 1"),
])
def test_per_text(column, per, text):
    assert cox.per_text(column, per) == text
