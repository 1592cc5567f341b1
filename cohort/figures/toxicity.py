"""Toxicity heatmaps: term x worst grade and term x subgroup, "n (x%)" written in each cell."""

from __future__ import annotations

import plotly.colors as pc
import plotly.graph_objects as go
import polars as pl

from cohort.figures.style import wrap
from cohort.figures.templates import PLOTLY_WHITE
from cohort.toxicity import (
    ANY,
    GRADE_COLUMNS,
    HIGH,
    GradeMatrix,
    assessed_noun,
    denominator_words,
    shown_by_grade,
    shown_by_group,
    size_text,
)

FONT_SIZE = 15
CELL_FONT_SIZE = FONT_SIZE  # cell text as large as the term and grade labels
CAPTION_FONT_SIZE = FONT_SIZE - 1  # smaller than the term and grade labels
CAPTION_LINE_PX = 20
ROW_PX, TWO_LINE_ROW_PX = 34, 50
#: Columns whose one-line "n (x%)" fits a 1280-px screen; more columns write "n<br>(x%)".
MAX_ONE_LINE_COLUMNS = 7
GROUP_LABEL_WIDTH = 16  # characters per line of a group's name over its two columns
HEADER_LINE_PX = 20
#: ColorBrewer "Blues": sequential and colour-blind safe.
COLOURSCALE = "Blues"
DARK_TEXT, LIGHT_TEXT = "#1A1A1A", "#FFFFFF"
HIGHLIGHT = "#D55E00"  # Okabe-Ito vermillion: border of the grade >= 3 columns


def _labels(grade_cols: list[str]) -> list[str]:
    names = {**{c: f"Grade {c[-1]}" for c in GRADE_COLUMNS}, ANY: "Any grade", HIGH: "Grade ≥3"}
    high = {*GRADE_COLUMNS[2:], HIGH}
    return [f"<b>{names[c]}</b>" if c in high else names[c] for c in grade_cols]


def _luminance(rgb: str) -> float:
    """WCAG relative luminance (0 black - 1 white) of 'rgb(r, g, b)'."""
    channels = [int(v) / 255 for v in rgb[rgb.index("(") + 1:-1].split(",")]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_colour(value: float | None, zmax: float) -> str:
    """White on dark cells, near-black on light ones: whichever contrasts more (WCAG ratio)
    with the cell's colour for ``value`` on the 0..``zmax`` colour scale."""
    fraction = min(max((value or 0.0) / zmax, 0.0), 1.0) if zmax > 0 else 0.0
    cell = _luminance(pc.sample_colorscale(COLOURSCALE, [fraction])[0])
    on_white = (1.0 + 0.05) / (cell + 0.05)
    on_dark = (cell + 0.05) / (_luminance("rgb(26, 26, 26)") + 0.05)
    return LIGHT_TEXT if on_white > on_dark else DARK_TEXT


def two_lines(x: list[str]) -> bool:
    """Whether cells write "n<br>(x%)": more columns than a one-line text fits on a laptop."""
    return len(x) > MAX_ONE_LINE_COLUMNS


def _cells(x: list[str], y: list[str], z: list[list[float | None]], text: list[list[str]],
           zmax: float) -> list[go.BaseTraceType]:
    """A heatmap coloured by ``z`` (no colour bar: every cell states its number) and, over it,
    each cell's text in the colour that reads best on that cell (a heatmap's own text has one
    colour for all cells); the text breaks before its percent when the columns are many."""
    heatmap = go.Heatmap(
        x=x, y=y, z=z, customdata=text, colorscale=COLOURSCALE, zmin=0, zmax=zmax,
        xgap=2, ygap=2, showscale=False,
        hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>",
    )
    broken = two_lines(x)
    cells = [(xi, yi, t.replace(" (", "<br>(", 1) if broken else t, text_colour(v, zmax))
             for yi, row_z, row_t in zip(y, z, text, strict=True)
             for xi, v, t in zip(x, row_z, row_t, strict=True)]
    xs, ys, texts, colours = (list(column) for column in zip(*cells, strict=True)) if cells \
        else ([], [], [], [])
    labels = go.Scatter(x=xs, y=ys, text=texts, mode="text", hoverinfo="skip", showlegend=False,
                        textfont={"size": CELL_FONT_SIZE, "color": colours})
    return [heatmap, labels]


def _zmax(z: list[list[float | None]]) -> float:
    return max(max((v for r in z for v in r if v is not None), default=1.0), 1.0)


def _highlight(fig: go.Figure, columns: list[int], n_rows: int) -> None:
    """Vermillion frame around each highlighted (grade >= 3) column."""
    for j in columns:
        fig.add_shape(type="rect", xref="x", yref="y", x0=j - 0.5, x1=j + 0.5, y0=-0.5,
                      y1=n_rows - 0.5, line={"color": HIGHLIGHT, "width": 3},
                      fillcolor="rgba(0,0,0,0)", layer="above")


