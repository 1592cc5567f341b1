"""The engine path (cohort/engine.py) gives the in-memory polars numbers on DuckDB (a table and
a Parquet file), PostgreSQL (tests/pg.py's real server) and Spark in local mode: counts
exactly, estimates to 1e-12, for the same data and filters, with ties, censorings at event
times, competing codes, missing values and "include missing"."""

from __future__ import annotations

import math
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort import engine, survival
from cohort.filters import CohortFilter, InRange, ValuesIn
from cohort.tables import _level_counts, _missing
from tests.engines import BACKENDS, engine_table

SITES = ("lung", "liver", "bone", "adrenal", "brain")
FILTERS = {
    "none": CohortFilter(),
    "dose range": CohortFilter((InRange("dose", 40, 60),)),
    "dose or missing": CohortFilter((InRange("dose", 40, 60, include_missing=True),)),
    "histology": CohortFilter((ValuesIn("histology", ("prostate", "NSCLC")),)),
    "histology or missing": CohortFilter((ValuesIn("histology", ("prostate",), True),)),
    "fractions as text": CohortFilter((ValuesIn("fractions", ("5", "3", "05", "x")),)),
    "sites": CohortFilter((ValuesIn("sites", ("lung", "liver")),)),
    "sites or missing": CohortFilter((ValuesIn("sites", ("bone",), True),)),
    "all, mixed": CohortFilter((
        InRange("dose", None, 60, include_missing=True),
        ValuesIn("fractions", ("1", "3", "5", "8"), include_missing=True),
        ValuesIn("sites", ("lung", "bone", "brain")),
        InRange("age", 50, None),
    )),
}


def _cohort(n: int = 600, seed: int = 14) -> pl.DataFrame:
    """Patients with tied whole-month times, censorings at event times, event codes 0/1/2,
    nulls in time, status and group, NaN and null doses, empty and null site lists."""
    rng = np.random.default_rng(seed)
    time = rng.integers(0, 40, n).astype(float)
    time[rng.random(n) < 0.03] = np.nan
    status = rng.choice([0, 1, 2], n, p=[0.4, 0.45, 0.15]).astype(float)
    status[rng.random(n) < 0.03] = np.nan
    dose = rng.choice([30.0, 40.0, 45.5, 50.0, 60.0, 70.0], n)
    dose_missing = rng.random(n)
    sites = [list(rng.choice(SITES, rng.integers(0, 3))) for _ in range(n)]
    frame = pl.DataFrame({
        "time": pl.Series(time).fill_nan(None),
        "status": pl.Series(status).fill_nan(None).cast(pl.Int64),
        "group": pl.Series(rng.choice(["A", "B", "C", "D", ""], n, p=[.3, .3, .2, .18, .02])),
        "histology": pl.Series(rng.choice(["prostate", "NSCLC", "breast", "RCC"], n)),
        "dose": pl.Series(dose),
        "fractions": pl.Series(rng.choice([1, 3, 5, 8], n)),
        "age": pl.Series(rng.integers(30, 90, n)),
        "sites": pl.Series(sites, dtype=pl.List(pl.String)),
    })
    null = pl.Series(rng.random(n) < 0.04)
    return frame.with_columns(
        group=pl.when(null).then(None).otherwise(pl.col("group")),
        histology=pl.when(pl.Series(rng.random(n) < 0.05)).then(None)
        .otherwise(pl.col("histology")),
        dose=pl.when(pl.Series(dose_missing < 0.04)).then(float("nan"))
        .when(pl.Series(dose_missing > 0.96)).then(None).otherwise(pl.col("dose")),
        fractions=pl.when(pl.Series(rng.random(n) < 0.04)).then(None)
        .otherwise(pl.col("fractions")),
        sites=pl.when(pl.Series(rng.random(n) < 0.05)).then(None).otherwise(pl.col("sites")),
    )


COHORT = _cohort()


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "cohort.parquet"
    COHORT.write_parquet(path)
    return path


