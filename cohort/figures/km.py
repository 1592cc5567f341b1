"""Kaplan-Meier and cumulative-incidence figures (plotly, no Streamlit).

Input tables are those of :func:`cohort.survival.kaplan_meier`,
:func:`cohort.survival.median_survival`, :func:`cohort.survival.logrank` and
:func:`cohort.competing.cumulative_incidence`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from cohort.figures.style import (
    FONT_SIZE,
    GRID_COLOR,
    MEDIAN_LINE_COLOR,
    TICK_FONT_SIZE,
    base_layout,
    color_for,
    format_p,
    rgba,
    wrap,
)

__all__ = ["cif_figure", "km_figure", "nice_step", "risk_table"]


CENSOR_TICK_BINS = 150
LEGEND_ROW_PX = 30
RISK_ROW_PX = 30  # height of one group's line in the number-at-risk table
LEGEND_WIDTH_PX = 820  # usable legend width of a figure on a laptop screen or a slide


def legend_rows(names: list[str], width: int = LEGEND_WIDTH_PX) -> int:
    """How many rows a horizontal legend of ``names`` takes (about 10 px per character)."""
    rows, used = 1, 0
    for name in names:
        item = 50 + 10 * len(name)
        if used and used + item > width:
            rows, used = rows + 1, 0
        used += item
    return rows


def nice_step(x_max: float, time_label: str = "Months") -> float:
    """Tick spacing in the axis' unit: every 3/6/12/24... months (at most 6 intervals) when
    ``time_label`` is months, else 1-2-5 x 10^k (days, weeks, years, unknown units)."""
    if x_max <= 0:
        return 1.0
    if time_label.lower().startswith("month"):
        for step in (1, 3, 6, 12, 24, 60, 120):
            if x_max / step <= 6:
                return float(step)
    raw = x_max / 8
    mag = 10 ** math.floor(math.log10(raw))
    return float(next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw))


def risk_table(table: pl.DataFrame, ticks: list[float]) -> pl.DataFrame:
    """Number at risk per group at each tick (patients with time >= tick): group, tick, n_risk."""
    order = table.select("group").unique(maintain_order=True).with_row_index("_o")
    grid = order.join(pl.DataFrame({"tick": ticks}, schema={"tick": pl.Float64}), how="cross")
    at = grid.sort("tick").join_asof(
        table.select("group", tick=pl.col("time"), _n=pl.col("n_risk")).sort("tick"),
        on="tick", by="group", strategy="forward", check_sortedness=False,
    )
    return at.sort("_o", "tick").select("group", "tick", n_risk=pl.col("_n").fill_null(0))


def _step_xy(part: pl.DataFrame, col: str, start: float) -> tuple[np.ndarray, np.ndarray]:
    """Curve from (0, start) through every observed time (drawn with line_shape='hv'), without
    the times where it stays flat (:func:`step_vertices`).

    numpy arrays, not lists: plotly validates a list element by element (slow on registries)."""
    x = np.concatenate([[0.0], part["time"].to_numpy()])
    y = np.concatenate([[start], part[col].cast(pl.Float64).to_numpy()])
    return step_vertices(x, y)


def step_vertices(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of a step curve (line_shape='hv') where its value changes, and its first and
    last: the same drawn line as through every point, since a point at the previous value only
    extends the flat stretch that the next kept point continues (times with censoring only)."""
    keep = np.ones(len(y), dtype=bool)
    keep[1:-1] = y[1:-1] != y[:-2]
    return x[keep], y[keep]


def _band(fig: go.Figure, part: pl.DataFrame, est: str, color: str, start: float,
          name: str) -> None:
    """Shaded stepped confidence band (upper trace, then lower filled to it)."""
    filled = part.with_columns(
        pl.col("lower").fill_null(pl.col(est)), pl.col("upper").fill_null(pl.col(est))
    )
    for col, fill in (("upper", None), ("lower", "tonexty")):
        x, y = _step_xy(filled, col, start)
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines", line={"width": 0, "shape": "hv"},
                       fill=fill, fillcolor=rgba(color, 0.15), hoverinfo="skip",
                       showlegend=False, legendgroup=name),
            row=1, col=1,
        )


