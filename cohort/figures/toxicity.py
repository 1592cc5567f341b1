"""Toxicity heatmaps: term x worst grade and term x subgroup, "n (x%)" written in each cell."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from cohort.figures.style import wrap
from cohort.tables import whole_percent
from cohort.toxicity import ANY, GRADE_COLUMNS, HIGH

FONT_SIZE = 15
CAPTION_FONT_SIZE = FONT_SIZE - 1  # smaller than the term and grade labels
CAPTION_LINE_PX = 20
ROW_PX = 32
#: ColorBrewer "Blues": sequential and colour-blind safe.
COLOURSCALE = "Blues"
HIGHLIGHT = "#D55E00"  # Okabe-Ito vermillion: border of the grade >= 3 columns


def _labels(grade_cols: list[str]) -> list[str]:
    names = {**{c: f"Grade {c[-1]}" for c in GRADE_COLUMNS}, ANY: "Any grade", HIGH: "Grade ≥3"}
    high = {*GRADE_COLUMNS[2:], HIGH}
    return [f"<b>{names[c]}</b>" if c in high else names[c] for c in grade_cols]


def _cell_text(n: list[list[int]], pct: list[list[float | None]]) -> list[list[str]]:
    return [[f"{a} ({whole_percent(p)})" if p is not None else f"{a}"
             for a, p in zip(rn, rp, strict=True)]
            for rn, rp in zip(n, pct, strict=True)]


def _heatmap(
    x: list[str], y: list[str], z: list[list[float | None]], text: list[list[str]],
    zmax: float, hover: str,
) -> go.Heatmap:
    return go.Heatmap(
        x=x, y=y, z=z, text=text, texttemplate="%{text}", textfont={"size": FONT_SIZE - 1},
        colorscale=COLOURSCALE, zmin=0, zmax=max(zmax, 1.0), xgap=2, ygap=2,
        colorbar={"title": {"text": "% of patients", "side": "right"}, "ticksuffix": "%"},
        hovertemplate=hover + "<extra></extra>",
    )


def _highlight(fig: go.Figure, columns: list[int], n_rows: int) -> None:
    """Vermillion frame around each highlighted (grade >= 3) column."""
    for j in columns:
        fig.add_shape(type="rect", xref="x", yref="y", x0=j - 0.5, x1=j + 0.5, y0=-0.5,
                      y1=n_rows - 0.5, line={"color": HIGHLIGHT, "width": 3},
                      fillcolor="rgba(0,0,0,0)", layer="above")


def _layout(fig: go.Figure, title: str | None, n_rows: int, subtitle: str,
            caption: str | None = None) -> go.Figure:
    text = f"{title}<br><sup>{subtitle}</sup>" if title else f"<sup>{subtitle}</sup>"
    note = wrap(caption) if caption else None
    caption_px = CAPTION_LINE_PX * (note.count("<br>") + 1) + 20 if note else 0
    fig.update_layout(
        template="plotly_white", paper_bgcolor="white", plot_bgcolor="white",
        font={"size": FONT_SIZE}, title={"text": text, "font": {"size": FONT_SIZE + 3}},
        height=max(280, ROW_PX * n_rows + 210) + caption_px,
        margin={"l": 10, "r": 10, "t": 140, "b": 10 + caption_px},
    )
    if note:
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0, y=0, yshift=-12,
                           xanchor="left", yanchor="top", showarrow=False, align="left",
                           font={"size": CAPTION_FONT_SIZE})
    fig.update_xaxes(side="top", tickangle=0, showgrid=False, type="category")
    fig.update_yaxes(autorange="reversed", showgrid=False, automargin=True, type="category")
    return fig


def grade_heatmap(
    by_grade: pl.DataFrame,
    title: str | None = None,
    denominator: int | str | None = None,
    max_terms: int | None = None,
    caption: str | None = None,
) -> go.Figure:
    """Term x worst grade heatmap of ``GradeMatrix.by_grade``: colour = % of patients, cell
    text "n (x%)", most frequent term on top, grade 3-5 and "Grade ≥3" columns framed;
    ``caption`` (cohort, phase, method) under the heatmap, wrapped."""
    table = by_grade.head(max_terms) if max_terms else by_grade
    cols = [*GRADE_COLUMNS, ANY, HIGH]
    n = table.select(cols).rows()
    pct = table.select(f"pct_{c}" for c in cols).rows()
    fig = go.Figure(_heatmap(
        _labels(cols), table["term"].to_list(), [list(r) for r in pct],
        _cell_text([list(r) for r in n], [list(r) for r in pct]),
        max((v for r in pct for v in r if v is not None), default=1.0),
        "%{y}<br>%{x}: %{text}",
    ))
    _highlight(fig, [2, 3, 4, 6], table.height)
    sub = "Patients by worst CTCAE grade per term"
    if denominator is not None:
        sub += f" (denominator: {denominator} patients)"
    return _layout(fig, title, table.height, sub, caption)


def group_heatmap(
    by_group: pl.DataFrame, title: str | None = None, max_terms: int | None = None,
    caption: str | None = None,
) -> go.Figure:
    """Term x subgroup heatmap of ``GradeMatrix.by_group``: for each group an "any grade" and a
    framed "grade ≥3" column; colour = % of the group's patients, text "n (x%)"; ``caption``
    under the heatmap, wrapped."""
    terms = by_group["term"].unique(maintain_order=True).to_list()
    terms = terms[:max_terms] if max_terms else terms
    table = by_group.filter(pl.col("term").is_in(terms))
    groups = table.select("group", "group_n").unique(maintain_order=True).sort("group").rows()
    x, z_cols, t_cols, high = [], [], [], []
    for g, size in groups:
        part = table.filter(pl.col("group") == g)
        for metric, label in (("any", "any"), ("grade_3plus", "<b>≥3</b>")):
            if metric == "grade_3plus":
                high.append(len(x))
            x.append(f"{g} (n={size})<br>{label}")
            pct, n = part[f"pct_{metric}"].to_list(), part[f"n_{metric}"].to_list()
            z_cols.append(pct)
            t_cols.append(_cell_text([n], [pct])[0])
    z = [list(r) for r in zip(*z_cols, strict=True)] if z_cols else []
    text = [list(r) for r in zip(*t_cols, strict=True)] if t_cols else []
    zmax = max((v for r in z for v in r if v is not None), default=1.0)
    fig = go.Figure(_heatmap(x, terms, z, text, zmax, "%{y}<br>%{x}: %{text}"))
    _highlight(fig, high, len(terms))
    return _layout(fig, title, len(terms), "Patients with the toxicity, % of each group",
                   caption)
