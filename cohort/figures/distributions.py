"""Distribution charts of cohort variables: histograms for numbers, bars for categories."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import polars as pl

from cohort.schema import column_label

BAR_COLOUR = "#0072B2"  # Okabe-Ito blue
MAX_BARS = 15
FONT_SIZE = 15
TARGET_BINS = 30
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def _layout(figure: go.Figure, title: str, n: int, missing: int) -> go.Figure:
    note = f"n = {n}" + (f", missing {missing}" if missing else "")
    figure.update_layout(
        title={"text": f"{title}<br><sup>{note}</sup>", "font": {"size": FONT_SIZE + 3}},
        template="plotly_white", font={"size": FONT_SIZE}, height=320,
        margin={"l": 10, "r": 10, "t": 70, "b": 10}, showlegend=False, bargap=0.08,
    )
    figure.update_yaxes(title_text="Patients")
    return figure


def _histogram_bars(values: np.ndarray, integer: bool) -> go.Bar:
    """Bars of patients per bin, binned here so the figure's size does not grow with the
    number of patients."""
    if not len(values):
        return go.Bar(x=[], y=[], marker_color=BAR_COLOUR)
    counts, lefts, width = histogram(values, integer)
    labels = [f"{left:g} to <{left + width:g}" for left in lefts]
    return go.Bar(x=lefts + width / 2, y=counts, width=width, marker_color=BAR_COLOUR,
                  customdata=labels, hovertemplate="%{customdata}: %{y} patients<extra></extra>")


def category_counts(values: pl.Series) -> pl.DataFrame:
    """Patients per category (list columns: per listed value), most frequent first."""
    if isinstance(values.dtype, pl.List):
        values = values.list.unique().explode()
    counts = values.drop_nulls().cast(pl.String).value_counts(sort=True, name="patients")
    return counts.rename({counts.columns[0]: "value"})


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
    """Histogram (numeric) or horizontal bar chart (categorical, top 15) of one column."""
    title = column_label(column)
    if values.dtype.is_numeric() and values.dtype != pl.Boolean:
        finite = values.drop_nulls()
        if finite.dtype.is_float():
            finite = finite.filter(finite.is_finite())
        figure = go.Figure(_histogram_bars(finite.to_numpy(), finite.dtype.is_integer()))
        figure.update_xaxes(title_text=title)
        return _layout(figure, title, finite.len(), values.len() - finite.len())
    counts = category_counts(values).head(MAX_BARS).reverse()
    figure = go.Figure(go.Bar(
        x=counts["patients"].to_list(), y=counts["value"].to_list(), orientation="h",
        marker_color=BAR_COLOUR, text=counts["patients"].to_list(), textposition="auto",
    ))
    figure.update_xaxes(title_text="Patients")
    figure.update_yaxes(title_text=None, automargin=True)
    missing = int(values.is_null().sum())
    figure = _layout(figure, title, values.len() - missing, missing)
    figure.update_yaxes(title_text=None)
    return figure