#: Spark answers each query in seconds: it runs a subset that still has every condition kind,
#: "include missing", both causes and a list column (the whole Spark part under ~2 minutes).
SPARK_CASES = {"all, mixed", "sites or missing", "histology or missing", "dose or missing"}


def cases(*variants: tuple) -> list:
    """(backend, *variant) parameters: every variant on every backend, Spark only for the
    variants whose first item is in ``SPARK_CASES`` and whose grouping, if any, is "group"."""
    return [(backend, *variant) for backend in BACKENDS for variant in variants
            if backend != "spark" or (variant[0] in SPARK_CASES
                                      and variant[1:2] in ((), ("group",)))]


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> ir.Table:
    """The cohort as an engine table on each backend."""
    return engine_table(request.param, COHORT, "engine_cohort", request,
                        tmp_path_factory.mktemp("engine"))


def test_the_cohort_has_every_case_the_engines_must_agree_on():
    """Guards the data: ties, censorings at event times, competing codes, missing values."""
    rows = COHORT.drop_nulls(["time", "status"])
    per_time = rows.group_by("time").agg(codes=pl.col("status").unique())
    assert per_time.filter(pl.col("codes").list.len() == 3).height > 10
    assert COHORT["dose"].is_nan().sum() > 0 and COHORT["dose"].is_null().sum() > 0
    assert (COHORT["sites"].list.len() == 0).sum() > 0 and COHORT["sites"].is_null().sum() > 0
    for column in ("time", "status", "group", "histology", "fractions"):
        assert COHORT[column].null_count() > 0


@pytest.mark.parametrize(("table", "name"), cases(*((n,) for n in FILTERS)),
                         indirect=["table"])
def test_attrition_equals_polars(table: ir.Table, name: str):
    cohort_filter = FILTERS[name]
    assert_frame_equal(engine.attrition(table, cohort_filter), cohort_filter.attrition(COHORT))


@pytest.mark.parametrize(("table", "name", "by", "cause"), cases(
    *((n, by, cause) for n in FILTERS
      for by, cause in [("group", 1), ("group", 2), (None, 1), ("histology", 1)])),
    indirect=["table"])
def test_event_counts_equal_polars_exactly(table: ir.Table, name: str, by: str | None,
                                           cause: int):
    cohort_filter = FILTERS[name]
    expected = survival.event_counts(cohort_filter.apply(COHORT), "time", "status", by, cause)
    got = engine.event_counts(engine.filtered(table, cohort_filter), "time", "status", by, cause)
    assert expected.height > 0
    assert_frame_equal(got, expected)


