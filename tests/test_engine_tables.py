"""Table 1 computed in the engine (cohort/engine_tables.py) is the in-memory Table 1
(cohort.tables.table_one) of the same rows, frame for frame, on DuckDB (a table and a Parquet
file), PostgreSQL (tests/pg.py's real server) and Spark in local mode, with and without a
group column and small-cell suppression; and it fetches aggregates, never the rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort import engine_tables
from cohort.datasets import load_dataset
from cohort.engine_tables import table_one_in_engine
from cohort.schema import is_numeric
from cohort.tables import default_variables, table_one
from tests.engines import engine_table
from tests.test_engine_screens import COLUMNS


def _edges() -> pl.DataFrame:
    """Nulls in every column, NaN in a float column, a text list with empty, null and repeated
    elements, a Boolean, grades 'I'-'III' (listed in grade order, not by frequency), tied
    level counts, a null and a literal "missing" group, a group whose dose is all missing, and
    groups under 5 patients."""
    n = 60
    group = ["A"] * 24 + ["B"] * 20 + ["C"] * 3 + ["missing"] * 2 + [None] * 11
    dose = [float(30 + (i * 7) % 41) for i in range(n)]
    dose = [float("nan") if i % 9 == 0 else None if i % 13 == 0 else d
            for i, d in enumerate(dose)]
    dose[44:47] = [None, float("nan"), None]  # group C: no dose at all
    sites_cycle = [["lung"], ["liver", "lung"], [], None, ["bone", "bone"], ["lung", None],
                   ["adrenal"], ["liver"]]
    return pl.DataFrame({
        "group": group,
        "dose": dose,
        "fractions": [None if i % 11 == 0 else [1, 3, 5, 8][i % 4] for i in range(n)],
        "grade": [None if i % 10 == 3 else ["II", "III", "II", "I", "II"][i % 5]
                  for i in range(n)],
        "histology": [None if i % 12 == 5 else ["adeno", "squamous", "small cell"][i % 3]
                      for i in range(n)],
        "flag": [None if i % 8 == 1 else i % 3 == 0 for i in range(n)],
        "sites": pl.Series([sites_cycle[i % 8] for i in range(n)], dtype=pl.List(pl.String)),
        "diagnosed": [None if i % 14 == 2 else dt.date(2020, 1 + i % 3, 1) for i in range(n)],
    })


EDGES = _edges()
EDGE_VARIABLES = ["dose", "fractions", "grade", "histology", "flag", "sites", "diagnosed"]
DEMO = load_dataset("oligomet-demo").patients
DATASETS = {
    "edges": (EDGES, EDGE_VARIABLES, ("group", "grade", "flag")),
    "demo": (DEMO.select(COLUMNS), [c for c in COLUMNS if c != "patient_id"],
             ("study", "ecog", "dlt")),
    "demo-all": (DEMO, default_variables(DEMO), ("histology",)),
    "gbsg2": (load_dataset("gbsg2").patients, None, ("tumour_grade", "regimen")),
    "veterans": (load_dataset("veterans").patients, None, ("histology", "ecog")),
}


def _variables(name: str) -> list[str]:
    frame, variables, _ = DATASETS[name]
    return variables if variables is not None else default_variables(frame)


def _open(backend: str, name: str, request: pytest.FixtureRequest, tmp: Path) -> ir.Table:
    return engine_table(backend, DATASETS[name][0], f"t1_{name.replace('-', '_')}", request, tmp)


@pytest.fixture(scope="module")
def tables(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict]:
    """Engine tables opened once per (backend, dataset)."""
    opened: dict[tuple[str, str], ir.Table] = {}
    tmp = tmp_path_factory.mktemp("table_one")

    def table(backend: str, name: str) -> ir.Table:
        if (backend, name) not in opened:
            opened[backend, name] = _open(backend, name, request, tmp)
        return opened[backend, name]

    yield table


def _assert_same(table: ir.Table, by: str | None, variables: list[str],
                 min_cell: int | None) -> pl.DataFrame:
    expected = table_one(table.to_polars(), by, variables, min_cell)
    assert_frame_equal(table_one_in_engine(table, by, variables, min_cell), expected)
    return expected


CASES = [(name, by, min_cell) for name, (_, _, bys) in DATASETS.items()
         for by in (None, *bys) for min_cell in (None, 5)]


@pytest.mark.parametrize("backend", ["duckdb", "duckdb-parquet", "postgres"])
@pytest.mark.parametrize(("name", "by", "min_cell"), CASES)
def test_table_one_in_the_engine_equals_table_one(tables, backend: str, name: str,
                                                  by: str | None, min_cell: int | None):
    _assert_same(tables(backend, name), by, _variables(name), min_cell)


def test_table_one_in_the_engine_equals_table_one_on_spark(tables):
    _assert_same(tables("spark", "edges"), "group", EDGE_VARIABLES, 5)


def test_the_edge_cases_show_in_the_expected_table(tables):
    """Guards the data: the compared tables hold what could go wrong."""
    expected = _assert_same(tables("duckdb", "edges"), "group", EDGE_VARIABLES, None)
    rows = {(r["characteristic"], r["statistic"]): list(r.values())[2:]
            for r in expected.to_dicts()}
    grades = [s for c, s in rows if c == "Grade" and s != "missing"]
    assert grades == ["I", "II", "III"]  # 6, 36, 12 patients: grade order, not frequency
    assert [s for c, s in rows if c == "Histology"] == ["adeno", "squamous", "small cell",
                                                        "missing"]  # a tie, by level
    assert expected.columns[2:] == ["Overall (n=60)", "A (n=24)", "B (n=20)", "C (n=3)",
                                    "missing (n=13)"]  # null and "missing" in one group
    assert rows[("Dose", "median (IQR)")][3] == "–"  # group C: only null and NaN doses
    assert rows[("Sites", "missing")][0] == "8"  # null lists only; empty lists are patients
    suppressed = _assert_same(tables("duckdb", "edges"), "group", EDGE_VARIABLES, 5)
    cells = [v for r in suppressed.rows() for v in r[2:]]
    assert "<5" in cells and "withheld" in cells
    assert_frame_equal(table_one(EDGES, "group", EDGE_VARIABLES, 5), suppressed)


def test_only_aggregates_are_fetched(tables, monkeypatch):
    """Four queries for the demo cohort by study (sizes and missing counts, level counts, the
    numeric order statistics overall and per study); each result has one row per group, or
    per (variable, group, level), never one per patient; each is a GROUP BY but the overall
    one, which is an aggregate of one row."""
    table = tables("duckdb", "demo")
    fetched: list[tuple[str, int]] = []
    fetch = engine_tables._fetch

    def recording(query: ir.Table) -> pl.DataFrame:
        result = fetch(query)
        fetched.append((ibis.to_sql(query), result.height))
        return result

    monkeypatch.setattr(engine_tables, "_fetch", recording)
    variables = _variables("demo")
    table_one_in_engine(table, "study", variables, 5)
    rows = table.to_polars()
    studies = rows["study"].n_unique()
    categorical = [v for v in variables if v != "study" and not is_numeric(rows.schema[v])]
    cells = sum(rows.select("study", v).explode(v).drop_nulls().unique().height
                if rows.schema[v] == pl.List(pl.String)
                else rows.select("study", v).drop_nulls().unique().height for v in categorical)
    assert sorted(height for _, height in fetched) == sorted([studies, cells, 1, studies])
    assert cells < rows.height / 10
    for sql, height in fetched:
        assert "GROUP BY" in sql or (height == 1 and "MAX(" in sql and "COUNT(" in sql)


def test_named_variables_are_required_and_must_exist(tables):
    table = tables("duckdb", "edges")
    with pytest.raises(ValueError, match="name the Table 1 variables"):
        table_one_in_engine(table, "group", ["group"])
    with pytest.raises(ValueError, match="no column 'nope'"):
        table_one_in_engine(table, None, ["nope"])
