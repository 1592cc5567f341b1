"""Time units (cohort.units): conversions, exact days, and survival in days against R.

The R-equivalent numbers are computed here independently of cohort/: n at risk at t is the
number of patients with time >= t (R's ``summary(survfit(Surv(time, status) ~ 1), times = t)``),
the estimate is the product-limit estimate up to t written out with numpy (and checked against
lifelines), and where tests/reference/survival_reference.json has R's own output at t, against R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from lifelines import KaplanMeierFitter

from cohort.analysis import SurvivalRequest, analyse_survival, export_table, method_text
from cohort.cox import covariate_options
from cohort.figures.km import km_figure
from cohort.schema import is_outcome_column
from cohort.tables import default_variables
from cohort.units import (
    DAYS_PER_UNIT,
    LANDMARK_CHOICES,
    TIME_UNITS,
    analysed_unit,
    axis_title,
    column_unit,
    days_column,
    positive_time,
    time_in_unit,
    time_source,
    unit_label,
)
from ui.filters import filterable_columns

REFERENCE = Path(__file__).parent / "reference" / "survival_reference.json"
LANDMARKS_DAYS = (365.0, 400.0, 180.0)


def sksurv_days(name: str) -> pl.DataFrame:
    """A scikit-survival trial as an endpoint with exact days: os_days (Int64), os_months,
    os_event, plus its covariates."""
    from sksurv.datasets import load_gbsg2, load_veterans_lung_cancer

    loader = {"veterans": load_veterans_lung_cancer, "gbsg2": load_gbsg2}[name]
    covariates, outcome = loader()
    event_name, time_name = outcome.dtype.names
    days = pl.Series(outcome[time_name])
    assert (days == days.round(0)).all()
    return pl.DataFrame({
        "os_days": days.cast(pl.Int64),
        "os_months": days / 30.4375,
        "os_event": pl.Series(outcome[event_name]).cast(pl.Int64),
        "age": pl.Series(covariates.iloc[:, 0].to_numpy()),
    })


def product_limit(time: np.ndarray, event: np.ndarray, t: float) -> float:
    """Kaplan-Meier S(t) written out: the product over event times s <= t of 1 - d(s) / n(s)."""
    s = 1.0
    for u in np.unique(time[(event == 1) & (time <= t)]):
        s *= 1.0 - np.sum((time == u) & (event == 1)) / np.sum(time >= u)
    return s


def r_landmarks(name: str) -> dict[float, dict]:
    """R's summary(survfit(...), times) rows for ``name`` without strata (log-log CIs)."""
    entries = json.loads(REFERENCE.read_text())["landmarks"]
    entry = next(e for e in entries if e["data"] == name and e["by"] is None
                 and e["conf_type"] == "log-log")
    keys = ("n_risk", "survival", "lower", "upper")
    return {float(t): {k: entry[k][i] for k in keys} for i, t in enumerate(entry["time"])}


# ------------------------------------------------------------------------------- conversions


def test_time_in_unit_takes_the_exact_days_when_the_frame_has_them():
    days = pl.DataFrame({"os_days": [365, 400, 0, None], "os_event": [1, 0, 1, 0]}).with_columns(
        os_months=pl.col("os_days") / 30.4375)
    converted = {u: days.select(time_in_unit(days, "os_months", u)).to_series() for u in TIME_UNITS}
    assert converted["days"].dtype == pl.Float64
    assert converted["days"].to_list() == [365.0, 400.0, 0.0, None]  # exact, not 364.99999...
    # polars divides a column by a number through its reciprocal: within 1 ulp of 365 / 7
    assert converted["weeks"].to_list()[:3] == pytest.approx([365 / 7, 400 / 7, 0.0], rel=1e-15)
    assert converted["years"].to_list()[:3] == pytest.approx([365 / 365.25, 400 / 365.25, 0.0],
                                                             rel=1e-15)
    assert converted["weeks"][3] is None and converted["years"][3] is None
    assert converted["months"].to_list() == days["os_months"].to_list()  # unchanged
    assert time_source(days, "os_months", "days") == "os_days"
    assert time_source(days, "os_months", "months") == "os_months"


def test_time_in_unit_from_months_without_days():
    months = pl.DataFrame({"pfs_months": [12.0, 1.5, None]})
    def convert(unit: str) -> list:
        return months.select(time_in_unit(months, "pfs_months", unit)).to_series().to_list()
    assert convert("days") == [12 * 30.4375, 1.5 * 30.4375, None]
    assert convert("weeks") == pytest.approx([12 * 30.4375 / 7, 1.5 * 30.4375 / 7, None])
    assert convert("years") == pytest.approx([1.0, 0.125, None])
    assert convert("months") == [12.0, 1.5, None]
    assert time_source(months, "pfs_months", "days") == "pfs_months"


