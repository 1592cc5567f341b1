"""Shared look of the figures: Okabe-Ito palette, fonts, white journal layout, p formatting."""

from __future__ import annotations

import math

import plotly.graph_objects as go

#: Okabe-Ito colour-blind-safe palette, ordered so that neighbours differ most (CIEDE2000 ΔE00
#: of consecutive colours >= 20, tests/test_km_journal.py): no yellow (faint on white), sky blue
#: and orange (closest to blue and vermillion) late, Okabe-Ito's grey last.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#000000",  # black
    "#56B4E9",  # sky blue
    "#E69F00",  # orange
    "#999999",  # grey
)
#: Dash patterns of the curves when a figure has more than :data:`SOLID_UP_TO` groups, so each
#: curve stays distinguishable printed in grey.
DASHES: tuple[str, ...] = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot",
                           "12px,3px,3px,3px,3px,3px", "2px,6px")
SOLID_UP_TO = 4
FONT_FAMILY = "Arial, Helvetica, sans-serif"
FONT_SIZE = 18  # readable when projected
TICK_FONT_SIZE = 16
GRID_COLOR = "#E5E5E5"
MEDIAN_LINE_COLOR = "#7F7F7F"


def color_for(i: int) -> str:
    """The i-th palette colour (cycles)."""
    return PALETTE[i % len(PALETTE)]


def dash_for(i: int, n_groups: int) -> str:
    """The dash pattern of the i-th of ``n_groups`` curves: solid up to
    :data:`SOLID_UP_TO` groups, else one pattern per group (cycles)."""
    return "solid" if n_groups <= SOLID_UP_TO else DASHES[i % len(DASHES)]


def rgba(hex_color: str, alpha: float) -> str:
    """'#RRGGBB' -> 'rgba(r,g,b,alpha)'."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


CAPTION_WIDTH = 95  # characters per caption line at the caption's font size


def _unbreakable(words: list[str]) -> list[str]:
    """Words with '=' glued to its neighbours, so 'n = 91' never breaks across lines."""
    glued: list[str] = []
    for word in words:
        if glued and (word == "=" or glued[-1].endswith(" =")):
            glued[-1] = f"{glued[-1]} {word}"
        else:
            glued.append(word)
    return glued


def wrap(text: str, width: int = CAPTION_WIDTH) -> str:
    """``text`` with '<br>' breaks between words so no line is longer than ``width``."""
    lines = []
    for paragraph in text.split("<br>"):
        line = ""
        for word in _unbreakable(paragraph.split(" ")):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines)


def format_p(p: float | None) -> str:
    """Journal style: 'p = 0.03', 'p = 0.003', 'p < 0.001'; 'p = NA' when missing."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def base_layout(title: str | None, caption: str | None, height: int) -> dict:
    """Layout keywords shared by the figure builders (white background, large fonts)."""
    return {
        "template": "simple_white",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": "#000000"},
        "title": {"text": title, "x": 0.0, "xanchor": "left"} if title else None,
        "height": height,
        "margin": {"l": 150, "r": 30, "t": 70 if title else 30, "b": 110 if caption else 70},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "right",
                   "x": 1.0, "font": {"size": FONT_SIZE}},
        "hovermode": "closest",
    }


PROJECTION_SCALE = 1.35
#: Tallest slide figure, px: it fits a 1080-pixel-high screen under the slide's heading.
PROJECTION_MAX_HEIGHT = 860
DEFAULT_HEIGHT = 450  # plotly's, for a figure that sets none
TITLE_PX = 40  # what a figure's own title adds to its top margin


def _scaled(size: float | None, scale: float) -> float | None:
    return None if size is None else round(size * scale, 1)


def projection_scale(height: float, scale: float = PROJECTION_SCALE) -> float:
    """The enlargement of a figure ``height`` px high: ``scale``, lowered (not below 1) so that
    it stays within :data:`PROJECTION_MAX_HEIGHT`."""
    return max(1.0, min(scale, PROJECTION_MAX_HEIGHT / height))


def for_projection(figure: go.Figure, scale: float = PROJECTION_SCALE) -> go.Figure:
    """A copy of ``figure`` for a projector, without its own title (the slide states it).
    Fonts, lines, margins and height are all enlarged by one factor, so the layout (legend
    rows, number-at-risk rows, caption) stays exactly as drawn on the screen, only larger."""
    fig = go.Figure(figure)
    layout = fig.layout
    margin = {side: getattr(layout.margin, side) for side in "lrtb"}
    title_px = TITLE_PX if layout.title and layout.title.text else 0
    height = (layout.height or DEFAULT_HEIGHT) - title_px
    scale = projection_scale(height, scale)
    fig.update_layout(
        font_size=_scaled(layout.font.size or FONT_SIZE, scale), title=None,
        height=round(height * scale),
        margin={side: round(((value or 0) - (title_px if side == "t" else 0)) * scale)
                for side, value in margin.items() if value is not None},
    )
    for name in [k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        axis = layout[name]
        axis.tickfont.size = _scaled(axis.tickfont.size or TICK_FONT_SIZE, scale)
        if axis.title and axis.title.font:
            axis.title.font.size = _scaled(axis.title.font.size, scale)
    for annotation in layout.annotations or ():
        annotation.font.size = _scaled(annotation.font.size or FONT_SIZE, scale)
    if layout.legend and layout.legend.font:
        layout.legend.font.size = _scaled(layout.legend.font.size or FONT_SIZE, scale)
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if line is not None and getattr(line, "width", None):
            line.width = line.width * 1.5
        textfont = getattr(trace, "textfont", None)
        if textfont is not None and textfont.size:
            textfont.size = _scaled(textfont.size, scale)
    return fig
