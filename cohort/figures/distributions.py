"""Distribution charts of cohort variables: one bar per value for integer and ordinal columns,
horizontal bars for categories, histograms for continuous numbers.

With a small-cell threshold (``min_cell``, :mod:`cohort.suppression`) a bar of 1 to min_cell - 1
patients is not drawn (no height, text or hover gives its count away), nor the smallest other
bar when the bars and the missing count would add up to the n shown with a single bar left out
(:func:`cohort.suppression.protect`); a value's bar not drawn keeps its place on a level axis,
its text and hover "<11" or "withheld"; the subtitle says how many are not drawn, and the n
and missing counts are suppressed (n left out when the missing count is hidden)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import plotly.graph_objects as go
import polars as pl

from cohort.figures.style import wrap
from cohort.figures.templates import PLOTLY_WHITE
from cohort.schema import RESPONSES, column_label
from cohort.suppression import WITHHELD, Line, is_small, protect, suppressed_count

BAR_COLOUR = "#0072B2"  # Okabe-Ito blue
MAX_BARS = 25  # categories drawn, most frequent first
MAX_LEVELS = 30  # integer-valued columns with at most this many values: one bar per value
#: Ordinal columns and their whole scale: every level is drawn, with or without patients.
ORDINAL_LEVELS: dict[str, tuple] = {"ecog": (0, 1, 2, 3, 4), "best_response": RESPONSES}
FONT_SIZE = 15
LABEL_WIDTH = 24  # characters per line of a category label (half a page wide)
MAX_LABELLED_LEVELS = 12  # more bars than this are too narrow for a count over each
LINE_PX = 19  # one line of a category label
BAR_PX = 30  # least height of a horizontal bar
HEIGHT = 340
TOP_PX, BOTTOM_PX = 80, 60
TARGET_BINS = 30
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)

Kind = Literal["levels", "categories", "histogram"]


@dataclass(frozen=True)
class DistributionCounts:
    """What a distribution chart of ``column`` draws, counted (in memory by
    :func:`distribution_counts`, in an engine by ``cohort.engine_distributions``): its
    :func:`chart_kind`, the rows and the patients with a value, whether any row holds an
    empty list (``empty_lists``; ``is_list``: a list column) and ``counts``: ``value`` (text as
    on the axis) and ``patients``, levels in axis order or categories most frequent first;
    a histogram's bins as ``left`` (edge, the column's unit) and ``patients``, ``width`` wide."""

    column: str
    kind: Kind
    n_rows: int
    n: int
    counts: pl.DataFrame
    is_list: bool = False
    empty_lists: bool = False
    width: float | None = None

    @property
    def missing(self) -> int:
        """Rows without a value."""
        return self.n_rows - self.n


def _values(values: pl.Series) -> pl.Series:
    """The values a chart counts: no nulls, no NaN or infinities, no empty lists."""
    present = values.drop_nulls()
    if isinstance(present.dtype, pl.List):
        return present.filter(present.list.len() > 0)
    if present.dtype.is_float():
        return present.filter(present.is_finite())
    return present


def patients_with_value(values: pl.Series) -> int:
    """Patients (rows) with a value of ``values``: the n a distribution chart analyses."""
    return _values(values).len()


def _whole_numbers(values: pl.Series) -> bool:
    return values.dtype.is_integer() or bool((values == values.round(0)).all())


def chart_kind(values: pl.Series, column: str) -> Kind:
    """"levels" (one bar per value: an ordinal column, an enum, or whole numbers with at most
    :data:`MAX_LEVELS` values), "histogram" (other numbers) or "categories" (text, booleans,
    lists)."""
    present = _values(values)
    if column in ORDINAL_LEVELS or isinstance(values.dtype, pl.Enum):
        return "levels"
    if not values.dtype.is_numeric() or values.dtype == pl.Boolean:
        return "categories"
    if _whole_numbers(present) and present.n_unique() <= MAX_LEVELS:
        return "levels"
    return "histogram"


def _note(n: int, missing: int, empty_lists: bool, shown: str = "",
          min_cell: int | None = None, left_out: int = 0) -> str:
    """'n = 42 patients with a value; 3 missing', suppressed under ``min_cell``: n left out
    when the missing count is hidden (the cohort's size would give it away); then ``shown``
    and, on a line of its own, how many bars are not drawn."""
    none = "with none listed" if empty_lists else "missing"
    parts = [] if is_small(missing, min_cell) else [
        f"n = {_count(n, min_cell)} patients with a value"]
    if missing:
        parts.append(f"{_count(missing, min_cell)} {none}")
    withheld = (f"<br>{left_out} bar{'s' if left_out > 1 else ''} withheld (small-cell "
                "suppression)" if left_out else "")
    return "; ".join(parts) + shown + withheld


def _count(n: int, min_cell: int | None) -> str:
    return suppressed_count(n, min_cell) if is_small(n, min_cell) else f"{n:,}"


def shown_n(counts: DistributionCounts, min_cell: int | None = None) -> int | str:
    """The n a distribution chart states, for its slide and report: the patients with a
    value, or "withheld" when ``min_cell`` hides the missing count (the chart leaves n out
    then)."""
    return WITHHELD if is_small(counts.missing, min_cell) else counts.n


def _layout(figure: go.Figure, title: str, note: str, height: int = HEIGHT) -> go.Figure:
    figure.update_layout(
        title={"text": f"{title}<br><sup>{note}</sup>", "font": {"size": FONT_SIZE + 3}},
        template=PLOTLY_WHITE, font={"size": FONT_SIZE}, height=height,
        paper_bgcolor="white", plot_bgcolor="white",
        margin={"l": 10, "r": 30, "t": TOP_PX, "b": BOTTOM_PX}, showlegend=False, bargap=0.15,
    )
    return figure


def _level_label(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def levels_in_order(counts: dict, column: str, enum: list | None = None) -> pl.DataFrame:
    """Patients per value (``counts``: value -> patients) in the values' order (numeric, the
    ``enum``'s categories, or the ordinal scale of :data:`ORDINAL_LEVELS`, whose every level
    is listed, 0 patients included): columns ``value`` (text as on the axis) and
    ``patients``."""
    if column in ORDINAL_LEVELS:
        scale = list(ORDINAL_LEVELS[column])
        levels = scale + sorted((v for v in counts if v not in scale), key=str)
    elif enum is not None:
        levels = enum
    else:
        levels = sorted(counts)
    return pl.DataFrame({"value": [_level_label(v) for v in levels],
                         "patients": [int(counts.get(v, 0)) for v in levels]},
                        schema={"value": pl.String, "patients": pl.Int64})


def level_counts(values: pl.Series, column: str) -> pl.DataFrame:
    """:func:`levels_in_order` of the values of ``values``."""
    enum = values.dtype.categories.to_list() if isinstance(values.dtype, pl.Enum) else None
    return levels_in_order(dict(_values(values).value_counts().iter_rows()), column, enum)


def _levels_figure(counted: DistributionCounts, min_cell: int | None = None
                   ) -> tuple[go.Figure, int]:
    """One bar per value; under ``min_cell`` the bars :func:`hidden_bars` names are not drawn
    (height 0), their value keeping its place on the axis with "<11" or "withheld" as its text
    and hover. Returns the figure and how many bars were not drawn."""
    counts, column = counted.counts, counted.column
    labels, patients = counts["value"].to_list(), counts["patients"].to_list()
    hidden = hidden_bars(patients, min_cell, counted.missing)
    heights = [0 if i in hidden else n for i, n in enumerate(patients)]
    shown = [(suppressed_count(n, min_cell) if is_small(n, min_cell) else WITHHELD)
             if i in hidden else str(n) for i, n in enumerate(patients)]
    empty = bool(hidden) and not any(heights)
    counted = len(labels) <= MAX_LABELLED_LEVELS and not empty
    figure = go.Figure(go.Bar(
        x=labels, y=heights, marker_color=BAR_COLOUR, text=shown if counted else None,
        customdata=shown, textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{customdata} patients<extra></extra>"))
    figure.update_xaxes(title_text=column_label(column), type="category", tickmode="array",
                        tickvals=labels, ticktext=labels, categoryorder="array",
                        categoryarray=labels)
    top = max(heights, default=0)
    figure.update_yaxes(title_text="Patients", range=[0, max(top * 1.15, 1)], rangemode="tozero")
    if empty:
        _empty_note(figure, min_cell)
    return figure, len(hidden)


def most_frequent_first(values: pl.Series, patients: pl.Series) -> pl.DataFrame:
    """Categories (``values`` as text) and their ``patients``, most frequent first, ties in
    the text's order."""
    counts = pl.DataFrame({"value": values.cast(pl.String), "patients": patients.cast(pl.UInt32)})
    return counts.sort(["patients", "value"], descending=[True, False])


