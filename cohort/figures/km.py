"""Kaplan-Meier and cumulative-incidence figures as journals print them (plotly, no Streamlit).

Curves in the Okabe-Ito palette (dashed patterns beyond four groups), censor ticks, medians
labelled on the x axis, the log-rank p and the Cox hazard ratios in a box in a corner of the
plot that no curve, band or median passes (else in a strip above the plot), and
under it the number at risk (or the KMunicate table of Morris et al. 2019: at risk, cumulative
events and censored) at the x ticks, each row named in full in its group's colour.

Input tables are those of :func:`cohort.survival.kaplan_meier`,
:func:`cohort.survival.median_survival`, :func:`cohort.survival.logrank`,
:func:`cohort.survival.hazard_ratios` and :func:`cohort.competing.cumulative_incidence`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
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
    dash_for,
    format_p,
    rgba,
    wrap,
)
from cohort.suppression import suppressed_count
from cohort.survival import counts_at
from cohort.units import DIGITS, TIME_UNITS

__all__ = ["cif_figure", "km_figure", "nice_ticks", "risk_table", "wrap_label"]


CENSOR_TICK_BINS = 150
#: Steps between x ticks in each time unit; beyond them, 1-2-5 x 10^k.
TICK_STEPS: dict[str, tuple[float, ...]] = {
    "days": (1, 2, 4, 7, 14, 30, 60, 90, 180, 365, 730, 1095, 1825, 3650),
    "weeks": (1, 2, 4, 8, 13, 26, 52, 104, 156, 260, 520),
    "months": (1, 2, 3, 6, 12, 24, 36, 60, 120, 240),
    "years": (0.25, 0.5, 1, 2, 5, 10, 20),
}
MIN_TICKS, MAX_TICKS = 4, 8
UNIT_ABBREVIATIONS = {"days": "d", "weeks": "wk", "months": "mo", "years": "y"}

CURVE_PX = 400  # height of the curve panel
PANEL_GAP_PX = 92  # x tick labels, axis title and the risk table's heading between the panels
LINE_PX = 21  # one line of the risk table (tick font)
CHAR_PX = 9.0  # width of a character of the tick font, generously (Arial 16 px)
KEY_PX = 34  # the line sample between a risk-table name and the plot
KEY_GAP_PX = 20  # between the line sample and the plot (room for a 4-digit count at time 0)
LABEL_CHARS = 22  # characters per line of a group name in the risk table
MIN_LEFT_PX = 110  # the curve panel's y axis: its title and its percent ticks
PLOT_WIDTH_PX = 540  # the plot area's width assumed when placing boxes and labels (1280-px screen)
BOX_CHARS = 36  # characters per line in the statistics box
BOX_FONT_SIZE = FONT_SIZE - 3
MEDIAN_FONT_SIZE = TICK_FONT_SIZE - 2
MEDIAN_LEVEL = 0.07  # height of one median label level, in survival probability
CAPTION_LINE_PX = 20
CAPTION_INDENT_PX = 10  # the caption starts at the figure's left edge, not the plot's


def _tick_steps(unit: str | None) -> list[float]:
    """Candidate tick steps in ``unit``, smallest first: the unit's own, 1-2-5 x 10^k around."""
    own = TICK_STEPS.get(unit or "", ())
    low, high = (own[0], own[-1]) if own else (math.inf, -math.inf)
    decimal = [m * 10.0 ** k for k in range(-4, 9) for m in (1, 2, 5)]
    return sorted({*map(float, own), *(d for d in decimal if d < low or d > high)})


def nice_ticks(x_max: float, unit: str | None = "months") -> list[float]:
    """Ticks from 0 to at most ``x_max`` in ``unit`` (days, weeks, months, years; None: a unit
    not known), 4 to 8 of them at the smallest step of the unit's own (every 3, 6, 12, 24...
    months; 7, 14, 30, 90, 180, 365... days; 4, 13, 26, 52... weeks; 1, 2, 5... years) or, beyond
    those, of 1-2-5 x 10^k."""
    top = float(x_max) if x_max and math.isfinite(x_max) and x_max > 0 else 1.0
    for step in _tick_steps(unit):
        count = math.floor(top / step + 1e-9) + 1
        if count <= MAX_TICKS:
            return [round(i * step, 10) for i in range(count)]
    raise ValueError(f"no tick step for {x_max!r}")  # unreachable: steps reach 5e8


