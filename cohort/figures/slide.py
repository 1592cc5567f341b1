"""A figure as a slide: it fills a given screen area, fonts and lines grown with the screen.

The app's figures are drawn for a desk (fonts, margins, caption lines and number-at-risk rows
in fixed pixels, the plot area taking the rest). :func:`for_slide` scales every fixed-pixel
part by one factor, :func:`screen_scale` (1 on a 1280 x 720 screen), then gives the figure the
area's height: the plot areas (curves, bars, heatmap cells) take what the fixed parts leave.
Where the fixed parts would leave too little, the factor is lowered until they fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import plotly.graph_objects as go

from cohort.figures.style import FONT_SIZE, TICK_FONT_SIZE

DESIGN_WIDTH, DESIGN_HEIGHT = 1280, 720  # the screen the figures' pixel sizes are drawn for
MIN_SCALE, MAX_SCALE = 0.6, 3.2
#: The plot areas keep at least this share of the figure's height...
MIN_PLOT_SHARE = 0.4
#: ... and at least this many pixels (at scale 1) per category row or annotated row.
MIN_ROW_PX = 22
MIN_PLOT_PX = 150  # at scale 1, whatever the rows
SCALE_STEP = 0.95
DEFAULT_HEIGHT = 450  # plotly's, for a figure that sets none
PLOTLY_MARGIN = {"l": 80, "r": 80, "t": 100, "b": 80}  # plotly's defaults
TITLE_PX = 40  # what a figure's own title adds to its top margin


def screen_scale(width_px: float, height_px: float) -> float:
    """How much larger than on a 1280 x 720 screen text and lines are drawn on a screen of
    ``width_px`` x ``height_px``: min(width / 1280, height / 720), within
    [:data:`MIN_SCALE`, :data:`MAX_SCALE`]."""
    scale = min(width_px / DESIGN_WIDTH, height_px / DESIGN_HEIGHT)
    return min(max(scale, MIN_SCALE), MAX_SCALE)


@dataclass(frozen=True)
class _Band:
    """One y axis' share of the plot area: its name, original domain, whether it is a table
    (only text traces: its height is fixed pixels, like number-at-risk rows), and its rows."""

    axis: str
    low: float
    high: float
    table: bool
    rows: int


@dataclass(frozen=True)
class _Geometry:
    """The original figure's vertical pixels (title removed)."""

    height: float
    top: float
    bottom: float
    bands: tuple[_Band, ...]  # bottom to top; empty when the axes overlap (not restacked)

    @property
    def plot(self) -> float:
        return max(self.height - self.top - self.bottom, 1.0)

    def fixed(self) -> float:
        """Margins, gaps between stacked axes and tables, px at scale 1."""
        tables = sum(b.high - b.low for b in self.bands if b.table)
        used = sum(b.high - b.low for b in self.bands)
        gaps = max(1.0 - used, 0.0) if self.bands else 0.0
        return self.top + self.bottom + (tables + gaps) * self.plot

    def rows(self) -> int:
        return max((b.rows for b in self.bands if not b.table), default=0)


def _axis_name(ref: str | None) -> str:
    """'y2' -> 'yaxis2' ('y' or None -> 'yaxis')."""
    ref = (ref or "y").split(" ")[0]
    return "yaxis" + ref[1:]


def _is_text_only(trace: go.BaseTraceType) -> bool:
    mode = getattr(trace, "mode", None)
    return trace.type == "scatter" and mode == "text"


def _rows_on(figure: go.Figure, axis: str) -> int:
    """Category rows drawn on ``axis``: heatmap rows, tick labels, or distinct y values of
    annotations placed on it (a forest plot's table rows)."""
    layout = figure.layout
    counts = [len(layout[axis].tickvals or ())]
    counts += [len(set(t.y)) for t in figure.data
               if t.type == "heatmap" and t.y is not None and _axis_name(t.yaxis) == axis]
    counts.append(len({a.y for a in layout.annotations or ()
                       if a.yref and not a.yref.endswith("domain") and a.yref != "paper"
                       and _axis_name(a.yref) == axis}))
    return max(counts)


