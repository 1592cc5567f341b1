"""What the current screen showed this run, for the HTML report and presentation mode.

Screens draw figures with ``ui.charts.show_figure`` and tables with ``ui.tables.show_table``;
both record what they drew here, in this session only, reset at the start of every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go
import polars as pl
import streamlit as st

_STATE = "_shown_this_run"
#: What a figure's patients are by default: analysed (toxicity figures count those assessed).
ANALYSED = "analysed"


@dataclass
class Shown:
    """Figures (title, figure), tables (title, frame) and method notes of one screen run, and
    per figure the patients it analyses (None: all the filtered patients) and the verb its
    count takes ("analysed"; "assessed" for toxicity)."""

    figures: list[tuple[str, go.Figure]]
    tables: list[tuple[str, pl.DataFrame]]
    notes: list[str]
    figure_counts: list[int | str | None] = field(default_factory=list)
    figure_verbs: list[str] = field(default_factory=list)


def reset() -> None:
    """Forget what the previous run showed (call at the start of every run)."""
    st.session_state[_STATE] = Shown([], [], [])


def shown() -> Shown:
    """What this run has shown so far."""
    if _STATE not in st.session_state:
        reset()
    return st.session_state[_STATE]


def add_figure(title: str, figure: go.Figure, n: int | str | None = None,
               counted: str = ANALYSED) -> None:
    shown().figures.append((title, figure))
    shown().figure_counts.append(n)
    shown().figure_verbs.append(counted)


def add_table(title: str, frame: pl.DataFrame) -> None:
    shown().tables.append((title, frame))


def add_note(text: str) -> None:
    """A methods or provenance sentence the report should carry."""
    shown().notes.append(text)
