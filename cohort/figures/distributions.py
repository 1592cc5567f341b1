"""Distribution charts of cohort variables: histograms for numbers, bars for categories."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from cohort.schema import column_label

BAR_COLOUR = "#0072B2"  # Okabe-Ito blue
MAX_BARS = 15
FONT_SIZE = 15


def _layout(figure: go.Figure, title: str, n: int, missing: int) -> go.Figure:
    note = f"n = {n}" + (f", missing {missing}" if missing else "")
    figure.update_layout(
        title={"text": f"{title}<br><sup>{note}</sup>", "font": {"size": FONT_SIZE + 3}},
        template="plotly_white", font={"size": FONT_SIZE}, height=320,
        margin={"l": 10, "r": 10, "t": 70, "b": 10}, showlegend=False, bargap=0.08,
    )
    figure.update_yaxes(title_text="Patients")
    return figure


def category_counts(values: pl.Series) -> pl.DataFrame:
    """Patients per category (list columns: per listed value), most frequent first."""
    if isinstance(values.dtype, pl.List):
        values = values.list.unique().explode()
    counts = values.drop_nulls().cast(pl.String).value_counts(sort=True, name="patients")
    return counts.rename({counts.columns[0]: "value"})


def distribution_figure(values: pl.Series, column: str) -> go.Figure:
    """Histogram (numeric) or horizontal bar chart (categorical, top 15) of one column."""
    title = column_label(column)
    if values.dtype.is_numeric() and values.dtype != pl.Boolean:
        finite = values.drop_nulls()
        if finite.dtype.is_float():
            finite = finite.filter(finite.is_finite())
        figure = go.Figure(go.Histogram(x=finite.to_numpy(), marker_color=BAR_COLOUR))
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