def _bands(figure: go.Figure) -> tuple[_Band, ...]:
    """The y axes stacked in the plot area, bottom to top (none if any two overlap)."""
    layout = figure.layout
    names = sorted({k for k in layout.to_plotly_json() if k.startswith("yaxis")} | {"yaxis"})
    axes = [n for n in names if not layout[n].overlaying]
    bands = []
    for name in axes:
        low, high = layout[name].domain or (0.0, 1.0)
        traces = [t for t in figure.data if _axis_name(getattr(t, "yaxis", None)) == name]
        bands.append(_Band(name, low, high, bool(traces) and all(map(_is_text_only, traces)),
                           _rows_on(figure, name)))
    bands.sort(key=lambda b: b.low)
    if any(upper.low < lower.high - 1e-9 for lower, upper in pairwise(bands)):
        return ()
    return tuple(bands)


def _geometry(figure: go.Figure) -> _Geometry:
    layout = figure.layout
    title_px = TITLE_PX if layout.title and layout.title.text else 0
    margin = _margins(figure)
    top, bottom = margin["t"] - title_px, margin["b"]
    return _Geometry(height=(layout.height or DEFAULT_HEIGHT) - title_px, top=max(top, 0),
                     bottom=bottom, bands=_bands(figure))


def _fits(geometry: _Geometry, height_px: float, scale: float) -> bool:
    fixed = scale * geometry.fixed()
    plot = max(MIN_PLOT_SHARE * height_px, scale * max(geometry.rows() * MIN_ROW_PX,
                                                       MIN_PLOT_PX))
    return fixed + plot <= height_px


def fitted_scale(figure: go.Figure, height_px: float, scale: float) -> float:
    """``scale``, lowered (by 5% steps, not below :data:`MIN_SCALE`) until the figure's
    fixed-pixel parts and a usable plot area fit ``height_px``."""
    geometry = _geometry(figure)
    while scale > MIN_SCALE and not _fits(geometry, height_px, scale):
        scale = max(scale * SCALE_STEP, MIN_SCALE)
    return scale


def _margins(figure: go.Figure) -> dict[str, float]:
    """The figure's margins, px (plotly's defaults where it sets none)."""
    margin = figure.layout.margin
    return {side: PLOTLY_MARGIN[side] if getattr(margin, side) is None
            else getattr(margin, side) for side in "lrtb"}


def _scaled(size: float | None, scale: float) -> float | None:
    return None if size is None else round(size * scale, 1)


def _pixels(size: int | None, scale: float) -> int | None:
    return None if size is None else round(size * scale)