def unit_of(time_label: str) -> str | None:
    """The time unit an axis title names ("Months" -> "months"), or None ("Time")."""
    unit = time_label.strip().lower()
    return unit if unit in TIME_UNITS else None


def wrap_label(name: str, width: int = LABEL_CHARS) -> list[str]:
    """``name`` in lines of at most ``width`` characters, broken between words (a longer word
    keeps a line of its own, whole): a group name is never cut."""
    return wrap(name, width).split("<br>")


def risk_table(table: pl.DataFrame, ticks: list[float]) -> pl.DataFrame:
    """Number at risk per group at each tick (patients with time >= tick): group, tick, n_risk."""
    return counts_at(table, ticks).select("group", tick="time", n_risk="at_risk")


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


@dataclass(frozen=True)
class _Group:
    """One curve: its group, colour and dash pattern, and patients at time 0."""

    name: str
    color: str
    dash: str
    n: int


def _groups(table: pl.DataFrame) -> list[_Group]:
    """The groups of a curve table in order, each with its colour and dash pattern."""
    first = table.group_by("group", maintain_order=True).agg(pl.col("n_risk").first())
    k = first.height
    return [_Group(str(g), color_for(i), dash_for(i, k), int(n))
            for i, (g, n) in enumerate(first.iter_rows())]


def _curves(fig: go.Figure, table: pl.DataFrame, groups: list[_Group], est: str, start: float,
            *, show_ci: bool, show_censor: bool, time_label: str) -> None:
    """Add one stepped curve (+ band, + censor ticks) per group."""
    parts = table.partition_by("group", as_dict=True, maintain_order=True)
    for drawn, ((group,), part) in zip(groups, parts.items(), strict=True):
        name = f"{group} (n={drawn.n})"
        if show_ci and part["lower"].is_not_null().any():
            _band(fig, part, est, drawn.color, start, name)
        x, y = _step_xy(part, est, start)
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name, showlegend=False,
                       line={"color": drawn.color, "width": 3, "shape": "hv",
                             "dash": drawn.dash},
                       hovertemplate=f"{group}<br>{time_label}: %{{x}}<br>%{{y:.3f}}"
                       "<extra></extra>"),
            row=1, col=1,
        )
        cens = thinned(part.filter(pl.col("n_censor") > 0))
        if show_censor and cens.height:
            fig.add_trace(
                go.Scatter(x=cens["time"].to_numpy(), y=cens[est].to_numpy(), mode="markers",
                           marker={"symbol": "cross-thin-open", "size": 11, "color": drawn.color,
                                   "line": {"width": 2, "color": drawn.color}},
                           name=f"{group} censored", legendgroup=name, showlegend=False,
                           hovertemplate=f"{group} censored<br>{time_label}: %{{x}}"
                           "<extra></extra>"),
                row=1, col=1,
            )


def thinned(censored: pl.DataFrame, bins: int = CENSOR_TICK_BINS) -> pl.DataFrame:
    """At most one censor tick per 1/``bins`` of the time range: thousands of '+' marks on a
    registry-sized curve would hide the curve itself."""
    if censored.height <= bins:
        return censored
    width = float(censored["time"].max()) / bins or 1.0
    return censored.with_columns(_bin=(pl.col("time") / width).floor()).unique(
        "_bin", keep="first", maintain_order=True).drop("_bin")


def _median_text(median: float, unit: str | None) -> str:
    """'18.2 mo', '80 d', '1.52 y'; a unit not known: the number alone."""
    digits = DIGITS[unit] if unit else 1
    return f"{median:.{digits}f} {UNIT_ABBREVIATIONS[unit]}" if unit else f"{median:.{digits}f}"


