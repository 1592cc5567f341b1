"""Toxicity: worst CTCAE grade per patient and term, by grade and by subgroup; acute / late.

Every view option is in the URL: ``toxicity.phase``, ``toxicity.by``, ``toxicity.highlight``
and ``toxicity.terms``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from cohort.figures.toxicity import grade_heatmap, group_heatmap
from cohort.schema import column_label
from cohort.suppression import patient_count
from cohort.toxicity import (
    GRADE_COLUMNS,
    GradeMatrix,
    assessed_noun,
    denominator_words,
    hidden_groups,
    matrix_from_counts,
    shown_by_grade,
    shown_by_group,
    suppressed,
    unassessed_words,
)
from ui.charts import show_figure
from ui.describe import figure_caption, within_engine_limits
from ui.hardening import run_through_entry_script
from ui.session import View, current_view
from ui.tables import show_table
from ui.text import literal_markdown
from ui.urlstate import url_number, url_selectbox, url_toggle

run_through_entry_script()

MIN_TERMS, DEFAULT_TERMS = 10, 20
PHASE_LABELS = {None: "All (worst over acute and late)", "acute": "Acute", "late": "Late"}
PHASE_WORDS = {None: "all phases", "acute": "acute", "late": "late"}
PHASE_ENDPOINTS = {None: "all phases (acute and late)", "acute": "acute phase",
                   "late": "late phase"}


def no_toxicities() -> None:
    """Say there is nothing to show (the caller returns: the entry script still runs on)."""
    st.info("This dataset has no toxicity records, so there is nothing to show here. "
            "To see toxicity heatmaps, upload a patients table together with a toxicities "
            "table (patient_id, term, grade 1-5, phase acute/late) on the Data page.")
    st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")


def coverage_note(view: View) -> None:
    """Say so when only some of the studies in the cohort assessed toxicity."""
    assessed, studies = view.toxicity_studies()
    if assessed and assessed < studies:
        st.info(literal_markdown(
            f"Toxicity was assessed in {len(assessed)} of the {len(studies)} studies in the "
            f"filtered cohort ({', '.join(sorted(assessed))}); patients of the other studies "
            "are not in the denominator."))


def _highlight(fig: go.Figure, on: bool) -> go.Figure:
    """Keep or drop the grade >= 3 frames the figure builders draw."""
    if not on:
        fig.layout.shapes = ()
    return fig


#: The patients a toxicity figure counts: those assessed for toxicity, not all the filtered.
COUNTED = "assessed"

_NAMES = {**{c: f"Grade {c[-1]}" for c in GRADE_COLUMNS}, "any_grade": "Any grade",
          "grade_3plus": "Grade ≥3", "any": "Any grade"}


def shown_denominator(matrix: GradeMatrix) -> int | str:
    """The denominator as a figure's n, a caption and a download state it: the count, or its
    text ('<11', 'withheld') for a suppressed matrix."""
    return matrix.denominator_text if matrix.min_cell else matrix.denominator


def show_grade_table(shown: pl.DataFrame, table: pl.DataFrame, title: str, key: str,
                     matrix: GradeMatrix) -> None:
    """The table as "n (x%)" on screen; the downloads have counts and percents as separate
    numeric columns, and the denominator (``assessed_patients``) on every row."""
    labels = {"term": "Term", "group": "Group", "n_any": "Any grade",
              "n_grade_3plus": "Grade ≥3", **_NAMES}
    download = table.with_columns(pl.lit(shown_denominator(matrix)).alias("assessed_patients"))
    show_table(shown, title, download=download, key=key,
               column_config={c: labels[c] for c in shown.columns})


def ctcae_words(view: View, phase: str | None) -> str:
    """'CTCAE v3.0' (or 'v3.0 and v4.0') of the records counted; '' without a version column."""
    versions = view.ctcae_versions(phase)
    return f"CTCAE {' and '.join(versions)}" if versions else ""


def left_out(matrix: GradeMatrix) -> str:
    """'; 4,066 of the 4,299 patients ... not assessed (not in the denominator)' or ''."""
    words = unassessed_words(matrix)
    return f"; {words}" if words else ""


def heatmap_captions(view: View, matrix: GradeMatrix, shown: int, by: str | None
                     ) -> tuple[str, str]:
    """Captions of the grade and the group heatmap: cohort, filters, phase, how counted."""
    endpoint = f"worst CTCAE grade per patient and term, {PHASE_ENDPOINTS[matrix.phase]}"
    graded = ctcae_words(view, matrix.phase)
    counted = (f"{graded + '; ' if graded else ''}each patient counted once per term, at the "
               "worst grade")
    terms = matrix.by_grade.height
    top = f"; the {shown} most frequent of {terms} terms" if shown < terms else ""
    grade = figure_caption(
        view, endpoint, f"{counted}; % of the {denominator_words(matrix)}{left_out(matrix)}{top}",
        shown_denominator(matrix))
    group = column_label(by).lower() if by else ""
    by_group = figure_caption(
        view, endpoint, f"{counted}; any grade and grade ≥3, % of each {group} group's "
        f"{assessed_noun(matrix)} (n in the column header; missing {group} = "
        f"'missing'){left_out(matrix)}{top}", shown_denominator(matrix))
    return grade, by_group


def choose_terms(n_terms: int, key: str) -> int:
    """How many terms the heatmaps show (the tables list all); kept within this view's terms."""
    if n_terms <= MIN_TERMS:
        return n_terms
    if isinstance(st.session_state.get(key), int | float):
        st.session_state[key] = int(min(max(st.session_state[key], MIN_TERMS), n_terms))
    return int(url_number("Terms in the heatmaps (most frequent first; the tables list all)",
                          key=key, param="toxicity.terms", value=min(DEFAULT_TERMS, n_terms),
                          min_value=MIN_TERMS, max_value=n_terms, step=1, integer=True))


