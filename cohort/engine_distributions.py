"""The Cohort screen's distribution charts of an engine table, counted where the data live.

:func:`distribution_counts_in_engine` gives the
:class:`~cohort.figures.distributions.DistributionCounts` that
``cohort.figures.distributions.distribution_counts`` gives of the same rows in memory: one
aggregate query (rows, patients with a value, range, whether every value is whole), then one
GROUP BY of the values, of their listed values or of their histogram bins (the bins' edges
from the range, with the in-memory float arithmetic). Only counts are fetched.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import polars as pl

from cohort.figures.distributions import (
    MAX_LEVELS,
    ORDINAL_LEVELS,
    DistributionCounts,
    Kind,
    binned,
    bins,
    levels_in_order,
    most_frequent_first,
)

__all__ = ["distribution_counts_in_engine"]


def _present(value: ir.Value) -> ir.BooleanValue:
    """Whether a row has a value the charts count: not null, a finite number, a list with
    an element."""
    if value.type().is_array():
        return value.notnull() & (value.length() > 0)
    if value.type().is_floating():
        return value.notnull() & ~value.isnan() & ~value.isinf()
    return value.notnull()


def _is_number(value: ir.Value) -> bool:
    return value.type().is_numeric() and not value.type().is_boolean()


def _summary(table: ir.Table, column: str) -> dict:
    """Rows, rows with a value, null rows and, of a numeric column, the range and the number
    of values that are not whole."""
    value = table[column]
    present = _present(value)
    sums = {"rows": table.count(), "n": present.cast("int32").sum().fill_null(0),
            "nulls": value.isnull().cast("int32").sum().fill_null(0)}
    if _is_number(value):
        kept = present.ifelse(value.cast("float64"), ibis.null("float64"))
        sums |= {"lo": kept.min(), "hi": kept.max(),
                 "fractional": (present & (kept != kept.round(0))).cast("int32").sum()
                 .fill_null(0)}
    return table.aggregate(**sums).to_polars().row(0, named=True)


def _value_counts(table: ir.Table, column: str, limit: int | None = None) -> dict:
    """Patients per present value of ``column`` (at most ``limit`` values fetched)."""
    kept = table.filter(_present(table[column]))
    query = kept.group_by(v=kept[column]).aggregate(n=kept.count())
    fetched = (query.limit(limit) if limit else query).to_polars()
    return dict(zip(fetched["v"].to_list(), fetched["n"].to_list(), strict=True))


def _numeric_kind(table: ir.Table, column: str, summary: dict) -> tuple[Kind, dict | None]:
    """"levels" with the patients per value, or "histogram" (``chart_kind``'s rule: whole
    numbers with at most :data:`MAX_LEVELS` values, or none, are levels)."""
    if summary["fractional"]:
        return "histogram", None
    counts = _value_counts(table, column, MAX_LEVELS + 1)
    return ("levels", counts) if len(counts) <= MAX_LEVELS else ("histogram", None)


def _histogram(table: ir.Table, column: str, summary: dict) -> tuple[pl.DataFrame, float]:
    """Patients per bin and the bins' width, binned as ``cohort.figures.distributions``
    bins (the same float arithmetic in the engine)."""
    value = table[column]
    first, width = bins(summary["lo"], summary["hi"], value.type().is_integer())
    kept = table.filter(_present(value))
    offset = kept[column].cast("float64") - ibis.literal(first, type="float64")
    index = (offset / ibis.literal(width, type="float64")).floor().cast("int64")
    fetched = kept.group_by(i=index).aggregate(n=kept.count()).to_polars()
    counts = dict(zip(fetched["i"].to_list(), fetched["n"].to_list(), strict=True))
    return binned(counts, first, width), width


def _categories(table: ir.Table, column: str) -> pl.DataFrame:
    """Patients per category (a list column: per listed value, once per patient)."""
    value = table[column]
    if value.type().is_array():
        listed = table.filter(_present(value)).select(v=value.unique().unnest())
        listed = listed.filter(listed.v.notnull())
        fetched = listed.group_by("v").aggregate(n=listed.count()).to_polars()
    else:
        kept = table.filter(value.notnull())
        fetched = kept.group_by(v=value).aggregate(n=kept.count()).to_polars()
    return most_frequent_first(fetched["v"], fetched["n"])


def distribution_counts_in_engine(table: ir.Table, column: str) -> DistributionCounts:
    """The :class:`DistributionCounts` of ``column`` over the rows of ``table`` (an engine
    table, filtered already), equal to ``distribution_counts`` of the same rows in memory."""
    summary = _summary(table, column)
    is_list = table[column].type().is_array()
    shared = {"column": column, "n_rows": int(summary["rows"]), "n": int(summary["n"]),
              "is_list": is_list,
              "empty_lists": is_list and summary["nulls"] < summary["rows"] - summary["n"]}
    if column in ORDINAL_LEVELS:
        return DistributionCounts(kind="levels", counts=levels_in_order(
            _value_counts(table, column), column), **shared)
    if not _is_number(table[column]):
        return DistributionCounts(kind="categories", counts=_categories(table, column),
                                  **shared)
    kind, values = _numeric_kind(table, column, summary)
    if kind == "levels":
        return DistributionCounts(kind=kind, counts=levels_in_order(values, column), **shared)
    counts, width = _histogram(table, column, summary)
    return DistributionCounts(kind=kind, counts=counts, width=width, **shared)
