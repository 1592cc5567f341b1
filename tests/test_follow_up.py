"""Median follow-up by reverse Kaplan-Meier (cohort.survival.median_follow_up): against lifelines
on real trial data, R's quantile rule at a flat step, and on the Survival screen."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pytest
from lifelines import KaplanMeierFitter

from cohort.analysis import SurvivalRequest, analyse_survival
from cohort.datasets import load_dataset
from cohort.survival import median_follow_up
from tests.apptest import open_app

DATA = Path(__file__).parent / "reference" / "data"


def lifelines_quartiles(frame: pl.DataFrame) -> list[float | None]:
    """Follow-up quartiles from lifelines' Kaplan-Meier of censoring (None where not reached)."""
    fitter = KaplanMeierFitter().fit(frame["time"].to_numpy(),
                                     (frame["status"].to_numpy() == 0).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = [float(fitter.percentile(p)) for p in (0.75, 0.5, 0.25)]
    return [None if v == float("inf") else v for v in values]


@pytest.mark.parametrize("name, by", [("gbsg2", None), ("gbsg2", "horTh"), ("gbsg2", "tgrade"),
                                      ("veterans", "Celltype")])
def test_follow_up_quartiles_equal_lifelines_on_trial_data(name: str, by: str | None):
    frame = pl.read_csv(DATA / f"{name}.csv")
    ours = median_follow_up(frame, "time", "status", by=by)
    groups = [("All", frame)] if by is None else [
        (str(g), frame.filter(pl.col(by).cast(pl.String) == g)) for g in ours["group"]]
    for group, rows in groups:
        row = ours.filter(pl.col("group") == group).row(0, named=True)
        assert row["n"] == rows.height
        assert row["under_follow_up"] == int((rows["status"] == 0).sum())
        assert [row["q1"], row["median"], row["q3"]] == pytest.approx(lifelines_quartiles(rows))


def test_a_flat_step_at_the_quartile_gives_rs_midpoint():
    # R: quantile(survfit(Surv(1:4, rep(1, 4)) ~ 1)) -> 1.5, 2.5, 3.5 (all four censored)
    frame = pl.DataFrame({"time": [1.0, 2.0, 3.0, 4.0], "status": [0, 0, 0, 0]})
    row = median_follow_up(frame, "time", "status").row(0, named=True)
    assert (row["q1"], row["median"], row["q3"]) == (1.5, 2.5, 3.5)
    assert row["text"] == "2.5 (IQR 1.5–3.5)"


def test_a_median_follow_up_not_reached_keeps_its_first_quartile():
    # reverse KM: one censoring (at 2, 4 at risk), S = 0.75 from then on: median not reached
    frame = pl.DataFrame({"time": [1.0, 2.0, 3.0, 4.0, 5.0], "status": [1, 0, 1, 1, 1]})
    row = median_follow_up(frame, "time", "status").row(0, named=True)
    assert row["median"] is None and row["q1"] == 2.0
    assert row["text"] == "NR (IQR 2.0–NR)"


def test_events_and_competing_events_censor_the_follow_up():
    frame = pl.DataFrame({"time": [1.0, 2.0, 3.0, 4.0], "status": [1, 0, 2, 0]})
    row = median_follow_up(frame, "time", "status").row(0, named=True)
    assert row["under_follow_up"] == 2
    # reverse KM: censoring at 2 (3 at risk) and 4 (1 at risk): S = 2/3 after 2, 0 after 4
    assert (row["q1"], row["median"], row["q3"]) == (2.0, 4.0, 4.0)


def test_the_survival_screen_shows_the_median_follow_up():
    at = open_app("pages/survival.py", ds="gbsg2")
    expected = analyse_survival(load_dataset("gbsg2").patients,
                                SurvivalRequest("pfs_months", "pfs_event")).follow_up
    shown = next(d.value for d in at.dataframe if "under_follow_up" in d.value.columns)
    assert list(shown["text"]) == expected["text"].to_list() == ["54.0 (IQR 36.1–64.9)"]
    assert any("Median follow-up" in m.value for m in at.markdown)