def _curves(fig: go.Figure, table: pl.DataFrame, est: str, start: float, *, show_ci: bool,
            show_censor: bool, time_label: str) -> list[tuple[str, str]]:
    """Add one stepped curve (+ band, + censor ticks) per group; returns (group, colour)."""
    out = []
    for i, ((group,), part) in enumerate(table.partition_by("group", as_dict=True,
                                                            maintain_order=True).items()):
        color, n = color_for(i), int(part["n_risk"][0])
        name = f"{group} (n={n})"
        if show_ci and part["lower"].is_not_null().any():
            _band(fig, part, est, color, start, name)
        x, y = _step_xy(part, est, start)
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name,
                       line={"color": color, "width": 3, "shape": "hv"},
                       hovertemplate=f"{group}<br>{time_label}: %{{x}}<br>%{{y:.3f}}"
                       "<extra></extra>"),
            row=1, col=1,
        )
        cens = thinned(part.filter(pl.col("n_censor") > 0))
        if show_censor and cens.height:
            fig.add_trace(
                go.Scatter(x=cens["time"].to_numpy(), y=cens[est].to_numpy(), mode="markers",
                           marker={"symbol": "cross-thin-open", "size": 11, "color": color,
                                   "line": {"width": 2, "color": color}},
                           name=f"{group} censored", legendgroup=name, showlegend=False,
                           hovertemplate=f"{group} censored<br>{time_label}: %{{x}}"
                           "<extra></extra>"),
                row=1, col=1,
            )
        out.append((str(group), color))
    return out


def thinned(censored: pl.DataFrame, bins: int = CENSOR_TICK_BINS) -> pl.DataFrame:
    """At most one censor tick per 1/``bins`` of the time range: thousands of '+' marks on a
    registry-sized curve would hide the curve itself."""
    if censored.height <= bins:
        return censored
    width = float(censored["time"].max()) / bins or 1.0
    return censored.with_columns(_bin=(pl.col("time") / width).floor()).unique(
        "_bin", keep="first", maintain_order=True).drop("_bin")


def _medians(fig: go.Figure, median_table: pl.DataFrame, colors: dict[str, str],
             time_label: str) -> None:
    """Dashed lines from the y axis to each reached median and down to the x axis."""
    for row in median_table.iter_rows(named=True):
        m = row["median"]
        if m is None or row["group"] not in colors:
            continue
        fig.add_trace(
            go.Scatter(x=[0, m, m], y=[0.5, 0.5, 0], mode="lines", showlegend=False,
                       line={"color": MEDIAN_LINE_COLOR, "width": 1.5, "dash": "dash"},
                       hovertemplate=f"median {row['group']}: {m:.4g} ({time_label.lower()})"
                       "<extra></extra>"),
            row=1, col=1,
        )


RISK_LABEL_CHARS = 22


def short_label(group: str, limit: int = RISK_LABEL_CHARS) -> str:
    """A group name cut to ``limit`` characters for the risk table (the legend has it whole)."""
    return group if len(group) <= limit else group[: limit - 1].rstrip() + "…"


def _risk_rows(fig: go.Figure, table: pl.DataFrame, ticks: list[float],
               groups: list[tuple[str, str]]) -> None:
    """Numbers at risk under the plot, one line per group, in the group colour."""
    risk = risk_table(table, ticks)
    k = len(groups)
    for i, (group, color) in enumerate(groups):
        part = risk.filter(pl.col("group") == group)
        fig.add_trace(
            go.Scatter(x=part["tick"].to_list(), y=[k - i] * part.height, mode="text",
                       text=[str(v) for v in part["n_risk"].to_list()],
                       textfont={"color": color, "size": TICK_FONT_SIZE}, showlegend=False,
                       hoverinfo="skip", cliponaxis=False),
            row=2, col=1,
        )
    fig.update_yaxes(
        row=2, col=1, range=[0.4, k + 0.6], showgrid=False, zeroline=False, showline=False,
        ticks="", tickvals=[k - i for i in range(k)],
        ticktext=[f'<span style="color:{c}">{short_label(g)}</span>' for g, c in groups],
        tickfont={"size": TICK_FONT_SIZE}, ticklabelstandoff=12,
    )
    fig.update_xaxes(row=2, col=1, showline=False, ticks="", showticklabels=False)


def _caption_text(caption: str | None, logrank: Any, method: str) -> str | None:
    parts = [caption] if caption else []
    if logrank is not None:
        stat = getattr(logrank, "chisq", getattr(logrank, "statistic", float("nan")))
        test = "Log-rank" if hasattr(logrank, "chisq") else "Gray's test"
        parts.append(f"{test} {format_p(logrank.p)} (χ² = {stat:.2f}, {logrank.df} df)")
    first = ". ".join(parts)
    return wrap(f"{first}.<br>{method}." if first else f"{method}.")


