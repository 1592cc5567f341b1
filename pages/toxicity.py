"""Toxicity: worst CTCAE grade per patient and term, by grade and by subgroup; acute / late.

Every view option is in the URL: ``toxicity.phase``, ``toxicity.by``, ``toxicity.highlight``
and ``toxicity.terms``.
"""

from __future__ import annotations

from collections.abc import Collection

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from cohort.figures.toxicity import grade_heatmap, group_heatmap
from cohort.schema import PATIENT_ID, TOXICITY_PHASES, column_label, is_outcome_column
from cohort.toxicity import GRADE_COLUMNS, GradeMatrix, grade_matrix, hidden_groups, suppressed
from ui.charts import show_figure
from ui.describe import figure_caption
from ui.hardening import run_through_entry_script
from ui.session import View, current_view
from ui.tables import show_table
from ui.text import literal_markdown
from ui.urlstate import url_number, url_selectbox, url_toggle

run_through_entry_script()

MAX_GROUPS = 8
MAX_INT_LEVELS = 8
MIN_TERMS, DEFAULT_TERMS = 10, 20
PHASE_LABELS = {None: "All (worst over acute and late)", "acute": "Acute", "late": "Late"}
PHASE_WORDS = {None: "all phases", "acute": "acute", "late": "late"}
PHASE_ENDPOINTS = {None: "all phases (acute and late)", "acute": "acute phase",
                   "late": "late phase"}


def group_options(patients: pl.DataFrame, identifying: Collection[str]) -> list[str]:
    """Categorical patient columns (text, boolean, few integers; not outcomes, not the id or
    ``identifying`` columns) to group by."""
    out = []
    for name, dtype in patients.schema.items():
        hidden = name in (PATIENT_ID, *identifying) or is_outcome_column(name, patients.columns)
        if hidden or isinstance(dtype, pl.List):
            continue
        n = patients[name].drop_nulls().n_unique()
        text = isinstance(dtype, (pl.String, pl.Categorical, pl.Enum, pl.Boolean))
        if n >= 2 and ((text and n <= MAX_GROUPS) or (dtype.is_integer() and n <= MAX_INT_LEVELS)):
            out.append(name)
    return out


def phases_present(toxicities: pl.DataFrame) -> list[str]:
    if "phase" not in toxicities.columns:
        return []
    present = set(toxicities["phase"].drop_nulls().to_list())
    return [p for p in TOXICITY_PHASES if p in present]


def no_toxicities() -> None:
    """Say there is nothing to show (the caller returns: the entry script still runs on)."""
    st.info("This dataset has no toxicity records, so there is nothing to show here. "
            "To see toxicity heatmaps, upload a patients table together with a toxicities "
            "table (patient_id, term, grade 1-5, phase acute/late) on the Data page.")
    st.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload_file:")


def coverage_note(patients: pl.DataFrame, toxicities: pl.DataFrame) -> None:
    """Say so when toxicity records come from only some of the studies in the cohort."""
    if "study" not in patients.columns:
        return
    recorded = set(patients.filter(pl.col(PATIENT_ID).is_in(toxicities[PATIENT_ID].implode()))
                   ["study"].drop_nulls().to_list())
    studies = set(patients["study"].drop_nulls().to_list())
    if recorded and recorded < studies:
        st.info(literal_markdown(
            f"Toxicity records come from {len(recorded)} of the {len(studies)} studies in the "
            f"filtered cohort ({', '.join(sorted(recorded))}); patients of the other studies "
            "count in the denominator. Filter by study in the sidebar for per-study rates."))


def _highlight(fig: go.Figure, on: bool) -> go.Figure:
    """Keep or drop the grade >= 3 frames the figure builders draw."""
    if not on:
        fig.layout.shapes = ()
    return fig


_NAMES = {**{c: f"Grade {c[-1]}" for c in GRADE_COLUMNS}, "any_grade": "Any grade",
          "grade_3plus": "Grade ≥3", "any": "Any grade"}


def _n_pct(n: str, pct: str) -> pl.Expr:
    """'3 (2.0%)' from a count and a percent column."""
    formatted = pl.format("{} ({}%)", pl.col(n), pl.col(pct).round(1))
    return pl.when(pl.col(pct).is_null()).then(pl.col(n).cast(pl.String)).otherwise(formatted).alias(n)


def shown_by_grade(table: pl.DataFrame) -> pl.DataFrame:
    """``by_grade`` as on screen: one "n (x%)" column per grade."""
    cols = [*GRADE_COLUMNS, "any_grade", "grade_3plus"]
    return table.select("term", *(_n_pct(c, f"pct_{c}") for c in cols))


def shown_by_group(table: pl.DataFrame) -> pl.DataFrame:
    """``by_group`` as on screen: group (n), any grade and grade >= 3 as "n (x%)"."""
    return table.select(
        "term", pl.format("{} (n={})", "group", "group_n").alias("group"),
        _n_pct("n_any", "pct_any"), _n_pct("n_grade_3plus", "pct_grade_3plus"))


