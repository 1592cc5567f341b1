"""Table 1": baseline characteristics, overall and by a chosen group.

Categorical variables: n (%) per level, percentages of the patients in the column; list columns
(treated sites) count patients with each value, so percentages may add to more than 100.
Numeric variables: median (IQR) and range. Every variable states its missing count.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import polars as pl

from cohort.schema import PATIENT_ID, column_label, identifying_columns, is_numeric, is_outcome_column

MAX_LEVELS = 20
OVERALL = "Overall"


def default_variables(patients: pl.DataFrame, identifying: Collection[str] | None = None
                      ) -> list[str]:
    """Columns worth a Table 1 row: not the id, not ``identifying`` columns (default: as
    detected in ``patients``), not outcomes, text with at most 20 levels."""
    if identifying is None:
        identifying = identifying_columns(patients)
    chosen = []
    for column, dtype in patients.schema.items():
        if column in (PATIENT_ID, *identifying) or is_outcome_column(column, patients.columns):
            continue
        if isinstance(dtype, pl.List) and dtype.inner != pl.String:
            continue
        structured = dtype.is_numeric() or isinstance(dtype, pl.List) or dtype == pl.Boolean
        if structured or patients[column].n_unique() <= MAX_LEVELS:
            chosen.append(column)
    return chosen


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _numeric_rows(column: pl.Series) -> list[tuple[str, str]]:
    values = column.drop_nulls().drop_nans() if column.dtype.is_float() else column.drop_nulls()
    if values.is_empty():
        return [("median (IQR)", "–"), ("range", "–")]
    q1, q3 = values.quantile(0.25, "linear"), values.quantile(0.75, "linear")
    return [
        ("median (IQR)", f"{_fmt(values.median())} ({_fmt(q1)}–{_fmt(q3)})"),
        ("range", f"{_fmt(values.min())}–{_fmt(values.max())}"),
    ]


def _level_counts(column: pl.Series) -> dict[str, int]:
    if isinstance(column.dtype, pl.List):
        values = column.list.unique().explode().drop_nulls()
    else:
        values = column.drop_nulls()
    counts = values.cast(pl.String).value_counts(sort=True)
    return dict(zip(counts[counts.columns[0]].to_list(), counts["count"].to_list(), strict=True))


def _missing(column: pl.Series) -> int:
    if isinstance(column.dtype, pl.List):
        return int(column.is_null().sum())
    nan = int(column.is_nan().sum()) if column.dtype.is_float() else 0
    return int(column.is_null().sum()) + nan


def _cells(column: pl.Series, levels: list[str] | None) -> list[tuple[str, str]]:
    """(statistic label, cell text) rows of one variable in one group."""
    if levels is None:
        rows = _numeric_rows(column)
    else:
        counts = _level_counts(column)
        observed = len(column) - _missing(column)
        rows = [(level, f"{counts.get(level, 0)} ({_pct(counts.get(level, 0), observed)})")
                for level in levels]
    return [*rows, ("missing", str(_missing(column)))]


def _pct(count: int, total: int) -> str:
    return whole_percent(100 * count / total) if total else "–"


def whole_percent(percent: float) -> str:
    """A percentage (0-100) as a whole number, halves rounded up ("12.5" -> "13%"), and "<1%"
    rather than "0%" when it is not zero: a count never reads as none."""
    if 0 < percent < 0.5:
        return "<1%"
    return f"{math.floor(percent + 0.5)}%"



def table_one(patients: pl.DataFrame, by: str | None = None,
              variables: list[str] | None = None) -> pl.DataFrame:
    """Table 1 as text: columns characteristic, statistic, 'Overall (n=N)', one per group.

    Group columns are sorted group values, each headed 'value (n=N)'; missing group: 'missing'.
    """
    variables = [v for v in (variables or default_variables(patients)) if v != by]
    groups = _groups(patients, by)
    records: dict[str, list[str]] = {"characteristic": [], "statistic": []}
    for header in groups:
        records[header] = []
    for variable in variables:
        column = patients[variable]
        levels = None if is_numeric(column.dtype) else list(_level_counts(column))
        for header, members in groups.items():
            cells = _cells(members[variable], levels)
            records[header] += [text for _, text in cells]
        records["statistic"] += [label for label, _ in cells]
        records["characteristic"] += [column_label(variable)] * len(cells)
    return pl.DataFrame(records, schema=dict.fromkeys(records, pl.String))


def _groups(patients: pl.DataFrame, by: str | None) -> dict[str, pl.DataFrame]:
    groups = {f"{OVERALL} (n={patients.height})": patients}
    if by is None:
        return groups
    keys = patients[by].cast(pl.String).fill_null("missing")
    for value in sorted(keys.unique().to_list(), key=lambda v: (v == "missing", v)):
        members = patients.filter(keys == value)
        groups[f"{value} (n={members.height})"] = members
    return groups
