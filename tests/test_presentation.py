"""Presentation mode: the screen's figures one at a time, titled with the cohort in words."""

from __future__ import annotations

from tests.apptest import as_read, open_app

SURVIVAL = "pages/survival.py"


def test_slides_step_through_the_screens_figures_and_leave():
    at = open_app(SURVIVAL, present="1", **{"survival.endpoint": "LC",
                                            "f.study": "Lee 2009 liver SBRT phase 1"})
    assert as_read(at.title[-1].value) == "Cumulative incidence of local failure"
    assert "Study: Lee 2009 liver SBRT phase 1, n = 68" in as_read(at.markdown[-1].value)
    assert "Figure 1 of 2" in [c.value for c in at.caption]
    next(b for b in at.button if b.label == "→").click().run()
    assert as_read(at.title[-1].value).startswith("Kaplan-Meier: Local control")
    assert at.query_params["slide"] in ("2", ["2"])
    next(b for b in at.button if b.label == "Leave").click().run()
    assert not at.toggle(key="present").value
    assert "present" not in at.query_params and "slide" not in at.query_params


def test_a_link_can_open_a_given_slide():
    at = open_app(SURVIVAL, present="1", **{"survival.endpoint": "LC", "slide": "2"})
    assert "Figure 2 of 2" in [c.value for c in at.caption]


def test_the_slide_heading_gives_the_patients_the_figure_analyses():
    from cohort.analysis import SurvivalRequest, analyse_survival
    from cohort.datasets import load_dataset

    at = open_app(SURVIVAL, present="1", **{"survival.endpoint": "LC"})
    analysed = analyse_survival(load_dataset("oligomet-demo").patients,
                                SurvivalRequest("lc_months", "lc_event")).n
    assert analysed < 4299
    assert f"All patients, n = {analysed:,}" in as_read(at.markdown[-1].value)
