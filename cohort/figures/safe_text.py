"""Figures whose text renders as text: no link, style or image markup from a file or a link.

Plotly renders a few HTML tags in every text it draws (titles, legends, tick labels, hover,
annotations, heatmap cells): ``<a href>`` becomes a link, ``<span style>`` styles. Values from
an upload (a histology, a group name, a column name) reach that text. :func:`safe_figure` turns
every ``<`` that does not open one of the formatting tags the figure builders use into
``&lt;``, which plotly draws as a literal '<'. It is idempotent, so figures may pass through it
more than once (screen, slide, report).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import plotly.graph_objects as go

#: The tags the figure builders write: line breaks, emphasis, super/subscripts, hover <extra>,
#: and colour-only spans (tick labels in the group's colour).
ALLOWED_TAG = re.compile(
    r'<(?:/?(?:b|i|em|sup|sub|extra)|br\s*/?|span style="color:\s*#[0-9A-Fa-f]{3,8}"|/span)>',
    re.IGNORECASE,
)
_ANGLE = re.compile(r"<")


def safe_text(text: str) -> str:
    """``text`` with every '<' that does not start an allowed formatting tag escaped."""
    if "<" not in text:
        return text
    allowed = {m.start() for m in ALLOWED_TAG.finditer(text)}
    return _ANGLE.sub(lambda m: m.group() if m.start() in allowed else "&lt;", text)


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {key: _safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item) for item in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return _safe(value.tolist())
    return value


def safe_figure(figure: go.Figure) -> go.Figure:
    """A copy of ``figure`` whose every text (data, labels, layout) is safe to draw."""
    return go.Figure(_safe(figure.to_plotly_json()), skip_invalid=False)