def _label_width(text: str, font_size: float) -> float:
    """Estimated width of ``text`` as a fraction of the plot area's width."""
    return (len(text) * font_size * 0.56 + 10) / PLOT_WIDTH_PX


def stagger(positions: list[float], widths: list[float]) -> list[int]:
    """The level (0 = lowest) of each label centred at ``positions`` (fractions of the axis)
    with ``widths``: the lowest level where it overlaps no label placed before it."""
    placed: list[tuple[float, float, int]] = []
    levels = []
    for x, w in zip(positions, widths, strict=True):
        lo, hi = x - w / 2, x + w / 2
        level = 0
        while any(lv == level and lo < b and hi > a for a, b, lv in placed):
            level += 1
        placed.append((lo, hi, level))
        levels.append(level)
    return levels


@dataclass(frozen=True)
class _Median:
    """A median drawn: group, time, colour and label level."""

    group: str
    time: float
    color: str
    text: str
    level: int


def _medians(fig: go.Figure, median_table: pl.DataFrame, groups: list[_Group],
             unit: str | None, x_lo: float, x_hi: float) -> list[_Median]:
    """Dashed lines from the y axis to each reached median and down to the x axis, each
    labelled with its time just above the axis, in the group's colour, labels that would touch
    staggered upwards. Returns the medians drawn."""
    colors = {g.name: g.color for g in groups}
    reached = sorted((r for r in median_table.iter_rows(named=True)
                      if r["median"] is not None and r["group"] in colors),
                     key=lambda r: r["median"])
    texts = [_median_text(r["median"], unit) for r in reached]
    levels = stagger([(r["median"] - x_lo) / (x_hi - x_lo) for r in reached],
                     [_label_width(t, MEDIAN_FONT_SIZE) for t in texts])
    drawn = []
    for row, text, level in zip(reached, texts, levels, strict=True):
        m, color = row["median"], colors[row["group"]]
        fig.add_trace(
            go.Scatter(x=[0, m, m], y=[0.5, 0.5, 0], mode="lines", showlegend=False,
                       line={"color": MEDIAN_LINE_COLOR, "width": 1.5, "dash": "dash"},
                       hovertemplate=f"median {row['group']}: {text}<extra></extra>"),
            row=1, col=1,
        )
        fig.add_annotation(x=m, y=0.01 + level * MEDIAN_LEVEL, xref="x", yref="y", text=text,
                           showarrow=False, xanchor="center", yanchor="bottom",
                           font={"size": MEDIAN_FONT_SIZE, "color": color},
                           bgcolor="rgba(255,255,255,0.9)", borderpad=1)
        drawn.append(_Median(row["group"], m, color, text, level))
    return drawn


def _colored(text: str, color: str) -> str:
    return f'<span style="color:{color}">{text}</span>'


def _hr_entries(hazard_ratios: pl.DataFrame, groups: list[_Group], chars: int
                ) -> list[list[str]]:
    """'HR (95% CI) vs <reference>', then '<group>: <HR>' per other group drawn (its name in
    its colour), each as lines of at most ``chars`` characters (a longer word alone)."""
    colors = {g.name: g.color for g in groups}
    reference = hazard_ratios.filter(pl.col("is_reference"))["group"].item()
    entries = [wrap(f"HR (95% CI) vs {reference}", chars).split("<br>")]
    for row in hazard_ratios.filter(~pl.col("is_reference")).iter_rows(named=True):
        if row["group"] not in colors:
            continue
        name = wrap_label(f"{row['group']}:", chars)
        color = colors[row["group"]]
        if len(name[-1]) + 1 + len(row["text"]) <= chars:
            name[-1] = f"{_colored(name[-1], color)} {row['text']}"
            entries.append([_colored(n, color) for n in name[:-1]] + [name[-1]])
        else:
            entries.append([_colored(n, color) for n in name] + [f"  {row['text']}"])
    return entries


def _stats_lines(test: Any, hazard_ratios: pl.DataFrame | None, groups: list[_Group]
                 ) -> list[str]:
    """The statistics box's lines: 'Log-rank p = 0.03', then the hazard ratios."""
    lines = [f"Log-rank {format_p(test.p)}"] if test is not None else []
    if hazard_ratios is not None and hazard_ratios.height > 1 and len(groups) > 1:
        lines += [line for entry in _hr_entries(hazard_ratios, groups, BOX_CHARS)
                  for line in entry]
    return lines