def main() -> None:
    """The screen. Returns early (rather than ``st.stop()``) so the entry script still writes
    the URL and shows link notices."""
    view = current_view()
    st.title("Toxicity")
    st.caption(literal_markdown(f"{view.label}. Filters: {view.filter.describe()}"))
    if not view.has_toxicities:
        no_toxicities()
        return
    if view.n_patients == 0:
        st.warning("No patient matches the filters. Widen them in the sidebar.")
        return
    key = f"tox.{view.dataset}"
    phases = view.toxicity_phases()
    left, middle, right = st.columns([2, 2, 1])
    phase = None
    if phases:
        with left:
            phase = url_selectbox("Phase", [None, *phases], format_func=PHASE_LABELS.get,
                                  key=f"{key}.phase", param="toxicity.phase")
    with middle:
        options = view.toxicity_group_options()
        by = url_selectbox("Group by", [None, *options], key=f"{key}.by", param="toxicity.by",
                           format_func=lambda c: "No grouping" if c is None else column_label(c))
    with right:
        highlight = url_toggle("Frame grade ≥3", value=True, key=f"{key}.highlight",
                               param="toxicity.highlight")
    counted = matrix_from_counts(view.toxicity_counts(by, phase), by, phase)
    matrix = suppressed(counted, view.min_cell)
    for group in hidden_groups(matrix, counted):
        st.info(literal_markdown(f"Group '{group}' is not shown: fewer than {view.min_cell} "
                                 "patients (small-cell suppression)."),
                icon=":material/visibility_off:")
    st.caption(f"Worst CTCAE grade per patient and term ({PHASE_LABELS[phase].lower()}). "
               f"Percent of the {denominator_words(matrix)}{left_out(matrix)}.")
    coverage_note(view)
    if matrix.denominator == 0:
        st.info(f"None of the {patient_count(view.n_patients, view.min_cell)} patients in the "
                "filtered cohort was assessed for toxicity.")
        return
    if matrix.by_grade.is_empty():
        st.info(f"No toxicity recorded ({PHASE_LABELS[phase].lower()}) for the "
                f"{denominator_words(matrix)}.")
        return
    words = PHASE_WORDS[phase]
    top = choose_terms(matrix.by_grade.height, f"{key}.terms")
    grade_caption, group_caption = heatmap_captions(view, matrix, top, by)
    st.subheader("By worst grade")
    of = denominator_words(matrix)
    figure = grade_heatmap(matrix, max_terms=top, caption=grade_caption)
    show_figure(_highlight(figure, highlight), f"Toxicity by worst CTCAE grade ({words})",
                key="tox.grade", n=shown_denominator(matrix), counted=COUNTED)
    show_grade_table(shown_by_grade(matrix), matrix.by_grade,
                     f"Patients by worst CTCAE grade per term ({words}), of {of}", "tox.grade",
                     matrix)
    if by is not None:
        group = column_label(by).lower()
        st.subheader(literal_markdown(f"By {group}"))
        st.caption(literal_markdown(
            f"Percent of each group's {assessed_noun(matrix)} (n in the column header; "
            f"{matrix.denominator_text} in all); patients with a missing {group} form the "
            "group 'missing'."))
        figure = group_heatmap(matrix, max_terms=top, caption=group_caption)
        show_figure(_highlight(figure, highlight),
                    f"Toxicity by {group}: any grade and grade ≥3 ({words})", key="tox.group",
                    n=shown_denominator(matrix), counted=COUNTED)
        show_grade_table(shown_by_group(matrix), matrix.by_group,
                         f"Patients with toxicity by {group} per term, any grade and grade ≥3 "
                         f"({words}), of {of}", "tox.group", matrix)


with within_engine_limits():
    main()
