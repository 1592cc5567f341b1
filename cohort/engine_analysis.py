"""A survival analysis of an engine table: the filter and the one aggregation run where the
data live, and only the counts come back.

:func:`analysed_counts_in_engine` builds, for a :class:`~cohort.analysis.SurvivalRequest`, one
GROUP BY (stratum, time in the request's unit) over the filtered table, with the rows missing
a time, an event or a stratum counted in the same pass, and returns the
:class:`~cohort.analysis.AnalysedCounts` that :func:`cohort.analysis.survival_from_counts`
turns into every table of the Survival screen, exactly as it does for the in-memory path
(:func:`cohort.analysis.analysed_counts`). The stratum follows ``cohort.analysis.stratify``: a
numeric column split at the cut (the median of the analysed patients when none is given), a
text column by value, the least frequent values beyond ``MAX_STRATA - 1`` pooled into
"Other" after the counts are fetched (pooling adds counts up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir
import polars as pl

from cohort.analysis import (
    CONVENTIONAL_CUTS,
    MAX_STRATA,
    AnalysedCounts,
    SurvivalRequest,
    cut_labels,
    pooled_label,
)
from cohort.engine import is_missing
from cohort.engine_source import Decoder, stored_column
from cohort.survival import ALL, event_codes
from cohort.units import column_unit, time_source, unit_factor

__all__ = ["analysed_counts_in_engine", "median_in_engine", "suggested_cut_in_engine"]

COMPETING_CODE = 2


def _time_in_unit(table: ir.Table, request: SurvivalRequest) -> tuple[str, ir.FloatingValue]:
    """The column the time is read from and the time in the request's unit as float64, NaN
    as null: ``cohort.units.time_in_unit``'s arithmetic."""
    source = time_source(table, request.time, request.unit)
    source_unit = column_unit(source)
    time = table[source if source_unit else request.time].cast("float64")
    if source_unit is not None and source_unit != request.unit:
        time = time * ibis.literal(unit_factor(source_unit, request.unit), type="float64")
    return source, time.isnan().ifelse(ibis.null("float64"), time)


def _is_number(value: ir.Value) -> bool:
    return value.type().is_numeric() and not value.type().is_boolean()


def median_in_engine(table: ir.Table, column: str) -> float | None:
    """The median of ``column``'s finite values (polars' ``median``: the middle value, or the
    mean of the two middle ones), None without values."""
    value = table[column]
    kept = table.filter(~is_missing(value) & ~value.isinf() if value.type().is_floating()
                        else value.notnull())
    median = kept.aggregate(m=kept[column].cast("float64").median()).to_pyarrow()["m"][0]
    return None if median.as_py() is None else float(median.as_py())


def suggested_cut_in_engine(table: ir.Table, by: str, recorded: list[str]) -> float:
    """:func:`cohort.analysis.suggested_cut` computed in the engine: a conventional cut, or the
    median of ``by`` among rows with every ``recorded`` column present, rounded to 0.1."""
    if by in CONVENTIONAL_CUTS:
        return CONVENTIONAL_CUTS[by]
    present = [table[c].notnull() for c in recorded]
    kept = table.filter(present) if present else table
    median = median_in_engine(kept, by)
    return round(median, 1) if median is not None else 0.0


def _stratum(table: ir.Table, request: SurvivalRequest, analysed: ir.BooleanValue,
             decoders: Mapping[str, Decoder]
             ) -> tuple[ir.Value, Decoder | None, float | None, list[str] | None]:
    """The group of each row (a text stratum as stored) and its decoder, the numeric cut
    (None for text) and the numeric groups' order (None for text: known once the values are
    counted)."""
    if not request.by:
        return ibis.literal(ALL), None, None, [ALL]
    value = table[request.by]
    if not _is_number(value):
        key, decoder = _grouping_key(table, request.by, decoders)
        return key.cast("string"), decoder, None, None
    cut = request.cut
    if cut is None:
        cut = median_in_engine(table.filter(analysed), request.by)
        cut = 0.0 if cut is None else cut
    low, high = cut_labels(cut)
    group = ibis.cases((is_missing(value), ibis.null("string")),
                       (value < cut, ibis.literal(low)), else_=ibis.literal(high))
    return group, None, cut, [low, high]


def _grouping_key(table: ir.Table, column: str, decoders: Mapping[str, Decoder]
                  ) -> tuple[ir.Value, Decoder | None]:
    """What to group ``column`` by: its stored value and the decoder of such values where the
    table keeps them (``cohort.engine_source.engine_table``), else the column itself."""
    stored = stored_column(column)
    if column in decoders and stored in table.columns:
        return table[stored], decoders[column]
    return table[column], None


