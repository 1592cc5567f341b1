"""Shared look of the figures: Okabe-Ito palette, fonts, white journal layout, p formatting."""

from __future__ import annotations

import math

from cohort.figures.templates import SIMPLE_WHITE

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
        "template": SIMPLE_WHITE,
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