def _scale_fonts(fig: go.Figure, scale: float) -> None:
    layout = fig.layout
    font = layout.font.size or FONT_SIZE
    layout.font.size = _scaled(font, scale)
    for name in [k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        axis = layout[name]
        axis.tickfont.size = _scaled(axis.tickfont.size or TICK_FONT_SIZE, scale)
        axis.title.font.size = _scaled(axis.title.font.size, scale)
        axis.title.standoff = _scaled(axis.title.standoff, scale)
        axis.ticklabelstandoff = _pixels(axis.ticklabelstandoff, scale)
        axis.ticklen = _pixels(axis.ticklen, scale)
    for annotation in layout.annotations or ():
        annotation.font.size = _scaled(annotation.font.size or FONT_SIZE, scale)
        annotation.xshift = _scaled(annotation.xshift, scale)
        annotation.yshift = _scaled(annotation.yshift, scale)


def _scale_traces(fig: go.Figure, scale: float) -> None:
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if line is not None and getattr(line, "width", None):
            line.width = _scaled(line.width, scale)
        marker = getattr(trace, "marker", None)
        if marker is not None and isinstance(getattr(marker, "size", None), int | float):
            marker.size = _scaled(marker.size, scale)
            if marker.line and marker.line.width:
                marker.line.width = _scaled(marker.line.width, scale)
        textfont = getattr(trace, "textfont", None)
        if textfont is not None and isinstance(textfont.size, int | float):
            textfont.size = _scaled(textfont.size, scale)
        colorbar = getattr(trace, "colorbar", None)
        if colorbar is not None:
            colorbar.tickfont.size = _scaled(colorbar.tickfont.size or FONT_SIZE, scale)
            colorbar.title.font.size = _scaled(colorbar.title.font.size or FONT_SIZE, scale)
            colorbar.thickness = _scaled(colorbar.thickness or 30, scale)
    for shape in fig.layout.shapes or ():
        if shape.line and shape.line.width:
            shape.line.width = _scaled(shape.line.width, scale)


def _pin_paper_annotations(fig: go.Figure, plot_px: float) -> None:
    """Annotations placed outside the plot area in paper units (a caption at y = -0.09) moved
    to the plot's edge plus the same offset in pixels, so they keep their distance from the
    axes whatever the new plot height."""
    for annotation in fig.layout.annotations or ():
        if annotation.yref != "paper" or annotation.y is None or 0 <= annotation.y <= 1:
            continue
        edge = 0.0 if annotation.y < 0 else 1.0
        annotation.yshift = (annotation.yshift or 0) + (annotation.y - edge) * plot_px
        annotation.y = edge


def _restack(fig: go.Figure, geometry: _Geometry, plot_px: float, scale: float) -> None:
    """New domains: tables and gaps keep their (scaled) pixels, plot areas share the rest in
    their original proportions."""
    bands = geometry.bands
    if len(bands) < 2:
        return
    fixed_px = {b.axis: (b.high - b.low) * geometry.plot * scale for b in bands if b.table}
    gaps = [(upper.low - lower.high) * geometry.plot * scale
            for lower, upper in pairwise(bands)]
    flexible = [b for b in bands if not b.table]
    room = plot_px - sum(fixed_px.values()) - sum(gaps)
    flexible_share = sum(b.high - b.low for b in flexible) or 1.0
    position = 0.0
    for i, band in enumerate(bands):
        height = fixed_px.get(band.axis, room * (band.high - band.low) / flexible_share)
        low, high = position / plot_px, min((position + height) / plot_px, 1.0)
        fig.layout[band.axis].domain = [max(low, 0.0), max(high, 0.0)]
        position += height + (gaps[i] if i < len(gaps) else 0.0)


def _subtitle(figure: go.Figure, scale: float) -> dict | None:
    """The figure's title without its first line (the slide's heading states that), e.g. a
    '<sup>n = 91, missing 3</sup>' under it; None when the title has one line."""
    title = figure.layout.title
    if not (title and title.text and "<br>" in title.text):
        return None
    font = title.font.size or (figure.layout.font.size or FONT_SIZE) * 1.2
    return {"text": title.text.split("<br>", 1)[1], "font": {"size": round(font * scale, 1)},
            "x": 0.0, "xanchor": "left", "y": 1.0, "yref": "container", "yanchor": "top",
            "pad": {"t": round(4 * scale)}}


def for_slide(figure: go.Figure, width_px: float, height_px: float,
              scale: float | None = None) -> go.Figure:
    """A copy of ``figure`` ``height_px`` high (plotly height) for an area ``width_px`` wide,
    without its title's first line (the slide states it): fonts, margins, lines, markers and text sizes
    multiplied by ``scale`` (default :func:`screen_scale` of the area), lowered where the
    fixed-pixel parts (margins, caption and number-at-risk rows) would not leave the
    plot areas room; the plot areas take the remaining height."""
    requested = screen_scale(width_px, height_px) if scale is None else scale
    fig = go.Figure(figure)
    geometry = _geometry(figure)
    scale = fitted_scale(figure, height_px, requested)
    margin = _margins(figure)
    top = geometry.top * scale
    bottom = geometry.bottom * scale
    plot_px = max(height_px - top - bottom, 1.0)
    _pin_paper_annotations(fig, geometry.plot)
    _scale_fonts(fig, scale)
    _scale_traces(fig, scale)
    _restack(fig, geometry, plot_px, scale)
    fig.update_layout(
        title=_subtitle(figure, scale), height=math.floor(height_px),
        margin={"l": round(margin["l"] * scale), "r": round(margin["r"] * scale),
                "t": round(top), "b": round(bottom)},
    )
    return fig
