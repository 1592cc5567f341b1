"""Plotly's white templates cut to what these figures draw, so that making a figure is cheap.

Plotly validates a whole template, every trace type's defaults and the 3-D, polar and map
layouts included, each time a figure gets one: 14-24 ms per figure, about 40 % of the Cohort
screen's run on a registry (py-spy). The templates below keep plotly's own values for the 2-D
layout and the trace types used here (equal to plotly's, ``tests/test_figure_templates.py``):
about 5 ms.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

#: Layout parts of a template that 2-D cartesian figures use.
LAYOUT_PARTS = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel",
                "paper_bgcolor", "plot_bgcolor", "colorscale", "xaxis", "yaxis",
                "shapedefaults", "annotationdefaults", "title")
#: The trace types the figures draw.
TRACE_TYPES = ("bar", "box", "heatmap", "scatter")
SIMPLE_WHITE = "oligomet_simple_white"
PLOTLY_WHITE = "oligomet_plotly_white"


def cut(template: go.layout.Template) -> go.layout.Template:
    """``template`` with only :data:`LAYOUT_PARTS` and the defaults of :data:`TRACE_TYPES`."""
    full = template.to_plotly_json()
    return go.layout.Template({
        "layout": {k: v for k, v in full.get("layout", {}).items() if k in LAYOUT_PARTS},
        "data": {k: v for k, v in full.get("data", {}).items() if k in TRACE_TYPES}})


def register() -> None:
    """Register :data:`SIMPLE_WHITE` and :data:`PLOTLY_WHITE` with plotly."""
    pio.templates[SIMPLE_WHITE] = cut(pio.templates["simple_white"])
    pio.templates[PLOTLY_WHITE] = cut(pio.templates["plotly_white"])