def category_counts(values: pl.Series) -> pl.DataFrame:
    """Patients per category (list columns: per listed value), most frequent first."""
    if isinstance(values.dtype, pl.List):
        values = values.list.unique().explode()
    counts = values.drop_nulls().cast(pl.String).value_counts(name="patients")
    return most_frequent_first(counts[counts.columns[0]], counts["patients"])


def _categories_figure(counted: DistributionCounts, min_cell: int | None = None
                       ) -> tuple[go.Figure, int, int, int]:
    """Horizontal bars, most frequent on top, every label drawn (wrapped, never cut), without
    the bars :func:`hidden_bars` names under ``min_cell``; returns the figure, its height, the
    number of categories drawable and how many were not drawn."""
    counts = counted.counts
    hidden = hidden_bars(counts["patients"].to_list(), min_cell, counted.missing,
                         total_shown=not counted.is_list)
    counts = counts.filter(~pl.int_range(pl.len()).is_in(list(hidden)))
    shown = counts.head(MAX_BARS).reverse()
    labels = [wrap(v, LABEL_WIDTH) for v in shown["value"].to_list()]
    patients = shown["patients"].to_list()
    figure = go.Figure(go.Bar(
        x=patients, y=labels, orientation="h", marker_color=BAR_COLOUR, text=patients,
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x} patients<extra></extra>"))
    figure.update_yaxes(title_text=None, type="category", tickmode="array", tickvals=labels,
                        ticktext=labels, automargin=True, categoryorder="array",
                        categoryarray=labels)
    figure.update_xaxes(title_text="Patients", range=[0, max(max(patients, default=0) * 1.2, 1)],
                        tickangle=0, nticks=5)
    lines = max((label.count("<br>") + 1 for label in labels), default=1)
    row_px = max(BAR_PX, LINE_PX * lines + 8)  # rows are evenly spaced: room for the tallest
    height = max(HEIGHT, row_px * len(labels) + TOP_PX + BOTTOM_PX)
    return figure, height, counts.height, len(hidden)


def _histogram_bars(counted: DistributionCounts, min_cell: int | None = None
                    ) -> tuple[go.Bar, int]:
    """Bars of patients per bin (binned before: the figure's size does not grow with the
    number of patients), without the bins :func:`hidden_bars` names under ``min_cell``; and
    how many bins were left out."""
    if not counted.counts.height:
        return go.Bar(x=[], y=[], marker_color=BAR_COLOUR), 0
    counts, lefts = counted.counts["patients"].to_numpy(), counted.counts["left"].to_numpy()
    width = counted.width
    hidden = hidden_bars(counts.tolist(), min_cell)
    small = np.array([i in hidden for i in range(len(counts))], dtype=bool)
    counts, lefts = counts[~small], lefts[~small]
    labels = [f"{left:g} to <{left + width:g}" for left in lefts]
    return go.Bar(x=lefts + width / 2, y=counts, width=width, marker_color=BAR_COLOUR,
                  customdata=labels, hovertemplate="%{customdata}: %{y} patients<extra></extra>"
                  ), int(small.sum())


def hidden_bars(counts: list[int], min_cell: int | None, missing: int = 0,
                total_shown: bool = True) -> set[int]:
    """Indexes of the bars not drawn under ``min_cell``: the small ones, and those whose count
    the n shown (bars + ``missing``; ``total_shown`` False: list columns, whose bars add up to
    no n) would give away."""
    values: dict = dict(enumerate(counts)) | {"missing": missing, "n": sum(counts) + missing}
    lines = [Line((*range(len(counts)), "missing"), "n")] if total_shown else []
    return {k for k in protect(values, lines, min_cell) if isinstance(k, int)}


def _empty_note(figure: go.Figure, min_cell: int | None) -> None:
    """Say so in the plot when every bar is withheld."""
    figure.add_annotation(text=f"No bar of {min_cell} or more patients to draw",
                          xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)


def nice_bin_width(span: float, integer: bool, target: int = TARGET_BINS) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) giving about ``target`` bins over
    ``span``; at least 1 for integer values."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    width = next(step * power for step in NICE_STEPS if step * power >= raw)
    return max(width, 1.0) if integer else width


