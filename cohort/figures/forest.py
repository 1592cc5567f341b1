"""Forest plot of a Cox model: hazard ratios with CIs on a log axis, with a table beside it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from cohort.cox import covariate_label, format_hr_ci, format_p_value
from cohort.figures.style import wrap
from cohort.figures.templates import PLOTLY_WHITE

FONT_SIZE = 16
CAPTION_FONT_SIZE = FONT_SIZE - 2  # smaller than the axis and column labels
CAPTION_LINE_PX = 20
ROW_PX = 34
MARKER_COLOUR = "#0072B2"  # Okabe-Ito blue
REFERENCE_COLOUR = "#7F7F7F"
TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
#: Beyond this many decades the narrow plot column has room for powers of ten only.
MAX_DECADES_ALL_TICKS = 2.5
#: Paper x positions of the text columns and the plot area.
X_LABEL, X_COUNTS, X_HR, X_P = 0.0, 0.37, 0.71, 1.0
PLOT_DOMAIN = (0.41, 0.69)


@dataclass(frozen=True)
class _Row:
    label: str
    counts: str = ""
    hr_text: str = ""
    p_text: str = ""
    hr: float | None = None
    lower: float | None = None
    upper: float | None = None
    is_reference: bool = False
    bold: bool = False


def _term_row(t: dict, label: str) -> _Row:
    counts = f"{t['n']} / {t['events']}"
    if t["is_reference"]:
        return _Row(label, counts, "reference", hr=1.0, is_reference=True)
    if not t.get("estimable", True) or t["lower"] is None or t["upper"] is None:
        return _Row(label, counts, "not estimable")
    hr_text = format_hr_ci(t["hr"], t["lower"], t["upper"])
    return _Row(label, counts, hr_text, format_p_value(t["p"]), t["hr"], t["lower"], t["upper"])


def _rows(terms: pl.DataFrame) -> list[_Row]:
    """One header row per categorical covariate, then one row per level (or numeric term)."""
    rows: list[_Row] = []
    for cov in terms["covariate"].unique(maintain_order=True).to_list():
        part = terms.filter(pl.col("covariate") == cov).to_dicts()
        name = covariate_label(cov, part[0].get("per"))
        if part[0]["level"] is None:
            rows.append(_term_row(part[0], f"<b>{name}</b>"))
            continue
        rows.append(_Row(f"<b>{name}</b>", bold=True))
        rows.extend(_term_row(t, f"    {t['level']}") for t in part)
    return rows


def axis_ticks(lo: float, hi: float) -> list[float]:
    """Hazard-ratio ticks within ``lo``..``hi`` (log10): 1-2-5 steps, thinned when the range
    is too wide for their labels to stand side by side."""
    ticks = [t for t in TICKS if lo <= math.log10(t) <= hi]
    if hi - lo > MAX_DECADES_ALL_TICKS:
        ticks = [t for t in ticks if math.log10(t).is_integer()]
    return ticks


def _x_range(rows: list[_Row]) -> tuple[float, float]:
    values = [v for r in rows for v in (r.lower, r.upper, r.hr) if v and math.isfinite(v)]
    lo, hi = min([1.0, *values]), max([1.0, *values])
    return math.log10(lo) - 0.08, math.log10(hi) + 0.08


def _text(x: float, y: float, text: str, anchor: str, bold: bool = False) -> dict:
    return {"x": x, "y": y, "xref": "paper", "yref": "y", "text": f"<b>{text}</b>" if bold
            else text, "showarrow": False, "xanchor": anchor, "font": {"size": FONT_SIZE}}


def _traces(rows: list[_Row]) -> list[go.Scatter]:
    est = [(i, r) for i, r in enumerate(rows) if r.hr is not None and not r.is_reference]
    xs: list[float | None] = []
    ys: list[float | None] = []
    for i, r in est:
        xs += [r.lower, r.upper, None]
        ys += [i, i, None]
    refs = [i for i, r in enumerate(rows) if r.is_reference]
    return [
        go.Scatter(x=xs, y=ys, mode="lines", line={"color": MARKER_COLOUR, "width": 2.5},
                   hoverinfo="skip", showlegend=False),
        go.Scatter(
            x=[r.hr for _, r in est], y=[i for i, _ in est], mode="markers",
            marker={"symbol": "square", "size": 13, "color": MARKER_COLOUR},
            customdata=[[r.label.strip(), r.hr_text, r.p_text] for _, r in est],
            hovertemplate="%{customdata[0]}<br>HR %{customdata[1]}<br>p %{customdata[2]}"
                          "<extra></extra>",
            showlegend=False,
        ),
        go.Scatter(x=[1.0] * len(refs), y=refs, mode="markers", hoverinfo="skip",
                   marker={"symbol": "square-open", "size": 11, "color": REFERENCE_COLOUR},
                   showlegend=False),
    ]


def left_out_sentence(dropped: Sequence[str]) -> str:
    """'Left out of the model: Sex: the same value (male) in every row used; ...' ('' if none)."""
    return f"Left out of the model: {'; '.join(dropped)}." if dropped else ""


def forest_figure(
    cox_terms: pl.DataFrame, title: str | None = None, caption: str | None = None,
    dropped: Sequence[str] = (),
) -> go.Figure:
    """Forest plot of ``CoxResult.terms``: HR (squares) and CI on a log axis, HR = 1 line,
    reference levels marked "reference", and columns n / events, HR (95% CI), p. ``caption``
    (cohort, endpoint, method) goes under the axis, wrapped to :data:`style.CAPTION_WIDTH`,
    after the covariates the model left out (``dropped``: ``DroppedCovariate.text()``), so that
    a slide or an image of the figure says what is not in it."""
    caption = " ".join(t for t in (left_out_sentence(dropped), caption or "") if t) or None
    rows = _rows(cox_terms)
    fig = go.Figure(_traces(rows))
    header = -1
    notes = [
        _text(X_LABEL, header, "Variable", "left", True),
        _text(X_COUNTS, header, "n / events", "right", True),
        _text(X_HR, header, "HR (95% CI)", "left", True),
        _text(X_P, header, "p", "right", True),
    ]
    for i, r in enumerate(rows):
        notes.append(_text(X_LABEL, i, r.label, "left"))
        notes += [_text(X_COUNTS, i, r.counts, "right"), _text(X_HR, i, r.hr_text, "left"),
                  _text(X_P, i, r.p_text, "right")]
    text = wrap(caption) if caption else None
    caption_px = CAPTION_LINE_PX * (text.count("<br>") + 1) if text else 0
    if text:
        notes.append({"x": 0, "y": 0, "xref": "paper", "yref": "paper", "yshift": -74,
                      "text": text, "showarrow": False, "xanchor": "left",
                      "yanchor": "top", "font": {"size": CAPTION_FONT_SIZE}, "align": "left"})
    lo, hi = _x_range(rows)
    fig.update_layout(
        template=PLOTLY_WHITE, paper_bgcolor="white", plot_bgcolor="white",
        font={"size": FONT_SIZE}, annotations=notes, showlegend=False,
        title={"text": title, "font": {"size": FONT_SIZE + 4}} if title else None,
        height=ROW_PX * (len(rows) + 1) + 150 + caption_px + (40 if title else 0),
        margin={"l": 20, "r": 20, "t": 60 if title else 20,
                "b": 90 + caption_px if text else 70},
        shapes=[{"type": "line", "x0": 1, "x1": 1, "xref": "x", "y0": -0.5,
                 "y1": len(rows) - 0.5, "yref": "y",
                 "line": {"color": "#404040", "width": 1.5, "dash": "dot"}}],
    )
    fig.update_xaxes(type="log", range=[lo, hi], domain=PLOT_DOMAIN, showgrid=False,
                     tickvals=axis_ticks(lo, hi), tickangle=0,
                     title_text="Hazard ratio (log scale)", zeroline=False, showline=True,
                     linecolor="#404040", ticks="outside")
    fig.update_yaxes(range=[len(rows) - 0.5, header - 0.7], visible=False, fixedrange=True)
    return fig
