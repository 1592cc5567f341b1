"""Distribution charts of cohort variables: histograms for numbers, bars for categories.

With a small-cell threshold (``min_cell``, :mod:`cohort.suppression`) a bar of 1 to min_cell - 1
patients is not drawn (no height, text or hover gives its count away), nor the smallest other
bar when the bars and the missing count would add up to the n shown with a single bar left out
(:func:`cohort.suppression.protect`); the subtitle says how many are not drawn, and the n and
missing counts are suppressed."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import polars as pl

from cohort.schema import column_label
from cohort.suppression import Line, is_small, protect, suppressed_count

BAR_COLOUR = "#0072B2"  # Okabe-Ito blue
MAX_BARS = 15
FONT_SIZE = 15
TARGET_BINS = 30
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def _note(n: int, missing: int, min_cell: int | None, left_out: int) -> str:
    """'n = 42, missing 3', suppressed; n left out when the missing count is hidden (the
    cohort's size would give it away); and how many bars are not drawn."""
    shown_missing = f"missing {suppressed_count(missing, min_cell)}" if missing else ""
    parts = [shown_missing] if is_small(missing, min_cell) else [
        f"n = {suppressed_count(n, min_cell)}", shown_missing]
    if left_out:
        parts.append(f"{left_out} bar{'s' if left_out > 1 else ''} withheld (small-cell "
                     "suppression)")
    return ", ".join(p for p in parts if p)


def _layout(figure: go.Figure, title: str, n: int, missing: int, min_cell: int | None = None,
            left_out: int = 0) -> go.Figure:
    note = _note(n, missing, min_cell, left_out)
    figure.update_layout(
        title={"text": f"{title}<br><sup>{note}</sup>", "font": {"size": FONT_SIZE + 3}},
        template="plotly_white", font={"size": FONT_SIZE}, height=320,
        margin={"l": 10, "r": 10, "t": 70, "b": 10}, showlegend=False, bargap=0.08,
    )
    figure.update_yaxes(title_text="Patients")
    return figure


def _histogram_bars(values: np.ndarray, integer: bool, min_cell: int | None = None
                    ) -> tuple[go.Bar, int]:
    """Bars of patients per bin, binned here so the figure's size does not grow with the
    number of patients, without the bins of 1 to min_cell - 1 patients; and how many bins
    were left out."""
    if not len(values):
        return go.Bar(x=[], y=[], marker_color=BAR_COLOUR), 0
    counts, lefts, width = histogram(values, integer)
    small = np.array([i in hidden_bars(counts.tolist(), min_cell) for i in range(len(counts))],
                     dtype=bool)
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


def distribution_figure(values: pl.Series, column: str, min_cell: int | None = None
                        ) -> go.Figure:
    """Histogram (numeric) or horizontal bar chart (categorical, top 15) of one column;
    ``min_cell``: bars under it not drawn."""
    title = column_label(column)
    if values.dtype.is_numeric() and values.dtype != pl.Boolean:
        finite = values.drop_nulls()
        if finite.dtype.is_float():
            finite = finite.filter(finite.is_finite())
        bars, left_out = _histogram_bars(finite.to_numpy(), finite.dtype.is_integer(), min_cell)
        figure = go.Figure(bars)
        figure.update_xaxes(title_text=title)
        if min_cell and not len(bars.y):
            _empty_note(figure, min_cell)
        return _layout(figure, title, finite.len(), values.len() - finite.len(), min_cell,
                       left_out)
    counts = category_counts(values)
    missing = int(values.is_null().sum())
    hidden = hidden_bars(counts["patients"].to_list(), min_cell, missing,
                         total_shown=not isinstance(values.dtype, pl.List))
    small = counts.filter(pl.int_range(pl.len()).is_in(list(hidden)))
    counts = counts.filter(~pl.int_range(pl.len()).is_in(list(hidden)))
    counts = counts.head(MAX_BARS).reverse()
    figure = go.Figure(go.Bar(
        x=counts["patients"].to_list(), y=counts["value"].to_list(), orientation="h",
        marker_color=BAR_COLOUR, text=counts["patients"].to_list(), textposition="auto",
    ))
    figure.update_xaxes(title_text="Patients")
    figure.update_yaxes(title_text=None, automargin=True)
    if min_cell and counts.is_empty():
        _empty_note(figure, min_cell)
    figure = _layout(figure, title, values.len() - missing, missing, min_cell, small.height)
    figure.update_yaxes(title_text=None)
    return figure