def bins(lowest: float, highest: float, integer: bool) -> tuple[float, float]:
    """The first bin's left edge and the bins' width: round-width bins ``[left, left +
    width)`` covering ``lowest`` to ``highest`` (integer values centred in their bins)."""
    width = nice_bin_width(float(highest - lowest), integer)
    offset = 0.5 if integer and width == 1.0 else 0.0
    return math.floor((lowest + offset) / width) * width - offset, width


def binned(index_counts: dict[int, int], first: float, width: float) -> pl.DataFrame:
    """Bins ``left`` and ``patients`` from patients per bin index (0 = the bin at ``first``),
    every bin up to the last counted one listed, empty ones with 0."""
    counts = np.zeros(max(index_counts, default=-1) + 1, dtype=np.int64)
    for index, n in index_counts.items():
        counts[index] = n
    return pl.DataFrame({"left": first + width * np.arange(len(counts)), "patients": counts})


def histogram(values: np.ndarray, integer: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Patients per bin, the bins' left edges and their width (:func:`bins`)."""
    first, width = bins(values.min(), values.max(), integer)
    index = np.floor((values - first) / width).astype(np.int64)
    counts = np.bincount(index)
    return counts, first + width * np.arange(len(counts)), width


def distribution_counts(values: pl.Series, column: str) -> DistributionCounts:
    """What :func:`distribution_figure` draws of ``values`` (the column ``column``), counted."""
    n = patients_with_value(values)
    is_list = isinstance(values.dtype, pl.List)
    kind = chart_kind(values, column)
    shared = {"column": column, "kind": kind, "n_rows": values.len(), "n": n,
              "is_list": is_list, "empty_lists": is_list and values.null_count() < values.len() - n}
    if kind == "levels":
        return DistributionCounts(counts=level_counts(values, column), **shared)
    if kind == "categories":
        return DistributionCounts(counts=category_counts(values), **shared)
    counts, lefts, width = histogram(_values(values).to_numpy(), values.dtype.is_integer())
    return DistributionCounts(counts=pl.DataFrame({"left": lefts, "patients": counts}),
                              width=width, **shared)


def distribution_figure(values: pl.Series, column: str, min_cell: int | None = None
                        ) -> go.Figure:
    """:func:`counts_figure` of ``values`` (the column ``column``)."""
    return counts_figure(distribution_counts(values, column), min_cell)


def counts_figure(counted: DistributionCounts, min_cell: int | None = None) -> go.Figure:
    """The distribution of one column (see :func:`chart_kind`): one bar per value, horizontal
    bars of the :data:`MAX_BARS` most frequent categories, or a histogram; the subtitle states
    n = patients with a value (:func:`patients_with_value`) and how many have none; under
    ``min_cell`` bars that would show a count under it are not drawn (module docstring)."""
    title = column_label(counted.column)
    n, missing, empty_lists = counted.n, counted.missing, counted.empty_lists
    if counted.kind == "levels":
        figure, left_out = _levels_figure(counted, min_cell)
        return _layout(figure, title, _note(n, missing, empty_lists, "", min_cell, left_out))
    if counted.kind == "categories":
        figure, height, categories, left_out = _categories_figure(counted, min_cell)
        if min_cell and not categories:
            _empty_note(figure, min_cell)
        shown = (f"; the {MAX_BARS} most frequent of {categories} values"
                 if categories > MAX_BARS else "")
        return _layout(figure, title, _note(n, missing, empty_lists, shown, min_cell, left_out),
                       height)
    bars, left_out = _histogram_bars(counted, min_cell)
    figure = go.Figure(bars)
    figure.update_xaxes(title_text=title)
    figure.update_yaxes(title_text="Patients")
    if min_cell and left_out and not any(bars.y):
        _empty_note(figure, min_cell)
    return _layout(figure, title, _note(n, missing, empty_lists, "", min_cell, left_out))
