"""Table 1 of an engine table (ibis over DuckDB, PostgreSQL, Spark) from aggregates only.

:func:`table_one_in_engine` equals :func:`cohort.tables.table_one` of the same rows, frame
for frame: the counts and statistics come from at most four aggregate queries (patients and
missing counts per group; patients per level of every categorical variable; numeric
summaries overall and per group), never the rows, and :func:`cohort.tables.format_table_one`
formats and suppresses them as it does in memory.

Semantics follow the polars path: a level is the value as polars writes it as text (the
values are fetched and written by polars), a list column counts a patient once per distinct
value, missing is null (or NaN in a float column; a null list), and a ``by`` group is the
value's polars text, "missing" for null. Medians and quartiles are linear quantiles of the
values without nulls and NaN, but not the engine's own: DuckDB's quantile_cont interpolates
as lo * (1 - d) + hi * d, which for GTV 74.8 and 412.4 gives Q3 327.99999999999994 where
polars gives 328.0 (shown "328.0" against "328"). The engine ranks the values in a window
and returns, per group, the two values around each quartile's position (n - 1) * q; the
interpolation is polars' own arithmetic, here, so the digits agree on every engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import polars as pl
from ibis.formats.polars import PolarsType

from cohort.engine import EngineError
from cohort.tables import (
    OVERALL,
    Summary,
    VariableStats,
    format_table_one,
    group_order,
    level_order,
)

__all__ = ["table_one_in_engine"]

KEY = "_g"
QUANTILES = {"median": 0.5, "q1": 0.25, "q3": 0.75}


def _fetch(query: ir.Table) -> pl.DataFrame:
    """The result of an aggregate ``query`` as polars (the one place this module fetches)."""
    return query.to_polars()


def _polars_dtype(value: ir.Value) -> pl.DataType:
    return PolarsType.from_ibis(value.type())


def _is_numeric(value: ir.Value) -> bool:
    """A number column, as :func:`cohort.schema.is_numeric` (booleans are categories)."""
    dtype = value.type()
    return dtype.is_numeric() and not dtype.is_boolean()


def _keyed(table: ir.Table, by: str | None) -> tuple[ir.Table, list[str]]:
    """``table`` with the group key column ``_g`` (a text ``by`` with null as "missing", so
    that it merges with a "missing" value as polars' groups do) and the key columns."""
    if by is None:
        return table, []
    value = table[by]
    key = value.fill_null("missing") if value.type().is_string() else value
    return table.mutate(**{KEY: key}), [KEY]


def _group_text(keys: pl.Series) -> list[str]:
    """Fetched group keys as table headers: polars' text, "missing" for null."""
    return keys.cast(pl.String).fill_null("missing").to_list()


def _headers(fetched: pl.DataFrame, by: str | None) -> list[str]:
    """Each fetched row's group header (Overall without ``by``)."""
    return [OVERALL] * fetched.height if by is None else _group_text(fetched[KEY])


def _missing(value: ir.Value) -> ir.BooleanValue:
    """Missing as Table 1 counts it: null, NaN in a float column; a null list."""
    if value.type().is_floating():
        return value.isnull() | value.isnan()
    return value.isnull()


def _sizes_and_missing(keyed: ir.Table, keys: list[str], by: str | None,
                       variables: Sequence[str]) -> tuple[dict[str, int], dict[str, dict]]:
    """Patients per group header (Overall first, groups in table order) and each variable's
    missing count per header, from one GROUP BY."""
    sums = {f"m{i}": _missing(keyed[v]).cast("int32").sum() for i, v in enumerate(variables)}
    fetched = _fetch(keyed.aggregate(by=keys, n=keyed.count(), **sums))
    headers = _headers(fetched, by)
    if len(set(headers)) != len(headers):  # e.g. 0.0 and -0.0, apart in some engines
        raise EngineError(f"values of {by!r} that polars writes alike were grouped apart")
    counts = fetched.select(pl.col(c).cast(pl.Int64).fill_null(0)
                            for c in ["n", *sums]).to_dicts()
    rows = dict(zip(headers, counts, strict=True))
    order = [OVERALL] if by is None else [OVERALL, *group_order(list(rows))]
    total = {c: sum(row[c] for row in rows.values()) for c in ["n", *sums]}
    rows[OVERALL] = total
    sizes = {header: rows[header]["n"] for header in order}
    missing = {v: {header: rows[header][f"m{i}"] for header in order}
               for i, v in enumerate(variables)}
    return sizes, missing


def _text_levels(value: ir.Value) -> ir.Value | None:
    """``value``'s levels as engine text equal to polars' text (a text list: its distinct
    elements, one row each); None when only polars can write them."""
    dtype = value.type()
    if dtype.is_string():
        return value
    if dtype.is_boolean():
        return value.cases((True, "true"), (False, "false"), else_=ibis.null(dt.string))
    if dtype.is_array() and dtype.value_type.is_string():
        return value.unique().unnest()
    return None


def _raw_levels(value: ir.Value) -> ir.Value:
    return value.unique().unnest() if value.type().is_array() else value


def _level_query(keyed: ir.Table, keys: list[str], levels: ir.Value, index: int) -> ir.Table:
    """Patients per (group, level) of one variable, tagged with its ``index`` as ``_v``."""
    rows = keyed.select(*keys, level=levels).drop_null("level")
    return rows.aggregate(by=[*keys, "level"], n=rows.count()).mutate(_v=ibis.literal(index))


def _level_counts(keyed: ir.Table, keys: list[str], by: str | None,
                  variables: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Per variable, per group header, patients per level (polars text): the text-typed
    variables in one UNION ALL of GROUP BYs, any other (dates, number lists) one each."""
    text_queries, fetched = [], []
    for i, variable in enumerate(variables):
        levels = _text_levels(keyed[variable])
        if levels is not None:
            text_queries.append(_level_query(keyed, keys, levels, i))
        else:
            raw = _fetch(_level_query(keyed, keys, _raw_levels(keyed[variable]), i))
            fetched.append(raw.with_columns(pl.col("level").cast(pl.String)))
    if text_queries:
        union = text_queries[0].union(*text_queries[1:]) if len(text_queries) > 1 \
            else text_queries[0]
        fetched.append(_fetch(union))
    counts: dict[str, dict[str, dict[str, int]]] = {v: {} for v in variables}
    for frame in fetched:
        frame = frame.with_columns(pl.col("level").cast(pl.String), pl.col("n").cast(pl.Int64))
        for header, row in zip(_headers(frame, by), frame.iter_rows(named=True), strict=True):
            per_group = counts[variables[row["_v"]]].setdefault(header, {})
            per_group[row["level"]] = row["n"]
    return counts


def _with_overall(counts: dict[str, dict[str, int]], headers: list[str]
                  ) -> dict[str, dict[str, int]]:
    """Counts for every header, Overall the sum of the groups (each patient is in one)."""
    overall: dict[str, int] = {}
    for per_level in counts.values():
        for level, n in per_level.items():
            overall[level] = overall.get(level, 0) + n
    return {header: overall if header == OVERALL else counts.get(header, {})
            for header in headers}


def _values(value: ir.Value) -> ir.Value:
    """The values a summary reads: NaN as null in a float column."""
    if value.type().is_floating():
        return value.isnan().ifelse(ibis.null(value.type()), value)
    return value


def _ranked(keyed: ir.Table, keys: list[str], variables: Sequence[str]) -> ir.Table:
    """Per numeric variable ``i``: its values ``v{i}`` (NaN as null), as float64 ``x{i}``,
    their 0-based rank ``r{i}`` in the group (nulls last) and the group's count ``n{i}`` of
    non-null values."""
    columns = {}
    for i, variable in enumerate(variables):
        values = _values(keyed[variable])
        as_float = values.cast("float64")
        order = ibis.window(group_by=keys or None, order_by=[as_float.isnull(), as_float])
        columns |= {f"v{i}": values, f"x{i}": as_float,
                    f"r{i}": ibis.row_number().over(order),
                    f"n{i}": as_float.count().over(ibis.window(group_by=keys or None))}
    return keyed.select(*keys, **columns)


def _order_statistics(ranked: ir.Table, variables: Sequence[str]) -> dict[str, ir.Scalar]:
    """Per variable: the two values around each quartile's position (n - 1) * q (polars'
    linear interpolation reads them), the range and the count of values."""
    metrics = {}
    for i, _ in enumerate(variables):
        rank, position = ranked[f"r{i}"], (ranked[f"n{i}"] - 1).cast("float64")
        for name, quantile in QUANTILES.items():
            index = position * quantile
            metrics[f"{name}_lo{i}"] = ranked[f"x{i}"].max(where=rank == index.floor())
            metrics[f"{name}_hi{i}"] = ranked[f"x{i}"].max(where=rank == index.ceil())
        metrics |= {f"low{i}": ranked[f"v{i}"].min(), f"high{i}": ranked[f"v{i}"].max(),
                    f"n{i}": ranked[f"x{i}"].count()}
    return metrics


def _linear(lower: float, upper: float, count: int, quantile: float) -> float:
    """Polars' linear quantile from the values at floor and ceil of (count - 1) * quantile,
    with its arithmetic (proportion * (upper - lower) + lower), so the digits agree."""
    position = (count - 1) * quantile
    if lower == upper:
        return lower
    return (position - math.floor(position)) * (upper - lower) + lower


def _summary(row: dict, i: int) -> Summary | None:
    count = row[f"n{i}"]
    if not count:
        return None
    quantiles = {name: _linear(row[f"{name}_lo{i}"], row[f"{name}_hi{i}"], count, q)
                 for name, q in QUANTILES.items()}
    return Summary(quantiles["median"], quantiles["q1"], quantiles["q3"], row[f"low{i}"],
                   row[f"high{i}"])


def _summaries(keyed: ir.Table, keys: list[str], by: str | None,
               variables: Sequence[str]) -> dict[str, dict[str, Summary | None]]:
    """Per variable, per group header, its :class:`Summary` (None without values): the order
    statistics come from one aggregate over ranked values overall and, with ``by``, one
    GROUP BY over values ranked within groups."""
    groupings = [([], None)] + ([(keys, by)] if by is not None else [])
    summaries: dict[str, dict[str, Summary | None]] = {v: {} for v in variables}
    for grouping_keys, grouping in groupings:
        ranked = _ranked(keyed, grouping_keys, variables)
        frame = _fetch(ranked.aggregate(by=grouping_keys,
                                        **_order_statistics(ranked, variables)))
        for header, row in zip(_headers(frame, grouping), frame.iter_rows(named=True),
                               strict=True):
            for i, variable in enumerate(variables):
                summaries[variable][header] = _summary(row, i)
    return summaries


def table_one_in_engine(table: ir.Table, by: str | None, variables: list[str],
                        min_cell: int | None = None) -> pl.DataFrame:
    """:func:`cohort.tables.table_one` of ``table``'s rows, computed in its engine: the same
    frame (characteristic, statistic, 'Overall (n=N)', one column per group), from aggregate
    queries only. ``variables`` must be named (the defaults need the rows)."""
    variables = [v for v in variables if v != by]
    if not variables:
        raise EngineError("name the Table 1 variables: the defaults are chosen in memory")
    absent = [v for v in {*variables, *([by] if by else [])} if v not in table.columns]
    if absent:
        raise EngineError(f"the engine table has no column {', '.join(map(repr, absent))}")
    keyed, keys = _keyed(table, by)
    sizes, missing = _sizes_and_missing(keyed, keys, by, variables)
    headers = list(sizes)
    distinct = list(dict.fromkeys(variables))
    numeric = [v for v in distinct if _is_numeric(table[v])]
    categorical = [v for v in distinct if v not in numeric]
    stats: dict[str, VariableStats] = {}
    if numeric:
        for variable, per_group in _summaries(keyed, keys, by, numeric).items():
            stats[variable] = VariableStats(
                missing[variable], summaries={h: per_group.get(h) for h in headers})
    if categorical:
        for variable, per_group in _level_counts(keyed, keys, by, categorical).items():
            counts = _with_overall(per_group, headers)
            is_text = _polars_dtype(table[variable]) == pl.String
            stats[variable] = VariableStats(
                missing[variable], levels=level_order(counts[OVERALL], is_text),
                counts=counts, is_list=table[variable].type().is_array())
    return format_table_one(sizes, [(v, stats[v]) for v in variables], by is not None,
                            min_cell)