def counts_query(table: ir.Table, request: SurvivalRequest,
                 decoders: Mapping[str, Decoder] | None = None
                 ) -> tuple[ir.Table, Callable[[pl.DataFrame], pl.DataFrame], str, float | None,
                            list | None]:
    """The ibis query: one row per (``group``, ``time``, ``event``) as stored, with ``n``
    rows; its decoding (fetched frame -> one row per (``group``, ``time`` in the request's
    unit) with ``n_rows`` (all rows), ``n_event_missing`` and, of the rows with an event
    code, ``n_event`` (code 1), ``n_censor`` (0), ``n_two`` (2) and ``n_exit`` (any); a null
    group or time collects the rows missing it). Also the time's source column, the cut and
    the numeric groups' order. The engine does only the grouping: decoding each of 100M
    rows cost it more than grouping them; decoding the fetched keys costs nothing."""
    source = time_source(table, request.time, request.unit)
    source_unit = column_unit(source)
    time_key, time_decoder = _grouping_key(table, source if source_unit else request.time,
                                           decoders or {})
    event_key, event_decoder = _grouping_key(table, request.event, decoders or {})
    analysed = _time_in_unit(table, request)[1].notnull() & ~is_missing(table[request.event])
    group, group_decoder, cut, order = _stratum(table, request, analysed, decoders or {})
    rows = table.select(group=group, time=time_key, event=event_key)
    query = rows.group_by(["group", "time", "event"]).aggregate(n=rows.count())
    factor = (unit_factor(source_unit, request.unit)
              if source_unit is not None and source_unit != request.unit else None)

    def decoded(fetched: pl.DataFrame) -> pl.DataFrame:
        time = (time_decoder(fetched["time"]) if time_decoder else fetched["time"]
                ).cast(pl.Float64)
        if factor is not None:
            time = time * factor
        event = event_decoder(fetched["event"]) if event_decoder else fetched["event"]
        group = group_decoder(fetched["group"]) if group_decoder else fetched["group"]
        return _per_time(fetched.select("n").with_columns(
            group=group, time=time.fill_nan(None), event=event,
        ).with_columns(status=event_codes(pl.col("event"), event.dtype),
                       event_missing=_is_missing(event)))

    return query, decoded, source, cut, order


def _is_missing(event: pl.Series) -> pl.Series:
    missing = event.is_null()
    return missing | event.is_nan().fill_null(False) if event.dtype.is_float() else missing


def _per_time(keys: pl.DataFrame) -> pl.DataFrame:
    """Rows per decoded (group, time) of (group, time, status, event_missing, n) keys."""
    n, status = pl.col("n"), pl.col("status")
    return keys.group_by("group", "time").agg(
        n_rows=n.sum(), n_event_missing=n.filter(pl.col("event_missing")).sum(),
        n_event=n.filter(status == 1).sum(), n_censor=n.filter(status == 0).sum(),
        n_two=n.filter(status == COMPETING_CODE).sum(), n_exit=n.filter(status.is_not_null()).sum())


def _left_out(fetched: pl.DataFrame, request: SurvivalRequest) -> dict[str, int]:
    """Rows left out per column, as ``cohort.analysis``: time, then event, then stratum."""
    timed = fetched.filter(pl.col("time").is_not_null())
    missing = {
        request.time: fetched["n_rows"].sum() - timed["n_rows"].sum(),
        request.event: timed["n_event_missing"].sum(),
    }
    if request.by:
        no_group = timed.filter(pl.col("group").is_null())
        missing[request.by] = (no_group["n_rows"] - no_group["n_event_missing"]).sum()
    return {column: int(n) for column, n in missing.items() if n}


def _text_groups(counts: pl.DataFrame) -> tuple[list[str], dict[str, str], tuple[str, ...]]:
    """The groups of a text stratum in order, each value's group, and the pooled values
    (``cohort.analysis.stratify``'s rule, on the counted rows)."""
    sizes = counts.group_by("group").agg(n=(pl.col("n_rows") - pl.col("n_event_missing")).sum())
    by_frequency = sizes.sort(["n", "group"], descending=[True, False])["group"].to_list()
    if len(by_frequency) <= MAX_STRATA:
        return sorted(by_frequency), {v: v for v in by_frequency}, ()
    kept, pooled = sorted(by_frequency[:MAX_STRATA - 1]), tuple(by_frequency[MAX_STRATA - 1:])
    other = pooled_label(len(pooled))
    return [*kept, other], {v: v if v in kept else other for v in by_frequency}, pooled


def analysed_counts_in_engine(table: ir.Table, request: SurvivalRequest,
                              decoders: Mapping[str, Decoder] | None = None) -> AnalysedCounts:
    """The :class:`~cohort.analysis.AnalysedCounts` of ``request`` on the engine table
    ``table`` (filtered already; ``decoders`` of its stored columns, as
    ``cohort.engine_source.decoders`` gives them): one GROUP BY in the engine, its rows
    (groups x distinct times x event values, a few thousand) fetched."""
    query, decoded, source, cut, order = counts_query(table, request, decoders)
    fetched = query.to_polars()
    fetched = decoded(fetched.with_columns(pl.col("group").cast(pl.String),
                                           pl.col("n").cast(pl.Int64)))
    left_out = _left_out(fetched, request)
    counted = fetched.drop_nulls(["group", "time"])
    pooled: tuple[str, ...] = ()
    if order is None:
        order, group_of, pooled = _text_groups(counted)
        counted = counted.with_columns(pl.col("group").replace_strict(group_of))
    counts = (counted.filter(pl.col("n_exit") > 0)
              .group_by("group", "time").agg(pl.col("n_event", "n_censor", "n_two",
                                                      "n_exit").sum())
              .with_columns(pl.col("group").cast(pl.Enum(order)))
              .sort("group", "time")
              .with_columns(pl.col("group").cast(pl.String),
                            n_competing=pl.col("n_exit") - pl.col("n_event") - pl.col("n_censor")))
    competing = set(counts.filter(pl.col("n_two") > 0)["group"].to_list())
    groups = counts["group"].unique(maintain_order=True).to_list()
    return AnalysedCounts(
        counts.select("group", "time", "n_event", "n_competing", "n_censor", "n_exit"),
        source, left_out, cut, pooled, tuple(g for g in groups if g in competing))
