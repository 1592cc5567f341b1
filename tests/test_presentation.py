"""Presentation mode: the screen's figures one at a time, titled with the cohort in words."""

from __future__ import annotations

from tests.apptest import as_read, open_app

SURVIVAL = "pages/survival.py"


def test_slides_step_through_the_screens_figures_and_leave():
    at = open_app(SURVIVAL, present="1", **{"survival.endpoint": "LC",
                                            "f.study": "Lee 2009 liver SBRT phase 1"})
    assert as_read(at.title[-1].value) == "Cumulative incidence of local failure"
    assert as_read(at.markdown[-1].value).startswith(
        "n = 68 patients. Study: Lee 2009 liver SBRT phase 1. Data: ")
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
    assert as_read(at.markdown[-1].value).startswith(
        f"n = {analysed:,} of 4,299 patients. All patients.")


def test_cox_and_dose_slides_give_the_patients_in_the_model_and_with_the_value():
    from cohort.cox import fit_cox
    from cohort.datasets import load_dataset
    from cohort.dose import add_dose_columns
    from cohort.figures.dose import patients_with_value

    patients = load_dataset("oligomet-demo").patients
    at = open_app("pages/cox.py", present="1", **{"cox.covariates": ["age_years", "ecog"]})
    in_model = fit_cox(patients, "os_months", "os_event", ["age_years", "ecog"]).n
    assert in_model < 4299
    assert as_read(at.markdown[-1].value).startswith(f"n = {in_model:,} of 4,299 patients.")
    at = open_app("pages/dose.py", present="1")
    with_value = patients_with_value(add_dose_columns(patients), "rt_total_dose_gy")
    assert as_read(at.title[-1].value).startswith("Total dose")
    assert as_read(at.markdown[-1].value).startswith(f"n = {with_value:,} of 4,299 patients.")


def test_the_toxicity_slide_and_report_count_the_patients_assessed():
    """The toxicity figures' denominator is the patients assessed, not all the filtered."""
    at = open_app("pages/toxicity.py", present="1")
    matrix_n = next(n for n in at.session_state["_shown_this_run"].figure_counts)
    assert isinstance(matrix_n, int) and matrix_n < 4299
    assert as_read(at.markdown[-1].value).startswith(
        f"n = {matrix_n:,} assessed of 4,299 patients. All patients.")
    at = open_app("pages/toxicity.py")
    at.button(key="report_prepare").click().run()
    html = at.session_state["report_prepared"][1].decode("utf-8")
    assert f"{matrix_n:,} of 4,299 patients assessed<br>" in html


def test_the_slide_heading_counts_the_patients_in_words():
    from ui.presentation import patients_words

    assert patients_words(None, 4299) == "n = 4,299 patients"
    assert patients_words(4299, 4299) == "n = 4,299 patients"
    assert patients_words(68, 4299) == "n = 68 of 4,299 patients"
    assert patients_words(233, 4299, counted="assessed") == "n = 233 assessed of 4,299 patients"
    assert patients_words(4299, 4299, counted="assessed") == "n = 4,299 patients, all assessed"
    assert patients_words(4295, 4299, 11, "assessed") == "n = 4,295 patients assessed"
    assert patients_words("<11", 4299, 11, "assessed") == "n = <11 patients assessed"


def test_a_reported_window_size_is_kept_only_when_it_is_sane():
    from ui.viewport import Size, valid_size

    assert valid_size({"width": 1920, "height": 1080}) == Size(1920, 1080)
    assert valid_size({"width": 1920.0, "height": 1080}) == Size(1920, 1080)
    for bad in (None, "1920x1080", {"width": 1920}, {"width": True, "height": 800},
                {"width": 1920.5, "height": 1080}, {"width": 50, "height": 1080},
                {"width": 1920, "height": 10**6}, {"width": "1920", "height": "1080"},
                {"width": float("nan"), "height": 1080}):
        assert valid_size(bad) is None, bad
