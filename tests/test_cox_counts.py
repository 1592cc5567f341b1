"""Cox hazard ratios from event counts alone (cohort/cox_counts.py, what an engine registry's
Survival screen fits) equal :func:`cohort.survival.hazard_ratios` fitted from the rows (itself
tested against R's coxph in tests/test_cox_vs_r.py) on the Veterans' trial and GBSG2, with
heavy ties summed both term by term and in closed form, a group without events (infinite
coefficient), a reference that is not a group, and one group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort import cox_counts
from cohort.cox_counts import hazard_ratios_from_counts
from cohort.survival import event_counts, hazard_ratios

DATA = Path(__file__).parent / "reference" / "data"


def _data(name: str) -> pl.DataFrame:
    return pl.read_csv(DATA / f"{name}.csv")


def _both(df: pl.DataFrame, by: str, reference: str | None = None,
          conf_level: float = 0.95) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(from rows, from counts) for ``by``; the counts' groups in the rows' level order."""
    rows = hazard_ratios(df, "time", "status", by, reference, conf_level)
    counts = event_counts(df.with_columns(pl.col(by).cast(pl.String)), "time", "status", by)
    return rows, hazard_ratios_from_counts(counts, reference, conf_level)


def _assert_same(rows: pl.DataFrame, counts: pl.DataFrame) -> None:
    assert_frame_equal(counts, rows, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(("name", "by", "reference"), [
    ("veterans", "Celltype", None),
    ("veterans", "Celltype", "squamous"),
    ("veterans", "Treatment", None),
    ("veterans", "Prior_therapy", "yes"),
    ("gbsg2", "tgrade", None),
    ("gbsg2", "horTh", "no"),
    ("gbsg2", "menostat", "Pre"),
])
def test_trial_data_hazard_ratios_equal_the_rows(name: str, by: str, reference: str | None):
    rows, counts = _both(_data(name), by, reference)
    assert rows.height >= 2
    _assert_same(rows, counts)


def test_a_reference_that_is_not_a_group_falls_back_to_the_largest_group():
    rows, counts = _both(_data("veterans"), "Celltype", "no such cell type")
    _assert_same(rows, counts)
    assert counts.filter("is_reference")["group"].item() == "smallcell"


def test_confidence_level_is_honoured():
    rows, counts = _both(_data("gbsg2"), "tgrade", None, conf_level=0.9)
    _assert_same(rows, counts)


def _tied(n: int, seed: int) -> pl.DataFrame:
    """``n`` rows on 12 distinct times, three arms: thousands of deaths tied at each time."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    hazard = np.select([arm == "b", arm == "c"], [1.4, 0.7], 1.0)
    time = np.minimum(np.ceil(rng.exponential(6 / hazard)), 12.0)
    status = (rng.random(n) < 0.8).astype(np.int64) * (time < 12)
    return pl.DataFrame({"time": time, "status": status, "arm": arm})


def test_heavy_ties_in_closed_form_equal_the_rows():
    df = _tied(30_000, 3)
    counts = event_counts(df, "time", "status", "arm")
    per_time = counts.group_by("time").agg(pl.col("n_event").sum())["n_event"]
    assert per_time.max() > cox_counts.DIRECT_MAX_TIES  # the closed form is exercised
    _assert_same(hazard_ratios(df, "time", "status", "arm"),
                 hazard_ratios_from_counts(counts))


def test_closed_form_sums_equal_the_direct_sums(monkeypatch: pytest.MonkeyPatch):
    counts = event_counts(_tied(4_000, 5), "time", "status", "arm")
    direct = hazard_ratios_from_counts(counts, "b")
    monkeypatch.setattr(cox_counts, "DIRECT_MAX_TIES", 0)  # every time in closed form
    _assert_same(direct, hazard_ratios_from_counts(counts, "b"))


def test_a_group_without_events_is_not_estimable_as_from_the_rows():
    df = _data("veterans").with_columns(
        pl.when(pl.col("Celltype") == "large").then(0).otherwise(pl.col("status"))
        .alias("status"))
    rows, counts = _both(df, "Celltype")
    _assert_same(rows, counts)
    assert counts.filter(pl.col("group") == "large")["text"].item() == "not estimable"


def test_one_group_or_no_events_gives_no_rows():
    vet = _data("veterans")
    one = event_counts(vet.with_columns(pl.lit("all").alias("g")), "time", "status", "g")
    assert hazard_ratios_from_counts(one).height == 0
    none = event_counts(vet.with_columns(pl.lit(0).alias("status")), "time", "status",
                        "Celltype")
    assert hazard_ratios_from_counts(none).height == 0