def test_a_column_of_unknown_unit_is_never_converted():
    frame = pl.DataFrame({"time": [1, 2, 3], "dfs_days": [7, 14, 21]})
    for unit in TIME_UNITS:
        assert frame.select(time_in_unit(frame, "time", unit)).to_series().to_list() == [1, 2, 3]
        assert analysed_unit("time", unit) is None
    assert frame.select(time_in_unit(frame, "dfs_days", "weeks")).to_series().to_list() == [
        1.0, 2.0, 3.0]
    assert column_unit("os_months") == "months" and column_unit("dfs_days") == "days"
    assert column_unit("time") is None and column_unit("months_from_diagnosis") is None
    assert days_column("os_months") == "os_days" and days_column("dfs_days") == "dfs_days"
    assert days_column("time") is None
    with pytest.raises(ValueError, match="fortnights"):
        time_in_unit(frame, "dfs_days", "fortnights")


def test_units_labels_and_typed_times():
    assert DAYS_PER_UNIT == {"days": 1.0, "weeks": 7.0, "months": 30.4375, "years": 365.25}
    assert LANDMARK_CHOICES["months"] == (3, 6, 12, 18, 24, 36, 48, 60)
    assert LANDMARK_CHOICES["days"] == (90, 180, 365, 730, 1095, 1825)
    assert [unit_label(u) for u in (*TIME_UNITS, None)] == [*TIME_UNITS, "time units"]
    assert axis_title("days") == "Days" and axis_title(None) == "Time"
    assert positive_time("365") == 365.0 and positive_time(" 0.5 ") == 0.5
    assert [positive_time(t) for t in ("0", "-3", "abc", "inf", "nan", "1e999", "")] == [None] * 7


def test_io_converts_stated_units_with_the_same_constants():
    from cohort.io import DAYS_PER_MONTH, MONTHS_PER_UNIT

    assert DAYS_PER_MONTH == DAYS_PER_UNIT["months"] == 365.25 / 12
    assert {u: d / DAYS_PER_MONTH for u, d in DAYS_PER_UNIT.items()} == MONTHS_PER_UNIT
    assert MONTHS_PER_UNIT["years"] == 12.0 and MONTHS_PER_UNIT["months"] == 1.0


# -------------------------------------------------------------------- endpoint columns


def test_days_columns_of_an_endpoint_are_outcomes_other_days_columns_are_not():
    columns = ["os_days", "os_months", "os_event", "dmfs_days", "dmfs_event", "rt_days"]
    assert [is_outcome_column(c, columns) for c in columns] == [True] * 5 + [False]
    patients = pl.DataFrame({
        "patient_id": ["a", "b", "c", "d"], "age_years": [50.0, 60.0, 70.0, 80.0],
        "os_days": [10, 20, 30, 40], "os_months": [0.3, 0.7, 1.0, 1.3], "os_event": [1, 0, 1, 0],
        "rt_days": [5, 7, 5, 9],
    })
    for offered in (filterable_columns(patients), default_variables(patients),
                    covariate_options(patients)):
        assert "os_days" not in offered and "rt_days" in offered, offered


# ---------------------------------------------------------------- survival in days vs R


@pytest.mark.parametrize("name", ["veterans", "gbsg2"])
def test_landmarks_in_days_are_rs_summary_at_those_days(name: str):
    frame = sksurv_days(name)
    result = analyse_survival(frame, SurvivalRequest("os_months", "os_event", unit="days",
                                                     landmarks=LANDMARKS_DAYS))
    assert result.unit == "days" and result.time_source == "os_days"
    days, event = frame["os_days"].to_numpy(), frame["os_event"].to_numpy()
    km = KaplanMeierFitter().fit(days, event)
    rows = {r["time"]: r for r in result.landmarks.iter_rows(named=True)}
    assert sorted(rows) == sorted(LANDMARKS_DAYS)
    for t in LANDMARKS_DAYS:
        assert rows[t]["n_risk"] == int(np.sum(days >= t)), t
        assert rows[t]["survival"] == pytest.approx(product_limit(days, event, t), abs=1e-12)
        assert rows[t]["survival"] == pytest.approx(
            float(km.survival_function_at_times(t).iloc[0]), abs=1e-12)
    for t, r in r_landmarks(name).items():  # R's own output where it was computed at t days
        if t in LANDMARKS_DAYS:
            assert rows[t]["n_risk"] == r["n_risk"]
            for k in ("survival", "lower", "upper"):
                assert rows[t][k] == pytest.approx(r[k], abs=1e-9), (t, k)


