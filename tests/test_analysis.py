"""cohort.analysis: the Survival screen's tables, built from the R-checked estimators."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cohort.analysis import (
    SurvivalRequest,
    analyse_survival,
    cif_at,
    landmark_table,
    method_text,
    pooled_label,
    stratify,
    suggested_cut,
)
from cohort.competing import cumulative_incidence
from cohort.datasets import load_dataset
from cohort.survival import landmarks_from_km, logrank, median_survival, survival_at

REFERENCE = Path(__file__).parent / "reference" / "data"


@pytest.fixture(scope="module")
def veterans() -> pl.DataFrame:
    return load_dataset("veterans").patients


def test_numeric_stratum_splits_at_the_cut_in_order(veterans):
    strata = stratify(veterans, "kps", 60)
    frame, cut = strata.frame, strata.cut
    assert cut == 60 and strata.pooled == ()
    assert frame["stratum"].dtype == pl.Enum(["< 60", "≥ 60"])
    assert (frame.filter(pl.col("kps") < 60)["stratum"] == "< 60").all()
    assert frame.filter(pl.col("kps") >= 60)["stratum"].to_list() == ["≥ 60"] * int(
        (veterans["kps"] >= 60).sum())
    median_cut = stratify(veterans, "kps").cut
    assert median_cut == veterans["kps"].median()


def test_beyond_max_strata_the_least_frequent_values_are_pooled():
    sizes = {"a": 9, "b": 8, "c": 7, "d": 6, "e": 5, "f": 4, "g": 3, "h": 2, "i": 2, "j": 1}
    values = [v for v, k in sizes.items() for _ in range(k)] + [None]
    patients = pl.DataFrame({"kind": values, "t": [1.0] * len(values), "e": [1] * len(values)})
    strata = stratify(patients, "kind")
    other = pooled_label(3)
    assert strata.frame["stratum"].dtype == pl.Enum([*"abcdefg", other])
    assert strata.pooled == ("h", "i", "j")  # most frequent first; ties by value
    counts = dict(strata.frame["stratum"].value_counts().iter_rows())
    assert counts[other] == 5 and counts["a"] == 9 and counts[None] == 1
    assert stratify(patients.filter(pl.col("kind") != "j"), "kind", max_strata=9).pooled == ()
    result = analyse_survival(patients, SurvivalRequest("t", "e", by="kind"))
    assert result.groups == [*"abcdefg", other] and result.pooled == ("h", "i", "j")
    assert result.left_out == {"kind": 1}
    assert f'7 most frequent values, the other 3 pooled as "{other}"' in method_text(result)


def test_the_median_cut_is_taken_over_the_analysed_patients():
    patients = pl.DataFrame({"x": [1.0, 2.0, 3.0, 100.0, 200.0],
                             "t": [1.0, 2.0, 3.0, None, None], "e": [1, 0, 1, None, None]})
    result = analyse_survival(patients, SurvivalRequest("t", "e", by="x"))
    assert result.cut == 2.0 and result.left_out == {"t": 2}


def test_stratified_analysis_matches_the_estimators(veterans):
    request = SurvivalRequest("os_months", "os_event", "OS", by="histology", landmarks=(6.0,))
    result = analyse_survival(veterans, request)
    direct = median_survival(veterans, "os_months", "os_event", by="histology")
    assert result.medians.equals(direct)
    assert result.logrank.chisq == pytest.approx(
        logrank(veterans, "os_months", "os_event", by="histology").chisq, abs=1e-12)
    assert result.landmarks.equals(
        survival_at(veterans, "os_months", "os_event", [6.0], by="histology"))
    assert result.logrank.trend is None and not result.competing
    assert result.tau == pytest.approx(min(
        veterans.group_by("histology").agg(pl.col("os_months").max())["os_months"]))
    assert "log-rank" in method_text(result)


def test_rows_without_stratum_or_time_are_left_out_and_counted(veterans):
    holes = veterans.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("kps")).alias("kps"),
        pl.when(pl.int_range(pl.len()) >= 130).then(None).otherwise(pl.col("os_months"))
        .alias("os_months"),
    )
    result = analyse_survival(holes, SurvivalRequest("os_months", "os_event", by="kps", cut=50))
    assert result.left_out == {"os_months": 7, "kps": 5}
    assert result.n == 137 - 12
    assert result.logrank.trend is not None  # numeric strata are ordered


def test_landmark_text_and_small_groups(veterans):
    tiny = veterans.head(40)
    result = analyse_survival(tiny, SurvivalRequest("os_months", "os_event", by="histology",
                                                    landmarks=(3.0, 600.0)))
    text = landmark_table(result)
    first = result.landmarks.row(0, named=True)
    assert text["estimate"][0] == (f"{100 * first['survival']:.0f}% "
                                   f"({100 * first['lower']:.0f}%–{100 * first['upper']:.0f}%)")
    assert text.filter(pl.col("time") == 600.0)["estimate"].to_list() == [
        "not estimable (no follow-up)"] * text.filter(pl.col("time") == 600.0).height
    sizes = dict(zip(result.medians["group"], result.medians["n"], strict=True))
    assert result.small_groups == [g for g, n in sizes.items() if n < 5]


def test_competing_events_give_cumulative_incidence_below_one_minus_km():
    data = pl.read_csv(REFERENCE / "competing.csv")
    result = analyse_survival(data, SurvivalRequest("time", "status", by="group",
                                                    landmarks=(1.0, 2.0)))
    assert result.competing and result.gray is not None
    assert result.cif.equals(cumulative_incidence(data, "time", "status", by="group"))
    table = cif_at(result)
    assert (table["cif"] <= table["one_minus_km"] + 1e-12).all()
    assert (table["cif"] < table["one_minus_km"]).any()
    group = result.groups[0]
    expected = result.cif.filter((pl.col("group") == group) & (pl.col("time") <= 1.0))["cif"][-1]
    assert table.filter((pl.col("group") == group) & (pl.col("time") == 1.0))["cif"][0] == expected
    last = result.km.filter(pl.col("group") == group)["time"].max()
    beyond = cif_at(result, (last + 1.0,)).filter(pl.col("group") == group)
    assert beyond["cif"].to_list() == [None] and beyond["one_minus_km"].to_list() == [None]
    landmark = landmarks_from_km(result.km, [last + 1.0]).filter(pl.col("group") == group)
    assert landmark["survival"].to_list() == [None]  # the landmark table agrees: not estimable


def test_suggested_cut_is_conventional_or_the_rounded_median(veterans):
    assert suggested_cut(veterans, "age_years") == 65.0
    assert suggested_cut(veterans, "kps") == round(float(veterans["kps"].median()), 1)
    assert suggested_cut(veterans.with_columns(pl.lit(None, pl.Float64).alias("x")), "x") == 0.0
