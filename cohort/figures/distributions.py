"""Distribution charts of cohort variables: one bar per value for integer and ordinal columns,
horizontal bars for categories, histograms for continuous numbers."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import plotly.graph_objects as go
import polars as pl

from cohort.figures.style import wrap
from cohort.schema import RESPONSES, column_label

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


def _note(n: int, missing: int, empty_lists: bool, shown: str = "") -> str:
    none = "with none listed" if empty_lists else "missing"
    return f"n = {n:,} patients with a value" + (f"; {missing:,} {none}" if missing else "") + shown


def _layout(figure: go.Figure, title: str, note: str, height: int = HEIGHT) -> go.Figure:
    figure.update_layout(
        title={"text": f"{title}<br><sup>{note}</sup>", "font": {"size": FONT_SIZE + 3}},
        template="plotly_white", font={"size": FONT_SIZE}, height=height,
        paper_bgcolor="white", plot_bgcolor="white",
        margin={"l": 10, "r": 30, "t": TOP_PX, "b": BOTTOM_PX}, showlegend=False, bargap=0.15,
    )
    return figure


def _level_label(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def level_counts(values: pl.Series, column: str) -> pl.DataFrame:
    """Patients per value, in the values' order (numeric, enum or the ordinal scale of
    :data:`ORDINAL_LEVELS`, whose every level is listed, 0 patients included): columns
    ``value`` (text as on the axis) and ``patients``."""
    present = _values(values)
    counts = dict(present.value_counts().iter_rows())
    if column in ORDINAL_LEVELS:
        scale = list(ORDINAL_LEVELS[column])
        levels = scale + sorted((v for v in counts if v not in scale), key=str)
    elif isinstance(values.dtype, pl.Enum):
        levels = values.dtype.categories.to_list()
    else:
        levels = sorted(counts)
    return pl.DataFrame({"value": [_level_label(v) for v in levels],
                         "patients": [int(counts.get(v, 0)) for v in levels]},
                        schema={"value": pl.String, "patients": pl.Int64})


def _levels_figure(values: pl.Series, column: str) -> go.Figure:
    counts = level_counts(values, column)
    labels, patients = counts["value"].to_list(), counts["patients"].to_list()
    counted = len(labels) <= MAX_LABELLED_LEVELS
    figure = go.Figure(go.Bar(
        x=labels, y=patients, marker_color=BAR_COLOUR, text=patients if counted else None,
        textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y} patients<extra></extra>"))
    figure.update_xaxes(title_text=column_label(column), type="category", tickmode="array",
                        tickvals=labels, ticktext=labels, categoryorder="array",
                        categoryarray=labels)
    top = max(patients, default=0)
    figure.update_yaxes(title_text="Patients", range=[0, max(top * 1.15, 1)], rangemode="tozero")
    return figure


def category_counts(values: pl.Series) -> pl.DataFrame:
    """Patients per category (list columns: per listed value), most frequent first."""
    if isinstance(values.dtype, pl.List):
        values = values.list.unique().explode()
    counts = values.drop_nulls().cast(pl.String).value_counts(sort=True, name="patients")
    counts = counts.rename({counts.columns[0]: "value"})
    return counts.sort(["patients", "value"], descending=[True, False])


def _categories_figure(values: pl.Series, column: str) -> tuple[go.Figure, int, int]:
    """Horizontal bars, most frequent on top, every label drawn (wrapped, never cut); returns
    the figure, its height and the number of categories."""
    counts = category_counts(values)
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
    return figure, max(HEIGHT, row_px * len(labels) + TOP_PX + BOTTOM_PX), counts.height


def _histogram_bars(values: np.ndarray, integer: bool) -> go.Bar:
    """Bars of patients per bin, binned here so the figure's size does not grow with the
    number of patients."""
    if not len(values):
        return go.Bar(x=[], y=[], marker_color=BAR_COLOUR)
    counts, lefts, width = histogram(values, integer)
    labels = [f"{left:g} to <{left + width:g}" for left in lefts]
    return go.Bar(x=lefts + width / 2, y=counts, width=width, marker_color=BAR_COLOUR,
                  customdata=labels, hovertemplate="%{customdata}: %{y} patients<extra></extra>")


def nice_bin_width(span: float, integer: bool, target: int = TARGET_BINS) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) giving about ``target`` bins over
    ``span``; at least 1 for integer values."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    width = next(step * power for step in NICE_STEPS if step * power >= raw)
    return max(width, 1.0) if integer else width


def histogram(values: np.ndarray, integer: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Patients per bin, the bins' left edges and their width: round-width bins
    ``[left, left + width)`` covering every value (integer values centred in their bins)."""
    width = nice_bin_width(float(values.max() - values.min()), integer)
    offset = 0.5 if integer and width == 1.0 else 0.0
    first = math.floor((values.min() + offset) / width) * width - offset
    index = np.floor((values - first) / width).astype(np.int64)
    counts = np.bincount(index)
    return counts, first + width * np.arange(len(counts)), width


def distribution_figure(values: pl.Series, column: str) -> go.Figure:
    """The distribution of one column (see :func:`chart_kind`): one bar per value, horizontal
    bars of the :data:`MAX_BARS` most frequent categories, or a histogram; the subtitle states
    n = patients with a value (:func:`patients_with_value`) and how many have none."""
    title = column_label(column)
    n = patients_with_value(values)
    missing = values.len() - n
    empty_lists = isinstance(values.dtype, pl.List) and values.null_count() < missing
    kind = chart_kind(values, column)
    if kind == "levels":
        return _layout(_levels_figure(values, column), title, _note(n, missing, empty_lists))
    if kind == "categories":
        figure, height, categories = _categories_figure(values, column)
        shown = (f"; the {MAX_BARS} most frequent of {categories} values"
                 if categories > MAX_BARS else "")
        return _layout(figure, title, _note(n, missing, empty_lists, shown), height)
    present = _values(values)
    figure = go.Figure(_histogram_bars(present.to_numpy(), present.dtype.is_integer()))
    figure.update_xaxes(title_text=title)
    figure.update_yaxes(title_text="Patients")
    return _layout(figure, title, _note(n, missing, empty_lists))