def _visible_chars(line: str) -> int:
    """Characters of ``line`` drawn (its tags not counted)."""
    return len(re.sub(r"<[^>]+>", "", line))


@dataclass(frozen=True)
class _Corner:
    """Where a box may go: anchor in the panel's domain (0-1) and which way it extends."""

    x: float
    y: float
    xanchor: str
    yanchor: str


def _obstacles(table: pl.DataFrame, est: str, start: float, medians: list[_Median],
               x_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (time, value) of everything the box must not hide: each curve at 200 times
    (three times over: a curve matters more than its band), its band's limits, the median lines
    and labels."""
    grid = np.linspace(0, x_hi, 200)
    xs, ys = [], []
    for _, part in table.partition_by("group", as_dict=True, maintain_order=True).items():
        for col in (est, est, est, "lower", "upper"):
            x, y = _step_xy(part.with_columns(pl.col(col).fill_null(pl.col(est))), col, start)
            shown = grid[grid <= x[-1]]
            xs.append(shown)
            ys.append(y[np.searchsorted(x, shown, side="right") - 1])
    for m in medians:
        half = _label_width(m.text, MEDIAN_FONT_SIZE) * x_hi / 2
        label_y = 0.01 + (m.level + 0.5) * MEDIAN_LEVEL
        xs += [np.linspace(0, m.time, 50), np.full(25, m.time),
               np.linspace(m.time - half, m.time + half, 10)]
        ys += [np.full(50, 0.5), np.linspace(0, 0.5, 25), np.full(10, label_y)]
    return np.concatenate(xs or [np.array([])]), np.concatenate(ys or [np.array([])])


#: The statistics' place when every corner would hide a curve: a strip above the curve panel,
#: in a top margin grown by its height.
ABOVE = _Corner(0.0, 1.0, "left", "bottom")
ABOVE_GAP_PX = 6  # between the strip and the curve panel
#: Characters per line of the strip: the plot's width, less the box's padding.
STRIP_CHARS = int((PLOT_WIDTH_PX - 16) / (BOX_FONT_SIZE * 0.56))
STRIP_GAP = "  ·  "


def _stats_entries(test: Any, hazard_ratios: pl.DataFrame | None, groups: list[_Group]
                   ) -> list[list[str]]:
    """The strip's entries, each as its lines: the log-rank p, then :func:`_hr_entries` at
    the strip's width."""
    entries = [[f"Log-rank {format_p(test.p)}"]] if test is not None else []
    if hazard_ratios is not None and hazard_ratios.height > 1 and len(groups) > 1:
        entries += _hr_entries(hazard_ratios, groups, STRIP_CHARS)
    return entries


def strip_lines(entries: list[list[str]], chars: int = STRIP_CHARS) -> list[str]:
    """``entries`` (each its lines) as the strip's lines: one-line entries side by side,
    :data:`STRIP_GAP` between them, while a line keeps to ``chars`` visible characters."""
    lines: list[str] = []
    joinable = False  # the last line is a one-line entry (or several)
    for entry in entries:
        joined = f"{lines[-1]}{STRIP_GAP}{entry[0]}" if lines else ""
        if joinable and len(entry) == 1 and _visible_chars(joined) <= chars:
            lines[-1] = joined
        else:
            lines += entry
            joinable = len(entry) == 1
    return lines


def box_px(lines: list[str]) -> tuple[float, float]:
    """Width and height of the statistics box of ``lines``, px at scale 1 (generous)."""
    return (max(map(_visible_chars, lines)) * BOX_FONT_SIZE * 0.56 + 16,
            len(lines) * BOX_FONT_SIZE * 1.3 + 12)


def _place_box(lines: list[str], corners: list[_Corner], points: tuple[np.ndarray, np.ndarray],
               x_range: list[float], y_range: list[float]) -> _Corner:
    """The first of ``corners`` where a box of ``lines`` hides none of ``points``, else
    :data:`ABOVE` (outside the plot)."""
    width_px, height_px = box_px(lines)
    width, height = width_px / PLOT_WIDTH_PX, height_px / CURVE_PX
    fx = (points[0] - x_range[0]) / (x_range[1] - x_range[0])
    fy = (points[1] - y_range[0]) / (y_range[1] - y_range[0])

    def hidden(c: _Corner) -> int:
        x0 = c.x - width if c.xanchor == "right" else c.x
        y0 = c.y - height if c.yanchor == "top" else c.y
        return int(((fx >= x0) & (fx <= x0 + width) & (fy >= y0) & (fy <= y0 + height)).sum())

    return next((c for c in corners if hidden(c) == 0), ABOVE)


def _stats_box(fig: go.Figure, lines: list[str], corner: _Corner) -> None:
    fig.add_annotation(text="<br>".join(lines), xref="x domain", yref="y domain", x=corner.x,
                       y=corner.y, xanchor=corner.xanchor, yanchor=corner.yanchor,
                       yshift=ABOVE_GAP_PX if corner == ABOVE else 0,
                       showarrow=False, align="left", font={"size": BOX_FONT_SIZE},
                       bgcolor="rgba(255,255,255,0.8)", bordercolor="#BFBFBF", borderwidth=1,
                       borderpad=6)


@dataclass(frozen=True)
class _Row:
    """A line (or lines) of the table under the plot: label, numbers at the ticks (None: a
    heading), colour, and the line sample of a group's first row."""

    label: list[str]
    values: list[str] | None
    color: str
    key: _Group | None = None


KMUNICATE_ROWS = (("At risk", "at_risk"), ("Events", "events"), ("Censored", "censored"))


def _table_rows(table: pl.DataFrame, ticks: list[float], groups: list[_Group],
                kmunicate: bool, min_cell: int | None) -> list[_Row]:
    """The number at risk of each group, or its KMunicate rows under a heading with its name;
    counts of 1 to ``min_cell`` - 1 (rounded ones too) as '<min_cell'."""
    counts = counts_at(table, ticks)
    rows = []
    for g in groups:
        part = counts.filter(pl.col("group") == g.name)
        name = wrap_label(g.name)

        def shown(column: str, part: pl.DataFrame = part) -> list[str]:
            return [suppressed_count(int(n), min_cell) for n in part[column]]

        if not kmunicate:
            rows.append(_Row(name, shown("at_risk"), g.color, g))
            continue
        rows.append(_Row(name, None, g.color, g))
        rows += [_Row([label], shown(col), g.color) for label, col in KMUNICATE_ROWS]
    return rows


def _label_px(rows: list[_Row]) -> float:
    return max(len(line) for row in rows for line in row.label) * CHAR_PX


def _draw_table(fig: go.Figure, rows: list[_Row], ticks: list[float]) -> None:
    """The rows under the plot (panel 2), each label in its group's colour, right of it the
    group's line sample, and its numbers under the x ticks."""
    total = sum(len(r.label) for r in rows)
    centres, top = [], float(total)
    for row in rows:
        centres.append(top - len(row.label) / 2)
        top -= len(row.label)
    for row, y in zip(rows, centres, strict=True):
        if row.values is not None:
            fig.add_trace(
                go.Scatter(x=ticks, y=[y] * len(ticks), mode="text",
                           text=row.values,
                           textfont={"color": row.color, "size": TICK_FONT_SIZE},
                           showlegend=False, hoverinfo="skip", cliponaxis=False),
                row=2, col=1,
            )
        if row.key is not None:
            fig.add_shape(type="line", xref="paper", xsizemode="pixel", xanchor=0,
                          x0=-KEY_PX - KEY_GAP_PX, x1=-KEY_GAP_PX, yref="y2", y0=y, y1=y,
                          opacity=1,
                          line={"color": row.key.color, "width": 3, "dash": row.key.dash})
    fig.update_yaxes(
        row=2, col=1, range=[-0.1, total + 0.1], showgrid=False, zeroline=False,
        showline=False, ticks="", tickvals=centres,
        ticktext=["<br>".join(_colored(line, r.color) for line in r.label) for r in rows],
        tickfont={"size": TICK_FONT_SIZE}, ticklabelstandoff=KEY_PX + KEY_GAP_PX + 8,
    )
    fig.update_xaxes(row=2, col=1, showline=False, ticks="", showticklabels=False,
                     showgrid=False)


def _caption_text(caption: str | None, test: Any, method: str) -> str | None:
    """The caption: the screen's words, the test's statistic (its p is in the plot's box when
    it is a log-rank test) and the method."""
    parts = [caption] if caption else []
    if test is not None and hasattr(test, "chisq"):
        parts.append(f"Log-rank χ² = {test.chisq:.2f}, {test.df} df")
    elif test is not None:
        parts.append(f"Gray's test {format_p(test.p)} (χ² = {test.statistic:.2f}, {test.df} df)")
    first = ". ".join(parts)
    return wrap(f"{first}.<br>{method}." if first else f"{method}.")


@dataclass(frozen=True)
class _Content:
    """What one figure draws besides its curves."""

    y_title: str
    method: str
    y_range: list[float]
    corners: list[_Corner]
    median_table: pl.DataFrame | None = None
    test: Any = None
    hazard_ratios: pl.DataFrame | None = None
    stats_box: bool = True
    kmunicate: bool = False
    min_cell: int | None = None


def _figure(table: pl.DataFrame, est: str, start: float, content: _Content, *, show_ci: bool,
            show_censor: bool, x_max: float | None, title: str | None, caption: str | None,
            time_label: str) -> go.Figure:
    x_hi = float(x_max) if x_max else float(table["time"].max() or 1.0)
    x_range = [-0.03 * x_hi, x_hi * 1.03]
    ticks = nice_ticks(x_hi, unit_of(time_label))
    groups = _groups(table)
    rows = _table_rows(table, ticks, groups, content.kmunicate, content.min_cell)
    risk_px = sum(len(r.label) for r in rows) * LINE_PX + 8
    plot_px = CURVE_PX + PANEL_GAP_PX + risk_px
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[CURVE_PX, risk_px],
                        vertical_spacing=PANEL_GAP_PX / plot_px)
    _curves(fig, table, groups, est, start, show_ci=show_ci, show_censor=show_censor,
            time_label=time_label)
    medians = []
    if content.median_table is not None:
        medians = _medians(fig, content.median_table, groups, unit_of(time_label), *x_range)
    lines = _stats_lines(content.test, content.hazard_ratios, groups) if content.stats_box else []
    above_px = 0.0
    if lines:
        points = _obstacles(table, est, start, medians, x_hi)
        corner = _place_box(lines, content.corners, points, x_range, content.y_range)
        if corner == ABOVE:
            lines = strip_lines(_stats_entries(content.test, content.hazard_ratios, groups))
            above_px = box_px(lines)[1] + ABOVE_GAP_PX
        _stats_box(fig, lines, corner)
    _draw_table(fig, rows, ticks)
    fig.update_xaxes(range=x_range, tickvals=ticks, showgrid=True, gridcolor=GRID_COLOR,
                     tickfont={"size": TICK_FONT_SIZE})
    fig.update_xaxes(row=1, col=1, showticklabels=True,
                     title={"text": time_label, "standoff": 4})
    fig.update_xaxes(row=2, col=1, showgrid=False)
    fig.update_yaxes(row=1, col=1, range=content.y_range, title=content.y_title,
                     tickformat=".0%", dtick=0.2, showgrid=True, gridcolor=GRID_COLOR,
                     tickfont={"size": TICK_FONT_SIZE})
    text = _caption_text(caption, content.test, content.method)
    caption_px = CAPTION_LINE_PX * (text.count("<br>") + 1) + 24 if text else 20
    top = round((70 if title else 24) + above_px)
    left = round(max(MIN_LEFT_PX, _label_px(rows) + KEY_PX + KEY_GAP_PX + 20))
    fig.update_layout(**base_layout(title, text, height=round(top + plot_px + caption_px)))
    fig.update_layout(
        showlegend=False,
        title={"y": 1.0, "yref": "container", "yanchor": "top", "pad": {"t": 12}},
        margin={"t": top, "b": caption_px,
                "l": left},
    )
    heading = ("Number at risk, cumulative events and censored" if content.kmunicate
               else "Number at risk")
    fig.add_annotation(text=heading, xref="paper", yref="y2 domain", x=0, y=1.0,
                       xanchor="left", yanchor="bottom", yshift=4, showarrow=False,
                       font={"size": FONT_SIZE - 2})
    if text:
        fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=0, yshift=-12,
                           xshift=-(left - CAPTION_INDENT_PX),
                           xanchor="left", yanchor="top", showarrow=False,
                           font={"size": FONT_SIZE - 3}, align="left")
    return fig


