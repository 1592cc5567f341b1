"""Cohort filters: a frozen ``CohortFilter`` of conditions, turned into one polars expression.

Categorical columns filter by a set of values (for a list column such as ``treated_sites``: any
of the values), numeric columns by a closed range. Rows with a missing value are left out by a
condition unless it says ``include_missing``. Conditions combine with AND.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce

import polars as pl

from cohort.schema import column_label

#: Columns offered first as filters, in this order.
MAIN_FILTERS: tuple[str, ...] = (
    "study", "histology", "treated_sites", "regimen", "rt_total_dose_gy", "rt_fractions",
    "dose_per_fraction_gy", "bed10_gy", "rt_technique", "oligo_state",
)


@dataclass(frozen=True)
class ValuesIn:
    """Keep rows whose ``column`` is one of ``values`` (list column: contains any of them)."""

    column: str
    values: tuple[str, ...]
    include_missing: bool = False

    def expression(self, dtype: pl.DataType) -> pl.Expr:
        column = pl.col(self.column)
        if isinstance(dtype, pl.List):
            matches = column.list.eval(pl.element().cast(pl.String).is_in(self.values)).list.any()
            missing = column.is_null() | (column.list.len() == 0)
        else:
            matches = column.cast(pl.String).is_in(self.values)
            missing = column.is_null()
        return _with_missing(matches, missing, self.include_missing)

    def describe(self, label: str) -> str:
        values = ", ".join(self.values) if self.values else "none"
        return f"{label}: {values}{' or missing' if self.include_missing else ''}"


@dataclass(frozen=True)
class InRange:
    """Keep rows whose numeric ``column`` lies in [low, high] (None: unbounded on that side)."""

    column: str
    low: float | None = None
    high: float | None = None
    include_missing: bool = False

    def expression(self, dtype: pl.DataType) -> pl.Expr:
        column = pl.col(self.column)
        matches = pl.lit(True)
        if self.low is not None:
            matches = matches & (column >= self.low)
        if self.high is not None:
            matches = matches & (column <= self.high)
        return _with_missing(matches, column.is_null() | column.is_nan(), self.include_missing)

    def describe(self, label: str) -> str:
        if self.low is not None and self.high is not None:
            text = f"{label} {_number(self.low)}–{_number(self.high)}"
        elif self.low is not None:
            text = f"{label} ≥ {_number(self.low)}"
        else:
            text = f"{label} ≤ {_number(self.high)}"
        return text + (" or missing" if self.include_missing else "")


Condition = ValuesIn | InRange


def _with_missing(matches: pl.Expr, missing: pl.Expr, include_missing: bool) -> pl.Expr:
    kept = matches.fill_null(False)
    return (kept | missing) if include_missing else (kept & ~missing)


def _number(value: float | None) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class CohortFilter:
    """An ordered set of conditions, at most one per column."""

    conditions: tuple[Condition, ...] = ()

    def with_condition(self, condition: Condition) -> CohortFilter:
        """This filter with ``condition`` replacing any condition on the same column."""
        kept = tuple(c for c in self.conditions if c.column != condition.column)
        return replace(self, conditions=(*kept, condition))

    def without(self, column: str) -> CohortFilter:
        """This filter with no condition on ``column``."""
        return replace(self, conditions=tuple(c for c in self.conditions if c.column != column))

    def expression(self, schema: pl.Schema) -> pl.Expr:
        """One boolean polars expression; conditions on columns not in ``schema`` are skipped."""
        parts = [c.expression(schema[c.column]) for c in self.conditions if c.column in schema]
        return reduce(lambda a, b: a & b, parts, pl.lit(True))

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``frame`` that satisfy every condition."""
        return frame.filter(self.expression(frame.schema)) if self.conditions else frame

    def attrition(self, frame: pl.DataFrame) -> pl.DataFrame:
        """N remaining after each condition in turn: columns step, condition, n, excluded."""
        steps = ["All patients"]
        counts = [frame.height]
        kept = pl.lit(True)
        exprs = []
        for condition in self.conditions:
            if condition.column not in frame.schema:
                continue
            kept = kept & condition.expression(frame.schema[condition.column])
            exprs.append(kept.sum().alias(str(len(exprs))))
            steps.append(condition.describe(column_label(condition.column)))
        if exprs:
            counts += frame.select(exprs).row(0)
        excluded = [0] + [a - b for a, b in zip(counts, counts[1:], strict=False)]
        return pl.DataFrame(
            {"step": list(range(len(steps))), "condition": steps, "n": counts,
             "excluded": excluded},
            schema={"step": pl.Int64, "condition": pl.String, "n": pl.Int64,
                    "excluded": pl.Int64},
        )

    def describe(self) -> str:
        """The filter in words, e.g. 'Histology: melanoma; BED10 (Gy) 100–150'."""
        if not self.conditions:
            return "all patients"
        return "; ".join(c.describe(column_label(c.column)) for c in self.conditions)
