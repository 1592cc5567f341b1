"""A configured dataset kept in its engine (``engine = true``): the app never reads its patients.

What the server holds of such a dataset is its size and a *column profile*: a small frame with
the patients' columns and types holding, per column, up to :data:`PROFILE_VALUES` of its
distinct values (a numeric column's finite minimum and maximum always among them) and one null
when the column has missing values. The sidebar's filter widgets, the stratum and covariate
pickers read their choices from it exactly as they read a cohort's rows; the statistics run in
the engine (``cohort.engine``, ``cohort.engine_analysis``) on the filtered table.

Columns that identify patients (named so, marked in the reading, or detected on the first
:data:`SAMPLE_ROWS` rows by ``cohort.schema.identifies_patients``) have no values in the
profile: nothing of theirs can reach a widget or a link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import polars as pl

from cohort.config import DatasetConfig
from cohort.engine import EngineError
from cohort.engine_source import (
    Decoder,
    canonical_columns,
    decoders,
    engine_table,
    reading_problems,
)
from cohort.engine_toxicity import engine_tables, toxicity_problems
from cohort.schema import PATIENT_ID, Endpoint, endpoints_of, identifying_columns
from cohort.sources import Connections

#: Distinct values kept per column: one more than a filter lists (ui.filters.MAX_CATEGORIES),
#: so that a column with too many values is still seen to have too many.
PROFILE_VALUES = 61
#: Rows read to detect identifying columns by their values (then dropped).
SAMPLE_ROWS = 2000


class EngineReadingError(EngineError):
    """The engine dataset's source fails its checks; ``problems`` name source, column, rows."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, eq=False)
class EngineCohort:
    """A dataset queried where it lives: its name and provenance, the patients counted when
    it was opened, its column profile and identifying columns."""

    name: str
    provenance: str
    dataset: DatasetConfig
    connections: Connections
    n_patients: int
    profile: pl.DataFrame
    identifying: frozenset[str]
    synthetic: bool = False
    #: An engine dataset holds no toxicity rows in memory (its views count them in the engine).
    toxicities: None = None

    @property
    def row_limit(self) -> int:
        """Most rows a screen that needs rows may fetch."""
        return self.dataset.row_limit

    def table(self) -> ir.Table:
        """The patients as a lazy ibis table on a connection of its own (one per caller: an
        embedded DuckDB connection is not shared between threads)."""
        return engine_table(self.dataset, self.connections)

    def tables(self) -> tuple[ir.Table, ir.Table | None]:
        """The patients and the toxicities (None without them) on one connection of their own
        (``cohort.engine_toxicity.engine_tables``)."""
        return engine_tables(self.dataset, self.connections)

    @property
    def decoders(self) -> dict[str, Decoder]:
        """The decoding of the table's stored event and time values (engine_source)."""
        return decoders(self.dataset)

    def endpoints(self) -> list[Endpoint]:
        return endpoints_of(self.profile.columns)


def _is_float(value: ir.Value) -> bool:
    return value.type().is_floating()


def _missing(value: ir.Value) -> ir.BooleanValue:
    if value.type().is_array():
        return value.isnull() | (value.length() == 0)
    return value.isnull() | value.isnan() if _is_float(value) else value.isnull()


def _finite(value: ir.Value) -> ir.Value:
    """``value`` with NaN and infinities as null (a float column), else itself."""
    if not _is_float(value):
        return value
    return (value.isnan() | value.isinf()).ifelse(ibis.null(value.type()), value)


def _summary(table: ir.Table, columns: list[str]) -> dict[str, object]:
    """One aggregate query: the patient count, per column its missing count and, numeric
    columns, the finite minimum and maximum."""
    sums: dict[str, ir.Value] = {"_n": table.count()}
    for i, column in enumerate(columns):
        value = table[column]
        sums[f"m{i}"] = _missing(value).cast("int32").sum().fill_null(0)
        if value.type().is_numeric():
            sums[f"lo{i}"], sums[f"hi{i}"] = _finite(value).min(), _finite(value).max()
    return table.aggregate(**sums).to_polars().row(0, named=True)


def _distinct(table: ir.Table, column: str, limit: int) -> list[object]:
    """Up to ``limit`` distinct present values of ``column`` (list elements for a list)."""
    value = table[column]
    values = table.select(v=value.unnest() if value.type().is_array() else _finite(value))
    return values.filter(values.v.notnull()).distinct().limit(limit).to_polars()["v"].to_list()


def _profile_values(table: ir.Table, column: str, summary: dict, i: int) -> list[object]:
    """The profile's values of one column: its range ends first, then other distinct values."""
    value = table[column]
    ends = [summary[f"lo{i}"], summary[f"hi{i}"]] if value.type().is_numeric() else []
    ends = list(dict.fromkeys(e for e in ends if e is not None))
    others = [v for v in _distinct(table, column, PROFILE_VALUES) if v not in ends]
    values = (ends + others)[:PROFILE_VALUES]
    if value.type().is_array():
        values = [[v] for v in values]
    return values + ([None] if summary[f"m{i}"] else [])


def column_profile(table: ir.Table, identifying: frozenset[str]) -> tuple[int, pl.DataFrame]:
    """The patients counted and the column profile (see the module docstring) of ``table``;
    ``identifying`` columns get no values."""
    columns = list(table.columns)
    summary = _summary(table, columns)
    schema = pl.DataFrame(schema=table.schema().to_polars()).schema
    values = {c: ([] if c in identifying else _profile_values(table, c, summary, i))
              for i, c in enumerate(columns)}
    height = max((len(v) for v in values.values()), default=0)
    padded = {c: (v[:1] * (height - len(v)) + v if v else [None] * height)
              for c, v in values.items()}
    return int(summary["_n"]), pl.DataFrame(padded, schema=schema)


def open_engine_cohort(dataset: DatasetConfig, connections: Connections,
                       now: dt.datetime | None = None) -> EngineCohort:
    """The dataset opened in its engine, checked and profiled; raises :class:`EngineError`
    (:class:`EngineReadingError` with the problems) when it cannot be offered."""
    table = engine_table(dataset, connections)
    table = table.select(canonical_columns(table))
    if PATIENT_ID not in table.columns:
        raise EngineReadingError([f"{dataset.patients.label}: no column is mapped to patient_id"])
    problems = reading_problems(dataset, connections) + toxicity_problems(dataset, connections)
    if problems:
        raise EngineReadingError(problems)
    sample = table.limit(SAMPLE_ROWS).to_polars()
    identifying = identifying_columns(sample, dataset.options.identifying) | {PATIENT_ID}
    n, profile = column_profile(table, identifying)
    counted = (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    provenance = (f"{dataset.provenance} Queried in place in {dataset.patients.label} "
                  f"(filters and statistics run in the database); {n:,} patients counted "
                  f"{counted}.")
    return EngineCohort(name=dataset.title, provenance=provenance, dataset=dataset,
                        connections=connections, n_patients=n, profile=profile,
                        identifying=identifying, synthetic=dataset.synthetic)