def _layout(fig: go.Figure, title: str | None, n_rows: int, subtitle: str,
            caption: str | None = None, row_px: int = ROW_PX, header_px: int = 0) -> go.Figure:
    text = f"{title}<br><sup>{subtitle}</sup>" if title else f"<sup>{subtitle}</sup>"
    note = wrap(caption) if caption else None
    caption_px = CAPTION_LINE_PX * (note.count("<br>") + 1) + 20 if note else 0
    fig.update_layout(
        template=PLOTLY_WHITE, paper_bgcolor="white", plot_bgcolor="white",
        font={"size": FONT_SIZE}, title={"text": text, "font": {"size": FONT_SIZE + 3}},
        height=max(280, row_px * n_rows + 210) + caption_px + header_px, showlegend=False,
        margin={"l": 10, "r": 10, "t": 140 + header_px, "b": 10 + caption_px},
    )
    if note:
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0, y=0, yshift=-12,
                           xanchor="left", yanchor="top", showarrow=False, align="left",
                           font={"size": CAPTION_FONT_SIZE})
    fig.update_xaxes(side="top", tickangle=0, showgrid=False, zeroline=False, type="category")
    fig.update_yaxes(autorange="reversed", showgrid=False, zeroline=False, automargin=True,
                     type="category")
    return fig


def _row_px(x: list[str]) -> int:
    return TWO_LINE_ROW_PX if two_lines(x) else ROW_PX


def grade_heatmap(
    matrix: GradeMatrix,
    title: str | None = None,
    max_terms: int | None = None,
    caption: str | None = None,
) -> go.Figure:
    """Term x worst grade heatmap of ``matrix.by_grade``: colour = % of the patients assessed
    for toxicity, cell text "n (x%)" as in :func:`cohort.toxicity.shown_by_grade`, most frequent
    term on top, grade 3-5 and "Grade ≥3" columns framed; the denominator in the subtitle and
    ``caption`` (cohort, phase, method) under the heatmap, wrapped."""
    table = matrix.by_grade.head(max_terms) if max_terms else matrix.by_grade
    shown = shown_by_grade(matrix).head(table.height)
    cols = [*GRADE_COLUMNS, ANY, HIGH]
    pct = [list(r) for r in table.select(f"pct_{c}" for c in cols).rows()]
    x = _labels(cols)
    fig = go.Figure(_cells(x, table["term"].to_list(), pct,
                           [list(r) for r in shown.select(cols).rows()], _zmax(pct)))
    _highlight(fig, [2, 3, 4, 6], table.height)
    subtitle = f"Patients by worst CTCAE grade per term, % of the {denominator_words(matrix)}"
    return _layout(fig, title, table.height, subtitle, caption, _row_px(x))


def _group_headers(fig: go.Figure, names: list[str]) -> int:
    """Each group's name, wrapped, once over its two columns; returns the px they need."""
    wrapped = [wrap(name, GROUP_LABEL_WIDTH) for name in names]
    for i, name in enumerate(wrapped):
        fig.add_annotation(text=name, xref="x", yref="paper", x=2 * i + 0.5, y=1, yshift=30,
                           xanchor="center", yanchor="bottom", showarrow=False,
                           font={"size": FONT_SIZE})
    return HEADER_LINE_PX * max((n.count("<br>") + 1 for n in wrapped), default=0)


def group_heatmap(
    matrix: GradeMatrix, title: str | None = None, max_terms: int | None = None,
    caption: str | None = None,
) -> go.Figure:
    """Term x subgroup heatmap of ``matrix.by_group``: for each group an "any grade" and a
    framed "grade ≥3" column; colour = % of the group's assessed patients, text "n (x%)" as in
    :func:`cohort.toxicity.shown_by_group`; ``caption`` under the heatmap, wrapped."""
    by_group = matrix.by_group.with_columns(shown_by_group(matrix).select(
        pl.col("n_any").alias("text_any"), pl.col("n_grade_3plus").alias("text_grade_3plus")))
    terms = by_group["term"].unique(maintain_order=True).to_list()
    terms = terms[:max_terms] if max_terms else terms
    table = by_group.filter(pl.col("term").is_in(terms))
    groups = table.select("group", "group_n").unique(maintain_order=True).sort("group").rows()
    x, ticks, z_cols, t_cols, high = [], [], [], [], []
    for g, size in groups:
        part = table.filter(pl.col("group") == g)
        for metric, label in (("any", "any"), ("grade_3plus", "<b>≥3</b>")):
            if metric == "grade_3plus":
                high.append(len(x))
            x.append(f"{g} (n={size_text(size)})<br>{label}")
            ticks.append(label)
            z_cols.append(part[f"pct_{metric}"].to_list())
            t_cols.append(part[f"text_{metric}"].to_list())
    z = [list(r) for r in zip(*z_cols, strict=True)] if z_cols else []
    text = [list(r) for r in zip(*t_cols, strict=True)] if t_cols else []
    fig = go.Figure(_cells(x, terms, z, text, _zmax(z)))
    _highlight(fig, high, len(terms))
    header_px = _group_headers(fig, [f"{g} (n={size_text(size)})" for g, size in groups])
    subtitle = (f"Patients with the toxicity, % of each group's {assessed_noun(matrix)} "
                f"({matrix.denominator_text} in all)")
    fig = _layout(fig, title, len(terms), subtitle, caption, _row_px(x), header_px)
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=ticks)
    return fig
