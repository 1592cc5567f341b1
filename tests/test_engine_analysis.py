"""The Survival screen's analysis from counts aggregated in the engine
(cohort/engine_analysis.py) equals the in-memory analysis on DuckDB (a table and a Parquet
file), PostgreSQL and Spark: the counts exactly (so every estimate to the last bit), for the
same data and filters, with ties, censorings at event times, competing codes, missing times,
events and strata, "include missing", a numeric stratum split at its median or at a cut, and
a text stratum with more values than curves (pooled into "Other")."""

from __future__ import annotations

import ibis.expr.types as ir
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort import engine
from cohort.analysis import (
    SurvivalRequest,
    analyse_survival,
    analysed_counts,
    reference_options,
    reference_options_from_counts,
    suggested_cut,
    survival_from_counts,
)
from cohort.engine_analysis import analysed_counts_in_engine, suggested_cut_in_engine
from tests.engines import BACKENDS, engine_table
from tests.test_engine import COHORT, FILTERS

CLINICS = [f"clinic {c}" for c in "ABCDEFGHIJK"]


def _registry() -> pl.DataFrame:
    """tests/test_engine.py's cohort with its time in days (so that months are converted),
    a float event column with NaN, and an 11-valued text column."""
    rng = np.random.default_rng(7)
    n = COHORT.height
    clinic = rng.choice(CLINICS, n, p=np.linspace(2, 0.2, len(CLINICS)) / np.linspace(
        2, 0.2, len(CLINICS)).sum())
    return COHORT.with_columns(
        os_days=(pl.col("time") * 30).cast(pl.Int64),
        clinic=pl.Series(clinic),
        lc_event=pl.when(pl.Series(rng.random(n) < 0.03)).then(float("nan"))
        .otherwise(pl.col("status").cast(pl.Float64)),
    )


REGISTRY = _registry()
REQUESTS = {
    "overall, months": SurvivalRequest("os_days", "status", unit="months"),
    "by group, days": SurvivalRequest("os_days", "status", by="group", unit="days"),
    "by clinic, pooled": SurvivalRequest("os_days", "lc_event", by="clinic", unit="weeks"),
    "by dose, median": SurvivalRequest("os_days", "status", by="dose", unit="years"),
    "by dose at 50": SurvivalRequest("os_days", "status", by="dose", cut=50.0),
    "unknown unit": SurvivalRequest("time", "status", by="histology"),
}
SPARK_REQUESTS = {"by clinic, pooled", "by dose, median"}
SPARK_FILTERS = {"all, mixed"}


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> ir.Table:
    """The registry as an engine table on each backend."""
    return engine_table(request.param, REGISTRY, "analysis_registry", request,
                        tmp_path_factory.mktemp("analysis"))


def _cases() -> list[tuple[str, str, str]]:
    return [(b, f, r) for b in BACKENDS for f in ("none", "dose or missing", "all, mixed")
            for r in REQUESTS
            if b != "spark" or (f in SPARK_FILTERS and r in SPARK_REQUESTS)]


def test_the_registry_has_every_case_the_paths_must_agree_on():
    rows = analysed_counts(REGISTRY, REQUESTS["by clinic, pooled"])
    assert rows.pooled and set(rows.left_out) == {"os_days", "lc_event", "clinic"} - {"clinic"}
    assert rows.competing_groups and REGISTRY["lc_event"].is_nan().sum() > 0
    by_dose = analysed_counts(REGISTRY, REQUESTS["by dose, median"])
    assert "dose" in by_dose.left_out and by_dose.cut is not None
    assert REGISTRY["os_days"].null_count() > 0 and REGISTRY["group"].null_count() > 0


@pytest.mark.parametrize(("table", "name", "request_name"), _cases(), indirect=["table"])
def test_analysed_counts_equal_polars_exactly(table: ir.Table, name: str, request_name: str):
    cohort_filter, request = FILTERS[name], REQUESTS[request_name]
    expected = analysed_counts(cohort_filter.apply(REGISTRY), request)
    got = analysed_counts_in_engine(engine.filtered(table, cohort_filter), request)
    assert expected.counts.height > 0
    assert_frame_equal(got.counts, expected.counts)
    assert (got.time_source, got.left_out, got.cut, got.pooled, got.competing_groups) == (
        expected.time_source, expected.left_out, expected.cut, expected.pooled,
        expected.competing_groups)


def _tables(result) -> dict[str, pl.DataFrame]:
    frames = {"km": result.km, "medians": result.medians, "landmarks": result.landmarks,
              "follow_up": result.follow_up, "rmst": result.rmst, "cif": result.cif,
              "hazard_ratios": result.hazard_ratios}
    if result.logrank is not None:
        frames |= {"logrank": result.logrank.table, "pairwise": result.logrank.pairwise}
    return {k: v for k, v in frames.items() if v is not None}


@pytest.mark.parametrize("min_cell", [None, 10])
@pytest.mark.parametrize("table", ["duckdb", "postgres"], indirect=True)
def test_every_survival_table_equals_the_in_memory_analysis(table: ir.Table,
                                                            min_cell: int | None):
    cohort_filter = FILTERS["all, mixed"]
    rows = cohort_filter.apply(REGISTRY)
    subset = engine.filtered(table, cohort_filter)
    for request in REQUESTS.values():
        expected = analyse_survival(rows, request, min_cell)
        got = survival_from_counts(analysed_counts_in_engine(subset, request), request,
                                   min_cell)
        assert (got.n, got.left_out, got.cut, got.tau, got.hidden_groups, got.pooled) == (
            expected.n, expected.left_out, expected.cut, expected.tau,
            expected.hidden_groups, expected.pooled)
        for key, frame in _tables(expected).items():
            assert_frame_equal(_tables(got)[key], frame, check_exact=False, rel_tol=1e-12,
                               abs_tol=1e-12)
        if expected.gray is not None:
            assert got.gray == expected.gray
        assert reference_options_from_counts(analysed_counts_in_engine(subset, request),
                                             min_cell) == reference_options(rows, request,
                                                                            min_cell)


@pytest.mark.parametrize("table", ["duckdb", "postgres"], indirect=True)
def test_the_suggested_cut_equals_polars(table: ir.Table):
    for by, recorded in [("dose", ["os_days", "status"]), ("age", []), ("fractions", ["dose"])]:
        expected = suggested_cut(REGISTRY.drop_nulls(recorded), by)
        assert suggested_cut_in_engine(table, by, recorded) == expected
