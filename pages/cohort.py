"""Cohort: who is in the filtered cohort: counts, attrition, Table 1, distributions."""

from __future__ import annotations

import polars as pl
import streamlit as st

from cohort.schema import column_label
from cohort.suppression import attrition_text, caption_words, patient_count
from cohort.tables import default_variables
from ui.charts import show_figure
from ui.describe import within_engine_limits
from ui.hardening import run_through_entry_script
from ui.session import current_view
from ui.tables import show_table
from ui.text import literal_markdown
from ui.urlstate import url_selectbox

run_through_entry_script()

DISTRIBUTION_COLUMNS = (
    "age_years", "sex", "histology", "treated_sites", "regimen", "rt_technique",
    "rt_total_dose_gy", "rt_fractions", "bed10_gy", "oligo_state", "ecog", "n_metastases",
    "dose_level", "study",
)
MAX_GROUPS = 12

view = current_view()
st.title("Cohort")
st.caption(literal_markdown(f"{view.label}. {view.cohort.provenance}"))

counts = st.columns(3)
counts[0].metric("Patients", patient_count(view.n_patients, view.min_cell),
                 help="after the filters in the sidebar")
if not view.min_cell:
    counts[1].metric("In the dataset", f"{view.cohort.n_patients:,}")
if view.has_toxicities and not view.min_cell:
    counts[2].metric("Toxicity rows", f"{view.n_toxicity_rows:,}",
                     help="toxicity records of the patients in the cohort")
if view.min_cell:
    st.caption(caption_words(view.min_cell) + ".")

st.subheader("Attrition")
st.caption(literal_markdown(f"Filters: {view.filter.describe()}"))
show_table(attrition_text(view.attrition(), view.min_cell),
           "Attrition", column_config={"step": None})

def describe() -> None:
    """Table 1 by a chosen group, and distributions of the main variables."""
    st.subheader("Baseline characteristics (Table 1)")
    choices = view.choices
    variables = default_variables(choices, view.cohort.identifying)
    group_options = [c for c in variables
                     if not isinstance(choices.schema[c], pl.List)
                     and choices[c].n_unique() <= MAX_GROUPS
                     and not (choices.schema[c].is_float())]
    by = url_selectbox("Columns by", [None, *group_options], format_func=lambda c:
                       "Overall only" if c is None else column_label(c), key="table_one_by",
                       param="cohort.by")
    if asked_for("Compute Table 1", "table_one_asked", "Table 1 reads each of their rows once "
                 "per variable in the database", "it", ":material/table:"):
        show_table_one(view.table_one(by, variables))
    show_distributions(choices)


def asked_for(switch: str, key: str, cost: str, shown: str, icon: str) -> bool:
    """Whether to compute a part of the screen: always, unless the view computes it only on
    request (an engine cohort above its size); then when its ``switch`` is on, the notice of
    its ``cost`` shown while it is off."""
    if not view.on_request or st.toggle(switch, key=f"{key}.{view.dataset}",
                                        help="Runs in the database over every kept patient"):
        return True
    st.info(f"{patient_count(view.n_patients, view.min_cell)} patients are kept: {cost}, "
            f"which takes a while at this size. Switch on '{switch}' to see {shown}.", icon=icon)
    return False


def show_table_one(table: pl.DataFrame) -> None:
    """Table 1 with each characteristic's name on its first row only; the download whole."""
    first_of_each = pl.col("characteristic").ne_missing(pl.col("characteristic").shift(1))
    shown_table = table.with_columns(
        pl.when(first_of_each).then(pl.col("characteristic")).otherwise(pl.lit("")))
    show_table(shown_table, "Baseline characteristics (Table 1)", download=table,
               height=min(38 + 35 * table.height, 2000),
               column_config={"characteristic": st.column_config.TextColumn("Characteristic", width="medium"),
                              "statistic": st.column_config.TextColumn("", width="medium")})


def show_distributions(choices: pl.DataFrame) -> None:
    """The main variables' distributions over the kept patients (an engine dataset's above
    its size when asked for)."""
    st.subheader("Distributions")
    if not asked_for("Draw the distributions", "distributions_asked", "each chart counts their "
                     "values in the database", "them", ":material/bar_chart:"):
        return
    shown = [c for c in DISTRIBUTION_COLUMNS if c in choices.columns]
    for start in range(0, len(shown), 2):
        for slot, column in zip(st.columns(2), shown[start:start + 2], strict=False):
            with slot:
                figure, n = view.distribution(column)
                show_figure(figure, column_label(column), n=n)


if view.n_patients == 0:
    st.warning("No patient matches the filters. Widen them in the sidebar.")
else:
    with within_engine_limits():
        describe()
