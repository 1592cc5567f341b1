"""Showing figures: one place for the plotly options every chart on screen uses."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import streamlit as st

SLIDE_SCALE = 3  # 3x the on-screen size: sharp on a 1920-px slide


def _file_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower() or "figure"


def show_figure(figure: go.Figure, name: str, key: str | None = None) -> None:
    """Draw ``figure`` as built (no Streamlit theme); the camera button saves a slide-size PNG."""
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": _file_name(name),
                                 "scale": SLIDE_SCALE},
    }
    st.plotly_chart(figure, theme=None, config=config, key=key)