def _figure(table: pl.DataFrame, est: str, start: float, *, y_title: str, method: str,
            median_table: pl.DataFrame | None, test: Any, show_ci: bool, show_censor: bool,
            show_median: bool, x_max: float | None, title: str | None, caption: str | None,
            time_label: str, y_range: list[float]) -> go.Figure:
    k = max(table["group"].n_unique(), 1)
    risk_share = min(0.4, (RISK_ROW_PX * k + 30) / (560 + 32 * k))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.10,
                        row_heights=[1 - risk_share, risk_share])
    groups = _curves(fig, table, est, start, show_ci=show_ci, show_censor=show_censor,
                     time_label=time_label)
    if show_median and median_table is not None:
        _medians(fig, median_table, dict(groups), time_label)
    x_hi = float(x_max) if x_max is not None else float(table["time"].max() or 1.0)
    step = nice_step(x_hi, time_label)
    ticks = [i * step for i in range(int(x_hi // step) + 1)]
    _risk_rows(fig, table, ticks, groups)
    fig.update_xaxes(range=[-0.03 * x_hi, x_hi * 1.03], tickvals=ticks, showgrid=True,
                     gridcolor=GRID_COLOR, tickfont={"size": TICK_FONT_SIZE})
    fig.update_xaxes(row=1, col=1, title=None, showticklabels=True)
    fig.update_xaxes(row=2, col=1, title={"text": time_label, "standoff": 5})
    fig.update_yaxes(row=1, col=1, range=y_range, title=y_title, tickformat=".0%",
                     dtick=0.2, showgrid=True, gridcolor=GRID_COLOR,
                     tickfont={"size": TICK_FONT_SIZE})
    fig.update_layout(**base_layout(title, _caption_text(caption, test, method),
                                    height=560 + 32 * k))
    fig.add_annotation(text="Number at risk", xref="paper", yref="y2 domain", x=0, y=1.0,
                       xanchor="right", yanchor="bottom", xshift=-8, showarrow=False,
                       font={"size": FONT_SIZE - 2})
    rows = legend_rows([f"{g} (n=000)" for g, _ in groups])
    fig.update_layout(
        legend={"x": 0.0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        title={"y": 1.0, "yref": "container", "yanchor": "top", "pad": {"t": 12}},
        margin_t=(60 if title else 20) + LEGEND_ROW_PX * rows,
        height=fig.layout.height + LEGEND_ROW_PX * rows,
    )
    text = _caption_text(caption, test, method)
    if text:
        fig.update_layout(margin_b=70 + 22 * (text.count("<br>") + 1),
                          height=560 + 32 * k + 22 * text.count("<br>"))
        fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=-0.09,
                           xanchor="left", yanchor="top", showarrow=False,
                           font={"size": FONT_SIZE - 3}, align="left")
    return fig


def km_figure(
    km_table: pl.DataFrame,
    *,
    median_table: pl.DataFrame | None = None,
    logrank: Any = None,
    show_ci: bool = True,
    show_censor: bool = True,
    show_median: bool = True,
    x_max: float | None = None,
    title: str | None = None,
    caption: str | None = None,
    time_label: str = "Months",
    conf_type: str = "log-log",
) -> go.Figure:
    """Kaplan-Meier plot: stepped curves, shaded CI, '+' censor ticks, dashed medians,
    number-at-risk table under the x ticks, log-rank p and method in the caption."""
    band = f"shaded 95% CI ({conf_type}, Greenwood)" if show_ci else f"95% CI {conf_type}"
    method = f"Kaplan-Meier; {band}; + censored" if show_censor else f"Kaplan-Meier; {band}"
    return _figure(km_table, "survival", 1.0, y_title="Survival probability", method=method,
                   median_table=median_table, test=logrank, show_ci=show_ci,
                   show_censor=show_censor, show_median=show_median, x_max=x_max,
                   title=title, caption=caption, time_label=time_label,
                   y_range=[-0.02, 1.02])


def cif_figure(
    cif_table: pl.DataFrame,
    *,
    gray: Any = None,
    show_ci: bool = True,
    show_censor: bool = True,
    x_max: float | None = None,
    y_max: float | None = None,
    title: str | None = None,
    caption: str | None = None,
    time_label: str = "Months",
    event_label: str = "Cumulative incidence",
) -> go.Figure:
    """Cumulative incidence plot (curves going up) in the same style as :func:`km_figure`;
    ``gray`` is a :class:`cohort.competing.GrayTestResult` shown in the caption."""
    table = cif_table
    highest = float(table["upper"].max() or table["cif"].max() or 0.0)
    top = y_max if y_max is not None else min(1.0, max(0.2, highest * 1.1))
    method = ("Aalen-Johansen (competing events not counted as failures); "
              "shaded 95% CI (log(-log), cmprsk variance); + censored")
    return _figure(table, "cif", 0.0, y_title=event_label, method=method, median_table=None,
                   test=gray, show_ci=show_ci, show_censor=show_censor, show_median=False,
                   x_max=x_max, title=title, caption=caption, time_label=time_label,
                   y_range=[-0.01, top])
