"""The figures' cut templates: plotly's own values for what the figures draw, on every figure."""

from __future__ import annotations

import plotly.io as pio
import pytest

import cohort.figures  # noqa: F401  (registers the templates)
from cohort.figures.templates import (
    LAYOUT_PARTS,
    PLOTLY_WHITE,
    SIMPLE_WHITE,
    TRACE_TYPES,
)
from tests.apptest import open_app

SCREENS = ["pages/cohort.py", "pages/survival.py", "pages/cox.py", "pages/toxicity.py",
           "pages/dose.py"]


@pytest.mark.parametrize(("cut", "full"), [(SIMPLE_WHITE, "simple_white"),
                                           (PLOTLY_WHITE, "plotly_white")])
def test_a_cut_template_keeps_plotlys_values_for_the_2d_layout_and_the_traces_drawn(cut, full):
    kept, original = (pio.templates[n].to_plotly_json() for n in (cut, full))
    assert kept["layout"] == {k: v for k, v in original["layout"].items() if k in LAYOUT_PARTS}
    assert kept["data"] == {k: v for k, v in original["data"].items() if k in TRACE_TYPES}


@pytest.mark.parametrize("screen", SCREENS)
def test_every_figure_on_a_screen_has_a_cut_template_and_only_traces_it_covers(screen):
    at = open_app(screen, **{"cox.covariates": ["age_years", "sex"]} if screen == "pages/cox.py" else {})
    figures = [f for _, f in at.session_state["_shown_this_run"].figures]
    assert figures
    cut = {n: pio.templates[n].to_plotly_json() for n in (SIMPLE_WHITE, PLOTLY_WHITE)}
    for figure in figures:
        assert figure.layout.template.to_plotly_json() in cut.values()
        assert {trace.type for trace in figure.data} <= set(TRACE_TYPES)
