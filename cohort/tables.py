"""Table 1": baseline characteristics, overall and by a chosen group.

Categorical variables: n (%) per level, percentages of the patients in the column; list columns
(treated sites) count patients with each value, so percentages may add to more than 100.
Numeric variables: median (IQR) and range. Every variable states its missing count.

With a small-cell threshold (``min_cell``, :mod:`cohort.suppression`) counts of 1 to min_cell - 1
read "<11", a level, group or missing count that a column's or a row's total would give away is
"withheld", percentages are left out where a count or the variable's missing count is hidden,
and a group of fewer than min_cell patients shows no median, IQR or range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field

import polars as pl

from cohort.schema import PATIENT_ID, column_label, identifying_columns, is_numeric, is_outcome_column
from cohort.suppression import Line, count_text, is_small, protect

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


@dataclass(frozen=True)
class Summary:
    """A numeric column's non-missing values: median, quartiles (linear interpolation) and
    range, in the column's unit."""

    median: float
    q1: float
    q3: float
    low: float
    high: float


def numeric_summary(column: pl.Series) -> Summary | None:
    """The :class:`Summary` of ``column`` without nulls and NaN; None when nothing is left."""
    values = column.drop_nulls().drop_nans() if column.dtype.is_float() else column.drop_nulls()
    if values.is_empty():
        return None
    return Summary(values.median(), values.quantile(0.25, "linear"),
                   values.quantile(0.75, "linear"), values.min(), values.max())


def _numeric_rows(summary: Summary | None) -> list[tuple[str, str]]:
    if summary is None:
        return [("median (IQR)", "–"), ("range", "–")]
    return [
        ("median (IQR)", f"{_fmt(summary.median)} ({_fmt(summary.q1)}–{_fmt(summary.q3)})"),
        ("range", f"{_fmt(summary.low)}–{_fmt(summary.high)}"),
    ]


ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def ordinal_rank(level: str) -> int | None:
    """The rank of a level that names a grade or stage: 'I'-'X', '1', 'grade 2', 'G3', 'stage
    IV' (case and blanks ignored); None for any other text."""
    words = re.fullmatch(r"(?:grade|stage|g)?\s*([ivx]+|\d+)", level.strip().lower())
    if words is None:
        return None
    token = words.group(1)
    if token.isdigit():
        return int(token)
    return ROMAN.index(token.upper()) + 1 if token.upper() in ROMAN else None


def level_order(counts: dict[str, int], is_text: bool) -> list[str]:
    """The levels of ``counts`` (level -> patients) as Table 1 lists them: most frequent first,
    ties by level; levels of a text column (``is_text``) that are all grades or stages ('I',
    'II', 'III'; 'G1'...) in their own order instead."""
    pairs = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    ranks = [ordinal_rank(level) for level, _ in pairs]
    if is_text and pairs and None not in ranks:
        pairs = [pair for _, pair in sorted(zip(ranks, pairs, strict=True))]
    return [level for level, _ in pairs]


def _level_counts(column: pl.Series) -> dict[str, int]:
    """Patients per level (text as polars writes it) in :func:`level_order`; a list column
    counts a patient once per distinct value."""
    if isinstance(column.dtype, pl.List):
        values = column.list.unique().explode().drop_nulls()
    else:
        values = column.drop_nulls()
    counts = values.cast(pl.String).value_counts()
    pairs = dict(zip(counts[counts.columns[0]].to_list(), counts["count"].to_list(), strict=True))
    return {level: pairs[level] for level in level_order(pairs, column.dtype == pl.String)}


def _missing(column: pl.Series) -> int:
    if isinstance(column.dtype, pl.List):
        return int(column.is_null().sum())
    nan = int(column.is_nan().sum()) if column.dtype.is_float() else 0
    return int(column.is_null().sum()) + nan


def _pct(count: int, total: int) -> str:
    return whole_percent(100 * count / total) if total else "–"


def whole_percent(percent: float) -> str:
    """A percentage (0-100) as a whole number, halves rounded up ("12.5" -> "13%"), and "<1%"
    rather than "0%" when it is not zero: a count never reads as none."""
    if 0 < percent < 0.5:
        return "<1%"
    return f"{math.floor(percent + 0.5)}%"



Key = tuple[str, str, str]  # (variable, statistic, group header)
SIZE = ("", "n", "")


@dataclass
class _Cells:
    """Table 1 before formatting: each count with the denominator of its percentage (None:
    no percentage), each other statistic as text, and the lines of counts adding up."""

    counts: dict[Key, int] = field(default_factory=dict)
    denominators: dict[Key, int | None] = field(default_factory=dict)
    texts: dict[Key, str] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)

    def add_count(self, key: Key, count: int, denominator: int | None = None) -> None:
        self.counts[key] = count
        self.denominators[key] = denominator


@dataclass(frozen=True)
class VariableStats:
    """One Table 1 variable before formatting, per group header: its missing count and either
    its patients per level (``levels`` in display order) or its numeric :class:`Summary`
    (``levels`` None). ``is_list``: levels of a list column, which need not add up."""

    missing: dict[str, int]
    levels: list[str] | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    summaries: dict[str, Summary | None] = field(default_factory=dict)
    is_list: bool = False