def _assert_close(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize(("table", "name"), cases(("none",), ("dose or missing",),
                                                  ("all, mixed",)), indirect=["table"])
def test_estimates_equal_polars(table: ir.Table, name: str):
    """Every estimator from one engine aggregation equals the in-memory function."""
    cohort_filter = FILTERS[name]
    rows = cohort_filter.apply(COHORT)
    counts = engine.event_counts(engine.filtered(table, cohort_filter), "time", "status",
                                 "group")
    km = survival.km_from_counts(counts)
    expected_km = survival.kaplan_meier(rows, "time", "status", "group")
    _assert_close(km, expected_km)
    _assert_close(survival.median_from_km(km), survival.median_survival(rows, "time", "status",
                                                                        "group"))
    _assert_close(survival.landmarks_from_km(km, [6, 12, 24]),
                  survival.survival_at(rows, "time", "status", [6, 12, 24], "group"))
    _assert_close(survival.km_from_counts(counts, "plain", 0.9),
                  survival.kaplan_meier(rows, "time", "status", "group", "plain", 0.9))
    _assert_close(survival.rmst_from_km(km, 24), survival.rmst(rows, "time", "status", 24,
                                                               "group"))
    got = survival.logrank_from_counts(counts, ordered=True)
    expected = survival.logrank(rows, "time", "status", "group", ordered=True)
    assert math.isclose(got.chisq, expected.chisq, rel_tol=1e-12) and got.df == expected.df
    assert math.isclose(got.trend.chisq, expected.trend.chisq, rel_tol=1e-12)
    _assert_close(got.table, expected.table)
    _assert_close(got.pairwise, expected.pairwise)


@pytest.mark.parametrize(("table", "column"), [
    (backend, column) for backend in BACKENDS
    for column in ("histology", "sites", "fractions", "group")
    if backend != "spark" or column == "sites"], indirect=["table"])
def test_table_one_counts_equal_polars(table: ir.Table, column: str):
    cohort_filter = FILTERS["dose or missing"]
    rows = cohort_filter.apply(COHORT)
    subset = engine.filtered(table, cohort_filter)
    got = engine.level_counts(subset, column)
    assert dict(zip(got["level"], got["n"], strict=True)) == _level_counts(rows[column])
    assert engine.missing_count(subset, column) == _missing(rows[column])


@pytest.mark.parametrize("table", BACKENDS, indirect=True)
def test_dose_missing_counts_nan_and_null(table: ir.Table):
    assert engine.missing_count(table, "dose") == _missing(COHORT["dose"]) > 0


def test_survival_fetches_only_counts_never_rows(monkeypatch: pytest.MonkeyPatch):
    """20,000 patients, 4 groups, 60 distinct times: the engine sends back at most 240 rows,
    and the compiled query is a GROUP BY over the filtered table."""
    rng = np.random.default_rng(1)
    n = 20_000
    big = pl.DataFrame({"time": rng.integers(1, 61, n).astype(float),
                        "status": rng.integers(0, 2, n), "group": rng.choice(list("ABCD"), n),
                        "dose": rng.uniform(20, 80, n)})
    table = ibis.duckdb.connect().create_table("big", big)
    fetched: list[int] = []
    to_polars = ir.Table.to_polars

    def counting(self, *args, **kwargs):
        result = to_polars(self, *args, **kwargs)
        fetched.append(result.height)
        return result

    monkeypatch.setattr(ir.Table, "to_polars", counting)
    monkeypatch.setattr(ir.Table, "execute", lambda *a, **k: pytest.fail("rows fetched"))
    cohort_filter = CohortFilter((InRange("dose", 30, 70),))
    subset = engine.filtered(table, cohort_filter)
    km = engine.kaplan_meier(subset, "time", "status", "group")
    engine.logrank(subset, "time", "status", "group")
    assert fetched and max(fetched) <= 4 * 60 < n
    sql = ibis.to_sql(engine.counts_query(subset, "time", "status", "group"))
    assert "GROUP BY" in sql and '"dose" >= 30' in sql
    assert_frame_equal(km, survival.kaplan_meier(cohort_filter.apply(big), "time", "status",
                                                 "group"))


def test_a_condition_without_a_faithful_translation_is_refused():
    table = ibis.duckdb.connect().create_table(
        "odd", pl.DataFrame({"name": ["a"], "spot": [{"x": 1}]}))
    with pytest.raises(engine.EngineError, match="numeric range"):
        engine.filter_expression(table, CohortFilter((InRange("name", 1, 2),)))
    with pytest.raises(engine.EngineError, match="listed values"):
        engine.filter_expression(table, CohortFilter((ValuesIn("spot", ("1",)),)))
    # a column the engine lacks may exist in memory (derived at load): refused, never skipped
    with pytest.raises(engine.EngineError, match="no column 'bed10_gy'"):
        engine.filtered(table, CohortFilter((InRange("bed10_gy", 1, 2),)))


#: A site name with the characters an array literal or SQL string must escape.
ODD_SITE = 'node "N1", o\'k \\ {x}'
#: Rows that each compiled form must treat as polars does: null elements inside a list, a
#: list of only nulls, empty and null lists, NaN, infinities and nulls in a float column,
#: a null integer and boolean.
EDGES = pl.DataFrame({
    "sites": pl.Series([["lung", None], [None], [], None, ["liver", ODD_SITE], ["bone", "lung"]],
                       dtype=pl.List(pl.String)),
    "codes": pl.Series([[5], [3, None], [], None, [50], [1]], dtype=pl.List(pl.Int64)),
    "x": pl.Series([10.0, float("nan"), None, 50.0, float("inf"), float("-inf")]),
    "n": pl.Series([1, None, 3, 5, 8, 0]),
    "flag": pl.Series([True, False, None, True, False, None]),
})
EDGE_CONDITIONS = (
    ValuesIn("sites", ("lung",)), ValuesIn("sites", ("lung",), True),
    ValuesIn("sites", ("liver", "bone")), ValuesIn("sites", ()),
    ValuesIn("sites", (ODD_SITE,)), ValuesIn("sites", ('node "N1"', "o'k")),
    ValuesIn("codes", ("5", "3", "05")), ValuesIn("codes", ("50",), True),
    ValuesIn("codes", ("x",)), ValuesIn("codes", ("x",), True),
    InRange("x", 40, None), InRange("x", None, 40), InRange("x", 0, 60),
    InRange("x", None, None), InRange("x", None, None, True), InRange("x", 40, None, True),
    InRange("n", None, None), InRange("n", 2, 6), InRange("n", 2, 6, True),
    ValuesIn("n", ("1", "01", "z")), ValuesIn("n", ("z",), True),
    ValuesIn("flag", ("true",)), ValuesIn("flag", ("false",), True),
)


@pytest.fixture(scope="module")
def edge_table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> ir.Table:
    """EDGES as an engine table on each backend."""
    return engine_table(request.param, EDGES, "engine_edges", request,
                        tmp_path_factory.mktemp("edges"))


@pytest.mark.parametrize("edge_table", BACKENDS, indirect=True)
def test_each_compiled_condition_keeps_the_rows_polars_keeps(edge_table: ir.Table):
    """One query per backend: for every condition, the rows it keeps (null counts as left
    out, as in WHERE) equal polars' rows, on the edge cases of lists, NaN and nulls."""
    kept = {f"c{i}": engine.condition_expression(edge_table, c).ifelse(1, 0).sum()
            for i, c in enumerate(EDGE_CONDITIONS)}
    got = edge_table.aggregate(**kept).to_polars().row(0)
    expected = EDGES.select(c.expression(EDGES.schema[c.column]).fill_null(False).sum()
                            .alias(f"c{i}") for i, c in enumerate(EDGE_CONDITIONS)).row(0)
    assert [int(n or 0) for n in got] == list(expected)
    assert 0 < sum(expected) < len(EDGE_CONDITIONS) * EDGES.height


def test_range_conditions_reach_duckdbs_parquet_scan(parquet: Path):
    """A range compiles to a bare comparison (no COALESCE/CASE around it), which DuckDB
    pushes into the Parquet reader as a table filter: the 10M-patient benchmark's filter cost
    (bench/README.md, bench_engine.py)."""
    table = ibis.duckdb.connect().read_parquet(parquet)
    subset = engine.filtered(table, CohortFilter((InRange("age", 50, None),
                                                  InRange("dose", None, 60))))
    query = engine.counts_query(subset, "time", "status", "group")
    sql = ibis.to_sql(query)
    assert "COALESCE" not in sql and "CASE" not in sql
    plan = table.get_backend().con.sql(f"EXPLAIN {sql}").fetchall()[0][1]
    scan = plan[plan.index("READ_PARQUET"):]
    assert "Filters:" in scan and "age>=50" in scan.replace(" ", "")


@pytest.mark.parametrize("table", ["postgres"], indirect=True)
def test_a_text_list_condition_is_an_array_overlap_on_postgres(table: ir.Table):
    """PostgreSQL answers ``sites && '{...}'`` without the per-row UNNEST subquery a list
    lambda compiles to (3x faster over 10M patients, bench/README.md)."""
    sql = ibis.to_sql(engine.filtered(table, FILTERS["sites or missing"]))
    assert "ARRAYOVERLAP" in sql.upper() and "UNNEST" not in sql.upper()