def show_grade_table(shown: pl.DataFrame, table: pl.DataFrame, title: str, key: str) -> None:
    """The table as "n (x%)" on screen; the downloads have counts and percents as separate
    numeric columns."""
    labels = {"term": "Term", "group": "Group", "n_any": "Any grade",
              "n_grade_3plus": "Grade ≥3", **_NAMES}
    show_table(shown, title, download=table, key=key,
               column_config={c: labels[c] for c in shown.columns})


def ctcae_versions(toxicities: pl.DataFrame, phase: str | None) -> str:
    """'CTCAE v3.0' (or 'v3.0 and v4.0') of the records counted; '' without a version column."""
    if "ctcae_version" not in toxicities.columns:
        return ""
    if phase is not None and "phase" in toxicities.columns:
        toxicities = toxicities.filter(pl.col("phase") == phase)
    versions = sorted(toxicities["ctcae_version"].drop_nulls().cast(pl.String).unique())
    return f"CTCAE {' and '.join(versions)}" if versions else ""


def heatmap_captions(view: View, matrix: GradeMatrix, shown: int, by: str | None
                     ) -> tuple[str, str]:
    """Captions of the grade and the group heatmap: cohort, filters, phase, how counted."""
    endpoint = f"worst CTCAE grade per patient and term, {PHASE_ENDPOINTS[matrix.phase]}"
    graded = ctcae_versions(view.toxicities, matrix.phase)
    counted = (f"{graded + '; ' if graded else ''}each patient counted once per term, at the "
               "worst grade")
    terms = matrix.by_grade.height
    top = f"; the {shown} most frequent of {terms} terms" if shown < terms else ""
    grade = figure_caption(
        view, endpoint, f"{counted}; % of all {matrix.denominator_text} patients (patients without "
        f"a toxicity record count in the denominator){top}", matrix.denominator)
    group = column_label(by).lower() if by else ""
    by_group = figure_caption(
        view, endpoint, f"{counted}; any grade and grade ≥3, % of each {group} group's patients "
        f"(n in the column header; missing {group} = 'missing'){top}", matrix.denominator)
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
    if view.toxicities is None:
        no_toxicities()
        return
    patients = view.patients
    if patients.is_empty():
        st.warning("No patient matches the filters. Widen them in the sidebar.")
        return
    key = f"tox.{view.dataset}"
    phases = phases_present(view.toxicities)
    left, middle, right = st.columns([2, 2, 1])
    phase = None
    if phases:
        with left:
            phase = url_selectbox("Phase", [None, *phases], format_func=PHASE_LABELS.get,
                                  key=f"{key}.phase", param="toxicity.phase")
    with middle:
        options = group_options(patients, view.cohort.identifying)
        by = url_selectbox("Group by", [None, *options], key=f"{key}.by", param="toxicity.by",
                           format_func=lambda c: "No grouping" if c is None else column_label(c))
    with right:
        highlight = url_toggle("Frame grade ≥3", value=True, key=f"{key}.highlight",
                               param="toxicity.highlight")
    counted = grade_matrix(view.toxicities, patients, by=by, phase=phase)
    matrix = suppressed(counted, view.min_cell)
    for group in hidden_groups(matrix, counted):
        st.info(literal_markdown(f"Group '{group}' is not shown: fewer than {view.min_cell} "
                                 "patients (small-cell suppression)."),
                icon=":material/visibility_off:")
    st.caption(f"Worst CTCAE grade per patient and term ({PHASE_LABELS[phase].lower()}). "
               f"Percent of {matrix.denominator_text} patients in the filtered cohort; patients "
               "without a toxicity record count in the denominator.")
    coverage_note(patients, view.toxicities)
    if matrix.by_grade.is_empty():
        st.info(f"No toxicity recorded ({PHASE_LABELS[phase].lower()}) for the "
                f"{matrix.denominator_text} patients in the filtered cohort.")
        return
    words = PHASE_WORDS[phase]
    top = choose_terms(matrix.by_grade.height, f"{key}.terms")
    grade_caption, group_caption = heatmap_captions(view, matrix, top, by)
    st.subheader("By worst grade")
    figure = grade_heatmap(matrix.by_grade, denominator=matrix.denominator_text, max_terms=top,
                           caption=grade_caption)
    show_figure(_highlight(figure, highlight), f"Toxicity by worst CTCAE grade ({words})",
                key="tox.grade")
    show_grade_table(shown_by_grade(matrix.by_grade), matrix.by_grade,
                     f"Patients by worst CTCAE grade per term ({words})", "tox.grade")
    if by is not None:
        group = column_label(by).lower()
        st.subheader(literal_markdown(f"By {group}"))
        st.caption(literal_markdown("Percent of each group's patients (n in the column header); "
                                    f"patients with a missing {group} form the group 'missing'."))
        figure = group_heatmap(matrix.by_group, max_terms=top, caption=group_caption)
        show_figure(_highlight(figure, highlight),
                    f"Toxicity by {group}: any grade and grade ≥3 ({words})", key="tox.group")
        show_grade_table(shown_by_group(matrix.by_group), matrix.by_group,
                         f"Patients with toxicity by {group} per term, any grade and grade ≥3 "
                         f"({words})", "tox.group")


main()
