"""Showing figures: one place for the plotly options every chart on screen uses."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import streamlit as st

from cohort.figures.safe_text import safe_figure
from ui import collect

SLIDE_SCALE = 3  # 3x the on-screen size: sharp on a 1920-px slide
FORMAT_KEY = "figure_format"
FIGURE_FORMATS = {"png": "PNG, slide resolution (3x)", "svg": "SVG (vector, for print)"}


def _file_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower() or "figure"


def show_figure(figure: go.Figure, name: str, key: str | None = None,
                n: int | str | None = None, counted: str = collect.ANALYSED) -> None:
    """Draw ``figure`` as built (no Streamlit theme; text from data drawn as text); its camera
    button saves it as PNG at slide resolution or as SVG (the sidebar's choice). ``name`` is its
    title in reports; ``n`` the patients it analyses when not all the filtered ones (its slide
    says so; text: a count suppressed already, e.g. 'withheld'), ``counted`` what they are
    ("assessed": the slide and report say "233 assessed of 4,299 patients")."""
    file_format = st.session_state.get(FORMAT_KEY, "png")
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": file_format, "filename": _file_name(name),
                                 "scale": SLIDE_SCALE if file_format == "png" else 1},
    }
    figure = safe_figure(figure)
    st.plotly_chart(figure, theme=None, config=config, key=key)
    collect.add_figure(name, figure, n, counted)