#: Where the statistics box of survival curves may go, best first: top right, bottom left
#: (above the median labels), bottom right, then down the right-hand side.
SURVIVAL_CORNERS = [_Corner(0.99, 0.99, "right", "top"), _Corner(0.01, 0.12, "left", "bottom"),
                    _Corner(0.99, 0.12, "right", "bottom"),
                    *(_Corner(0.99, y, "right", "top") for y in (0.85, 0.7, 0.55))]


def km_figure(
    km_table: pl.DataFrame,
    *,
    median_table: pl.DataFrame | None = None,
    logrank: Any = None,
    hazard_ratios: pl.DataFrame | None = None,
    show_ci: bool = True,
    show_censor: bool = True,
    show_median: bool = True,
    kmunicate: bool = False,
    x_max: float | None = None,
    title: str | None = None,
    caption: str | None = None,
    time_label: str = "Months",
    conf_type: str = "log-log",
    min_cell: int | None = None,
) -> go.Figure:
    """Kaplan-Meier plot: stepped curves, shaded CI, '+' censor ticks, dashed medians labelled
    with their time; in a box in a corner no curve passes (else a strip above it) the log-rank p
    and the Cox hazard ratios (:func:`cohort.survival.hazard_ratios`) against their reference;
    under the plot the number at risk at the x ticks (``kmunicate``: also cumulative events
    and censored; counts of 1 to ``min_cell`` - 1 as '<min_cell'), and the method in the
    caption."""
    band = f"shaded 95% CI ({conf_type}, Greenwood)" if show_ci else f"95% CI {conf_type}"
    method = f"Kaplan-Meier; {band}; + censored" if show_censor else f"Kaplan-Meier; {band}"
    if hazard_ratios is not None and hazard_ratios.height > 1:
        method += "; HR: Cox proportional hazards, Efron ties, 95% Wald CI"
    if kmunicate:
        method += "; events and censored: cumulative, before each time"
    content = _Content("Survival probability", method, [-0.02, 1.02], SURVIVAL_CORNERS,
                       median_table if show_median else None, logrank, hazard_ratios,
                       kmunicate=kmunicate, min_cell=min_cell)
    return _figure(km_table, "survival", 1.0, content, show_ci=show_ci,
                   show_censor=show_censor, x_max=x_max, title=title, caption=caption,
                   time_label=time_label)


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
    min_cell: int | None = None,
) -> go.Figure:
    """Cumulative incidence plot (curves going up) in the same style as :func:`km_figure`;
    ``gray`` is a :class:`cohort.competing.GrayTestResult` shown in the caption."""
    highest = float(cif_table["upper"].max() or cif_table["cif"].max() or 0.0)
    top = y_max if y_max is not None else min(1.0, max(0.2, highest * 1.1))
    method = ("Aalen-Johansen (competing events not counted as failures); "
              "shaded 95% CI (log(-log), cmprsk variance); + censored")
    content = _Content(event_label, method, [-0.01, top], [], test=gray, stats_box=False,
                       min_cell=min_cell)
    return _figure(cif_table, "cif", 0.0, content, show_ci=show_ci, show_censor=show_censor,
                   x_max=x_max, title=title, caption=caption, time_label=time_label)
