"""Every figure of the Cox model, Toxicity and Dose screens says, inside the figure, which
cohort, which filters, which endpoint and which method: a screenshot cannot be misread.

Builders: the caption given is in the figure's annotations, wrapped so no line is longer than the
wrap width, in a font smaller than the axis labels. Screens (AppTest, opened from a link): every
figure drawn carries the cohort in words with the n actually used in that figure.
"""

from __future__ import annotations

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from cohort.cox import fit_cox
from cohort.datasets import load_dataset
from cohort.dose import add_dose_columns, dlt_table, local_failure_by_bed_band
from cohort.figures.dose import DOSE_QUANTITIES, dlt_grid_figure, dose_distribution_figure
from cohort.figures.forest import forest_figure
from cohort.figures.km import cif_figure
from cohort.figures.style import CAPTION_WIDTH
from cohort.figures.toxicity import grade_heatmap, group_heatmap
from cohort.schema import column_label
from cohort.toxicity import grade_matrix
from tests.apptest import open_app
from ui.describe import cohort_words

COX, TOX, DOSE = "pages/cox.py", "pages/toxicity.py", "pages/dose.py"
KAO, LEE_LIVER = "Kao sunitinib + IGRT phase 1", "Lee 2009 liver SBRT phase 1"
LEE_MCRC = "Lee 2021 mCRC MRT group"
HALF = 60  # pages/dose.py HALF_WIDTH_CAPTION: the dose distributions are half the page wide
#: A caption as long as the screens write (cohort, filters, endpoint, method).
CAPTION = ("Oligomet demonstration cohort (synthetic), Study: Lee 2009 liver "
           "SBRT phase 1, Sex: female or male, n = 68. Endpoint: worst CTCAE grade per patient "
           "and term, acute phase. CTCAE v3.0; each patient counted once per term, at the worst "
           "grade; % of the 68 patients assessed for toxicity")


@pytest.fixture(scope="module")
def demo():
    return load_dataset("oligomet-demo")


def study(demo, name: str) -> pl.DataFrame:
    return demo.patients.filter(pl.col("study") == name)


def unwrapped(text: str | None) -> str:
    """An annotation's text as written: ``style.wrap`` only turns spaces into '<br>'."""
    return (text or "").replace("<br>", " ")


def caption_annotation(fig, words: str):
    """The annotation whose (unwrapped) text contains ``words``."""
    found = [a for a in fig.layout.annotations if words in unwrapped(a.text)]
    assert len(found) == 1, [a.text for a in fig.layout.annotations]
    return found[0]


def check_caption(fig, caption: str, width: int = CAPTION_WIDTH) -> str:
    """``caption`` is in ``fig`` wrapped to ``width``, smaller than the figure's axis labels and
    inside the figure's bottom margin; returns the annotation's unwrapped text."""
    note = caption_annotation(fig, caption)
    lines = note.text.split("<br>")
    assert max(len(line) for line in lines) <= width, lines
    assert len(lines) > 1  # this long a caption is wrapped, not one overflowing line
    assert 12 <= note.font.size < fig.layout.font.size
    assert note.yanchor == "top" and note.yref == "paper" and note.y <= 0
    assert fig.layout.margin.b >= 18 * len(lines)  # room for every line under the plot
    return unwrapped(note.text)


# --- figure builders --------------------------------------------------------------------------


def test_forest_caption(demo):
    patients = study(demo, LEE_MCRC)
    result = fit_cox(patients, "ttnt_months", "ttnt_event", ["regimen", "oligo_state"])
    fig = forest_figure(result.terms, title="Multivariable Cox model", caption=CAPTION)
    check_caption(fig, CAPTION)
    bare = forest_figure(result.terms, title="Multivariable Cox model")
    assert fig.layout.height > bare.layout.height  # the caption adds height, not overlap


def test_toxicity_heatmap_captions(demo):
    matrix = grade_matrix(demo.toxicities, study(demo, LEE_LIVER), by="sex", phase="acute")
    fig = grade_heatmap(matrix, max_terms=10, caption=CAPTION)
    check_caption(fig, CAPTION)
    assert fig.layout.height > grade_heatmap(matrix, max_terms=10).layout.height
    check_caption(group_heatmap(matrix, max_terms=10, caption=CAPTION), CAPTION)