@pytest.mark.parametrize(("name", "median", "lower", "upper"),
                         [("veterans", 80, 52, 100), ("gbsg2", 1807, 1528, 2018)])
def test_medians_in_days_are_rs_whole_days(name: str, median: int, lower: int, upper: int):
    result = analyse_survival(sksurv_days(name), SurvivalRequest("os_months", "os_event",
                                                                 unit="days"))
    row = result.medians.row(0, named=True)
    assert (row["median"], row["lower"], row["upper"]) == (median, lower, upper)  # exactly
    assert row["median_text"] == f"{median} ({lower}–{upper})"


@pytest.mark.parametrize("name", ["veterans", "gbsg2"])
def test_twelve_months_is_365_25_days_and_other_units_agree(name: str):
    frame = sksurv_days(name)
    days = frame["os_days"].to_numpy()
    def at_risk(unit: str, t: float) -> int:
        result = analyse_survival(frame, SurvivalRequest("os_months", "os_event", unit=unit,
                                                         landmarks=(t,)))
        return result.landmarks["n_risk"][0]
    assert at_risk("months", 12.0) == int(np.sum(days >= 365.25))
    assert at_risk("years", 1.0) == int(np.sum(days >= 365.25))
    assert at_risk("weeks", 52.0) == int(np.sum(days >= 364))
    assert at_risk("days", 365.0) == int(np.sum(days >= 365))


def test_every_time_of_the_result_is_in_the_unit():
    frame = sksurv_days("veterans").with_columns(
        arm=pl.when(pl.col("age") >= 60).then(pl.lit("old")).otherwise(pl.lit("young")))
    in_months = analyse_survival(frame, SurvivalRequest("os_months", "os_event", by="arm",
                                                        landmarks=(12.0,), tau=12.0))
    in_days = analyse_survival(frame, SurvivalRequest("os_months", "os_event", by="arm",
                                                      landmarks=(365.25,), tau=365.25,
                                                      unit="days"))
    assert in_days.km["time"].to_list() == pytest.approx(
        (in_months.km["time"] * 30.4375).to_list())
    assert in_days.landmarks["survival"].to_list() == pytest.approx(
        in_months.landmarks["survival"].to_list())
    assert in_days.rmst["rmst"].to_list() == pytest.approx((in_months.rmst["rmst"] * 30.4375)
                                                           .to_list())
    assert in_days.follow_up["median"].to_list() == pytest.approx(
        (in_months.follow_up["median"] * 30.4375).to_list())
    assert in_days.logrank.chisq == pytest.approx(in_months.logrank.chisq)


def test_exports_figures_and_methods_say_the_unit():
    result = analyse_survival(sksurv_days("veterans"), SurvivalRequest(
        "os_months", "os_event", unit="days", landmarks=(365.0,)))
    assert export_table(result, "medians").columns == [
        "group", "n", "events", "median (days)", "lower (days)", "upper (days)",
        "median_text (days)"]
    landmarks = export_table(result, "landmarks")
    assert landmarks["time (days)"].to_list() == [365.0]
    assert landmarks["n_risk"].to_list() == result.landmarks["n_risk"].to_list()
    assert "tau (days)" in export_table(result, "rmst").columns
    assert "times in days (exact days, os_days)" in method_text(result)
    years = analyse_survival(sksurv_days("veterans").drop("os_days"),
                             SurvivalRequest("os_months", "os_event", unit="years"))
    assert "converted from months (os_months; 1 month = 30.4375 days, 1 year = 365.25 days)" \
        in method_text(years)
    figure = km_figure(result.km, time_label=axis_title(result.unit))
    assert figure.layout.xaxis.title.text == "Days"


def test_an_unknown_unit_is_refused_and_a_column_without_unit_is_analysed_as_it_is():
    frame = sksurv_days("veterans").rename({"os_days": "time"})
    with pytest.raises(ValueError, match="unknown time unit"):
        analyse_survival(frame, SurvivalRequest("os_months", "os_event", unit="fortnight"))
    raw = analyse_survival(frame, SurvivalRequest("time", "os_event", unit="years",
                                                  landmarks=(365.0,)))
    assert raw.unit is None and raw.medians["median"][0] == 80.0
    assert "unit unknown: not converted" in method_text(raw)