def _variable_cells(cells: _Cells, variable: str, stats: VariableStats, headers: list[str],
                    sizes: dict[str, int], min_cell: int | None) -> list[str]:
    """Add one variable's cells in every group; returns its statistic labels in order."""
    labels: list[str] = []
    levels = stats.levels
    for header in headers:
        missing = stats.missing[header]
        if levels is None:
            numeric = _numeric_rows(stats.summaries[header])
            if is_small(sizes[header], min_cell):
                numeric = [(label, "–") for label, _ in numeric]
            cells.texts |= {(variable, label, header): text for label, text in numeric}
            labels = [label for label, _ in numeric]
        else:
            counts = stats.counts[header]
            for level in levels:
                cells.add_count((variable, level, header), counts.get(level, 0),
                                sizes[header] - missing)
            labels = list(levels)
            if not stats.is_list:
                cells.lines.append(Line(tuple((variable, s, header) for s in [*levels, "missing"]),
                                        (*SIZE[:2], header)))
        cells.add_count((variable, "missing", header), missing)
    for label in [*labels, "missing"]:
        if (variable, label, headers[0]) in cells.counts:
            cells.lines.append(Line(tuple((variable, label, h) for h in headers[1:]),
                                    (variable, label, headers[0])))
    return [*labels, "missing"]


def _cell_text(cells: _Cells, key: Key, hidden: set[Key], min_cell: int | None) -> str:
    if key in cells.texts:
        return cells.texts[key]
    count, denominator = cells.counts[key], cells.denominators[key]
    if key in hidden:
        return count_text(count, min_cell, hidden=True)
    missing_hidden = (key[0], "missing", key[2]) in hidden
    if denominator is None or missing_hidden:
        return str(count)
    return f"{count} ({_pct(count, denominator)})"


def table_one(patients: pl.DataFrame, by: str | None = None,
              variables: list[str] | None = None, min_cell: int | None = None) -> pl.DataFrame:
    """Table 1 as text: columns characteristic, statistic, 'Overall (n=N)', one per group.

    Group columns are sorted group values, each headed 'value (n=N)'; missing group: 'missing'.
    ``min_cell``: small counts suppressed, and those that totals would give away withheld
    (see the module's docstring).
    """
    variables = [v for v in (variables or default_variables(patients)) if v != by]
    groups = _groups(patients, by)
    sizes = {value: members.height for value, members in groups.items()}
    stats = [(variable, _variable_stats(variable, groups)) for variable in variables]
    return format_table_one(sizes, stats, by is not None, min_cell)


def _variable_stats(variable: str, groups: dict[str, pl.DataFrame]) -> VariableStats:
    """One variable's :class:`VariableStats` from the rows of each group (Overall first)."""
    columns = {header: members[variable] for header, members in groups.items()}
    overall = columns[OVERALL]
    missing = {header: _missing(column) for header, column in columns.items()}
    if is_numeric(overall.dtype):
        return VariableStats(missing, summaries={header: numeric_summary(column)
                                                 for header, column in columns.items()})
    return VariableStats(missing, levels=list(_level_counts(overall)),
                         counts={header: _level_counts(column)
                                 for header, column in columns.items()},
                         is_list=isinstance(overall.dtype, pl.List))


def format_table_one(sizes: dict[str, int], stats: list[tuple[str, VariableStats]], grouped: bool,
                     min_cell: int | None) -> pl.DataFrame:
    """Table 1 as text (see :func:`table_one`) from the patients per group header (Overall
    first, then the groups in order) and (variable, statistics) in row order;
    ``grouped``: the table has a group column per value of a ``by`` column."""
    headers = list(sizes)
    cells = _Cells()
    for header in headers:
        cells.add_count((*SIZE[:2], header), sizes[header])
    if grouped:
        cells.lines.append(Line(tuple((*SIZE[:2], h) for h in headers[1:]),
                                (*SIZE[:2], headers[0])))
    rows: list[tuple[str, str]] = []
    for variable, variable_stats in stats:
        labels = _variable_cells(cells, variable, variable_stats, headers, sizes, min_cell)
        rows += [(variable, label) for label in labels]
    hidden = protect(cells.counts, cells.lines, min_cell)
    titles = {h: f"{h} (n={count_text(sizes[h], min_cell, (*SIZE[:2], h) in hidden)})"
              for h in headers}
    records: dict[str, list[str]] = {
        "characteristic": [column_label(v) for v, _ in rows],
        "statistic": [label for _, label in rows],
    }
    for header in headers:
        records[titles[header]] = [_cell_text(cells, (v, label, header), hidden, min_cell)
                                   for v, label in rows]
    return pl.DataFrame(records, schema=dict.fromkeys(records, pl.String))


def group_order(values: list[str]) -> list[str]:
    """Group headers in table order: sorted, 'missing' last."""
    return sorted(values, key=lambda v: (v == "missing", v))


def _groups(patients: pl.DataFrame, by: str | None) -> dict[str, pl.DataFrame]:
    groups = {OVERALL: patients}
    if by is None:
        return groups
    keys = patients[by].cast(pl.String).fill_null("missing")
    for value in group_order(keys.unique().to_list()):
        groups[value] = patients.filter(keys == value)
    return groups