@pytest.mark.parametrize("kind", ["box", "strip"])
def test_dose_distribution_caption_in_half_width(demo, kind):
    data = add_dose_columns(study(demo, LEE_LIVER))
    fig = dose_distribution_figure(data, "bed10_gy", "treated_sites", kind, caption=CAPTION,
                                   caption_width=HALF)
    check_caption(fig, CAPTION, width=HALF)


def test_dlt_grid_caption(demo):
    check_caption(dlt_grid_figure(dlt_table(study(demo, KAO)), caption=CAPTION), CAPTION)


def test_cif_caption_adds_grays_test_and_method(demo):
    result = local_failure_by_bed_band(study(demo, LEE_LIVER), 100.0)
    fig = cif_figure(result.cif, gray=result.gray, caption=CAPTION, title="Local failure")
    text = check_caption(fig, CAPTION)
    assert "Gray's test p" in text and "Aalen-Johansen" in text


def test_no_caption_no_annotation(demo):
    table = dlt_table(study(demo, KAO))
    assert not dlt_grid_figure(table).layout.annotations


# --- screens ----------------------------------------------------------------------------------


def figures(at: AppTest) -> dict[str, object]:
    """The figures this run drew (``show_figure`` records them), by title."""
    return dict(at.session_state["_shown_this_run"].figures)


def screen_caption(at: AppTest, fig, n: int) -> str:
    """The caption of ``fig``: the cohort in words with ``n``, wrapped to the width."""
    view = at.session_state["view"]
    return check_caption(fig, cohort_words(view, n))


def test_cox_screen_forest_caption(demo):
    at = open_app(COX, **{"cox.covariates": ["regimen", "oligo_state"], "cox.endpoint": "TTNT",
                           "f.study": LEE_MCRC})
    (title, fig), = figures(at).items()
    assert title.startswith("Forest plot")
    patients = study(demo, LEE_MCRC)
    n = fit_cox(patients, "ttnt_months", "ttnt_event", ["regimen", "oligo_state"]).n
    text = screen_caption(at, fig, n)
    assert f"Study: {LEE_MCRC}" in text
    assert "Endpoint: time to next-line therapy" in text
    assert "Cox proportional hazards" in text and "Efron ties" in text and "95% Wald CI" in text
    assert "cause-specific" in text  # death before next-line therapy competes


def test_toxicity_screen_heatmap_captions():
    at = open_app(TOX, **{"f.study": LEE_LIVER, "toxicity.phase": "acute", "toxicity.by": "sex"})
    shown = figures(at)
    assert len(shown) == 2
    for fig in shown.values():
        text = screen_caption(at, fig, 68)
        assert f"Study: {LEE_LIVER}" in text
        assert "Endpoint: worst CTCAE grade per patient and term, acute phase" in text
        assert "CTCAE v3.0" in text and "counted once per term" in text


def test_dose_screen_captions(demo):
    at = open_app(DOSE, **{"f.study": KAO})
    shown = figures(at)
    patients = study(demo, KAO)
    data = add_dose_columns(patients)
    expected = {"Cumulative incidence of local failure":
                local_failure_by_bed_band(patients, 100.0).n_used,
                "Dose-limiting toxicities": int(dlt_table(patients)["n"].sum())}
    distributions = tuple(column_label(c) for c in DOSE_QUANTITIES)
    expected |= {column_label(c): data[c].drop_nulls().len() for c in DOSE_QUANTITIES}
    assert len(shown) == len(expected)
    for title, fig in shown.items():
        n = next(n for start, n in expected.items() if title.startswith(start))
        view = at.session_state["view"]
        note = caption_annotation(fig, cohort_words(view, n))
        half = title.startswith(distributions)  # two figures side by side
        text = check_caption(fig, unwrapped(note.text), width=HALF if half else CAPTION_WIDTH)
        assert f"Study: {KAO}" in text
    cif = shown[next(t for t in shown if t.startswith("Cumulative incidence"))]
    text = unwrapped(caption_annotation(cif, "Endpoint: local failure").text)
    assert "death before local failure is a competing event" in text
    assert "Aalen-Johansen" in text
    assert "all patients are in one band" in text  # Kao: all below 100 Gy, no Gray's test
    dlt = shown["Dose-limiting toxicities by dose level"]
    assert "exact (Clopper-Pearson) 95% CI" in unwrapped(
        caption_annotation(dlt, "Endpoint: dose-limiting toxicity").text)
